"""Smoothing a noisy curve for display: with minibatches every step's gradient norm jumps by a decade or more,
so a run's trend (and the gap between layers) is hard to read. The plots can show a centred moving mean; the
recorded values and their exports stay as they are.

Gradient norms are drawn on a log scale, so they are averaged as logarithms (a geometric mean), like the
history's own pooling of points.
"""

from __future__ import annotations

import numpy as np

POINTS_PER_WINDOW = 40  # a window spans about 1/40 of the points shown: trends stay, batch noise goes


def window_for(points: int) -> int:
    """An odd window (in points) for a curve of ``points`` points: 1 (no smoothing) for short curves."""
    half = points // (2 * POINTS_PER_WINDOW)
    return 2 * half + 1


def moving_mean(values: np.ndarray, window: int) -> np.ndarray:
    """The centred mean of each value and its neighbours, ``window`` points in all (odd); the window shrinks at
    the ends. Values that are not finite are left out of every mean; a mean of nothing is NaN."""
    values = np.asarray(values, dtype=float)
    if window < 1 or window % 2 == 0:
        raise ValueError(f"the smoothing window must be an odd number of points, not {window}")
    finite = np.isfinite(values)
    if window == 1 or values.size == 0:
        return np.where(finite, values, np.nan)
    sums = np.concatenate(([0.0], np.cumsum(np.where(finite, values, 0.0))))
    counts = np.concatenate(([0], np.cumsum(finite)))
    half = window // 2
    index = np.arange(values.size)
    low, high = np.maximum(index - half, 0), np.minimum(index + half + 1, values.size)
    n = counts[high] - counts[low]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, (sums[high] - sums[low]) / np.maximum(n, 1), np.nan)


def smoothed_norms(norms: np.ndarray, window: int) -> np.ndarray:
    """Gradient norms smoothed as logarithms (the geometric moving mean); norms ≤ 0 count as missing."""
    norms = np.asarray(norms, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.where(norms > 0, np.log10(np.where(norms > 0, norms, 1.0)), np.nan)
    return np.power(10.0, moving_mean(logs, window))
