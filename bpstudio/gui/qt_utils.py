"""Small Qt helpers shared by the widgets."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from PySide6.QtCore import QObject


@contextmanager
def signals_blocked(*objects: QObject) -> Iterator[None]:
    """Update widgets from the model without their change signals echoing back as user edits."""
    previous = [obj.blockSignals(True) for obj in objects]
    try:
        yield
    finally:
        for obj, was in zip(objects, previous):
            obj.blockSignals(was)


def bound(function: Callable[..., object], *args: Any) -> Callable[[], object]:
    """``function(*args)`` as a slot that takes nothing (a menu entry's ``triggered`` passes no arguments on)."""
    return lambda: function(*args)


def format_number(value: float, digits: int = 9) -> str:
    """A number as people read it: up to ``digits`` significant digits, no trailing noise."""
    return f"{value:.{digits}g}"


def format_change(value: float, before: float | None, digits: int, most: int) -> str:
    """``value`` with at least ``digits`` significant digits and as many more (up to ``most``) as it takes to
    read differently from ``before``, the value it had before the last change (None: no change to show)."""
    for d in range(digits, most + 1):
        text = format_number(value, d)
        if before is None or value == before or text != format_number(before, d):
            return text
    return format_number(value, most)


def math_html(text: str) -> str:
    """Rich text with x̂ drawn in italics: Qt's rich text sets the combining circumflex of an upright x beside it
    (DejaVu Sans has no anchor for it there), the italic one over it, as maths writes it anyway."""
    return text.replace("x̂", "<i>x̂</i>")
