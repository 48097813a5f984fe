"""``bpstudio runs RUN_DIR``: a run recorded by ``bpstudio.watch`` (a PyTorch training loop), summed up per layer:
gradient norm, its ratio to the last layer's, update ratio, the output's statistics, and a verdict with its
evidence (:mod:`bpstudio.core.tools.run_verdicts`). Works on a run that is still being written.

Figures are over the last recorded steps (up to 100); a blank cell is a figure the module does not have (a ReLU
has no weights; a Linear no dead units).
"""

from __future__ import annotations

import argparse
import math

from bpstudio.core.io import run_db
from bpstudio.core.record.watched_run import WatchedRun
from bpstudio.core.tools.run_verdicts import LayerVerdict, layer_verdicts
from bpstudio.core.tools.vanishing_lesson import TAIL
from bpstudio.core.words import counted

NAME = "runs"
HELP = "sum up a PyTorch run recorded with bpstudio.watch: each layer's gradients, activations and verdict"
COLUMNS = ("layer", "module", "grad norm", "× last", "update", "mean", "std", "zeros", "dead", "saturated", "verdict")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run folder (holding run.sqlite) that a Watcher wrote")


NO_GRADIENTS = (
    "no parameter had a gradient at any recorded step: the loop calls watcher.step() where there are none (call "
    "it after loss.backward() and before the next zero_grad()), or every parameter is frozen"
)


def run(args: argparse.Namespace) -> int:
    with WatchedRun(run_db.named_folder(args.run_dir)) as run_:
        print(headline(run_))
        if len(run_):
            verdicts = layer_verdicts(run_)
            if not any(math.isfinite(v.grad_norm) or v.verdict == "zero gradients" for v in verdicts):
                print(NO_GRADIENTS)
            print(table(verdicts))
    return 0


def headline(run: WatchedRun) -> str:
    info = run.info
    every = _every(info.every) + _detail(info.every, info.update_every, info.activations_every)
    state = "finished" if info.finished else "still being written, or ended without Watcher.close()"
    if info.stopped_by:
        state = f"stopped by {info.stopped_by}"
    if not len(run):
        return f"{info.model_class}: no step recorded yet ({every}); {state}"
    loss = run.losses()[-1]
    window = f"figures over the last {counted(min(TAIL, len(run)), 'recorded step')}"
    loss_text = "nan (not a number: the run diverged)" if math.isnan(loss) else _number(loss)
    return (
        f"{info.model_class}: {counted(len(run), 'step')} recorded ({every}), the last step {run.steps[-1]} with loss "
        f"{loss_text}; {state}; {window}"
    )


def _every(n: int) -> str:
    return "every step" if n == 1 else f"every {n} steps"


def _detail(every: int, weights: int, activations: int) -> str:
    """What is recorded less often than the gradient norms and the loss, e.g. "; weight norms, update ratios and
    activation statistics every 20 steps" (nothing when everything comes at every recorded step)."""
    parts = {"weight norms, update ratios": weights, "activation statistics": activations}
    sparse = {what: n for what, n in parts.items() if n != every}
    if not sparse:
        return ""
    if len(set(sparse.values())) == 1:
        return f"; {' and '.join(sparse)} {_every(next(iter(sparse.values())))}"
    return "".join(f"; {what} {_every(n)}" for what, n in sparse.items())


def table(verdicts: list[LayerVerdict]) -> str:
    rows = [COLUMNS] + [_cells(v) for v in verdicts]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = []
    for row, v in zip(rows, [None, *verdicts]):
        cells = [
            cell.ljust(w) if i in (0, 1, len(COLUMNS) - 1) else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths))
        ]
        evidence = "evidence" if v is None else v.evidence
        lines.append("  ".join(cells) + ("  " + evidence if evidence else ""))
    return "\n".join(line.rstrip() for line in lines)


def _cells(v: LayerVerdict) -> tuple[str, ...]:
    return (
        v.layer or "(model)",
        v.module_type,
        _number(v.grad_norm),
        _number(v.ratio),
        _number(v.update_ratio),
        _number(v.mean, "{:.3g}"),
        _number(v.std, "{:.3g}"),
        _share(v.zero_fraction),
        _share(v.dead_fraction),
        _share(v.saturated_fraction),
        v.verdict,
    )


def _number(value: float, form: str = "{:.2e}") -> str:
    return "" if math.isnan(value) else form.format(value)


def _share(value: float) -> str:
    return "" if math.isnan(value) else f"{value:.0%}"
