"""What every tool window does when its menu entry is chosen: one window per main window, shown and raised."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from PySide6.QtWidgets import QWidget

W = TypeVar("W", bound=QWidget)


def raise_tool(window: Any, attribute: str, make: Callable[[Any], W]) -> W:
    """The tool window kept on ``window`` as ``attribute`` (made by ``make(window)`` the first time), shown,
    raised and activated."""
    tool: W | None = getattr(window, attribute, None)
    if tool is None:
        tool = make(window)
        setattr(window, attribute, tool)
    tool.show()
    tool.raise_()
    tool.activateWindow()
    return tool
