"""What the decision-boundary view draws: the network's output over a grid of the input plane.

Three kinds of surface, chosen from the network's output layer, loss and data:

- ``"probability"``: one output unit with a sigmoid, or the ``bce`` loss. ``values`` is the output,
  read as P(class 1), in [0, 1].
- ``"class"``: several output units classifying (``cross_entropy`` logits, a softmax, or labelled data
  trained towards one-hot rows). ``values`` encodes the predicted class and how sure the net is in one
  number: ``values = class + confidence`` with the class an integer 0..K−1 and the confidence in
  [0, :data:`CONFIDENCE_CAP`], so ``floor(values)`` is the class and the fraction its confidence.
  :func:`decode_classes` splits them again. The confidence is the top class's probability p rescaled so
  that a tie between all K classes (p = 1/K) is 0 and certainty (p = 1) is 1:
  ``(p − 1/K) / (1 − 1/K)``. The probabilities are the softmax of the outputs for cross_entropy logits,
  the outputs themselves after a softmax, and otherwise the outputs clipped to [0, 1] and divided by
  their sum (a net trained towards one-hot rows; all zero counts as a tie).
- ``"value"``: regression. ``values`` is the (first) output unit's value.

Classification accuracy follows :meth:`Dataset.targets_for`: with one output unit the targets are 0 and
1 whatever the loss, so the decision threshold is their midpoint 0.5; with several units the predicted
class is the argmax (the argmax of logits and of their softmax are the same).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bpstudio.core.data import Dataset
from bpstudio.core.errors import DataError
from bpstudio.core.spec import NetworkSpec

KINDS = ("class", "probability", "value")
CONFIDENCE_CAP = 0.999  # keeps class + confidence below class + 1
THRESHOLD = 0.5  # the midpoint of the 0 / 1 targets a single output unit is trained towards

Predict = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True, eq=False)
class Surface:
    """The output over a grid: ``values[i, j]`` is at ``(xs[j], ys[i])``; shape (len(ys), len(xs))."""

    xs: np.ndarray
    ys: np.ndarray
    values: np.ndarray
    kind: str
    classes: int  # K for "class", 2 for "probability", 0 for "value"
    label: str


def grid(data: Dataset, resolution: int = 80, margin: float = 0.15) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``xs``, ``ys`` and the grid's points ((resolution², 2), row by row: x varies fastest) covering the
    data's bounding box widened by ``margin`` of its size on every side."""
    if data.n_inputs != 2:
        raise DataError(f"{data.name}: a grid over the input plane needs 2 inputs, this data has {data.n_inputs}")
    if resolution < 2:
        raise DataError(f"grid resolution must be at least 2, got {resolution}")
    xs, ys = (_axis(data.X[:, k], resolution, margin) for k in (0, 1))
    gx, gy = np.meshgrid(xs, ys)
    return xs, ys, np.column_stack([gx.ravel(), gy.ravel()])


def _axis(column: np.ndarray, resolution: int, margin: float) -> np.ndarray:
    lo, hi = float(column.min()), float(column.max())
    span = hi - lo if hi > lo else 1.0  # one distinct value: a unit-wide window around it
    return np.linspace(lo - margin * span, hi + margin * span, resolution)


def output_kind(spec: NetworkSpec, data: Dataset) -> str:
    """Which surface the network's output makes on ``data``: "probability", "class" or "value"."""
    out = spec.layer(spec.output)
    if spec.widths[spec.output] == 1:
        if spec.loss == "bce" or (out.activation == "sigmoid" and data.is_classification):
            return "probability"
        return "value"
    if spec.loss == "cross_entropy" or out.activation == "softmax" or data.is_classification:
        return "class"
    return "value"


def class_probabilities(outputs: np.ndarray, spec: NetworkSpec) -> np.ndarray:
    """Per-class probabilities (rows summing to 1) from several output units, as the module doc says."""
    if spec.layer(spec.output).activation == "softmax":
        return outputs
    if spec.loss == "cross_entropy":
        # softmax(z) = exp(z − max z) / Σ exp(z − max z)
        e = np.exp(outputs - outputs.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    clipped = np.clip(outputs, 0.0, 1.0)
    sums = clipped.sum(axis=1, keepdims=True)
    return np.divide(clipped, sums, out=np.full_like(clipped, 1.0 / outputs.shape[1]), where=sums > 0)


def encode_classes(probabilities: np.ndarray) -> np.ndarray:
    """``argmax + confidence`` per row, the "class" surface's values (see the module doc)."""
    k = probabilities.shape[1]
    top = probabilities.argmax(axis=1)
    p = probabilities[np.arange(len(top)), top]
    confidence = np.clip((p - 1.0 / k) / (1.0 - 1.0 / k), 0.0, CONFIDENCE_CAP)
    return top + confidence


def decode_classes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The class (int) and confidence in [0, 1) held in a "class" surface's values."""
    classes = np.floor(values)
    return classes.astype(np.int64), values - classes


def hard_regions(surface: Surface) -> Surface | None:
    """The surface as hard class regions: every cell its predicted class at full confidence, with no shading
    for how sure the net is. A probability is thresholded at :data:`THRESHOLD` (class 1 where P ≥ 0.5), a
    class surface keeps its argmax class; a "value" surface has no classes (None)."""
    if surface.kind == "probability":
        classes = (surface.values >= THRESHOLD).astype(np.float64)
        label = "predicted class (class 1 where P(class 1) ≥ 0.5)"
    elif surface.kind == "class":
        classes = decode_classes(surface.values)[0].astype(np.float64)
        label = "predicted class"
    else:
        return None
    return Surface(surface.xs, surface.ys, classes + CONFIDENCE_CAP, "class", surface.classes, label)


def output_surface(predict: Predict, spec: NetworkSpec, data: Dataset, resolution: int = 80) -> Surface | None:
    """The network's output over the data's input plane, or None when the input is not 2-D.

    ``predict`` maps inputs (N, 2) to outputs (N, units), as :meth:`Session.predict` does.
    """
    if data.n_inputs != 2 or spec.widths[spec.input_id] != 2:
        return None
    xs, ys, points = grid(data, resolution)
    outputs = np.asarray(predict(points), dtype=np.float64)
    width = spec.widths[spec.output]
    if outputs.shape != (len(points), width):
        raise DataError(f"predict gave outputs of shape {outputs.shape}, expected {(len(points), width)}")
    kind = output_kind(spec, data)
    shape = (len(ys), len(xs))
    if kind == "probability":
        return Surface(xs, ys, outputs[:, 0].reshape(shape), kind, 2, "P(class 1)")
    if kind == "class":
        values = encode_classes(class_probabilities(outputs, spec))
        return Surface(xs, ys, values.reshape(shape), kind, width, "predicted class (shade: confidence)")
    label = f"output '{spec.output}'" + (f" (unit 1 of {width})" if width > 1 else "")
    return Surface(xs, ys, outputs[:, 0].reshape(shape), kind, 0, label)


def output_curve(
    predict: Predict, spec: NetworkSpec, data: Dataset, resolution: int = 200, margin: float = 0.05
) -> tuple[np.ndarray, np.ndarray] | None:
    """For 1-D inputs: ``xs`` across the data's range (plus margin) and the first output unit there."""
    if data.n_inputs != 1 or spec.widths[spec.input_id] != 1:
        return None
    xs = _axis(data.X[:, 0], resolution, margin)
    outputs = np.asarray(predict(xs[:, None]), dtype=np.float64)
    return xs, outputs.reshape(len(xs), -1)[:, 0]


def accuracy(outputs: np.ndarray, data: Dataset, loss: str) -> float | None:
    """The fraction of ``data`` the outputs classify right; None when the data is regression.

    Labelled data is classification. Float targets count as classification only for ``cross_entropy``
    (probability rows: the argmax class) and ``bce`` (targets in [0, 1]: every unit's output and target
    thresholded at 0.5, the fraction of units right).
    """
    outputs = np.asarray(outputs, dtype=np.float64)
    if outputs.ndim != 2 or outputs.shape[0] != len(data):
        raise DataError(f"{data.name}: outputs of shape {outputs.shape} do not match its {len(data)} samples")
    if not data.is_classification and loss not in ("cross_entropy", "bce"):
        return None
    targets = data.targets_for(loss, outputs.shape[1])
    if outputs.shape[1] == 1 or (loss == "bce" and not data.is_classification):
        predicted, wanted = outputs >= THRESHOLD, targets >= THRESHOLD  # each unit its own yes/no
    elif targets.ndim == 1:
        predicted, wanted = outputs.argmax(axis=1), targets
    else:
        predicted, wanted = outputs.argmax(axis=1), targets.argmax(axis=1)
    return float(np.mean(predicted == wanted))
