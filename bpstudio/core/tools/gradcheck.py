"""Gradient check: backprop's gradient of every parameter entry against two numerical derivatives of the loss.

The loss is a function of one entry θᵢ with the others fixed; backprop's dL/dθᵢ (one full-batch backward pass,
float64) is compared with

- the **complex step** Im L(θᵢ + ih) / h (h = 1e-30): the engine's own forward pass run on complex numbers. No
  two nearby losses are subtracted, so it is exact to rounding however small the gradient is — the deep sigmoid
  net's first layers (gradients ~1e-10) are checked as well as its last. Every layer type, activation and loss
  computes on complex arrays except gelu without scipy's erf; there the finite difference decides.
- the **central difference** (L(θᵢ + h) − L(θᵢ − h)) / 2h, with the step h chosen per parameter (see
  :func:`choose_step`). Its own error has two parts: the loss's rounding (about u·|L| for u = 2⁻⁵² in each
  evaluation, so u·|L|/h after dividing by 2h) and truncation (the curvature over ±h, estimated by how far the
  difference moves when h doubles). That sum is its **resolution**: a gradient entry of 1e-10 against a loss of
  0.75 is below what any step can resolve to 1e-5, and saying "pass" there would be saying nothing.

The criterion, as :func:`criterion` states it: an entry matches when |backprop − reference| ≤ ``REL_TOL`` ×
max(|backprop|, |reference|), the reference being the complex step where the network allows it, else the
central difference — or when the difference is within backprop's own rounding: a gradient entry is a sum over the
batch, and summing N terms leaves up to about N·u × Σ|term|. That allowance only matters where the terms cancel
to exactly 0 (a dense layer's bias just before batchnorm, whose mean the normalization removes: backprop gives
1e-16, the complex step 0); elsewhere it is many orders of magnitude below the relative tolerance.
A finite difference whose resolution exceeds ``REL_TOL`` of the gradient can neither confirm nor refute backprop:
such an entry is *below the resolution of finite differences*, never a pass; it is a mismatch only when backprop
is off by more than that resolution.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from bpstudio.core import activations, losses
from bpstudio.core.backends.numpy_backend import NumpyBackend
from bpstudio.core.data import Dataset
from bpstudio.core.errors import BpstudioError
from bpstudio.core.session import Session
from bpstudio.core.spec import NetworkSpec

REL_TOL = 1e-5
COMPLEX_STEP = 1e-30
STEPS = (1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2)  # the finite-difference steps a parameter's step is chosen from
STEP_SAMPLES = 3  # entries of a parameter its step is chosen on
ROUNDING = 2.0**-52  # the relative rounding error u of a float64 operation
UNDERFLOW = 1e-300  # differences below this are a float's last bits, not a gradient

Verdict = Literal["pass", "mismatch", "unresolved"]
VERDICT_WORDS: dict[Verdict, str] = {
    "pass": "pass",
    "mismatch": "MISMATCH",
    "unresolved": "below the resolution of finite differences",
}


@dataclass(frozen=True)
class ParamCheck:
    """One parameter's check. ``worst_index`` is the entry with the largest relative error against the
    reference; ``analytic``, ``reference``, ``numeric`` and ``resolution`` are that entry's backprop, reference
    (the complex step, or the central difference where there is none), central difference and that difference's
    resolution. ``unresolved`` counts the entries the central difference cannot resolve (at step ``step``)."""

    key: str
    checked: int
    total: int
    max_abs_error: float
    max_rel_error: float
    worst_index: tuple[int, ...]
    analytic: float
    reference: float
    numeric: float
    resolution: float
    step: float
    unresolved: int
    mismatched: int
    complex_step: bool

    @property
    def verdict(self) -> Verdict:
        """ "mismatch" if any entry disagrees; "unresolved" if, without a complex step, the finite difference
        could not resolve some entry; else "pass"."""
        if self.mismatched:
            return "mismatch"
        return "unresolved" if self.unresolved and not self.complex_step else "pass"

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"

    @property
    def fd_note(self) -> str:
        """How many entries the central difference resolves, e.g. "0 of 16 resolved"."""
        return f"{self.checked - self.unresolved} of {self.checked} resolved"


class _Loss:
    """The loss over the whole data as a function of the parameters, computed by the NumPy backend's own layer
    forwards and loss in float64 or (for the complex step) complex128. Only the layers from the one whose
    parameter changed onward are computed again; those before keep their outputs at ``base``. Dropout layers
    drop what they dropped in the step backprop's gradient comes from (``masks``, held fixed: the loss of that
    step is a function of the parameters alone)."""

    def __init__(
        self,
        spec: NetworkSpec,
        data: Dataset,
        dtype: str,
        base: Mapping[str, np.ndarray],
        masks: Mapping[str, np.ndarray] | None = None,
    ):
        backend = NumpyBackend(dtype=dtype)
        self.output = spec.output
        self.plan = []
        for lid in spec.active_order():
            if lid != spec.input_id:
                layer = spec.layer(lid)
                needs = [i != spec.input_id for i in layer.inputs]
                self.plan.append(
                    (lid, backend.kernel(layer, [spec.widths[i] for i in layer.inputs], needs), layer.inputs)
                )
        self.position = {lid: i for i, (lid, _, _) in enumerate(self.plan)}
        targets = data.targets_for(spec.loss, spec.widths[spec.output])
        self.t = targets.astype(np.int64) if targets.ndim == 1 else np.asarray(targets, dtype=np.float64)
        self.value = losses.VALUES[spec.loss]
        self.base = {k: backend.param(v) for k, v in base.items()}
        self.masks = {k: backend.param(v) for k, v in (masks or {}).items()}
        self.values = self._forward({spec.input_id: backend.asarray(data.X)}, self.base, 0)
        self.loss = self.value(self.values[self.output], self.t)

    def _forward(self, values: dict[str, Any], params: Mapping[str, Any], start: int) -> dict[str, Any]:
        params = {**params, **self.masks} if self.masks else params
        for lid, kernel, sources in self.plan[start:]:
            values[lid] = kernel.forward([values[s] for s in sources], params).out
        return values

    def at(self, key: str, flat: int, shift: complex) -> Any:
        """The loss with entry ``flat`` of parameter ``key`` moved by ``shift`` (imaginary for the complex step)."""
        start = self.position.get(key.rsplit(".", 1)[0])
        if start is None:  # a layer the output does not depend on
            return self.loss
        changed = self.base[key].copy()
        changed.flat[flat] += shift
        params = {**self.base, key: changed}
        return self.value(self._forward(dict(self.values), params, start)[self.output], self.t)


def complex_step_possible(spec: NetworkSpec) -> bool:
    """Whether every active layer's activation computes on complex numbers (all but gelu without scipy)."""
    return all(
        activations.takes_complex(spec.layer(lid).activation)
        for lid in spec.active_order()
        if spec.layer(lid).type != "input"
    )


def _central(loss: _Loss, key: str, flat: int, h: float) -> float:
    """(L(θᵢ + h) − L(θᵢ − h)) / 2h for entry ``flat`` of ``key``."""
    return (float(loss.at(key, flat, h)) - float(loss.at(key, flat, -h))) / (2 * h)


def _with_resolution(loss: _Loss, key: str, flat: int, h: float, scale: float) -> tuple[float, float]:
    """The central difference at ``h`` and its resolution: the loss's rounding over 2h plus the change when the
    step doubles (which bounds the truncation error, about a third of it, from above)."""
    at_h = _central(loss, key, flat, h)
    at_2h = _central(loss, key, flat, 2 * h)
    return at_h, 2 * ROUNDING * scale / h + abs(at_2h - at_h)


def choose_step(loss: _Loss, key: str, scale: float, rng: np.random.Generator) -> float:
    """The step of :data:`STEPS` with the smallest resolution on a few of the parameter's entries (the largest
    among them): small steps drown in the loss's rounding, large ones in its curvature, and where between the
    two lies differs by orders of magnitude from the output layer to a deep net's first."""
    size = loss.base[key].size
    picked = rng.choice(size, size=min(STEP_SAMPLES, size), replace=False)
    with np.errstate(all="ignore"):
        worst = [max(_with_resolution(loss, key, int(f), h, scale)[1] for f in picked) for h in STEPS]
    finite = [(r, h) for r, h in zip(worst, STEPS) if math.isfinite(r)]
    return min(finite)[1] if finite else 1e-6


def gradient_check(
    spec: NetworkSpec,
    data: Dataset,
    params: dict[str, np.ndarray] | None = None,
    eps: float | None = None,
    max_entries: int | None = None,
    seed: int = 0,
) -> list[ParamCheck]:
    """Check every parameter (at most ``max_entries`` entries each, sampled, when given). ``eps`` fixes the
    finite-difference step; by default it is chosen per parameter (:func:`choose_step`)."""
    if eps is not None and not (math.isfinite(eps) and eps > 0):
        raise BpstudioError(f"the finite-difference step must be a positive number, got {eps}")
    if max_entries is not None and max_entries < 1:
        raise BpstudioError(f"entries to check per parameter must be at least 1, got {max_entries}")
    session = Session(spec, data, backend="numpy", dtype="float64", params=params)
    trace = session.forward_backward()
    analytic = session.gradients()
    base = session.params_numpy()
    masks = {k: np.asarray(trace.numpy(v)) for k, v in trace.masks.items()}  # (the step's dropout masks)
    rounding = _rounding_allowances(spec, trace)
    real = _Loss(spec, data, "float64", base, masks)
    scale = max(abs(float(real.loss)), UNDERFLOW)
    complex_loss = _Loss(spec, data, "complex128", base, masks) if complex_step_possible(spec) else None
    rng = np.random.default_rng(seed)
    results = []
    for key, value in base.items():
        indices = np.arange(value.size)
        if max_entries is not None and value.size > max_entries:
            indices = np.sort(rng.choice(value.size, size=max_entries, replace=False))
        h = eps if eps is not None else choose_step(real, key, scale, rng)
        worst: tuple[float, float, int, float, float, float, float] | None = None  # rel, abs, index, a, ref, fd, res
        unresolved = mismatched = 0
        for flat in (int(i) for i in indices):
            a = float(analytic[key].flat[flat])
            with np.errstate(all="ignore"):
                numeric, resolution = _with_resolution(real, key, flat, h, scale)
                exact = None
                if complex_loss is not None:
                    exact = float(np.imag(complex_loss.at(key, flat, 1j * COMPLEX_STEP))) / COMPLEX_STEP
            floor = float(rounding[key].flat[flat]) if key in rounding else 0.0
            fd_verdict = _verdict(a, numeric, resolution, floor)
            unresolved += fd_verdict == "unresolved"
            reference = exact if exact is not None else numeric
            entry = fd_verdict if exact is None else _verdict(a, exact, 0.0, floor)
            mismatched += entry == "mismatch"
            abs_err = abs(a - reference)
            rel_err = abs_err / max(abs(a), abs(reference)) if abs_err > 0 else 0.0
            if math.isnan(abs_err):  # a NaN must show, not vanish in max()
                abs_err = rel_err = math.nan
            if worst is None or math.isnan(rel_err) or (rel_err, abs_err) > worst[:2] and not math.isnan(worst[0]):
                worst = (rel_err, abs_err, flat, a, reference, numeric, resolution)
        assert worst is not None
        results.append(
            ParamCheck(
                key=key,
                checked=len(indices),
                total=value.size,
                max_abs_error=worst[1],
                max_rel_error=worst[0],
                worst_index=tuple(int(i) for i in np.unravel_index(worst[2], value.shape)),
                analytic=worst[3],
                reference=worst[4],
                numeric=worst[5],
                resolution=worst[6],
                step=h,
                unresolved=unresolved,
                mismatched=mismatched,
                complex_step=complex_loss is not None,
            )
        )
    return results


def _rounding_allowances(spec: NetworkSpec, trace: Any) -> dict[str, np.ndarray]:
    """Per parameter entry, how far backprop's own rounding may leave it from the exact gradient: 4·N·u × the sum
    over the batch of the magnitudes of the terms it adds up (|dz|ᵀ·|x| for a dense weight, Σ|dz| for a bias,
    Σ|dz|·|x̂| for a norm layer's γ)."""
    allowances: dict[str, np.ndarray] = {}
    for lid, record in trace.layers.items():
        layer = spec.layer(lid)
        if not layer.param_names or record.grad_pre is None:
            continue
        dz = np.abs(np.asarray(trace.numpy(record.grad_pre)))
        factor = 4 * dz.shape[0] * ROUNDING
        if layer.type == "dense":
            allowances[f"{lid}.weight"] = factor * (dz.T @ np.abs(np.asarray(trace.numpy(record.inputs[0]))))
        else:  # a norm layer: γ multiplies x̂
            allowances[f"{lid}.weight"] = factor * (dz * np.abs(np.asarray(record.saved[0].xhat))).sum(axis=0)
        if "bias" in layer.param_names:
            allowances[f"{lid}.bias"] = factor * dz.sum(axis=0)
    return allowances


def _verdict(a: float, reference: float, resolution: float, rounding: float = 0.0) -> Verdict:
    """An entry's verdict against a reference known to within ``resolution`` (0 for the complex step), backprop's
    own rounding being up to ``rounding``."""
    difference = abs(a - reference)
    allowed = REL_TOL * max(abs(a), abs(reference))
    if not math.isfinite(difference):
        return "mismatch"
    if difference <= max(UNDERFLOW, rounding) or difference <= allowed and resolution <= allowed:
        return "pass"
    return "mismatch" if difference > allowed + resolution else "unresolved"


# --- what it says -------------------------------------------------------------------------------------------


def criterion(checks: list[ParamCheck], samples: int) -> str:
    """The criterion the check used, in words, for the dialog and ``bpstudio check``."""
    steps = sorted({c.step for c in checks})
    step = f"h = {steps[0]:g}" if len(steps) == 1 else f"h chosen per parameter, {steps[0]:g} to {steps[-1]:g}"
    fd = f"the central difference (L(θ+h) − L(θ−h))/2h ({step})"
    of_what = f"the loss over all {samples} training samples"
    if checks and all(c.complex_step for c in checks):
        return (
            f"Backprop's gradient of {of_what}, entry by entry, against the complex step Im L(θ + ih)/h, exact to "
            f"rounding, and {fd}. Pass: |backprop − complex step| ≤ {REL_TOL:g} × the larger of the two, or within "
            f"backprop's own rounding (N·u × the sum of the magnitudes it adds up: it matters only where they cancel "
            f"to 0, as for a bias just before batchnorm). "
            f"A finite difference is below its resolution where its own error (the loss's rounding over 2h and the "
            f"change when h doubles) exceeds {REL_TOL:g} of the gradient."
        )
    return (
        f"Backprop's gradient of {of_what}, entry by entry, against {fd}. Pass: |backprop − finite difference| ≤ "
        f"{REL_TOL:g} × the larger of the two, where the finite difference's own error (the loss's rounding over "
        f"2h and the change when h doubles) is below that; where it is not, the entry is below the resolution of "
        f"finite differences: neither a pass nor a mismatch. (No complex step: gelu needs scipy for it.)"
    )


def verdict(checks: list[ParamCheck]) -> str:
    """One line: what the check found."""
    wrong = [c.key for c in checks if c.verdict == "mismatch"]
    if wrong:
        return f"Mismatch in {', '.join(wrong)}: backprop and the numerical derivative disagree there."
    unresolved = [c.key for c in checks if c.unresolved]
    entries = sum(c.unresolved for c in checks)
    if checks and all(c.complex_step for c in checks):
        text = "Every gradient matches the complex step."
        if unresolved:
            text += (
                f" Finite differences cannot resolve {entries} of {sum(c.checked for c in checks)} entries "
                f"({_listed(unresolved)}): below their resolution, not checked by them."
            )
        return text
    if unresolved:
        return (
            f"No gradient disagrees, but {entries} entries ({_listed(unresolved)}) are below the resolution of "
            "finite differences: they are not confirmed."
        )
    return "Every gradient matches its finite difference."


def _listed(keys: list[str]) -> str:
    return ", ".join(keys) if len(keys) <= 4 else f"{', '.join(keys[:3])} and {len(keys) - 3} more"
