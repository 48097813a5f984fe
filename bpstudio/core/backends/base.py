"""What a backend provides: array conversion, per-layer kernels and losses.

A kernel's ``forward(inputs, params)`` returns a :class:`~bpstudio.core.trace.LayerTrace` holding what
it computed and saved; ``backward(record, grad_out)`` fills that record's gradients, using only what
forward saved. Nothing is written into an array a caller holds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from bpstudio.core.spec import LayerSpec
from bpstudio.core.trace import LayerTrace

Array = Any
DTYPES = ("float64", "float32")


class Kernel(Protocol):
    def forward(self, inputs: Sequence[Array], params: Mapping[str, Array]) -> LayerTrace: ...

    def backward(self, record: LayerTrace, grad_out: Array) -> None: ...


class Backend(Protocol):
    name: str
    device: str
    dtype: str

    def asarray(self, a: np.ndarray) -> Array: ...

    def labels(self, a: np.ndarray) -> Array: ...

    def to_numpy(self, a: Array) -> np.ndarray: ...

    def param(self, a: np.ndarray) -> Array: ...

    def kernel(self, layer: LayerSpec, input_widths: Sequence[int], needs_input_grad: Sequence[bool]) -> Kernel: ...

    def loss(self, name: str) -> Callable[[Array, Array], tuple[float, Array]]:
        """``fn(y, t)`` → (loss value, dL/dy) for the named loss."""
        ...

    def sqrt(self, a: Array) -> Array: ...

    def add_scaled(self, a: Array, b: Array, alpha: float) -> Array:
        """a + alpha·b as a new array."""
        ...

    def add(self, arrays: Sequence[Array]) -> Array: ...
