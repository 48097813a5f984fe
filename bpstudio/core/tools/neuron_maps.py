"""What each neuron computes over the input plane: for a network with 2-D inputs, every unit's output on a
small grid of (x1, x2) points, as TF Playground draws inside its neurons.

One forward pass over the grid (:meth:`Session.layer_outputs`, on the session's backend, in evaluation mode)
gives every layer at once. Only layers of at most :data:`MAP_UNIT_LIMIT` units get maps: the canvas draws bigger
layers as a heat strip, not neuron by neuron, and their pictures would be too many to read (and to paint while
training).

Each layer's maps share one colour scale, chosen here so the GUI only maps values to colours:

- a bounded activation uses its range: sigmoid and softmax 0 … 1, tanh −1 … 1 (the middle is 0.5 or 0);
- anything unbounded (identity, relu, elu, …, the inputs themselves, add and concat) is symmetric around 0,
  out to the largest |value| any of the layer's units reaches on the grid, so 0 is the neutral middle.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bpstudio.core.data import Dataset
from bpstudio.core.modes import eval_tag
from bpstudio.core.session import Session
from bpstudio.core.tools.boundary import grid

MAP_UNIT_LIMIT = 16  # layers with more units than this get no maps (the canvas's small-layer limit)
MAP_RESOLUTION = 24  # grid points a side of each map
BOUNDED_RANGES = {"sigmoid": (0.0, 1.0), "softmax": (0.0, 1.0), "tanh": (-1.0, 1.0)}


@dataclass(frozen=True, eq=False)
class LayerMaps:
    """One layer's maps and the colour scale they share: ``values[k, i, j]`` is unit k's output at
    ``(xs[j], ys[i])``; ``low`` maps to one end of the scale, ``high`` to the other, their midpoint to the
    neutral middle. ``scale`` says in words how the ends were chosen."""

    values: np.ndarray  # (units, len(ys), len(xs))
    low: float
    high: float
    scale: str

    @property
    def middle(self) -> float:
        return (self.low + self.high) / 2


@dataclass(frozen=True, eq=False)
class NeuronMaps:
    """The grid (the data's bounding box with a margin, as the decision surface uses) and the maps of every
    layer that has them, keyed by layer id. Plain NumPy arrays: safe to send to another thread."""

    xs: np.ndarray
    ys: np.ndarray
    layers: dict[str, LayerMaps]
    mode: str = ""  # e.g. "eval mode: dropout off" where the network computes differently in training (core/modes.py)


def neuron_maps(
    session: Session, data: Dataset, resolution: int = MAP_RESOLUTION, limit: int = MAP_UNIT_LIMIT
) -> NeuronMaps | None:
    """Every small layer's unit outputs over ``data``'s input plane with the session's current weights, or
    None when the network's input is not 2-D (there is no plane to draw)."""
    spec = session.spec
    if data.n_inputs != 2 or spec.widths[spec.input_id] != 2:
        return None
    xs, ys, points = grid(data, resolution)
    small = tuple(lid for lid in spec.order if spec.widths[lid] <= limit)
    outputs = session.layer_outputs(points, small)
    layers = {}
    for lid, out in outputs.items():
        # (points, units) with the points row by row (x fastest) → (units, rows, columns)
        values = out.T.reshape(out.shape[1], len(ys), len(xs))
        activation = spec.layer(lid).activation if lid != spec.input_id else "input"
        layers[lid] = _with_scale(values, activation)
    return NeuronMaps(xs, ys, layers, eval_tag(spec))


def _with_scale(values: np.ndarray, activation: str) -> LayerMaps:
    if activation in BOUNDED_RANGES:
        low, high = BOUNDED_RANGES[activation]
        return LayerMaps(values, low, high, f"{activation}'s range")
    finite = np.abs(values[np.isfinite(values)])
    reach = float(finite.max()) if finite.size else 0.0
    what = "the inputs" if activation == "input" else f"{activation} is unbounded"
    if reach == 0.0:  # nothing but zeros (or no finite value): any scale draws them as the middle
        return LayerMaps(values, -1.0, 1.0, f"symmetric around 0 ({what}; no value here but 0)")
    return LayerMaps(values, -reach, reach, f"symmetric around 0, to the layer's largest |value| ({what})")
