"""The 8×8 handwritten digits: one real data set shipped with bpstudio (source and licence in
DIGITS_SOURCE.txt beside this file).

1797 images of the digits 0–9, each 64 pixels from 0 (white) to 16 (black), stored as they were published;
:func:`digits` scales the pixels to [0, 1] and gives integer labels, so a 64-input network with 10 outputs
and cross-entropy trains on it directly.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import numpy as np

from bpstudio.core.data import Dataset
from bpstudio.core.errors import DataError

SAMPLES = 1797
PIXELS = 64  # 8 × 8, row by row from the top left
PIXEL_MAX = 16


@lru_cache(maxsize=1)
def _stored() -> tuple[np.ndarray, np.ndarray]:
    with resources.files(__package__).joinpath("digits.npz").open("rb") as f, np.load(f, allow_pickle=False) as npz:
        X, Y = np.asarray(npz["X"]), np.asarray(npz["Y"])
    X.setflags(write=False)
    Y.setflags(write=False)
    return X, Y


def digits(n: int = SAMPLES, seed: int = 0) -> Dataset:
    """``n`` of the 1797 digit images (all of them by default; fewer: a random choice drawn with ``seed``,
    in the stored order), inputs in [0, 1] and labels 0–9."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= SAMPLES:
        raise DataError(f"digits: option 'n' must be a whole number from 1 to {SAMPLES}, got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise DataError(f"digits: option 'seed' must be a non-negative integer, got {seed!r}")
    X, Y = _stored()
    if n < SAMPLES:
        chosen = np.sort(np.random.default_rng(seed).choice(SAMPLES, size=n, replace=False))
        X, Y = X[chosen], Y[chosen]
    return Dataset(X / PIXEL_MAX, Y.astype(np.int64), "digits")
