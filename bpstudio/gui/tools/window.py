"""What every tool window does when its menu entry is chosen: made once per main window (kept in its
``tools`` registry, gui/tool_registry.py), shown, raised and activated."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from PySide6.QtWidgets import QWidget

W = TypeVar("W", bound=QWidget)


def raise_tool(window: Any, kind: type[W], make: Callable[[Any], W] | None = None) -> W:
    """The tool window of type ``kind`` in ``window``'s registry (made by ``make(window)``, default
    ``kind(window)``, the first time), shown, raised and activated."""
    tool = window.tools.get_or_make(kind, lambda: (make or kind)(window))
    tool.show()
    tool.raise_()
    tool.activateWindow()
    return tool
