"""A plot area whose automatic range moves in round steps, so live plots keep still axes.

pyqtgraph's auto-range fits the data exactly, so while training every refresh moved both axes: their
numbers jittered too fast to read, and every axis was laid out and repainted again each time, a large
part of a repaint's cost (bench/bench_gui.py). :class:`SteadyViewBox` rounds the fitted range out to
multiples of a 1-2-5 step and keeps it while the data stays inside and fills enough of it; a growing
top edge gets some room ahead, so a run's step axis changes every 10-30 % of growth, not every frame.
Ranges the user sets by zooming or panning are left exactly as they are (until :meth:`SteadyViewBox.follow_data`,
which a plot calls when a new run starts). An axis whose values cannot be negative (steps, a loss on a linear
scale) has a floor at zero, so a run of one point does not show a negative step or loss.
"""

from __future__ import annotations

import math

import pyqtgraph as pg

TICKS_PER_RANGE = 5  # the rounding step is about a fifth of the data's span
REFIT_BELOW = 0.4  # refit once the data fills less than this fraction of the range
HEADROOM = 0.1  # room added past a top edge the data outgrew, as a fraction of its span
ZERO_SNAP = 0.03  # an edge this little past zero (pyqtgraph's room for point symbols) stays at zero


def nice_step(span: float) -> float:
    """The 1, 2 or 5 × 10^k at or above ``span``."""
    if not span > 0 or not math.isfinite(span):
        return 1.0
    power = 10.0 ** math.floor(math.log10(span))
    return next(m * power for m in (1.0, 2.0, 5.0, 10.0) if m * power >= span * (1 - 1e-12))


def steady_range(
    current: tuple[float, float], wanted: tuple[float, float], floor: float | None = None
) -> tuple[float, float]:
    """The range to show for data spanning ``wanted`` when ``current`` is shown now; never below ``floor``."""
    low, high = wanted
    if not (math.isfinite(low) and math.isfinite(high)) or high < low:
        return wanted
    if high == low:  # one point: a unit of room around it
        low, high = low - 0.5, high + 0.5
        wanted = (low, high)
    if floor is not None and low < floor:
        low = floor
        high = max(high, floor + (wanted[1] - wanted[0]))  # (a single point's ±0.5 becomes 0 … 1)
    span = high - low
    if low < 0 <= low + ZERO_SNAP * span:
        low = 0.0
    if high > 0 >= high - ZERO_SNAP * span:
        high = 0.0
    shown_low, shown_high = current
    if shown_low <= low and high <= shown_high and span >= REFIT_BELOW * (shown_high - shown_low):
        return current
    if high > shown_high:
        high += HEADROOM * span
    step = nice_step((high - low) / TICKS_PER_RANGE)
    return math.floor(low / step) * step, math.ceil(high / step) * step


class SteadyViewBox(pg.ViewBox):
    """A ViewBox whose auto-range is rounded by :func:`steady_range` (no padding: rounding leaves room)."""

    def __init__(self, x_floor: float | None = 0.0, y_floor: float | None = None) -> None:
        super().__init__(defaultPadding=0.0)
        self.floors = [x_floor, y_floor]

    def set_y_floor(self, floor: float | None) -> None:
        self.floors[1] = floor

    def follow_data(self) -> None:
        """Fit the data again from scratch: forget a zoom or pan, and the range an earlier run needed."""
        self.enableAutoRange()

    def setRange(self, rect=None, xRange=None, yRange=None, padding=None, update=True, disableAutoRange=True):
        if not disableAutoRange:  # only auto-ranging passes False: round what it fitted
            shown_x, shown_y = self.viewRange()
            if xRange is not None:
                xRange = steady_range((shown_x[0], shown_x[1]), (xRange[0], xRange[1]), self.floors[0])
            if yRange is not None:
                yRange = steady_range((shown_y[0], shown_y[1]), (yRange[0], yRange[1]), self.floors[1])
        super().setRange(rect, xRange, yRange, padding, update, disableAutoRange)
