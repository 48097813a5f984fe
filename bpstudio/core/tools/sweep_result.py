"""What a vanishing-gradient sweep produced: one :class:`CellResult` per run, and :class:`SweepResult` to
aggregate them over seeds, write them as CSV and give the curves of gradient norm against depth.

Everything here is plain data (frozen dataclasses of numbers and text), so results pickle across process
and cluster boundaries and can be handed from a worker thread to the GUI. The runner is
:mod:`bpstudio.core.tools.sweep`.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

METRICS = (
    "loss_start",
    "final_loss",
    "grad_first_start",
    "grad_last_start",
    "grad_first_mean",
    "grad_last_mean",
    "ratio",
)
"""Per run: the loss at the first step (the step's own, in training mode: with dropout, units dropped) and over the
data after the last (in evaluation mode: dropout off); ‖∂L/∂W‖ of the first hidden layer and of the output
layer at the first step (the initial weights) and their mean over the steps run; ``ratio`` =
grad_first_start / grad_last_start (≪ 1: the gradient vanishes on its way back to the first layer)."""
SPREADS = ("std", "min", "max")
AXES = ("depth", "activation", "init", "residual")


def _text(value: Any) -> str:
    return ("on" if value else "off") if isinstance(value, bool) else str(value)


@dataclass(frozen=True)
class Config:
    """One grid point apart from the seed: depth (hidden layers), hidden activation, hidden initialiser,
    residual connections, and every other setting the grid names as (name, value) pairs, sorted by name."""

    depth: int
    activation: str
    init: str
    residual: bool
    settings: tuple[tuple[str, Any], ...] = ()

    @property
    def line(self) -> tuple[Any, ...]:
        """What a curve of gradient norm against depth holds fixed: everything but the depth."""
        return (self.activation, self.init, self.residual, self.settings)

    def label(self, varied: Sequence[str] = ()) -> str:
        """e.g. ``"sigmoid, xavier_uniform, residual, lr=0.5"``: settings only where ``varied`` names them."""
        parts = [self.activation, self.init, "residual" if self.residual else "plain"]
        parts += [f"{name}={_text(value)}" for name, value in self.settings if name in varied]
        return ", ".join(parts)


@dataclass(frozen=True)
class CellResult:
    """One run: a configuration trained from one seed for ``steps_done`` steps (fewer than asked when the
    loss stopped being finite). ``seconds`` is the run's own time in its worker."""

    config: Config
    seed: int
    steps_done: int
    loss_start: float
    final_loss: float
    grad_first_start: float
    grad_last_start: float
    grad_first_mean: float
    grad_last_mean: float
    seconds: float = 0.0

    @property
    def ratio(self) -> float:
        if self.grad_last_start > 0:
            return self.grad_first_start / self.grad_last_start
        return math.nan if self.grad_first_start == 0 else math.inf

    def metric(self, name: str) -> float:
        return float(getattr(self, name))


@dataclass(frozen=True)
class Aggregate:
    """One configuration over its seeds: each metric's mean, standard deviation (ddof 0), min and max."""

    config: Config
    seeds: int
    steps_done: int  # the fewest steps any seed got through
    mean: dict[str, float]
    std: dict[str, float]
    min: dict[str, float]
    max: dict[str, float]


@dataclass(frozen=True)
class Series:
    """One curve: a metric against depth for one configuration, over seeds (mean and spread)."""

    label: str
    line: tuple[Any, ...]
    depths: tuple[int, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    low: tuple[float, ...]  # min over seeds
    high: tuple[float, ...]  # max over seeds


@dataclass(frozen=True)
class SweepResult:
    """The runs a sweep finished, in grid order. ``total`` counts the runs the grid asked for; when the sweep
    was cancelled (``cancelled``) fewer are here. ``setting_names`` are the grid's other settings and
    ``varied`` those of them with more than one value (they appear in curve labels)."""

    results: tuple[CellResult, ...]
    total: int
    setting_names: tuple[str, ...] = ()
    varied: tuple[str, ...] = ()
    cancelled: bool = False
    seconds: float = 0.0

    @property
    def done(self) -> int:
        return len(self.results)

    def aggregate(self) -> list[Aggregate]:
        """One entry per configuration that has at least one finished run, in grid order."""
        groups: dict[Config, list[CellResult]] = {}
        for r in self.results:
            groups.setdefault(r.config, []).append(r)
        out = []
        for config, runs in groups.items():
            values = {m: np.array([r.metric(m) for r in runs], dtype=np.float64) for m in METRICS}
            with np.errstate(invalid="ignore", over="ignore"):  # a diverged run's inf/NaN shows as such
                out.append(
                    Aggregate(
                        config,
                        len(runs),
                        min(r.steps_done for r in runs),
                        mean={m: float(np.mean(v)) for m, v in values.items()},
                        std={m: float(np.std(v)) for m, v in values.items()},
                        min={m: float(np.min(v)) for m, v in values.items()},
                        max={m: float(np.max(v)) for m, v in values.items()},
                    )
                )
        return out

    def series(self, metric: str = "grad_first_start") -> list[Series]:
        """For the plot: ``metric`` against depth, one curve per configuration (all but depth), depths
        ascending, with mean, standard deviation, min and max over seeds."""
        if metric not in METRICS:
            raise ValueError(f"unknown metric '{metric}' (known: {', '.join(METRICS)})")
        lines: dict[tuple[Any, ...], list[Aggregate]] = {}
        for agg in self.aggregate():
            lines.setdefault(agg.config.line, []).append(agg)
        curves = []
        for line, aggs in lines.items():
            aggs = sorted(aggs, key=lambda a: a.config.depth)
            curves.append(
                Series(
                    aggs[0].config.label(self.varied),
                    line,
                    tuple(a.config.depth for a in aggs),
                    tuple(a.mean[metric] for a in aggs),
                    tuple(a.std[metric] for a in aggs),
                    tuple(a.min[metric] for a in aggs),
                    tuple(a.max[metric] for a in aggs),
                )
            )
        return curves

    def to_csv(self) -> str:
        """One ``run`` row per configuration and seed, then one ``mean`` row per configuration whose metric
        columns hold the mean over seeds and whose ``<metric>_std/_min/_max`` columns the spread."""
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        spread = [f"{m}_{s}" for m in METRICS for s in SPREADS]
        writer.writerow(["row", *AXES, *self.setting_names, "seed", "seeds", "steps_done", *METRICS, *spread])

        def head(kind: str, config: Config) -> list[str]:
            settings = dict(config.settings)
            return [
                kind,
                *(_text(getattr(config, a)) for a in AXES),
                *(_text(settings[n]) if n in settings else "" for n in self.setting_names),
            ]

        for r in self.results:
            writer.writerow(
                [
                    *head("run", r.config),
                    r.seed,
                    1,
                    r.steps_done,
                    *(repr(r.metric(m)) for m in METRICS),
                    *([""] * len(spread)),
                ]
            )
        for agg in self.aggregate():
            stats = {"std": agg.std, "min": agg.min, "max": agg.max}
            writer.writerow(
                [
                    *head("mean", agg.config),
                    "",
                    agg.seeds,
                    agg.steps_done,
                    *(repr(agg.mean[m]) for m in METRICS),
                    *(repr(stats[s][m]) for m in METRICS for s in SPREADS),
                ]
            )
        return text.getvalue()
