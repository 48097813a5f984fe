"""Files of the top-level ``resources/`` folder (icons, desktop files), wherever bpstudio runs from.

The folder travels differently with each way of installing:

- a PyInstaller bundle ships it as ``<bundle>/resources`` (``sys._MEIPASS``);
- a source checkout or an editable install has it beside the ``bpstudio`` package;
- a pip install puts it under ``<prefix>/share/bpstudio`` as data files (``<userbase>/share/bpstudio``
  with ``pip install --user``).
"""

from __future__ import annotations

import site
import sys
from pathlib import Path

from PySide6.QtCore import QSize
from PySide6.QtGui import QIcon

import bpstudio

APP_ID = "org.bpstudio.bpstudio"
ICON_NAME = "bpstudio"  # the freedesktop icon theme name (Icon= in the .desktop file)
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def resource_folders() -> list[Path]:
    """Where ``resources/`` may be, most specific first."""
    folders = []
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        folders.append(Path(bundle) / "resources")
    folders.append(Path(bpstudio.__file__).resolve().parent.parent / "resources")
    folders.append(Path(sys.prefix) / "share" / "bpstudio")
    try:
        folders.append(Path(site.getuserbase()) / "share" / "bpstudio")
    except (AttributeError, OSError, ValueError):  # (site may be stripped down in frozen apps)
        pass
    return folders


def resource_path(relative: str) -> Path | None:
    """The file ``relative`` (e.g. "icons/bpstudio.svg") of the resources folder, or None if none is found."""
    for folder in resource_folders():
        candidate = folder / relative
        try:
            if candidate.is_file():
                return candidate
        except OSError:  # (an unreadable folder on the way: try the next place)
            continue
    return None


def app_icon() -> QIcon:
    """bpstudio's icon: the SVG and its pre-rendered PNG sizes, else the desktop theme's "bpstudio" icon.

    The PNGs keep the icon working where Qt's SVG icon engine is missing (a trimmed bundle). Never raises:
    the icon is decoration, and a missing one must not stop the app.
    """
    try:
        icon = QIcon()
        svg = resource_path("icons/bpstudio.svg")
        if svg is not None:
            icon.addFile(str(svg))
        for size in ICON_SIZES:
            png = resource_path(f"icons/png/bpstudio-{size}.png")
            if png is not None:
                icon.addFile(str(png), QSize(size, size))
        if not icon.isNull():
            return icon
        return QIcon.fromTheme(ICON_NAME)
    except Exception:
        return QIcon()
