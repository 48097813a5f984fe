"""Application entry: create the QApplication and show the main window."""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast


def process_age() -> float:
    """Seconds since this process started (Linux: from /proc; elsewhere: since this module loaded)."""
    try:
        start_ticks = int(open("/proc/self/stat").read().rsplit(")", 1)[1].split()[19])
        uptime = float(open("/proc/uptime").read().split()[0])
        return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return time.perf_counter() - _LOADED


_LOADED = time.perf_counter()


# Qt messages that tell a person nothing: the offscreen and minimal platforms say this on every window shown
QT_NOISE = frozenset({"This plugin does not support propagateSizeHints()"})


def install_qt_message_filter() -> Callable[..., None] | None:
    """Drop the messages in :data:`QT_NOISE` and pass every other Qt message on: to the handler installed
    before, or where none was, to stderr as Qt's own handler writes it. Returns the handler before (None for
    Qt's own), which ``qInstallMessageHandler`` puts back."""
    from PySide6.QtCore import QMessageLogContext, QtMsgType, qFormatLogMessage, qInstallMessageHandler

    previous: Callable[..., None] | None = None

    def handle(mode: QtMsgType, context: QMessageLogContext, message: str) -> None:
        if message in QT_NOISE:
            return
        if previous is not None:
            previous(mode, context, message)
        else:
            print(qFormatLogMessage(mode, context, message), file=sys.stderr, flush=True)

    previous = qInstallMessageHandler(handle)
    return previous


def run(file: str | None = None, smoke: bool = False) -> int:
    from PySide6.QtCore import QTimer, qInstallMessageHandler
    from PySide6.QtWidgets import QApplication

    from bpstudio.core.record.timeline import remove_stale_spills

    remove_stale_spills()  # what runs killed earlier left in the temporary folder
    previous_handler = install_qt_message_filter()
    app = cast(QApplication, QApplication.instance() or QApplication(sys.argv[:1]))
    app.setApplicationName("bpstudio")
    app.setOrganizationName("bpstudio")
    app.setDesktopFileName("org.bpstudio.bpstudio")  # Wayland's app id: matches the .desktop file
    from bpstudio.gui.resources import app_icon

    app.setWindowIcon(app_icon())
    from bpstudio.gui.fonts import ensure_fonts
    from bpstudio.gui.gc_policy import GuiThreadCollector
    from bpstudio.gui.main_window import MainWindow  # after the QApplication: widgets need it

    collector = GuiThreadCollector(app)  # (cyclic garbage is freed on this thread only: see gc_policy)

    fonts = ensure_fonts()

    settings = None
    if smoke:  # a check of the install: leave the person's own settings alone
        import tempfile

        from PySide6.QtCore import QSettings

        settings = QSettings(
            str(Path(tempfile.mkdtemp(prefix="bpstudio-smoke-")) / "settings.ini"), QSettings.Format.IniFormat
        )
    window = MainWindow(settings)
    if file:
        window.files.open_at_start(file)
    window.show()
    if smoke:
        QTimer.singleShot(0, lambda: app.exit(smoke_check(window, fonts)))
    code = app.exec()
    # tear the window down now, while Qt is whole, not in whatever order the interpreter's exit picks
    # (pyqtgraph's exit clean-up then finds nothing left; a built binary crashed at exit once in ~100 runs)
    import shiboken6

    if shiboken6.isValid(window):
        shiboken6.delete(window)
    collector.uninstall()
    qInstallMessageHandler(previous_handler)  # (no Python handler left for Qt to call during interpreter exit)
    return code


def smoke_check(window: Any, fonts: str = "system") -> int:
    """Once the window is up: step the open example once, say how it went and how long the start took;
    0 if the step gave a finite loss and text can be drawn (``fonts`` is what ensure_fonts said). With
    BPSTUDIO_SMOKE_SCREENSHOT=FILE.png in the environment it also saves the window as it was drawn."""
    shown = process_age()
    doc = window.document
    doc.full_step()
    loss = None if doc.trace is None else doc.trace.loss
    stepped = doc.session.step_count == 1 and loss is not None and math.isfinite(loss)
    print(
        f"bpstudio: window shown {shown:.2f} s after start; network '{doc.spec.name}'; "
        f"one step: {'loss ' + format(loss, '.6g') if stepped else 'FAILED'}; fonts: {fonts}; "
        f"torch loaded: {'torch' in sys.modules}",
        flush=True,
    )
    picture = os.environ.get("BPSTUDIO_SMOKE_SCREENSHOT")  # to look at what an install draws
    if picture:
        window.grab().save(picture)
    doc.undo_stack.set_clean()
    window.close()
    return 0 if stepped and fonts != "none" else 1
