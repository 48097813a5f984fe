"""The PyTorch backend: the same layers and phases, with gradients from autograd.

Each layer's forward runs on detached leaf copies of its inputs and parameters, so the layer has a
graph of its own and its backward is one ``torch.autograd.grad`` call: the same layer-at-a-time
stepping as the NumPy backend, on ``cpu`` or ``cuda``. Parameters are stored as plain tensors (no
``requires_grad``), so optimizer updates never grow a graph.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from bpstudio.core import dropout, features, normalization
from bpstudio.core.backends.base import StepPlan
from bpstudio.core.errors import BackendError
from bpstudio.core.spec import LayerSpec
from bpstudio.core.trace import LayerTrace

ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "identity": lambda z: z,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "leaky_relu": F.leaky_relu,  # slope 0.01
    "elu": F.elu,  # alpha 1
    "gelu": F.gelu,  # exact (erf) form
    "softplus": F.softplus,  # beta 1, threshold 20
    "softmax": lambda z: torch.softmax(z, dim=1),
    "silu": F.silu,
    "mish": F.mish,
    "sin": torch.sin,
}


def _sse_half(y: Tensor, t: Tensor) -> Tensor:
    return 0.5 * ((y - t) ** 2).sum() / y.shape[0]


LOSSES: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "sse_half": _sse_half,
    "mse": F.mse_loss,
    "bce": F.binary_cross_entropy,
    "cross_entropy": F.cross_entropy,
}


def _leaf(t: Tensor) -> Tensor:
    return t.detach().requires_grad_(True)


def _features(terms: Sequence[features.Term], x: Tensor) -> Tensor:
    """A features layer's columns, each term by torch's own operations (autograd gives the backward)."""
    return torch.stack(features.columns(terms, x, torch.sin, torch.cos), dim=1)


class TorchKernel:
    """Any layer: pre = combine(inputs, params), out = activation(pre); backward by autograd."""

    def __init__(self, layer: LayerSpec, needs_input_grad: Sequence[bool]):
        self.layer_id = layer.id
        self.kind = layer.type
        self.act = ACTIVATIONS[layer.activation]
        self.param_names = layer.param_names
        self.param_keys = tuple(f"{layer.id}.{p}" for p in layer.param_names)
        self.needs_input_grad = list(needs_input_grad)
        self.terms = features.parse_terms(layer.terms) if layer.type == "features" else ()
        self.drop_scale = dropout.scale(layer.p) if layer.type == "dropout" and layer.p is not None else 1.0
        self.eps = layer.eps if layer.eps is not None else normalization.DEFAULT_EPS
        # what a layer reads beside its parameters when the mode says so: a dropout layer's mask in training, a
        # batchnorm layer's running statistics in evaluation
        if layer.type == "dropout":
            self.mode_keys: tuple[str, ...] = (dropout.mask_key(layer.id),)
        else:
            self.mode_keys = tuple(normalization.running_key(layer.id, n) for n in layer.state_names)

    def forward(self, inputs: Sequence[Tensor], params: Mapping[str, Tensor]) -> LayerTrace:
        """This layer alone: its inputs and parameters become leaves of a graph of its own."""
        xs = [_leaf(x) if need else x for x, need in zip(inputs, self.needs_input_grad)]
        return self.build(xs, [_leaf(params[k]) for k in self.param_keys], self.mode_values(params))

    def mode_values(self, params: Mapping[str, Tensor]) -> tuple[Tensor, ...] | None:
        """A dropout layer's mask in training, a batchnorm layer's running statistics in evaluation (None in the
        other mode, or for any other layer)."""
        if not self.mode_keys or self.mode_keys[0] not in params:
            return None
        return tuple(params[k] for k in self.mode_keys)

    def build(self, xs: Sequence[Tensor], ps: Sequence[Tensor], extra: tuple[Tensor, ...] | None = None) -> LayerTrace:
        """pre and out from the given tensors, extending whatever graph they belong to (``extra``: see
        :meth:`mode_values`)."""
        stats = None
        with torch.enable_grad():
            if self.kind == "dense":
                pre = F.linear(xs[0], ps[0], ps[1] if len(ps) > 1 else None)
            elif self.kind == "add":
                pre = xs[0] + xs[1] if len(xs) > 1 else xs[0] * 1.0
                for x in xs[2:]:
                    pre = pre + x
            elif self.kind == "features":
                pre = _features(self.terms, xs[0])
            elif self.kind == "dropout":  # inverted dropout in training, the identity in evaluation
                pre = xs[0] * 1.0 if extra is None else xs[0] * (extra[0] * self.drop_scale)
            elif self.kind == "batchnorm":
                pre, stats = self._batchnorm(xs[0], ps, extra)
            elif self.kind == "layernorm":
                w, b = (ps[0], ps[1]) if ps else (None, None)
                pre = F.layer_norm(xs[0], (xs[0].shape[1],), w, b, self.eps)
            else:
                pre = torch.cat(list(xs), dim=1)
            if not pre.requires_grad:  # nothing upstream needs gradients: still trace dL/dpre
                pre = _leaf(pre)
            out = self.act(pre)
        record = LayerTrace(self.layer_id, list(xs), pre, out, list(ps))
        record.stats = stats
        return record

    def _batchnorm(
        self, x: Tensor, ps: Sequence[Tensor], running: tuple[Tensor, ...] | None
    ) -> tuple[Tensor, dict[str, Tensor] | None]:
        """torch's own batch_norm: over the batch in training (returning the batch's mean and biased variance, from
        which the session moves the running statistics), with the running statistics in evaluation."""
        w, b = (ps[0], ps[1]) if ps else (None, None)
        if running is not None:
            return F.batch_norm(x, running[0], running[1], w, b, training=False, eps=self.eps), None
        pre = F.batch_norm(x, None, None, w, b, training=True, eps=self.eps)
        plain = x.detach()
        return pre, {"mean": plain.mean(dim=0), "var": plain.var(dim=0, unbiased=False)}

    def gradient_targets(self, record: LayerTrace) -> list[Tensor]:
        """The tensors whose gradients fill this layer's record: pre, out, parameters, needed inputs."""
        xs = [x for x, need in zip(record.inputs, self.needs_input_grad) if need]
        return [record.pre, record.out, *record.saved, *xs]

    def fill(self, record: LayerTrace, grads: Sequence[Tensor]) -> None:
        """Store gradients given in :meth:`gradient_targets` order."""
        record.grad_pre, record.grad_out = grads[0], grads[1]
        n = len(self.param_names)
        record.grads.update(zip(self.param_names, grads[2 : 2 + n]))
        it = iter(grads[2 + n :])
        record.grad_inputs = [next(it) if need else None for need in self.needs_input_grad]

    def backward(self, record: LayerTrace, grad_out: Tensor) -> None:
        targets = self.gradient_targets(record)
        del targets[1]  # out is what the incoming gradient is for
        grads = list(torch.autograd.grad(record.out, targets, grad_out))
        self.fill(record, [grads[0], grad_out, *grads[1:]])


class TorchBackend:
    name = "torch"

    def __init__(self, device: str = "cpu", dtype: str = "float64"):
        if device == "cuda" and not torch.cuda.is_available():
            raise BackendError(
                "CUDA is not available: PyTorch sees no CUDA device "
                f"(torch {torch.__version__}, built for CUDA {torch.version.cuda or 'none'})"
            )
        self.device = device
        self.dtype = dtype
        self._dtype = getattr(torch, dtype)
        self._device = torch.device(device)

    def asarray(self, a: np.ndarray) -> Tensor:
        return torch.tensor(np.asarray(a), dtype=self._dtype, device=self._device)

    def param(self, a: np.ndarray) -> Tensor:
        return torch.tensor(np.asarray(a), dtype=self._dtype, device=self._device)

    def labels(self, a: np.ndarray) -> Tensor:
        return torch.tensor(np.asarray(a, dtype=np.int64), device=self._device)

    def to_numpy(self, a: Tensor) -> np.ndarray:
        return a.detach().cpu().numpy()

    def kernel(self, layer: LayerSpec, input_widths: Sequence[int], needs_input_grad: Sequence[bool]) -> TorchKernel:
        return TorchKernel(layer, needs_input_grad)

    def loss(self, name: str) -> Callable[[Tensor, Tensor], tuple[float, Tensor]]:
        fn = LOSSES[name]

        def value_and_grad(y: Tensor, t: Tensor) -> tuple[float, Tensor]:
            if name == "bce" and not bool(torch.isfinite(y).all()):  # diverged: BCELoss would raise
                return float("nan"), torch.full_like(y, float("nan"))
            y_leaf = _leaf(y)
            with torch.enable_grad():
                value = fn(y_leaf, t)
            (grad,) = torch.autograd.grad(value, y_leaf)
            return float(value.detach()), grad

        return value_and_grad

    def whole_step(
        self, plan: StepPlan, x: Tensor, t: Tensor, params: Mapping[str, Tensor]
    ) -> tuple[dict[str, LayerTrace], float, Tensor]:
        """Forward, loss and backward as one graph and a single ``autograd.grad`` call.

        Each autograd call has a fixed cost, so a whole step is much cheaper this way than layer by
        layer, with the same numbers. Every edge into a layer goes through its own ``view_as`` node, so
        autograd reports the gradient along each edge separately from a layer's total ``grad_out``.
        """
        leaves = {k: _leaf(v) for k, v in params.items() if not k.endswith(f".{dropout.MASK}")}  # (masks: constants)
        input_id, output_id, loss = plan.input_id, plan.output_id, plan.loss
        kernels = {step.layer_id: cast(TorchKernel, step.kernel) for step in plan.steps}  # (this backend's own)
        values = {input_id: x}
        records: dict[str, LayerTrace] = {}
        with torch.enable_grad():
            for layer_id, _, sources, needs in plan.steps:
                kernel = kernels[layer_id]
                xs = [values[s].view_as(values[s]) if need else values[s] for s, need in zip(sources, needs)]
                record = kernel.build(xs, [leaves[k] for k in kernel.param_keys], kernel.mode_values(params))
                values[layer_id] = record.out
                records[layer_id] = record
            y = values[output_id]
            if loss == "bce" and not bool(torch.isfinite(y).all()):  # diverged: BCELoss would raise
                value = torch.full((), float("nan"), dtype=y.dtype, device=y.device) + 0 * y.sum()
            else:
                value = LOSSES[loss](y, t)
        per_layer = [kernels[lid].gradient_targets(records[lid]) for lid in kernels]
        grads = torch.autograd.grad(value, [g for targets in per_layer for g in targets])
        at = 0
        for layer_id, targets in zip(kernels, per_layer):
            kernels[layer_id].fill(records[layer_id], grads[at : at + len(targets)])
            at += len(targets)
        output_grad = records[output_id].grad_out
        assert output_grad is not None
        return records, float(value.detach()), output_grad

    def sqrt(self, a: Tensor) -> Tensor:
        return torch.sqrt(a)

    def sign(self, a: Tensor) -> Tensor:
        return torch.sign(a)

    def add_scaled(self, a: Tensor, b: Tensor, alpha: float) -> Tensor:
        return torch.add(a, b, alpha=alpha)

    def add(self, arrays: Sequence[Tensor]) -> Tensor:
        total = arrays[0] + arrays[1]
        for a in arrays[2:]:
            total = total + a
        return total
