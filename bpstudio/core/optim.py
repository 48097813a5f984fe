"""Optimizers over a parameter mapping, with PyTorch's update formulas.

They work on any array type the backend uses (NumPy arrays or torch tensors): each update builds new
arrays and returns a new mapping, so a trace that kept the old parameters still sees the old values.
Frozen parameters keep their values (their gradients are still computed and shown).

Before the rule's update, every update does what a PyTorch training loop does around ``optimizer.step()``:
the L1 term λ·sign(w) is added to the gradients of dense weights (``l1_keys``), the gradients are clipped by
their total norm (``torch.nn.utils.clip_grad_norm_``) and the learning rate is the schedule's
(``scheduler.step()`` after every update). What the update used is kept in :attr:`Optimizer.last`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from bpstudio.core.spec import OptimizerSpec
from bpstudio.core.trace import UpdateFigures

Array = Any
State = dict[str, Any]
CLIP_EPS = 1e-6  # clip_grad_norm_ scales by max_norm / (total_norm + 1e-6)


def _sum_squares(a: Array) -> Array:
    flat = a.ravel()  # (NumPy arrays and torch tensors alike: one dot product, on the array's device)
    return flat @ flat


class Optimizer:
    """SGD, SGD with momentum, Adam, AdamW or RMSprop, with optional L2 weight decay.

    - sgd:       p ← p − lr·g
    - momentum:  b ← μ·b + g;  p ← p − lr·b          (torch.optim.SGD, dampening 0, first b = g)
    - adam:      m ← m + (1−β₁)(g − m);  v ← β₂·v + (1−β₂)·g²;
                 p ← p − lr/(1−β₁ᵗ) · m / (√v / √(1−β₂ᵗ) + ε)   (torch.optim.Adam)
    - adamw:     p ← p·(1 − lr·weight_decay), then adam's update without the decay in g (torch.optim.AdamW)
    - rmsprop:   v ← α·v + (1−α)·g²;  p ← p − lr · g / (√v + ε)   (torch.optim.RMSprop, no momentum)

    Weight decay is added to the gradient (g ← g + wd·p) except for adamw, whose decay is decoupled.
    The state is the step count, the per-parameter buffers and :attr:`counters`: the schedule's position
    (``schedule_step``) and how often clipping was on and clipped (``clip_steps``, ``clipped``).
    """

    def __init__(
        self,
        spec: OptimizerSpec,
        sqrt: Callable[[Array], Array],
        add_scaled: Callable[[Array, Array, float], Array] = lambda a, b, alpha: a + alpha * b,
        sign: Callable[[Array], Array] = np.sign,
        sum_squares: Callable[[Array], Array] = _sum_squares,
    ):
        self.spec = spec
        self.sqrt = sqrt
        self.add_scaled = add_scaled  # a + alpha·b as a new array, fused where the backend can
        self.sign = sign
        self.sum_squares = sum_squares  # Σ a², a scalar of the array's kind
        self.steps = 0
        self.buffers: dict[str, dict[str, Array]] = {}
        self.counters: dict[str, int] = fresh_counters()
        self.last: UpdateFigures | None = None

    @property
    def lr(self) -> float:
        """The learning rate the next update uses."""
        return self.spec.lr_at(self.counters["schedule_step"])

    def update(
        self,
        params: Mapping[str, Array],
        grads: Mapping[str, Array],
        frozen: frozenset[str] = frozenset(),
        l1_keys: Iterable[str] = (),
    ) -> dict[str, Array]:
        spec = self.spec
        trainable = {key: g for key, g in grads.items() if key not in frozen}
        if spec.l1:
            for key in set(l1_keys) & set(trainable):
                trainable[key] = self.add_scaled(trainable[key], self.sign(params[key]), spec.l1)  # + λ·sign(w)
        norm = math.sqrt(float(sum(self.sum_squares(g) for g in trainable.values())))  # (one value read back)
        scale = 1.0
        if spec.clip_norm is not None:
            self.counters["clip_steps"] += 1
            coef = spec.clip_norm / (norm + CLIP_EPS)
            if not coef >= 1.0:  # (a nan norm scales by nan, as clip_grad_norm_ does)
                scale = coef
                trainable = {key: g * coef for key, g in trainable.items()}
                self.counters["clipped"] += 1
        lr = self.lr
        self.last = UpdateFigures(lr, norm, scale)
        self.steps += 1
        if spec.schedule is not None:
            self.counters["schedule_step"] += 1
        new = dict(params)
        for key, g in trainable.items():
            new[key] = self._rule(key, params[key], g, lr)
        return new

    def _rule(self, key: str, p: Array, g: Array, lr: float) -> Array:
        spec, add_scaled = self.spec, self.add_scaled
        name, decay = spec.name, spec.weight_decay
        if decay and name != "adamw":
            g = add_scaled(g, p, decay)
        if name == "sgd":
            return add_scaled(p, g, -lr)
        slot = self.buffers.setdefault(key, {})
        if name == "momentum":
            buf = g if "momentum" not in slot else add_scaled(g, slot["momentum"], spec.momentum)
            slot["momentum"] = buf
            return add_scaled(p, buf, -lr)
        if name == "rmsprop":
            v = slot.get("v", 0.0 * g)
            v = spec.alpha * v + (1.0 - spec.alpha) * (g * g)
            slot["v"] = v
            return add_scaled(p, g / (self.sqrt(v) + spec.eps), -lr)
        if name == "adamw" and decay:
            p = p * (1.0 - lr * decay)
        return self._adam(slot, p, g, lr)

    def _adam(self, slot: dict[str, Array], p: Array, g: Array, lr: float) -> Array:
        spec = self.spec
        m = slot.get("m", 0.0 * g)
        v = slot.get("v", 0.0 * g)
        m = m + (1.0 - spec.beta1) * (g - m)
        v = spec.beta2 * v + (1.0 - spec.beta2) * (g * g)
        slot["m"], slot["v"] = m, v
        t = self.steps
        step_size = lr / (1.0 - spec.beta1**t)
        denom = self.sqrt(v) / math.sqrt(1.0 - spec.beta2**t) + spec.eps
        return self.add_scaled(p, m / denom, -step_size)

    # --- state, for saving sessions and switching backends ------------------------------------------

    def state(self, convert: Callable[[Array], Any] = lambda a: a) -> State:
        return {
            "steps": self.steps,
            "buffers": {k: {n: convert(a) for n, a in slot.items()} for k, slot in self.buffers.items()},
            "counters": dict(self.counters),
        }

    def load_state(self, state: State, convert: Callable[[Any], Array] = lambda a: a) -> None:
        self.steps = int(state["steps"])
        self.buffers = {k: {n: convert(a) for n, a in slot.items()} for k, slot in state["buffers"].items()}
        self.counters = {**fresh_counters(), **{k: int(v) for k, v in state.get("counters", {}).items()}}


COUNTERS = ("schedule_step", "clip_steps", "clipped")


def fresh_counters() -> dict[str, int]:
    """An optimizer's counters before its first step: the schedule's position and the clipping tallies."""
    return dict.fromkeys(COUNTERS, 0)


def describe_rate(spec: OptimizerSpec, counters: Mapping[str, int]) -> str:
    """What the learning rate is now, for the Training panel: ``"0.05 (constant)"`` or, with a schedule, the rate and
    on a line of its own where in the schedule it is."""
    t = int(counters.get("schedule_step", 0))
    now = spec.lr_at(t)
    if spec.schedule is None:
        return f"{now:.4g} (constant)"
    return f"{now:.4g}\n{spec.schedule.name} schedule, {t} step{'s' * (t != 1)} from {spec.lr:.4g}"


def describe_clipping(spec: OptimizerSpec, counters: Mapping[str, int], last: UpdateFigures | None) -> str:
    """How often and how much clipping scaled the gradients, for the Training panel: how many steps it clipped, and
    on a line of its own what it did to the last step's gradient norm (short lines: the panel is narrow)."""
    if spec.clip_norm is None:
        return "Clipping off"
    seen, clipped = int(counters.get("clip_steps", 0)), int(counters.get("clipped", 0))
    if not seen:
        return f"Clips at ‖g‖ {spec.clip_norm:.4g}; no step yet"
    text = f"Clipped {clipped} of {seen} step{'s' * (seen != 1)} ({100.0 * clipped / seen:.0f}%)"
    if last is not None:
        after = last.grad_norm * last.clip_scale
        scale = f" (×{last.clip_scale:.3g})" if last.clipped else ", not clipped"
        text += f"\nlast step ‖g‖ {last.grad_norm:.4g} → {after:.4g}{scale}"
    return text
