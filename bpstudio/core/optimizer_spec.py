"""The update rule as data: the optimizer's name and settings, its L1 term, clipping and learning-rate schedule.

Part of the network spec (:class:`bpstudio.core.spec.NetworkSpec` holds one); constructing one validates it, and
a bad value raises :class:`~bpstudio.core.errors.SpecError` naming the field. The update itself is
:mod:`bpstudio.core.optim`'s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from bpstudio.core.checks import is_count, require_finite
from bpstudio.core.errors import SpecError
from bpstudio.core.limits import MAX_COUNT, brief, quoted

_require_finite = require_finite

OPTIMIZERS = ("sgd", "momentum", "adam", "adamw", "rmsprop")
# schedule name -> (its required settings, its settings with defaults), as torch.optim.lr_scheduler's
SCHEDULES: dict[str, tuple[tuple[str, ...], dict[str, float]]] = {
    "step": (("step_size",), {"gamma": 0.1}),
    "exponential": (("gamma",), {}),
    "cosine": (("t_max",), {"eta_min": 0.0}),
}


@dataclass(frozen=True)
class Schedule:
    """How the learning rate changes with the optimizer's steps: torch's StepLR (``step``), ExponentialLR
    (``exponential``) or CosineAnnealingLR (``cosine``), stepped once per update. Update t (from 0) uses
    :meth:`lr` (base, t): the scheduler's rate after t scheduler steps."""

    name: str
    step_size: int | None = None
    gamma: float | None = None
    t_max: int | None = None
    eta_min: float | None = None

    def __post_init__(self) -> None:
        if self.name not in SCHEDULES:
            known = ", ".join(SCHEDULES)
            raise SpecError(f"unknown schedule {quoted(self.name)} (known: {known})", field="optimizer.schedule")
        required, defaults = SCHEDULES[self.name]
        used = set(required) | set(defaults)
        for key in ("step_size", "gamma", "t_max", "eta_min"):
            value = getattr(self, key)
            if key not in used:
                if value is not None:
                    raise SpecError(f"{self._a} {self.name} schedule takes no '{key}'", field="optimizer.schedule")
                continue
            if value is None:
                if key in required:
                    raise SpecError(f"{self._a} {self.name} schedule needs '{key}'", field="optimizer.schedule")
                value = defaults[key]
            if key in ("step_size", "t_max"):
                if not is_count(value, 1) or value > MAX_COUNT:
                    raise SpecError(
                        f"'{key}' must be a whole number from 1 to 2**62, got {brief(value)}",
                        field="optimizer.schedule",
                    )
                value = int(value)
            else:
                value = _require_finite(value, f"'{key}'", field_name="optimizer.schedule")
                if key == "gamma" and value <= 0:
                    raise SpecError(f"'gamma' must be above 0, got {value}", field="optimizer.schedule")
                if key == "eta_min" and value < 0:
                    raise SpecError(f"'eta_min' must not be negative, got {value}", field="optimizer.schedule")
            object.__setattr__(self, key, value)

    @property
    def _a(self) -> str:
        return "an" if self.name[0] in "aeiou" else "a"

    def settings(self) -> dict[str, Any]:
        """The schedule's settings by name (as the file writes them)."""
        required, defaults = SCHEDULES[self.name]
        return {key: getattr(self, key) for key in (*required, *defaults)}

    def lr(self, base: float, t: int) -> float:
        """The learning rate after ``t`` scheduler steps from ``base`` (torch's closed forms)."""
        if self.name == "step":
            assert self.gamma is not None and self.step_size is not None
            return base * self.gamma ** (t // self.step_size)
        if self.name == "exponential":
            assert self.gamma is not None
            return base * self.gamma**t
        assert self.t_max is not None and self.eta_min is not None
        return self.eta_min + (base - self.eta_min) * (1.0 + math.cos(math.pi * t / self.t_max)) / 2.0


@dataclass(frozen=True)
class OptimizerSpec:
    """The update rule. Formulas follow ``torch.optim`` (SGD, SGD with momentum, Adam, AdamW, RMSprop; L2
    weight decay, decoupled for AdamW), with an optional L1 term on dense weights (``l1``), gradient
    clipping by total norm (``clip_norm``, None: none) and a learning-rate ``schedule`` (None: constant)."""

    name: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.9
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    weight_decay: float = 0.0
    alpha: float = 0.99
    l1: float = 0.0
    clip_norm: float | None = None
    schedule: Schedule | None = None

    def __post_init__(self) -> None:
        if self.name not in OPTIMIZERS:
            raise SpecError(
                f"unknown optimizer {quoted(self.name)} (known: {', '.join(OPTIMIZERS)})", field="optimizer"
            )
        for key in ("lr", "momentum", "beta1", "beta2", "eps", "weight_decay", "alpha", "l1"):
            value = getattr(self, key)
            _require_finite(value, f"'{key}'", field_name="optimizer")
            if value < 0:
                raise SpecError(f"'{key}' must not be negative, got {value}", field="optimizer")
        for key in ("beta1", "beta2"):
            if getattr(self, key) >= 1:
                raise SpecError(f"'{key}' must be below 1, got {getattr(self, key)}", field="optimizer")
        if self.alpha > 1:
            raise SpecError(f"'alpha' must not be above 1, got {self.alpha}", field="optimizer")
        if self.clip_norm is not None:
            value = _require_finite(self.clip_norm, "'clip_norm'", field_name="optimizer")
            if value <= 0:
                raise SpecError(f"'clip_norm' must be above 0 (or absent: no clipping), got {value}", field="optimizer")
        if self.schedule is not None and not isinstance(self.schedule, Schedule):
            raise SpecError(f"'schedule' must be a Schedule, got {brief(self.schedule)}", field="optimizer")

    def lr_at(self, t: int) -> float:
        """The learning rate of update ``t`` (from 0): ``lr``, or the schedule's after t steps."""
        return self.lr if self.schedule is None else self.schedule.lr(self.lr, t)
