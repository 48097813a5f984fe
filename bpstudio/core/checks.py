"""Checks of plain values shared by the whole engine: Python's ``bool`` is an ``int``, so ``True`` would pass as
a step count or a batch size of 1 without these."""

from __future__ import annotations

import numbers
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # (narrows the checked value's type for mypy; nothing is imported at run time)
    from typing_extensions import TypeIs


def is_whole(value: Any) -> TypeIs[int]:
    """An integer (Python's or NumPy's), never a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_count(value: Any, minimum: int = 0) -> bool:
    """A whole number of at least ``minimum``."""
    return is_whole(value) and value >= minimum


def is_real(value: Any) -> TypeIs[float]:
    """A real number (integer or floating, Python's or NumPy's), never a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)
