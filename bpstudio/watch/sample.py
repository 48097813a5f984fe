"""One recorded step as the training loop hands it to the writer, and the rows of the run database it becomes.

The loop does as little as it can: it brings every number of a step back from the device in one list of floats
(:attr:`Sample.values`) and says where each figure sits in it (the rest of :class:`Sample`). Turning that into
table rows — the update ratios, the activation statistics from their sums — is done here, on the writer's thread.
Nothing here imports torch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ModuleRow:
    """A watched module as the ``modules`` table holds it: its qualified name, class name and the fraction its
    activation statistics count ("dead", "saturated" or None)."""

    name: str
    type: str
    kind: str | None


@dataclass(frozen=True)
class Watched:
    """Where a module's activation figures sit: its output's first ``entries`` values were copied into row
    ``row`` of activation buffer ``buffer``; its ``extra`` row (None: none) holds, for a ReLU, each unit's largest
    output over the batch (``extra_size`` units) and for a sigmoid or tanh its inputs' values beyond the
    saturation threshold (0 elsewhere; ``extra_size`` entries)."""

    name: str
    buffer: int
    row: int
    entries: int
    extra: int | None = None
    extra_size: int = 0
    kind: str | None = None


@dataclass(slots=True)  # (not frozen: a frozen dataclass costs the loop more to make, once per step)
class Sample:
    """One recorded step. ``values`` holds, in order: the gradient norms of the parameters named in ``grads``;
    when ``weighed``, every parameter's norm; when ``ratio``, every parameter's ‖Δp‖ over the last update and its
    norm before it; for each activation buffer (``buffers`` gives the rows each has) its rows' sums, L2 norms and
    the L2 norms of their signs (√ of the entries that are not 0); and last the loss, when ``loss`` is None."""

    step: int
    seconds: float
    grads: Sequence[str]
    weighed: bool
    ratio: bool
    buffers: Sequence[int]
    modules: Sequence[Watched]
    values: Sequence[float]
    loss: float | None = None
    new_modules: Sequence[ModuleRow] = field(default=())


@dataclass(frozen=True)
class Rows:
    """A sample as table rows: (parameter, value) pairs for the three per-parameter tables, (module, mean, std,
    zero, dead, saturated fraction) for ``activations``, and the loss."""

    grad_norms: list[tuple[str, float]]
    param_norms: list[tuple[str, float]]
    update_ratios: list[tuple[str, float]]
    activations: list[tuple[str, float, float, float, float | None, float | None]]
    loss: float


def update_ratio(delta: float, before: float) -> float:
    """‖Δp‖ / ‖p‖ with ‖p‖ before the update, as the engine's traces define it (0 / 0 is 0, x / 0 is inf)."""
    if math.isnan(delta) or math.isnan(before):
        return math.nan
    return delta / before if before > 0 else (0.0 if delta == 0 else math.inf)


def rows_of(sample: Sample, params: Sequence[str]) -> Rows:
    """The table rows of ``sample``; ``params`` are the model's parameter names in order."""
    v, at = sample.values, 0

    def take(count: int) -> Sequence[float]:
        nonlocal at
        at += count
        return v[at - count : at]

    grads = list(zip(sample.grads, take(len(sample.grads))))
    norms = list(zip(params, take(len(params)))) if sample.weighed else []
    ratios = []
    if sample.ratio:
        deltas, before = take(len(params)), take(len(params))
        ratios = [(name, update_ratio(d, b)) for name, d, b in zip(params, deltas, before)]
    sums = [take(rows) for rows in sample.buffers]
    sizes = [(s, take(len(s)), take(len(s))) for s in sums]
    activations = []
    for m in sample.modules:
        total, norm, nonzero = (figures[m.row] for figures in sizes[m.buffer])
        count = _entries(nonzero)
        mean = total / m.entries
        std = math.sqrt(max(norm * norm / m.entries - mean * mean, 0.0))
        dead = saturated = None
        if m.extra is not None and m.extra_size:
            counted = _entries(sizes[m.buffer][2][m.extra])
            dead = 1.0 - counted / m.extra_size if m.kind == "dead" else None
            saturated = counted / m.extra_size if m.kind == "saturated" else None
        activations.append((m.name, mean, std, 1.0 - count / m.entries, dead, saturated))
    loss = sample.loss if sample.loss is not None else v[at]
    return Rows(grads, norms, ratios, activations, loss)


def _entries(sign_norm: float) -> float:
    """The count of entries that are not 0 from the L2 norm of their signs (√count, rounded in float32)."""
    return float(round(sign_norm * sign_norm)) if math.isfinite(sign_norm) else math.nan
