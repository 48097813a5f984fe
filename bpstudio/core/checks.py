"""Checks of plain values shared by the whole engine: Python's ``bool`` is an ``int``, so ``True`` would pass as
a step count or a batch size of 1 without these."""

from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING, Any

from bpstudio.core.errors import SpecError
from bpstudio.core.limits import brief

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


def require_finite(value: Any, what: str, layer: str | None = None, field_name: str | None = None) -> float:
    """``value`` as a float, or a SpecError if it is not a finite number (JSON integers can be huge)."""
    if not is_real(value):
        raise SpecError(f"{what} must be a number, got {brief(value)}", layer, field_name)
    try:
        number = float(value)
    except OverflowError:
        raise SpecError(f"{what} is too large for a float64 ({str(value)[:20]}…)", layer, field_name) from None
    if not math.isfinite(number):
        raise SpecError(f"{what} must be a finite number, got {value}", layer, field_name)
    return number
