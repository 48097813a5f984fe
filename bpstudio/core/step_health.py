"""What went wrong in a step, said plainly and pinned to a layer: values that stopped being numbers, layers
whose units are all saturated or dead, and the gradients that are exactly 0 because of it.

Too large a learning rate usually ends one of two ways. The values overflow: somewhere a weight, a weighted
sum, the loss or a gradient becomes inf or nan, and every value computed from it after that is nan too, so
the place to look is the *first* layer where they appear (in the order the step computes them). Or they stay
finite but every unit of a layer is pushed against a flat part of its activation: tanh at ±1, sigmoid at 0
or 1 (within :data:`SATURATED` of the bound, where the derivative is below about 1e-6) or relu at 0 for every
sample (dead). The derivative there is 0 (or nearly), so the gradient of that layer — and of every layer
before it — is exactly 0 and nothing learns again, however long it trains. The loss curve goes flat, the
gradient plot goes blank (a log scale has no 0), and nothing says why: :func:`step_health` does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from bpstudio.core.normalization import NORM_TYPES
from bpstudio.core.spec import NetworkSpec
from bpstudio.core.trace import StepTrace

SATURATED = 1e-6  # a tanh or sigmoid output this close to a bound is saturated (derivative below ~1e-6)
NEARLY_ALL = 0.9  # a layer is flagged when at least this share of its units is saturated or dead
TINY_GRADIENT = 1e-6  # a flagged layer's gradients all below this (in size) are "almost 0"
VANISHED = 1e-100  # gradients below this move no weight a float can tell apart, at any sensible learning rate
SETTLED_LOSS = 1e-3  # an output layer saturated at a loss below this is a good fit, not a problem
ADVICE = "lower the learning rate and Reset"
BOUNDS = {"tanh": (-1.0, 1.0), "sigmoid": (0.0, 1.0)}

Kind = Literal["not finite", "saturated", "dead", "zero gradients"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong, at ``layer`` (None: the loss), in words a person reads (:attr:`text`), and in a few
    (:attr:`short`, for a one-line readout)."""

    kind: Kind
    layer: str | None
    text: str
    short: str
    quantity: str = ""  # what is wrong there, for a value that is not finite: "weighted sums", "loss", …


@dataclass(frozen=True)
class StepHealth:
    """The problems of one step: the first non-finite value, else the saturated or dead layers (first to last)
    and the layers whose gradients are exactly 0; empty when there is none."""

    problems: tuple[Problem, ...] = field(default=())

    def __bool__(self) -> bool:
        return bool(self.problems)

    @property
    def layers(self) -> tuple[str, ...]:
        return tuple(p.layer for p in self.problems if p.layer is not None)

    def message(self, most: int | None = None) -> str | None:
        """One line for the window: the problems (the first ``most`` of them, and how many more), then what to
        do; None when the step is healthy."""
        if not self.problems:
            return None
        shown = self.problems[:most] if most is not None else self.problems
        text = "; ".join(p.text for p in shown)
        if len(shown) < len(self.problems):
            text += f" (and {len(self.problems) - len(shown)} more)"
        return text if all(p.kind == "zero gradients" for p in self.problems) else f"{text} — {ADVICE}"

    def headline(self) -> str | None:
        """The first problem in a few words (and how many more there are), for a one-line readout."""
        if not self.problems:
            return None
        more = len(self.problems) - 1
        return self.problems[0].short + (f" (+{more} more)" if more else "")


def step_health(spec: NetworkSpec, trace: StepTrace | None) -> StepHealth:
    """What went wrong in ``trace`` (a step of ``spec``, done or in progress): see the module docstring."""
    if trace is None:
        return StepHealth()
    order = [lid for lid in spec.active_order() if lid in trace.layers and lid in spec.widths]
    broken = _first_not_finite(trace, order)
    if broken is not None:
        return StepHealth((broken,))
    flagged = [p for p in (_saturation(spec, trace, lid) for lid in order) if p is not None]
    if not flagged and (trace.loss is None or trace.loss < SETTLED_LOSS):
        return StepHealth()  # (a fit so good that nothing is left to learn is not a problem)
    named = {p.layer for p in flagged}
    silent = [lid for lid in order if lid not in named and _vanished(trace, lid)]
    if silent:
        largest = max(_largest(trace, lid) for lid in silent)
        size = "exactly 0" if largest == 0 else f"0 or nearly (at most {largest:.1e})"
        too = " too (their gradient comes through the layers above)" if flagged else ""
        text, short = f"the gradients of {_layers(silent)} are {size}{too}", f"gradients of {_layers(silent)} are 0"
        flagged.append(Problem("zero gradients", None, text, short))
    return StepHealth(tuple(flagged))


# --- values that are not numbers ----------------------------------------------------------------------


def _first_not_finite(trace: StepTrace, order: list[str]) -> Problem | None:
    """The first place, in the order the step computes them, where a value is inf or nan."""
    for lid in order:
        bad = _bad_params(trace, trace.params_before, lid)
        if bad:
            name, plain = bad
            text = f"layer {lid}: its {name} hold {_spelled(plain)}"
            return Problem("not finite", lid, text, f"layer {lid}: {name} hold {plain}", name)
        rec = trace.layers[lid]
        for value, what in ((rec.pre, "weighted sums"), (rec.out, "outputs")):
            plain = _non_finite([trace.numpy(value)]) if value is not None else ""
            if plain:
                text = f"layer {lid}: its {what} became {_spelled(plain)} in the forward pass"
                return Problem("not finite", lid, text, f"layer {lid}: {what} became {plain}", what)
    if trace.loss is not None and not np.isfinite(trace.loss):
        plain = _non_finite([np.array(trace.loss)])
        return Problem("not finite", None, f"the loss became {_spelled(plain)}", f"the loss became {plain}", "loss")
    for lid in reversed(order):
        rec = trace.layers[lid]
        for value, what in (
            (rec.grad_out, "output gradients"),
            (rec.grads.get("weight"), "weight gradients"),
            (rec.grads.get("bias"), "bias gradients"),
        ):
            plain = _non_finite([trace.numpy(value)]) if value is not None else ""
            if plain:
                text = f"layer {lid}: its {what} became {_spelled(plain)} in the backward pass"
                return Problem("not finite", lid, text, f"layer {lid}: {what} became {plain}", what)
    for lid in order if trace.params_after is not None else ():
        bad = _bad_params(trace, trace.params_after or {}, lid)
        if bad:
            name, plain = bad
            text = f"layer {lid}: the update would make its {name} {_spelled(plain)}"
            return Problem("not finite", lid, text, f"layer {lid}: update would make {name} {plain}", f"updated {name}")
    return None


def _bad_params(trace: StepTrace, params: Mapping[str, Any], lid: str) -> tuple[str, str] | None:
    """("weights" or "biases", what they hold that is not finite) for the layer's parameters; None if fine."""
    for name, what in (("weight", "weights"), ("bias", "biases")):
        key = f"{lid}.{name}"
        bad = _non_finite([trace.numpy(params[key])]) if key in params else ""
        if bad:
            return what, bad
    return None


def _non_finite(arrays: Iterable[np.ndarray]) -> str:
    """ "nan", "inf" or "nan and inf": what the arrays hold that is not a finite number; "" if nothing."""
    nan = inf = False
    for a in arrays:
        a = np.asarray(a)
        if a.dtype.kind not in "fc" or np.isfinite(a).all():
            continue
        nan = nan or bool(np.isnan(a).any())
        inf = inf or bool(np.isinf(a).any())
    return " and ".join(word for word, seen in (("nan", nan), ("inf", inf)) if seen)


def _spelled(plain: str) -> str:
    """ "nan and inf" said for people: "nan (not a number) and inf (too large for a float)"."""
    return plain.replace("nan", "nan (not a number)").replace("inf", "inf (too large for a float)")


# --- saturated and dead layers ----------------------------------------------------------------------


def _saturation(spec: NetworkSpec, trace: StepTrace, lid: str) -> Problem | None:
    layer = spec.layer(lid)
    activation = layer.activation if layer.type in ("dense", *NORM_TYPES) else None
    out = trace.layers[lid].out
    if activation not in ("tanh", "sigmoid", "relu") or out is None:
        return None
    if lid == spec.output and trace.loss is not None and trace.loss < SETTLED_LOSS:
        return None  # outputs pressed against their bounds *and* right: a fit, not a failure
    y = np.asarray(trace.numpy(out), dtype=np.float64)
    y = y.reshape(-1, y.shape[-1]) if y.ndim else y.reshape(1, 1)  # (samples, units)
    units = y.shape[1]
    kind: Kind
    if activation == "relu":
        stuck = (y == 0).all(axis=0)
        where, kind = "dead (0 for every sample)", "dead"
    else:
        low, high = BOUNDS[activation]
        at_low, at_high = y - low <= SATURATED, high - y <= SATURATED
        stuck = (at_low | at_high).all(axis=0)
        sides = bool(at_low[:, stuck].any()), bool(at_high[:, stuck].any())
        where, kind = f"saturated at {_bound_words(activation, *sides)}", "saturated"
    count = int(stuck.sum())
    if count == 0 or count < NEARLY_ALL * units:
        return None
    if units == 1:
        who = f"its only {activation} unit is"
    elif count == units:
        who = f"all {units} {activation} units are"
    else:
        who = f"{count} of its {units} {activation} units are"
    clause = _gradient_clause(trace, lid)
    short = f"layer {lid} {kind}" + (": gradients 0" if "exactly 0" in clause else ": gradients ≈ 0" if clause else "")
    return Problem(kind, lid, f"layer {lid}: {who} {where}{clause}", short)


def _bound_words(activation: str, low: bool, high: bool) -> str:
    low_text, high_text = ("−1", "+1") if activation == "tanh" else ("0", "1")
    if low and high:
        return "±1" if activation == "tanh" else "0 or 1"
    return low_text if low else high_text


def _gradient_clause(trace: StepTrace, lid: str) -> str:
    grads = trace.layers[lid].grads
    if "weight" not in grads:
        return ""  # its backward has not run yet
    largest = _largest(trace, lid)
    if largest == 0:
        return ", so its gradients are exactly 0"
    return f", so its gradients are almost 0 (the largest is {largest:.1e})" if largest < TINY_GRADIENT else ""


def _largest(trace: StepTrace, lid: str) -> float:
    """The largest |entry| of the layer's parameter gradients (NaN before its backward ran)."""
    grads = trace.layers[lid].grads
    return max((float(np.max(np.abs(trace.numpy(g)), initial=0.0)) for g in grads.values()), default=float("nan"))


def _vanished(trace: StepTrace, lid: str) -> bool:
    """Every gradient entry of the layer is 0 or below :data:`VANISHED`: what is left of a gradient that
    went through a derivative of 0 or nearly."""
    return _largest(trace, lid) < VANISHED


def _layers(ids: list[str]) -> str:
    if len(ids) > 4:
        return f"the {len(ids)} layers {ids[0]} … {ids[-1]}"
    return f"layer {ids[0]}" if len(ids) == 1 else "layers " + ", ".join(ids)
