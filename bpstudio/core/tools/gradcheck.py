"""Numerical gradient check: central differences against backprop for every parameter.

For each checked entry θᵢ: numeric = (L(θᵢ + ε) − L(θᵢ − ε)) / 2ε, compared with the analytic dL/dθᵢ from
one full-batch backward pass (float64). The relative error |a − n| / max(|a|, |n|) is the usual figure;
where both are tiny it says little, so an entry also passes when |a − n| is below ``abs_tol``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from bpstudio.core.data import Dataset
from bpstudio.core.errors import BpstudioError
from bpstudio.core.session import Session
from bpstudio.core.spec import NetworkSpec

REL_TOL = 1e-5
ABS_TOL = 1e-8


@dataclass(frozen=True)
class ParamCheck:
    key: str
    checked: int
    total: int
    max_abs_error: float
    max_rel_error: float
    worst_index: tuple[int, ...]
    analytic: float
    numeric: float
    passed: bool


def gradient_check(
    spec: NetworkSpec,
    data: Dataset,
    params: dict[str, np.ndarray] | None = None,
    eps: float = 1e-6,
    max_entries: int | None = None,
    seed: int = 0,
) -> list[ParamCheck]:
    """Check every parameter (at most ``max_entries`` entries each, sampled, when given)."""
    if not (math.isfinite(eps) and eps > 0):
        raise BpstudioError(f"the finite-difference step must be a positive number, got {eps}")
    if max_entries is not None and max_entries < 1:
        raise BpstudioError(f"entries to check per parameter must be at least 1, got {max_entries}")
    session = Session(spec, data, backend="numpy", dtype="float64", params=params)
    session.forward_backward()
    analytic = session.gradients()
    base = session.params_numpy()
    rng = np.random.default_rng(seed)
    results = []
    for key, value in base.items():
        flat_count = value.size
        indices = np.arange(flat_count)
        if max_entries is not None and flat_count > max_entries:
            indices = np.sort(rng.choice(flat_count, size=max_entries, replace=False))
        worst = (0.0, 0.0, 0, 0.0, 0.0)  # rel, abs, index, analytic, numeric
        max_abs = 0.0
        passed = True
        for flat in indices:
            idx = np.unravel_index(flat, value.shape)
            probe = dict(base)
            shifted = value.copy()
            shifted[idx] = value[idx] + eps
            probe[key] = shifted
            up = session.evaluate(data, probe)
            shifted = value.copy()
            shifted[idx] = value[idx] - eps
            probe[key] = shifted
            down = session.evaluate(data, probe)
            numeric = (up - down) / (2 * eps)
            a = float(analytic[key][idx])
            abs_err = abs(a - numeric)
            scale = max(abs(a), abs(numeric))
            rel_err = abs_err / scale if scale > 0 else (0.0 if abs_err == 0 else math.inf)
            if math.isnan(abs_err):  # a NaN must show, not vanish in max()
                abs_err = rel_err = math.nan
            max_abs = abs_err if math.isnan(abs_err) else max(max_abs, abs_err)
            if not (rel_err < REL_TOL or abs_err < ABS_TOL):
                passed = False
            if math.isnan(rel_err) or (rel_err, abs_err) > worst[:2]:
                worst = (rel_err, abs_err, int(flat), a, numeric)
        results.append(
            ParamCheck(
                key=key,
                checked=len(indices),
                total=flat_count,
                max_abs_error=max_abs,
                max_rel_error=worst[0],
                worst_index=tuple(int(i) for i in np.unravel_index(worst[2], value.shape)),
                analytic=worst[3],
                numeric=worst[4],
                passed=passed,
            )
        )
    return results
