"""Tool windows that fit the screen they open on: a 1024×768 projector as well as a laptop."""

from __future__ import annotations

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QWidget

PROJECTOR = (1024, 768)  # the smallest screen every window and dialog is made to fit
FRAME = (16, 48)  # room a window manager takes round a window: borders, and the title bar over it


def room_on(widget: QWidget) -> tuple[int, int]:
    """The largest size a top-level ``widget`` can take on its screen, its frame and title bar counted."""
    screen = widget.screen() or QGuiApplication.primaryScreen()
    if screen is None:
        return PROJECTOR[0] - FRAME[0], PROJECTOR[1] - FRAME[1]
    room = screen.availableGeometry()
    return room.width() - FRAME[0], room.height() - FRAME[1]


def fit_to_screen(widget: QWidget, width: int, height: int) -> None:
    """Resize a tool window to ``width`` × ``height``, or smaller where its screen has less room."""
    most_width, most_height = room_on(widget)
    widget.resize(min(width, most_width), min(height, most_height))
