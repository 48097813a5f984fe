"""The PyTorch backend: the same layers and phases, with gradients from autograd.

Each layer's forward runs on detached leaf copies of its inputs and parameters, so the layer has a
graph of its own and its backward is one ``torch.autograd.grad`` call: the same layer-at-a-time
stepping as the NumPy backend, on ``cpu`` or ``cuda``. Parameters are stored as plain tensors (no
``requires_grad``), so optimizer updates never grow a graph.
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from bpstudio.core.errors import BackendError
from bpstudio.core.spec import LayerSpec
from bpstudio.core.trace import LayerTrace

Tensor = torch.Tensor

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


class TorchKernel:
    """Any layer: pre = combine(inputs, params), out = activation(pre); backward by autograd."""

    def __init__(self, layer: LayerSpec, needs_input_grad: Sequence[bool]):
        self.layer_id = layer.id
        self.kind = layer.type
        self.act = ACTIVATIONS[layer.activation]
        self.param_names = layer.param_names
        self.param_keys = tuple(f"{layer.id}.{p}" for p in layer.param_names)
        self.needs_input_grad = list(needs_input_grad)

    def forward(self, inputs: Sequence[Tensor], params: Mapping[str, Tensor]) -> LayerTrace:
        xs = [_leaf(x) if need else x for x, need in zip(inputs, self.needs_input_grad)]
        ps = [_leaf(params[k]) for k in self.param_keys]
        with torch.enable_grad():
            if self.kind == "dense":
                pre = F.linear(xs[0], ps[0], ps[1] if len(ps) > 1 else None)
            elif self.kind == "add":
                pre = xs[0] + xs[1] if len(xs) > 1 else xs[0] * 1.0
                for x in xs[2:]:
                    pre = pre + x
            else:
                pre = torch.cat(xs, dim=1)
            if not pre.requires_grad:  # nothing upstream needs gradients: still trace dL/dpre
                pre = _leaf(pre)
            out = self.act(pre)
        return LayerTrace(self.layer_id, xs, pre, out, ps)

    def backward(self, record: LayerTrace, grad_out: Tensor) -> None:
        xs = [x for x, need in zip(record.inputs, self.needs_input_grad) if need]
        targets = [record.pre, *record.saved, *xs]
        grads = torch.autograd.grad(record.out, targets, grad_out)
        record.grad_out = grad_out
        record.grad_pre = grads[0]
        n = len(self.param_names)
        record.grads.update(zip(self.param_names, grads[1:1 + n]))
        it = iter(grads[1 + n:])
        record.grad_inputs = [next(it) if need else None for need in self.needs_input_grad]


class TorchBackend:
    name = "torch"

    def __init__(self, device: str = "cpu", dtype: str = "float64"):
        if device == "cuda" and not torch.cuda.is_available():
            raise BackendError("CUDA is not available: PyTorch sees no CUDA device "
                               f"(torch {torch.__version__}, built for CUDA {torch.version.cuda or 'none'})")
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
            y_leaf = _leaf(y)
            with torch.enable_grad():
                value = fn(y_leaf, t)
            (grad,) = torch.autograd.grad(value, y_leaf)
            return float(value.detach()), grad

        return value_and_grad

    def sqrt(self, a: Tensor) -> Tensor:
        return torch.sqrt(a)

    def add(self, arrays: Sequence[Tensor]) -> Tensor:
        total = arrays[0] + arrays[1]
        for a in arrays[2:]:
            total = total + a
        return total
