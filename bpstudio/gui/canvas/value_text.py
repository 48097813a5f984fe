"""Numbers that fit: a neuron's value inside its circle, however long the number.

A layer's values share one font size, the largest (down to a few pixels below the layer's usual size; one in
presentation mode, where legible beats precise) at
which every one of them fits inside its circle; a value that fits at none of those sizes is written shorter
(fewer significant digits, or as a short power of ten such as ``-1.2e-4``). The tooltip keeps every digit.
"""

from __future__ import annotations

import math
from functools import lru_cache

from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QFontMetricsF

from bpstudio.gui.canvas.style import value_font
from bpstudio.gui.qt_utils import format_number

SHRINK_PX = 3  # a layer's values may be drawn this many pixels smaller than its usual size to fit
SMALLEST_PX = 7  # not smaller than this unless even the shortest form of a value needs it
LAST_RESORT_PX = 5
RING_MARGIN = 1.5  # space kept between the text and the circle's edge (the ring's inner half is 1.1 wide)
PILL_PAD = (2.0, 1.5)  # room around the text for the white pill it sits on over a picture


@lru_cache(maxsize=4096)
def ink(text: str, px: int) -> QRectF:
    """The box the glyphs of ``text`` cover at ``px``, relative to the start of its baseline."""
    return QFontMetricsF(value_font(px)).tightBoundingRect(text)


def text_size(text: str, px: int, pill: bool = False) -> tuple[float, float]:
    """Width and height of the box ``text`` covers at ``px`` (with the pill's padding if it has one)."""
    box = ink(text, px)
    pad_x, pad_y = PILL_PAD if pill else (0.0, 0.0)
    return box.width() + 2 * pad_x, box.height() + 2 * pad_y


def fits(text: str, px: int, radius: float, pill: bool = False) -> bool:
    """Whether the box of ``text``, centred in a circle of ``radius``, has all four corners inside it."""
    w, h = text_size(text, px, pill)
    return math.hypot(w / 2, h / 2) <= radius - RING_MARGIN


def shorter_forms(value: float, digits: int) -> list[str]:
    """Ways to write ``value`` in fewer characters, the most significant digits first (ties: shortest)."""
    forms = {format_number(value, d): d for d in range(digits, 0, -1)}
    if not math.isfinite(value):  # nan, inf: nothing shorter
        return list(forms)
    for d in range(digits, 0, -1):
        mantissa, _, exponent = f"{value:.{d - 1}e}".partition("e")
        forms.setdefault(f"{mantissa}e{int(exponent)}", d)
    return sorted(forms, key=lambda text: (-forms[text], len(text)))


def fit_values(
    values: list[float | None],
    digits: int,
    radius: float,
    largest_px: int,
    pill: bool = False,
    shrink_px: int = SHRINK_PX,
) -> tuple[list[str], int]:
    """The texts for a layer's values (None: nothing to show) and the one font size they share (at most
    ``shrink_px`` smaller than ``largest_px`` before a value is written shorter)."""
    texts = ["" if v is None else format_number(v, digits) for v in values]
    smallest = max(SMALLEST_PX, largest_px - shrink_px)
    for px in range(largest_px, smallest - 1, -1):
        if all(fits(t, px, radius, pill) for t in texts if t):
            return texts, px
    for k, v in enumerate(values):
        if v is not None and not fits(texts[k], smallest, radius, pill):
            forms = shorter_forms(v, digits)
            texts[k] = next((t for t in forms if fits(t, smallest, radius, pill)), min(forms, key=len))
    for px in range(smallest, LAST_RESORT_PX, -1):  # (a tiny circle: smaller, rather than spilling out)
        if all(fits(t, px, radius, pill) for t in texts if t):
            return texts, px
    return texts, LAST_RESORT_PX


def text_rect(center: QPointF, text: str, px: int, pill: bool = False) -> QRectF:
    """The box ``text`` covers (its pill, over a picture), centred on ``center``."""
    w, h = text_size(text, px, pill)
    return QRectF(center.x() - w / 2, center.y() - h / 2, w, h)


def baseline(center: QPointF, text: str, px: int) -> QPointF:
    """Where to start drawing ``text`` (its baseline's left end) so its glyphs are centred on ``center``."""
    box = ink(text, px)
    return QPointF(center.x() - box.center().x(), center.y() - box.center().y())
