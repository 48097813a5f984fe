"""Text on systems without fonts: a bare Linux install has fontconfig but no font files, and Qt then draws
every character as a box. The PyInstaller bundle carries DejaVu fonts (resources/fonts, see
packaging/bpstudio.spec); when the system offers no font at all they are loaded and made the default."""

from __future__ import annotations

import sys
from pathlib import Path

BUNDLED_FAMILY = "DejaVu Sans"
BUNDLED_POINT_SIZE = 10  # (as a desktop's default; Qt's own default without fontconfig is larger)


def bundled_fonts_dir() -> Path | None:
    """The bundle's font folder, when running from a PyInstaller bundle that has one."""
    base = getattr(sys, "_MEIPASS", None)
    folder = Path(base) / "resources" / "fonts" if base else None
    return folder if folder is not None and folder.is_dir() else None


def ensure_fonts(folder: Path | None = None) -> str:
    """Make sure text can be drawn; says which fonts are used ("system", "bundled" or "none").
    Call after the QApplication exists."""
    from PySide6.QtGui import QFont, QFontDatabase, QFontMetrics
    from PySide6.QtWidgets import QApplication

    def can_draw_text() -> bool:  # (with no fonts Qt still lists generic names such as "Sans Serif")
        return QFontMetrics(QApplication.font()).inFont("A")

    if can_draw_text():
        return "system"
    folder = folder if folder is not None else bundled_fonts_dir()
    for path in sorted(folder.glob("*.ttf")) if folder is not None else ():
        QFontDatabase.addApplicationFont(str(path))
    QApplication.setFont(QFont(BUNDLED_FAMILY, BUNDLED_POINT_SIZE))
    return "bundled" if can_draw_text() else "none"
