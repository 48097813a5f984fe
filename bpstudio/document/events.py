"""Plain events: what the document raises when it changes. Listeners are called at once, in the order they
connected, on the thread that changed the document (the GUI's adapter turns them into Qt signals)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Listener = Callable[..., Any]


class Event:
    """One kind of change; ``emit(*args)`` calls every connected listener with ``args``."""

    def __init__(self, name: str = "") -> None:
        self.name = name
        self._listeners: list[Listener] = []

    def connect(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def disconnect(self, listener: Listener) -> None:
        """Stop calling ``listener`` (ValueError if it was not connected)."""
        self._listeners.remove(listener)

    def emit(self, *args: Any) -> None:
        for listener in list(self._listeners):  # (a listener may disconnect itself)
            listener(*args)

    def __repr__(self) -> str:
        return f"Event({self.name!r}, {len(self._listeners)} listeners)"
