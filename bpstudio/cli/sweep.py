"""``bpstudio sweep``: a vanishing-gradient sweep over depth × activation × initialiser × residual (and any
other setting), several seeds each, on a local process pool or a Dask cluster; results as CSV.

    bpstudio sweep --depths 2,4,8,16 --activations sigmoid,relu --inits xavier_uniform,he_normal \\
        --residual both --seeds 3 --steps 50 --data xor --set lr=0.1 --out results.csv
"""

from __future__ import annotations

import argparse
import sys

from bpstudio.cli.common import check_outputs, write_output
from bpstudio.core.errors import BpstudioError
from bpstudio.core.tools import sweep
from bpstudio.core.tools.sweep_result import SweepResult

NAME = "sweep"
HELP = "first-layer gradient norm against depth over a grid of networks and seeds; results as CSV"
RESIDUAL = {"off": (False,), "on": (True,), "both": (False, True)}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Train deep MLPs (input → depth hidden layers → output) for a few steps over a grid of "
        "depth × activation × initialiser × residual × other settings, each with several seeds, "
        "and record the first and last layer's weight-gradient norms and the loss."
    )
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = "settings for --set:\n" + "\n".join(f"  {name:<13} {text}" for name, text in sweep.SETTINGS.items())
    p.add_argument(
        "--depths", default="2,4,8,16", metavar="D,D,...", help="numbers of hidden layers (default 2,4,8,16)"
    )
    p.add_argument(
        "--activations", default="sigmoid,relu", metavar="A,A,...", help="hidden activations (default sigmoid,relu)"
    )
    p.add_argument(
        "--inits",
        default="xavier_uniform,he_normal",
        metavar="I,I,...",
        help="initialisers of the hidden weights (default xavier_uniform,he_normal)",
    )
    p.add_argument(
        "--residual",
        choices=tuple(RESIDUAL),
        default="both",
        help="add a skip connection around each hidden layer after the first (default both)",
    )
    p.add_argument("--seeds", type=int, default=3, metavar="N", help="seeds 0..N-1 per configuration (default 3)")
    p.add_argument("--steps", type=int, default=50, metavar="N", help="training steps per run (default 50)")
    p.add_argument(
        "--data",
        default="xor",
        metavar="DATA",
        help="a built-in set such as 'xor' or 'spirals:classes=3', or a .csv/.npz file (default xor)",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=V[,V...]",
        dest="settings",
        help="a setting (see below): one value fixes it, several make it another axis; repeatable",
    )
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, metavar="N", help="local worker processes (default: one per CPU)")
    where.add_argument("--scheduler", metavar="ADDRESS", help="run on a Dask cluster, e.g. tcp://host:8786")
    p.add_argument(
        "--connect-timeout",
        type=float,
        default=10.0,
        metavar="S",
        help="seconds to wait for the Dask scheduler (default 10)",
    )
    p.add_argument("--out", required=True, metavar="OUT.csv", help="one row per run and one per configuration")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")


def build_grid(args: argparse.Namespace) -> sweep.SweepGrid:
    """The grid the options describe (checked; every configuration's network built once)."""
    if args.seeds < 1:
        raise BpstudioError(f"--seeds must be 1 or more, got {args.seeds}")
    if args.workers is not None and args.workers < 1:
        raise BpstudioError(f"--workers must be 1 or more, got {args.workers}")
    if args.connect_timeout <= 0:
        raise BpstudioError(f"--connect-timeout must be positive, got {args.connect_timeout:g}")
    return sweep.SweepGrid(
        depths=sweep.parse_ints(args.depths, "--depths"),
        activations=sweep.parse_values(args.activations, "--activations"),
        inits=sweep.parse_values(args.inits, "--inits"),
        residual=RESIDUAL[args.residual],
        seeds=tuple(range(args.seeds)),
        steps=args.steps,
        data=args.data,
        settings=sweep.parse_settings(args.settings),
    )


def summary(result: SweepResult) -> str:
    """One line per configuration: the first-layer gradient norm at the start (mean ± std over seeds), its
    ratio to the output layer's, and the final loss."""
    varied = list(result.varied)
    head = (
        f"{'activation':<11}{'init':<16}{'residual':<9}"
        + "".join(f"{n:<11}" for n in varied)
        + f"{'depth':>5}  {'‖∇W first‖ (start)':>22}  {'first/last':>10}  {'final loss':>10}"
    )
    lines = [head]
    for agg in result.aggregate():
        c = agg.config
        settings = dict(c.settings)
        mean, std = agg.mean["grad_first_start"], agg.std["grad_first_start"]
        lines.append(
            f"{c.activation:<11}{c.init:<16}{'on' if c.residual else 'off':<9}"
            + "".join(f"{settings[n]!s:<11}" for n in varied)
            + f"{c.depth:>5}  {f'{mean:.2e} ± {std:.1e}':>22}  {agg.mean['ratio']:>10.2e}  "
            f"{agg.mean['final_loss']:>10.4g}"
        )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    check_outputs(args.out)
    grid = build_grid(args)
    total = len(grid)
    tty = not args.quiet and sys.stderr.isatty()

    def progress(done: int, total: int) -> None:
        if tty:
            print(f"\rsweep: {done}/{total} runs", end="" if done < total else "\n", file=sys.stderr, flush=True)

    executor = sweep.dask_executor(args.scheduler, args.connect_timeout) if args.scheduler else None
    try:
        result = sweep.run_sweep(grid, executor, progress, workers=args.workers)
    finally:
        if executor is not None:
            sweep.close_executor(executor)
    write_output(args.out, result.to_csv())
    if not args.quiet:
        print(summary(result))
        where = (
            f"Dask at {args.scheduler}"
            if args.scheduler
            else (f"{args.workers or sweep.default_workers(total)} local worker processes")
        )
        print(
            f"wrote {args.out}: {total} runs of {total // len(grid.seeds)} configurations "
            f"× {len(grid.seeds)} seeds in {result.seconds:.1f} s on {where}"
        )
    return 0
