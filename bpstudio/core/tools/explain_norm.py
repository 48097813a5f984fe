"""The chain rule through a batchnorm or layernorm layer, with this step's numbers: the lesson of the batch coupling.

A dense layer's unit sees one sample at a time, so the chain rule runs unit by unit along paths. A batchnorm layer
in training normalizes each unit by its batch's mean μ and variance σ², and every sample moves both: the gradient
reaching one sample's input xₙ is not γ/√(σ²+ε)·dzₙ alone but that minus what flows back through μ and σ²::

    ∂E/∂xₙ = γ/√(σ²+ε) · (dzₙ − mean(dz) − x̂ₙ·mean(dz⊙x̂))      (means over the batch)

three terms: the direct one (as if μ and σ² were fixed numbers), the one through the mean (which centres every
sample), the one through the variance (which scales every sample's x̂). Their sum is what the backward pass sent to
the layer's input (:func:`bpstudio.core.normalization.backward`), which :func:`coupling` checks. A layernorm layer
does the same over one sample's units instead of the batch, with γ inside the means (it differs from unit to unit)::

    ∂E/∂xₘ = 1/√(σ²+ε) · (γₘ·dzₘ − mean(γ⊙dz) − x̂ₘ·mean(γ⊙dz⊙x̂))   (means over the sample's units)

The path-by-path explanation (:mod:`bpstudio.core.tools.explain`) stops at such a layer: a path reaching it ends in
one factor, this whole sum, and the panel shows its three terms.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bpstudio.core import normalization
from bpstudio.core.errors import SessionError
from bpstudio.core.spec import NetworkSpec
from bpstudio.core.trace import StepTrace

FORMULAS = {
    "batchnorm": "∂E/∂x[n] = γ/√(σ²+ε) · (dz_n − mean(dz) − x̂_n·mean(dz⊙x̂)), means over the batch",
    "layernorm": "∂E/∂x[m] = 1/√(σ²+ε) · (γ_m·dz_m − mean(γ⊙dz) − x̂_m·mean(γ⊙dz⊙x̂)), means over the sample's units",
}


@dataclass(frozen=True)
class NormTerm:
    """One of the three terms: what it is (``γ/√(σ²+ε) · dz_n``), why it is there, and its value."""

    symbol: str
    meaning: str
    value: float


@dataclass(frozen=True)
class NormCoupling:
    """The gradient reaching input unit ``unit`` of norm layer ``layer`` for batch sample ``sample``, as its three
    terms. ``numbers`` are the quantities plugged in, by name (dz_n, mean(dz), x̂_n, mean(dz⊙x̂), γ, 1/√(σ²+ε));
    ``recorded`` is what the backward pass sent to the layer's input (None when it sent none)."""

    layer: str
    kind: str
    source: str
    sample: int
    unit: int
    batch_size: int
    formula: str
    scale: float  # what stands outside the bracket: γ/√(σ²+ε) (batchnorm) or 1/√(σ²+ε) (layernorm)
    numbers: tuple[tuple[str, float], ...]
    terms: tuple[NormTerm, NormTerm, NormTerm]
    total: float
    recorded: float | None
    matches: bool


def _as64(a: object) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


def _normalized(spec: NetworkSpec, trace: StepTrace, layer_id: str) -> tuple[normalization.Normalized, int, np.ndarray]:
    """x̂ and 1/√(σ²+ε) as this training step computed them, the axis the statistics run along, and γ (ones
    when the layer has none)."""
    layer = spec.layer(layer_id)
    record = trace.layers[layer_id]
    if layer.type == "batchnorm" and record.stats is None:
        raise SessionError(f"this step's record of '{layer_id}' has no batch statistics: run a training step")
    assert layer.eps is not None
    x = _as64(trace.numpy(record.inputs[0]))
    axis = 0 if layer.type == "batchnorm" else 1
    norm = normalization.normalize(x, axis, layer.eps)
    key = f"{layer_id}.weight"
    gamma = _as64(trace.numpy(trace.params_before[key])) if key in trace.params_before else np.ones(x.shape[1])
    return norm, axis, gamma


def normalized_input(spec: NetworkSpec, trace: StepTrace, layer_id: str) -> np.ndarray:
    """x̂ of every sample and unit in this training step (what γ multiplies)."""
    return _as64(_normalized(spec, trace, layer_id)[0].xhat)


def input_grad(spec: NetworkSpec, trace: StepTrace, layer_id: str, dz: np.ndarray) -> np.ndarray:
    """∂E/∂(the layer's input) for every sample and unit, from ``dz`` = ∂E/∂z (z = γ·x̂ + β, before the
    activation): the backward pass's own formula (core/normalization.py), batch statistics coupled."""
    norm, axis, gamma = _normalized(spec, trace, layer_id)
    return _as64(normalization.backward(norm, dz * gamma, axis, coupled=True))


def coupling(
    spec: NetworkSpec, trace: StepTrace, layer_id: str, sample: int, unit: int, dz: np.ndarray | None = None
) -> NormCoupling:
    """The three terms of ∂E/∂x for input ``unit`` of ``layer_id`` at batch sample ``sample``; ``dz`` is ∂E/∂z
    (default: the step's recorded one)."""
    layer = spec.layer(layer_id)
    record = trace.layers[layer_id]
    if dz is None:
        if record.grad_pre is None:
            raise SessionError(f"run the backward pass through layer '{layer_id}' first")
        dz = _as64(trace.numpy(record.grad_pre))
    norm, axis, gamma = _normalized(spec, trace, layer_id)
    xhat = _as64(norm.xhat)
    s, n = sample, unit
    numbers: tuple[tuple[str, float], ...]
    if layer.type == "batchnorm":  # γ and 1/√(σ²+ε) belong to the unit: they stand outside the bracket
        inv_std = float(_as64(norm.inv_std)[0, n])
        scale = float(gamma[n]) * inv_std
        column, shown = dz[:, n], xhat[:, n]
        own, mean_dz, mean_proj = float(column[s]), float(column.mean()), float((column * shown).mean())
        numbers = (("dz_n", own), ("mean(dz)", mean_dz), ("x̂_n", float(xhat[s, n])), ("mean(dz⊙x̂)", mean_proj))
        numbers += (("γ", float(gamma[n])), ("1/√(σ²+ε)", inv_std))
        symbols = ("γ/√(σ²+ε) · dz_n", "− γ/√(σ²+ε) · mean(dz)", "− γ/√(σ²+ε) · x̂_n · mean(dz⊙x̂)")
        over = "the batch"
    else:  # layernorm: each unit has its own γ, so γ⊙dz goes inside the means over the sample's units
        inv_std = float(_as64(norm.inv_std)[s, 0])
        scale = inv_std
        scaled = gamma * dz[s]
        own, mean_dz, mean_proj = float(scaled[n]), float(scaled.mean()), float((scaled * xhat[s]).mean())
        numbers = (
            ("γ_m·dz_m", own),
            ("mean(γ⊙dz)", mean_dz),
            ("x̂_m", float(xhat[s, n])),
            ("mean(γ⊙dz⊙x̂)", mean_proj),
            ("1/√(σ²+ε)", inv_std),
        )
        symbols = ("1/√(σ²+ε) · γ_m·dz_m", "− 1/√(σ²+ε) · mean(γ⊙dz)", "− 1/√(σ²+ε) · x̂_m · mean(γ⊙dz⊙x̂)")
        over = "the sample's units"
    values = (scale * own, -scale * mean_dz, -scale * float(xhat[s, n]) * mean_proj)
    meanings = (
        "direct: as if the mean and variance were fixed numbers",
        f"through the mean μ: this input moves μ, which centres every value of {over}",
        f"through the variance σ²: this input moves σ², which scales every x̂ of {over}",
    )
    terms = tuple(NormTerm(sym, why, v) for sym, why, v in zip(symbols, meanings, values))
    total = math.fsum(values)
    recorded = None
    if record.grad_inputs and record.grad_inputs[0] is not None:
        recorded = float(_as64(trace.numpy(record.grad_inputs[0]))[s, n])
    dtype = np.asarray(trace.numpy(record.out)).dtype
    tolerance = (1e-9 if dtype == np.float64 else 1e-4) * max(1.0, abs(recorded or 0.0), max(map(abs, values)))
    matches = recorded is None or abs(total - recorded) <= tolerance
    batch = int(np.shape(trace.x)[0])
    return NormCoupling(
        layer_id,
        layer.type,
        layer.inputs[0],
        s,
        n,
        batch,
        FORMULAS[layer.type],
        scale,
        numbers,
        terms,  # type: ignore[arg-type]  # (three, by construction)
        total,
        recorded,
        matches,
    )


def through(kind: str, layer_id: str, unit: int) -> str:
    """How a path written unit by unit names the norm layer it ends at: ``bn1[2] (whole batch)``."""
    return f"{layer_id}[{unit}] (whole batch)" if kind == "batchnorm" else f"{layer_id} (all its units)"


def plugged_in(c: NormCoupling, f: Callable[[float], str]) -> str:
    """The formula with this step's numbers: ``0.79 × (−0.057 − 0.0034 − 0.76 × 0.0024)`` (a negative number in
    brackets), each number written by ``f``."""

    def n(value: float) -> str:
        return f"({f(value)})" if value < 0 else f(value)

    own, mean, xhat, projection = (value for _, value in c.numbers[:4])
    return f"{f(c.scale)} × ({n(own)} − {n(mean)} − {n(xhat)} × {n(projection)})"


def to_lines(c: NormCoupling, f: Callable[[float], str]) -> list[str]:
    """The coupling as plain text lines (``f`` writes a number, as the rest of the explanation does)."""
    sample = f"sample {c.sample} of {c.batch_size}" if c.kind == "batchnorm" else f"sample {c.sample}"
    lines = [f"through {c.layer} ({c.kind}), input {c.source}[{c.unit}], {sample}: {c.formula}"]
    lines.append("  " + ", ".join(f"{name} = {f(v)}" for name, v in c.numbers))
    lines.append(f"  = {plugged_in(c, f)}")
    for t in c.terms:
        lines.append(f"  {t.symbol} = {f(t.value)}   ({t.meaning})")
    check = ""
    if c.recorded is not None:
        check = f"; backward pass: {f(c.recorded)} " + ("(matches)" if c.matches else "(DIFFERS)")
    lines.append(f"  sum = {f(c.total)}{check}")
    return lines
