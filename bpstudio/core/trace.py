"""What a training step produced, phase by phase: the record the GUI draws and the CLI writes.

Recording is cheap: a trace keeps references to the arrays the backend created anyway (no layer or
optimizer ever writes into an array after returning it). Derived figures — gradient norms,
update/weight ratios — are computed only when asked for. :meth:`StepTrace.to_numpy` gives a copy
made of plain NumPy arrays, safe to hand to another thread; ``to_numpy(param_limit=n)`` leaves out the
parameters (and their gradients) with more than n entries, so a copy of a 1000×1000 layer's step costs what
its activations cost, not 8 MB per matrix, and keeps their gradient norms.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Array = Any


@dataclass(frozen=True)
class UpdateFigures:
    """What one update used: the learning rate, the L2 norm over the trainable parameters' gradients (after
    the L1 term, before clipping) and the factor clipping scaled them by (1.0: not clipped)."""

    lr: float
    grad_norm: float
    clip_scale: float = 1.0

    @property
    def clipped(self) -> bool:
        return self.clip_scale < 1.0


@dataclass(slots=True, eq=False)
class LayerTrace:
    """One layer in one step. Forward fills the first four fields; backward fills the rest.

    ``pre`` is the pre-activation (z = W·x + b for dense, the sum for add, the joined vector for concat),
    ``out`` the activation. ``grad_out`` is dL/d(out), ``grad_pre`` dL/dz, ``grads`` the parameter
    gradients keyed ``"weight"``/``"bias"``, ``grad_inputs`` dL/d(each input) (None where not needed).
    ``saved`` holds what backward needs beyond that (the weight used in forward, torch's graph).
    """

    layer_id: str
    inputs: Sequence[Array]
    pre: Array
    out: Array
    saved: Any = None
    grad_out: Array | None = None
    grad_pre: Array | None = None
    grad_inputs: list[Array | None] | None = None
    grads: dict[str, Array] = field(default_factory=dict)
    stats: dict[str, Array] | None = None  # a batchnorm layer's batch "mean" and biased "var" in training (1-D)


@dataclass(slots=True, eq=False)
class StepTrace:
    """One optimizer step: the batch, every layer's record, the loss, and the parameters around the update.

    ``step`` is the step's number, counted from 1: the trace of step k is the k-th update, and the run's state
    after it has ``step_count == k`` (the numbering the timeline, the plots, the metrics CSV and exports share)."""

    step: int
    batch: np.ndarray | None
    x: Array
    targets: Array
    params_before: Mapping[str, Array]
    to_numpy_fn: Callable[[Array], np.ndarray]
    layers: dict[str, LayerTrace] = field(default_factory=dict)
    loss: float | None = None
    output_grad: Array | None = None
    params_after: Mapping[str, Array] | None = None
    left_out_norms: dict[str, float] = field(default_factory=dict)  # a light copy's: weight gradients left out
    update: UpdateFigures | None = None  # what the update used: learning rate, total gradient norm, clipping
    masks: dict[str, Array] = field(default_factory=dict)  # each dropout layer's 0/1 mask, keyed "<id>.mask"

    # --- derived, computed on demand ----------------------------------------------------------

    def numpy(self, a: Array) -> np.ndarray:
        return self.to_numpy_fn(a)

    @property
    def grads(self) -> dict[str, Array]:
        """Every parameter gradient recorded so far, keyed ``"<layer>.weight"``/``"<layer>.bias"``."""
        return {f"{lid}.{name}": g for lid, rec in self.layers.items() for name, g in rec.grads.items()}

    def grad_norm(self, layer_id: str) -> float:
        """L2 norm of the layer's weight gradient (NaN until its backward has run)."""
        rec = self.layers.get(layer_id)
        if rec is None or "weight" not in rec.grads:
            return self.left_out_norms.get(layer_id, math.nan)
        return _norm(self.numpy(rec.grads["weight"]))

    def grad_norms(self) -> dict[str, float]:
        """The norm of each layer's ``weight`` gradient: a dense layer's matrix, a norm layer's scales γ."""
        return {
            lid: self.grad_norm(lid)
            for lid, rec in self.layers.items()
            if "weight" in rec.grads or lid in self.left_out_norms
        }

    def update_ratio(self, key: str) -> float:
        """‖Δp‖ / ‖p‖ for the parameter ``key`` over this step's update (NaN before the update)."""
        if self.params_after is None or key not in self.params_before:
            return math.nan
        before = self.numpy(self.params_before[key])
        delta = self.numpy(self.params_after[key]) - before
        size = _norm(before)
        return _norm(delta) / size if size > 0 else (0.0 if _norm(delta) == 0 else math.inf)

    def update_ratios(self) -> dict[str, float]:
        return {key: self.update_ratio(key) for key in self.params_before}

    def to_numpy(self, param_limit: int | None = None) -> StepTrace:
        """A deep copy made of NumPy arrays only: plain data to send across threads or save. With
        ``param_limit``, parameters with more entries than that are left out, before and after the update
        and as gradients (what the layers computed per sample stays); the weight gradients' norms stay
        readable through :meth:`grad_norm`."""
        conv = lambda a: None if a is None else np.array(self.numpy(a), copy=True)  # noqa: E731

        def kept(a: Array) -> bool:
            return param_limit is None or math.prod(np.shape(a)) <= param_limit

        def params(values: Mapping[str, Array]) -> dict[str, Array]:
            return {k: conv(v) for k, v in values.items() if kept(v)}

        copy = StepTrace(
            step=self.step,
            batch=None if self.batch is None else self.batch.copy(),
            x=conv(self.x),
            targets=conv(self.targets),
            params_before=params(self.params_before),
            to_numpy_fn=np.asarray,
            loss=self.loss,
            output_grad=conv(self.output_grad),
            params_after=None if self.params_after is None else params(self.params_after),
            left_out_norms=dict(self.left_out_norms),
            update=self.update,
            masks={k: conv(v) for k, v in self.masks.items()},
        )
        for lid, rec in self.layers.items():
            copy.layers[lid] = LayerTrace(
                layer_id=lid,
                inputs=[conv(a) for a in rec.inputs],
                pre=conv(rec.pre),
                out=conv(rec.out),
                grad_out=conv(rec.grad_out),
                grad_pre=conv(rec.grad_pre),
                grad_inputs=None if rec.grad_inputs is None else [conv(a) for a in rec.grad_inputs],
                grads=params(rec.grads),
                stats=None if rec.stats is None else {k: conv(v) for k, v in rec.stats.items()},
            )
            if "weight" in rec.grads and not kept(rec.grads["weight"]):
                copy.left_out_norms[lid] = self.grad_norm(lid)
        return copy


def _norm(a: np.ndarray) -> float:
    flat = np.ravel(a).astype(np.float64, copy=False)
    return math.sqrt(float(np.dot(flat, flat)))
