"""What a backend provides: a small set of named hooks, looked up by name (``get_backend``).

- array conversion: ``asarray``, ``labels``, ``to_numpy``, ``param``;
- per-layer kernels (``kernel``): a kernel's ``forward(inputs, params)`` returns a
  :class:`~bpstudio.core.trace.LayerTrace` holding what it computed and saved; ``backward(record, grad_out)``
  fills that record's gradients, using only what forward saved. Nothing is written into an array a caller holds;
- losses (``loss``) and the optimizers' arithmetic (``sqrt``, ``sign``, ``add_scaled``, ``add``);
- optionally ``whole_step``: a whole step (forward, loss, backward) in one go, given the session's
  :class:`StepPlan` (torch: one autograd call instead of one per layer, with the same numbers); None where a
  backend has none, and the session then runs the layers one by one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import numpy as np

from bpstudio.core.spec import LayerSpec
from bpstudio.core.trace import LayerTrace

Array = Any
DTYPES = ("float64", "float32")


class Kernel(Protocol):
    def forward(self, inputs: Sequence[Array], params: Mapping[str, Array]) -> LayerTrace: ...

    def backward(self, record: LayerTrace, grad_out: Array) -> None: ...


class PlanStep(NamedTuple):
    """One layer of a step, in the order the forward pass runs them."""

    layer_id: str
    kernel: Kernel
    inputs: tuple[str, ...]
    needs_input_grad: tuple[bool, ...]  # per input: False for the network's input (no gradient wanted)


@dataclass(frozen=True)
class StepPlan:
    """What a whole step runs: the layers in order, where the data comes in and goes out, and the loss."""

    steps: tuple[PlanStep, ...]
    input_id: str
    output_id: str
    loss: str


class WholeStep(Protocol):
    def __call__(
        self, plan: StepPlan, x: Array, t: Array, params: Mapping[str, Array]
    ) -> tuple[dict[str, LayerTrace], float, Array]:
        """Forward, loss and backward of one batch: the layers' traces (gradients filled), the loss value and
        dL/dy at the output."""
        ...


class Backend(Protocol):
    name: str
    device: str
    dtype: str
    whole_step: WholeStep | None

    def asarray(self, a: np.ndarray) -> Array: ...

    def labels(self, a: np.ndarray) -> Array: ...

    def to_numpy(self, a: Array) -> np.ndarray: ...

    def param(self, a: np.ndarray) -> Array: ...

    def kernel(self, layer: LayerSpec, input_widths: Sequence[int], needs_input_grad: Sequence[bool]) -> Kernel: ...

    def loss(self, name: str) -> Callable[[Array, Array], tuple[float, Array]]:
        """``fn(y, t)`` → (loss value, dL/dy) for the named loss."""
        ...

    def sqrt(self, a: Array) -> Array: ...

    def sign(self, a: Array) -> Array:
        """−1, 0 or 1 per entry (the L1 term's gradient)."""
        ...

    def add_scaled(self, a: Array, b: Array, alpha: float) -> Array:
        """a + alpha·b as a new array."""
        ...

    def add(self, arrays: Sequence[Array]) -> Array: ...
