"""What the canvas draws, read out of a spec, its parameter values and the current step's trace.

Nothing here computes anything new: values are picked from the trace (first sample of the batch),
and the only arithmetic is the display scaling (the largest magnitude a colour or line width maps to).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PySide6.QtGui import QColor

from bpstudio.core import dropout, features, normalization
from bpstudio.core.spec import NetworkSpec
from bpstudio.gui.canvas.style import SMALL_LAYER
from bpstudio.gui.qt_utils import format_number

PHASE_LABELS = {"forward": "forward →", "backward": "← backward", "loss": "loss", "update": "update"}


@dataclass(eq=False)
class LayerState:
    """One layer as drawn: its description, first-sample values and parameters (None when absent)."""

    id: str
    type: str
    units: int
    activation: str
    color: QColor
    inputs: tuple[str, ...]
    is_output: bool = False
    out: np.ndarray | None = None  # activation, first sample
    pre: np.ndarray | None = None  # pre-activation ("net"), first sample
    delta: np.ndarray | None = None  # dL/d(pre), first sample, once backward has run
    weight: np.ndarray | None = None
    bias: np.ndarray | None = None
    weight_grad: np.ndarray | None = None
    bias_grad: np.ndarray | None = None
    weight_before: np.ndarray | None = None  # once the step's update is applied: the weights it changed
    frozen: frozenset[str] = frozenset()
    phase_label: str | None = None
    targets: list[str | None] | None = None  # output layer: the target next to each unit
    loss: float | None = None  # output layer, once the loss has run
    unit_labels: tuple[str, ...] = ()  # a features layer: each unit's term as people write it (x1², sin x1)
    unit_reads: tuple[tuple[int, ...], ...] = ()  # a features layer: the input units each term reads
    p: float | None = None  # a dropout layer's probability of dropping a unit in training
    dropped: np.ndarray | None = (
        None  # a dropout layer in a training step: True where the first sample's unit is dropped
    )
    # a norm layer: γ (its ``bias`` holds β), ∂E/∂γ, and a batchnorm layer's running statistics (state that
    # evaluation normalizes by) and, in a training step's trace, the batch's mean and biased variance it used
    gamma: np.ndarray | None = None
    gamma_grad: np.ndarray | None = None
    eps: float | None = None
    momentum: float | None = None
    running_mean: np.ndarray | None = None
    running_var: np.ndarray | None = None
    batch_mean: np.ndarray | None = None
    batch_var: np.ndarray | None = None

    @property
    def small(self) -> bool:
        return self.units <= SMALL_LAYER

    @property
    def showing_grad(self) -> bool:
        """Its weight lines show ∂E/∂w: from its backward until the update applies them."""
        return self.weight_grad is not None and self.weight_before is None

    @property
    def has_bias(self) -> bool:
        return self.bias is not None

    @property
    def norm(self) -> bool:
        return self.type in normalization.NORM_TYPES

    def running_text(self, unit: int, digits: int) -> str | None:
        """A batchnorm unit's running statistics as the canvas writes them under it: ``μ̄ 0.12 σ̄² 0.98``."""
        if self.running_mean is None or self.running_var is None:
            return None
        mean, var = (format_number(float(a[unit]), digits) for a in (self.running_mean, self.running_var))
        return f"μ̄ {mean} σ̄² {var}"

    @property
    def statistics(self) -> str | None:
        """Which statistics the values shown were normalized by: "batch" (a training step's), "running"
        (a batchnorm layer with no step shown: what evaluation uses), "sample" (layernorm); None: no norm layer."""
        if self.type == "layernorm":
            return "sample"
        if self.type != "batchnorm":
            return None
        return "batch" if self.batch_mean is not None else "running"


@dataclass(eq=False)
class NetworkState:
    layers: dict[str, LayerState]
    order: tuple[str, ...]
    loss_name: str
    batch: int = 0  # samples in the trace's batch (0: no trace)
    weight_scale: float = 0.0  # largest |weight| drawn as a line
    grad_scale: float = 0.0  # largest |gradient| drawn as a line
    value_scale: float = 0.0  # largest |activation| shown in a neuron
    grad_norms: dict[str, float] = field(default_factory=dict)


def _row(array: Any, units: int) -> np.ndarray | None:
    """The first sample of a (batch, units) array, or None if there is none or it has another width."""
    if array is None:
        return None
    a = np.asarray(array, dtype=np.float64)
    first = a[0] if a.ndim == 2 and a.shape[0] else a
    return first if first.ndim == 1 and first.shape[0] == units else None


def _max_abs(arrays: list[np.ndarray]) -> float:
    finite = [float(np.max(np.abs(a[np.isfinite(a)]))) for a in arrays if a.size and np.isfinite(a).any()]
    return max(finite, default=0.0)


def _phase_labels(spec: NetworkSpec, phase: Any) -> dict[str, str]:
    if phase is None:
        return {}
    label = PHASE_LABELS.get(phase.kind, str(phase))
    if phase.kind == "loss":
        return {spec.output: label}
    if phase.kind == "update":
        frozen = spec.frozen_params()
        return {lay.id: label for lay in spec.layers if any(f"{lay.id}.{p}" not in frozen for p in lay.param_names)}
    return {phase.layer: label} if phase.layer else {}


def _targets(trace: Any, units: int) -> list[str | None] | None:
    """The first sample's target beside each output unit: a value, or the class label's unit."""
    targets = np.asarray(trace.targets)
    if targets.ndim == 2 and targets.shape[1] == units:
        return [f"target {format_number(float(v), 4)}" for v in targets[0]]
    if targets.ndim == 1 and targets.size:
        label = int(targets[0])
        if units == 1:
            return [f"target {label}"]
        return [f"target (class {label})" if k == label else None for k in range(units)]
    return None


def build_state(
    spec: NetworkSpec,
    params: Mapping[str, np.ndarray],
    trace: Any,
    phase: Any,
    colors: Mapping[str, QColor],
    running: Mapping[str, np.ndarray] | None = None,
) -> NetworkState:
    """The drawing's content for ``spec`` with ``params`` (and its batchnorm layers' ``running`` statistics) and
    (optionally) a NumPy StepTrace."""
    running = running or {}
    labels = _phase_labels(spec, phase)
    shapes = spec.param_shapes()
    layers: dict[str, LayerState] = {}
    for lid in spec.order:
        lay = spec.layer(lid)
        state = LayerState(
            lid,
            lay.type,
            spec.widths[lid],
            lay.activation,
            QColor(colors.get(lid, QColor("gray"))),
            lay.inputs,
            is_output=lid == spec.output,
            frozen=frozenset(lay.frozen),
            phase_label=labels.get(lid),
        )
        if lay.type == "features":
            terms = features.parse_terms(lay.terms)
            state.unit_labels = tuple(t.label for t in terms)
            state.unit_reads = tuple(t.columns for t in terms)
        if lay.type == "dropout":
            state.p = lay.p
        if state.norm:
            width = (state.units,)
            state.eps, state.momentum = lay.eps, lay.momentum
            if lay.affine:
                state.gamma = _fitting(width, params.get(f"{lid}.weight"), lay.weight)
                state.bias = _fitting(width, params.get(f"{lid}.bias"), lay.bias)
            for name in lay.state_names:
                setattr(state, name, _fitting(width, running.get(normalization.running_key(lid, name)), None))
        if lay.type == "dense":
            state.weight = _fitting(shapes[f"{lid}.weight"], params.get(f"{lid}.weight"), lay.weight)
            if lay.use_bias:
                state.bias = _fitting(shapes[f"{lid}.bias"], params.get(f"{lid}.bias"), lay.bias)
        if trace is not None:
            # a trace recorded before an edit may not fit the network any more: such values are left out
            record = trace.layers.get(lid)
            if lay.type == "input":
                state.out = _row(trace.x, state.units)
            elif record is not None and _row(record.out, state.units) is not None:
                state.out, state.pre = _row(record.out, state.units), _row(record.pre, state.units)
                state.delta = _row(record.grad_pre, state.units)
                mask = _row(getattr(trace, "masks", {}).get(dropout.mask_key(lid)), state.units)
                state.dropped = None if mask is None else mask == 0
                grads = record.grads or {}
                if state.norm:
                    state.gamma_grad = _fitting((state.units,), grads.get("weight"), None)
                    state.bias_grad = _fitting((state.units,), grads.get("bias"), None)
                    batch = getattr(record, "stats", None) or {}
                    state.batch_mean = _fitting((state.units,), batch.get("mean"), None)
                    state.batch_var = _fitting((state.units,), batch.get("var"), None)
                if lay.type == "dense":
                    state.weight_grad = _fitting(shapes[f"{lid}.weight"], grads.get("weight"), None)
                    state.bias_grad = _fitting((state.units,), grads.get("bias"), None)
                    if trace.params_after is not None:  # the update ran: the lines show its new weights
                        before = trace.params_before.get(f"{lid}.weight")
                        state.weight_before = _fitting(shapes[f"{lid}.weight"], before, None)
            if state.is_output:
                state.targets = _targets(trace, state.units)
                state.loss = trace.loss
        layers[lid] = state
    net = NetworkState(layers, tuple(spec.order), spec.loss)
    if trace is not None:
        net.batch = int(np.asarray(trace.x).shape[0]) if np.asarray(trace.x).ndim == 2 else 1
        net.grad_norms = dict(trace.grad_norms())  # core's figure (L2 norm of each weight gradient)
    drawn = [s for s in layers.values() if s.small and s.type == "dense" and layers[s.inputs[0]].small]
    net.weight_scale = _max_abs([s.weight for s in drawn if s.weight is not None and not s.showing_grad])
    net.grad_scale = _max_abs([s.weight_grad for s in drawn if s.showing_grad and s.weight_grad is not None])
    net.value_scale = _max_abs([s.out for s in layers.values() if s.small and s.out is not None])
    return net


def _fitting(shape: tuple[int, ...], value: Any, fallback: Any) -> np.ndarray | None:
    """``value`` (else ``fallback``) as float64 if it has the expected shape, else None."""
    for candidate in (value, fallback):
        if candidate is not None and np.shape(candidate) == shape:
            return np.asarray(candidate, dtype=np.float64)
    return None
