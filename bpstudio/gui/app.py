"""Application entry: create the QApplication and show the main window."""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QApplication

from bpstudio.gui.main_window import MainWindow


def run(file: str | None = None) -> int:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("bpstudio")
    app.setOrganizationName("bpstudio")
    window = MainWindow()
    if file:
        window.open_file(file)
    window.show()
    return app.exec()
