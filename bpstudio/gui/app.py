"""Application entry: create the QApplication and show the main window."""

from __future__ import annotations

import sys
import time


def process_age() -> float:
    """Seconds since this process started (Linux: from /proc; elsewhere: since this module loaded)."""
    try:
        start_ticks = int(open("/proc/self/stat").read().rsplit(")", 1)[1].split()[19])
        uptime = float(open("/proc/uptime").read().split()[0])
        import os
        return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return time.perf_counter() - _LOADED


_LOADED = time.perf_counter()


def run(file: str | None = None, smoke: bool = False) -> int:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("bpstudio")
    app.setOrganizationName("bpstudio")
    from bpstudio.gui.main_window import MainWindow  # after the QApplication: widgets need it

    window = MainWindow()
    if file:
        window.files.open(file, ask=False)
    window.show()
    if smoke:
        def report() -> None:
            print(f"bpstudio: window shown {process_age():.2f} s after start; "
                  f"network '{window.document.spec.name}'; torch loaded: {'torch' in sys.modules}", flush=True)
            window.document.undo_stack.setClean()
            window.close()
            app.quit()
        QTimer.singleShot(0, report)
    return app.exec()
