"""Dropout: in training, y = x·mask/(1−p) (inverted dropout); in evaluation, y = x.

The mask is not random in the usual sense: it is drawn with NumPy from the network's seed, the layer's id and the
step's number, so a step can be run again, stepped phase by phase, checked by finite differences or run on the
torch backend and it drops the same units. The id is hashed with CRC-32 (stable across processes and machines,
unlike Python's ``hash``). Each unit of each sample is kept with probability 1−p.

Training and evaluation differ only in whether a mask is given: a step's forward pass receives the step's masks
beside the parameters (keyed ``"<id>.mask"``, see :func:`step_masks`); every evaluation (test loss, accuracy,
decision surfaces, neuron pictures, predictions) runs without them, so a dropout layer passes its input on as is.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping
from typing import Literal

import numpy as np

Mode = Literal["train", "eval"]
DEFAULT_P = 0.5
MASK = "mask"


def mask_key(layer_id: str) -> str:
    """Where a step's mask for ``layer_id`` is kept beside the parameters (and written by ``bpstudio grad``)."""
    return f"{layer_id}.{MASK}"


def p_problem(p: object) -> str | None:
    """Why ``p`` cannot be a dropout probability (None when it can): a number in [0, 1)."""
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not math.isfinite(p):
        return f"must be a number in [0, 1), got {p!r}"
    if not 0 <= p < 1:
        return f"must be in [0, 1) (the probability of dropping a unit; 1 would drop them all), got {p!r}"
    return None


def draw_mask(seed: int, layer_id: str, step: int, shape: tuple[int, int], p: float) -> np.ndarray:
    """The 0/1 mask (float64, N × width) of layer ``layer_id`` in step number ``step`` (counted from 1)."""
    rng = np.random.default_rng([int(seed), zlib.crc32(layer_id.encode("utf-8")), int(step)])
    return (rng.random(shape) >= p).astype(np.float64)


def step_masks(
    seed: int, layers: Mapping[str, float], widths: Mapping[str, int], step: int, n: int
) -> dict[str, np.ndarray]:
    """Every dropout layer's mask for step ``step`` on a batch of ``n`` samples, keyed ``"<id>.mask"``.
    ``layers`` maps each active dropout layer's id to its p."""
    return {mask_key(lid): draw_mask(seed, lid, step, (n, widths[lid]), p) for lid, p in layers.items()}


def scale(p: float) -> float:
    """1/(1−p): what a kept unit is multiplied by, so the layer's expected output equals its input."""
    return 1.0 / (1.0 - p)
