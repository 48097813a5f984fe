"""Loss functions on NumPy arrays, value and gradient side by side. All average over the batch.

- ``sse_half``: ½·Σ_k (y_k − t_k)² per sample, mean over samples (the Mazur / seed-tutorial loss).
- ``mse``: mean over every element, as ``torch.nn.MSELoss``.
- ``bce``: binary cross-entropy on outputs in (0, 1), mean over every element, as ``torch.nn.BCELoss``
  (each log clamped at −100, the gradient's denominator at 1e−12, as PyTorch does).
- ``cross_entropy``: softmax cross-entropy on logits, as ``torch.nn.CrossEntropyLoss``; targets are
  integer class labels of shape (N,) or probability / one-hot rows of shape (N, K).

``gradient(y, t)`` returns a new array dL/dy; nothing the caller passed is modified. :data:`VALUES` holds the
values as NumPy scalars before they become a Python float, so a complex ``y`` gives a complex loss (the gradient
check's complex step, :mod:`bpstudio.core.tools.gradcheck`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

Array = np.ndarray
NAMES = ("sse_half", "mse", "bce", "cross_entropy")
CLASS_LOSSES = ("cross_entropy",)
_LOG_FLOOR = -100.0
_TINY = math.exp(_LOG_FLOOR)  # log(max(y, e^-100)) = max(log y, -100), without a divide-by-zero warning
_BCE_EPS = 1e-12


def _sse_half(y: Array, t: Array) -> Any:
    d = y - t
    return 0.5 * np.sum(d * d) / y.shape[0]


def sse_half(y: Array, t: Array) -> float:
    return float(_sse_half(y, t))


def sse_half_gradient(y: Array, t: Array) -> Array:
    # dL/dy = (y − t) / N
    return (y - t) * (1.0 / y.shape[0])


def _mse(y: Array, t: Array) -> Any:
    d = y - t
    return np.sum(d * d) / d.size


def mse(y: Array, t: Array) -> float:
    return float(_mse(y, t))


def mse_gradient(y: Array, t: Array) -> Array:
    return (y - t) * (2.0 / y.size)


def _bce(y: Array, t: Array) -> Any:
    # −mean(t·log y + (1 − t)·log(1 − y)), each log clamped at −100
    if y.dtype == np.float32:  # e^-100 is subnormal in float32: take the logs in float64
        y, t = y.astype(np.float64), t.astype(np.float64)
    log_y = np.log(np.maximum(y, _TINY))
    log_1my = np.log(np.maximum(1.0 - y, _TINY))
    return -np.add.reduce(log_1my + t * (log_y - log_1my), axis=None) / y.size


def bce(y: Array, t: Array) -> float:
    return float(_bce(y, t))


def bce_gradient(y: Array, t: Array) -> Array:
    # dL/dy = (y − t) / (y(1 − y)) / n
    return (y - t) / np.maximum(y * (1.0 - y), _BCE_EPS) * (1.0 / y.size)


def _log_softmax(z: Array) -> Array:
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def _target_rows(z: Array, t: Array) -> Array:
    if t.ndim == 1:  # integer labels -> one-hot rows
        rows = np.zeros_like(z)
        rows[np.arange(z.shape[0]), t.astype(np.intp)] = 1.0
        return rows
    return t


def _cross_entropy(z: Array, t: Array) -> Any:
    if t.ndim == 1:
        picked = _log_softmax(z)[np.arange(z.shape[0]), t.astype(np.intp)]
        return -np.sum(picked) / z.shape[0]
    return -np.sum(t * _log_softmax(z)) / z.shape[0]


def cross_entropy(z: Array, t: Array) -> float:
    return float(_cross_entropy(z, t)) + 0.0  # + 0.0 turns −0.0 into 0.0


def cross_entropy_gradient(z: Array, t: Array) -> Array:
    # the Softmax-with-Loss backward: (softmax(z) − t) / N
    return (np.exp(_log_softmax(z)) - _target_rows(z, t)) * (1.0 / z.shape[0])


FUNCTIONS: dict[str, tuple[Callable[[Array, Array], float], Callable[[Array, Array], Array]]] = {
    "sse_half": (sse_half, sse_half_gradient),
    "mse": (mse, mse_gradient),
    "bce": (bce, bce_gradient),
    "cross_entropy": (cross_entropy, cross_entropy_gradient),
}
VALUES: dict[str, Callable[[Array, Array], Any]] = {
    "sse_half": _sse_half,
    "mse": _mse,
    "bce": _bce,
    "cross_entropy": _cross_entropy,
}
assert tuple(FUNCTIONS) == NAMES == tuple(VALUES)
