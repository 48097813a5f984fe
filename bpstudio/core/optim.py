"""Optimizers over a parameter mapping, with PyTorch's update formulas.

They work on any array type the backend uses (NumPy arrays or torch tensors): each update builds new
arrays and returns a new mapping, so a trace that kept the old parameters still sees the old values.
Frozen parameters keep their values (their gradients are still computed and shown).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from bpstudio.core.spec import OptimizerSpec

Array = Any
State = dict[str, Any]


class Optimizer:
    """SGD, SGD with momentum, or Adam, with optional L2 weight decay (added to the gradient).

    - sgd:       p ← p − lr·g
    - momentum:  b ← μ·b + g;  p ← p − lr·b          (torch.optim.SGD, dampening 0, first b = g)
    - adam:      m ← m + (1−β₁)(g − m);  v ← β₂·v + (1−β₂)·g²;
                 p ← p − lr/(1−β₁ᵗ) · m / (√v / √(1−β₂ᵗ) + ε)   (torch.optim.Adam)
    """

    def __init__(
        self,
        spec: OptimizerSpec,
        sqrt: Callable[[Array], Array],
        add_scaled: Callable[[Array, Array, float], Array] = lambda a, b, alpha: a + alpha * b,
    ):
        self.spec = spec
        self.sqrt = sqrt
        self.add_scaled = add_scaled  # a + alpha·b as a new array, fused where the backend can
        self.steps = 0
        self.buffers: dict[str, dict[str, Array]] = {}

    def update(
        self, params: Mapping[str, Array], grads: Mapping[str, Array], frozen: frozenset[str] = frozenset()
    ) -> dict[str, Array]:
        spec = self.spec
        self.steps += 1
        new = dict(params)
        name, lr, decay, add_scaled = spec.name, spec.lr, spec.weight_decay, self.add_scaled
        for key, g in grads.items():
            if key in frozen:
                continue
            p = params[key]
            if decay:
                g = add_scaled(g, p, decay)
            if name == "sgd":
                new[key] = add_scaled(p, g, -lr)
            elif name == "momentum":
                slot = self.buffers.setdefault(key, {})
                buf = g if "momentum" not in slot else add_scaled(g, slot["momentum"], spec.momentum)
                slot["momentum"] = buf
                new[key] = add_scaled(p, buf, -lr)
            else:
                new[key] = self._adam(key, p, g)
        return new

    def _adam(self, key: str, p: Array, g: Array) -> Array:
        spec = self.spec
        slot = self.buffers.setdefault(key, {})
        m = slot.get("m", 0.0 * g)
        v = slot.get("v", 0.0 * g)
        m = m + (1.0 - spec.beta1) * (g - m)
        v = spec.beta2 * v + (1.0 - spec.beta2) * (g * g)
        slot["m"], slot["v"] = m, v
        t = self.steps
        step_size = spec.lr / (1.0 - spec.beta1**t)
        denom = self.sqrt(v) / math.sqrt(1.0 - spec.beta2**t) + spec.eps
        return self.add_scaled(p, m / denom, -step_size)

    # --- state, for saving sessions and switching backends ------------------------------------------

    def state(self, convert: Callable[[Array], Any] = lambda a: a) -> State:
        return {
            "steps": self.steps,
            "buffers": {k: {n: convert(a) for n, a in slot.items()} for k, slot in self.buffers.items()},
        }

    def load_state(self, state: State, convert: Callable[[Any], Array] = lambda a: a) -> None:
        self.steps = int(state["steps"])
        self.buffers = {k: {n: convert(a) for n, a in slot.items()} for k, slot in state["buffers"].items()}
