"""The tools of one main window (tool windows, docks and their helpers), kept in a typed registry: one of each
kind, made when first asked for, instead of attributes attached to the window from outside. The tools
themselves live in gui/tools/ and are imported when first opened."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class ToolRegistry:
    """The tools (windows, docks and their helpers) of one main window, keyed by their type."""

    def __init__(self) -> None:
        self._tools: dict[type, Any] = {}

    def get(self, kind: type[T]) -> T | None:
        """The window's tool of type ``kind``, None if none was made yet."""
        tool = self._tools.get(kind)
        return tool if isinstance(tool, kind) else None

    def get_or_make(self, kind: type[T], make: Callable[[], T]) -> T:
        """The window's tool of type ``kind``, made by ``make()`` the first time."""
        tool = self.get(kind)
        if tool is None:
            tool = make()
            self._tools[kind] = tool
        return tool

    def kinds(self) -> list[type]:
        return list(self._tools)
