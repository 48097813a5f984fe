"""Batch and layer normalization: the math both NumPy kernels share, their settings and the running statistics.

A **batchnorm** layer is ``torch.nn.BatchNorm1d(width, eps, momentum, affine)`` followed by its activation.
In training each unit is normalized over the batch::

    μ = (1/N) Σₙ xₙ,   σ² = (1/N) Σₙ (xₙ − μ)²   (the biased variance)
    x̂ = (x − μ) / √(σ² + ε),   z = γ·x̂ + β,   y = f(z)

and the running statistics move towards the batch's: running_mean ← (1−m)·running_mean + m·μ,
running_var ← (1−m)·running_var + m·σ²·N/(N−1) (the unbiased variance, as torch keeps it). In evaluation the
running statistics take the place of μ and σ², so a sample's output no longer depends on the rest of its batch.

That dependence is what makes batchnorm's backward pass a lesson: in training every sample's x̂ depends on every
other sample of the batch through μ and σ², so the gradient reaching xₙ is not just γ/√(σ²+ε)·dzₙ but that minus
the batch's mean gradient and minus its projection on x̂::

    dxₙ = γ/√(σ²+ε) · (dzₙ − mean(dz) − x̂ₙ·mean(dz⊙x̂))

A **layernorm** layer (``torch.nn.LayerNorm(width, eps, elementwise_affine)``) normalizes each sample over its
own features instead, in training and evaluation alike: the same formulas along the other axis, no running
statistics. The functions below take the axis.

The formulas use only arithmetic and ``sqrt`` (never ``np.var``, whose absolute value would not be analytic), so
the gradient check's complex step runs through them.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

NORM_TYPES = ("batchnorm", "layernorm")
DEFAULT_EPS = 1e-5
DEFAULT_MOMENTUM = 0.1
RUNNING = ("running_mean", "running_var")  # a batchnorm layer's state beside its parameters


def running_key(layer_id: str, name: str) -> str:
    """Where a running statistic is kept beside the parameters: ``"<id>.running_mean"``."""
    return f"{layer_id}.{name}"


def eps_problem(eps: object) -> str | None:
    """Why ``eps`` cannot be a normalization's ε (None when it can): a finite number above 0."""
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not math.isfinite(eps):
        return f"must be a positive number, got {eps!r}"
    if eps <= 0:
        return f"must be above 0 (it keeps the division finite when a unit's variance is 0), got {eps!r}"
    return None


def momentum_problem(momentum: object) -> str | None:
    """Why ``momentum`` cannot be batchnorm's momentum (None when it can): a number in [0, 1]."""
    if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) or not math.isfinite(momentum):
        return f"must be a number in [0, 1], got {momentum!r}"
    if not 0 <= momentum <= 1:
        return f"must be in [0, 1] (the weight of each batch's statistics in the running ones), got {momentum!r}"
    return None


class Normalized(NamedTuple):
    """What the forward pass computed and the backward pass uses: x̂, 1/√(σ²+ε), and the statistics used (the
    batch's in training, the running ones in evaluation), shaped to broadcast against x."""

    xhat: Any
    inv_std: Any
    mean: Any
    var: Any


def normalize(x: Any, axis: int, eps: float, mean: Any = None, var: Any = None) -> Normalized:
    """x̂ = (x − μ)/√(σ² + ε) along ``axis`` (0: over the batch, 1: over the features), with μ and σ² (biased)
    computed from ``x`` unless given (a batchnorm layer's running statistics in evaluation)."""
    if mean is None:
        mean = x.mean(axis=axis, keepdims=True)
        d = x - mean
        var = (d * d).mean(axis=axis, keepdims=True)
    else:
        d = x - mean
    inv_std = 1.0 / np.sqrt(var + eps)
    return Normalized(d * inv_std, inv_std, mean, var)


def backward(norm: Normalized, dxhat: Any, axis: int, coupled: bool) -> Any:
    """dL/dx from dL/dx̂. ``coupled``: μ and σ² came from x itself (training), so every entry along ``axis``
    feeds every other one; otherwise they were fixed numbers and dx = dx̂/√(σ²+ε)."""
    if not coupled:
        return dxhat * norm.inv_std
    centred = dxhat - dxhat.mean(axis=axis, keepdims=True)
    return (centred - norm.xhat * (dxhat * norm.xhat).mean(axis=axis, keepdims=True)) * norm.inv_std


def updated_running(
    running_mean: Any, running_var: Any, mean: Any, var: Any, n: int, momentum: float
) -> tuple[Any, Any]:
    """The running statistics after a training batch of ``n`` samples with batch mean ``mean`` and biased
    variance ``var``: each moves by ``momentum`` towards the batch's (the variance towards the unbiased one)."""
    unbiased = var * (n / (n - 1))
    return (1 - momentum) * running_mean + momentum * mean, (1 - momentum) * running_var + momentum * unbiased


def initial_running(width: int, mean: np.ndarray | None, var: np.ndarray | None) -> dict[str, np.ndarray]:
    """A batchnorm layer's running statistics before training: the file's, else zeros and ones (torch's)."""
    return {
        "running_mean": np.zeros(width) if mean is None else np.array(mean, dtype=np.float64),
        "running_var": np.ones(width) if var is None else np.array(var, dtype=np.float64),
    }


def one_sample_message(layer_id: str, n_samples: int, batch_size: int | None) -> str:
    """Why a batchnorm layer refuses a training batch of one sample, and what to change."""
    if n_samples == 1:
        cause = "the data has one sample"
    elif batch_size == 1:
        cause = "the batch size is 1"
    else:
        cause = f"{n_samples} samples in batches of {batch_size} leave one sample for the last batch of each pass"
    return (
        f"batchnorm layer '{layer_id}' cannot train on a batch of one sample ({cause}): a single sample has no "
        "batch statistics to normalize by; use batches of at least 2 samples"
    )
