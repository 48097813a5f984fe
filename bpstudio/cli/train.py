"""``bpstudio train NET.json --steps N``: N optimizer steps; the loss now and then, per-step metrics as CSV
(``--metrics``) and the trained network (``--save``).

Stop conditions (:mod:`bpstudio.core.stopping`) can end the run sooner: ``--until-loss X`` (a step's training loss
at or below X), ``--epochs N`` (N passes over the data; then ``--steps`` may be left out) and ``--plateau STEPS``
(the best loss so far fell by no more than ``--plateau-fraction``, 1 % by default, over the last STEPS steps). The
run then ends with a line saying which, and at what step; the exit status is 0.

A run whose values stop being numbers (inf or nan) stops at that step with exit status :data:`EXIT_DIVERGED` and
one line naming the step, the first layer where it happened and what became inf or nan; the step is not applied,
so ``--save`` writes the last state whose values are all numbers, and the line says so. A run that ends with
layers saturated or dead (gradients 0: it has stopped learning) says that on stderr too."""

from __future__ import annotations

import argparse
import csv
import io
import sys
from typing import Any

from bpstudio.cli.common import (
    add_engine_options,
    add_network_arguments,
    check_outputs,
    engine_session,
    load_data,
    load_network,
    write_output,
)
from bpstudio.core.errors import BpstudioError, DivergedError
from bpstudio.core.io import spec_io
from bpstudio.core.stopping import PLATEAU_FRACTION, StopRule

NAME = "train"
HELP = "run N optimizer steps, write metrics and the trained network"
EXIT_DIVERGED = 3  # the run's values stopped being numbers


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_network_arguments(parser)
    add_engine_options(parser)
    parser.add_argument("--steps", type=int, metavar="N", help="the most optimizer steps (needed without --epochs)")
    parser.add_argument("--epochs", type=int, metavar="N", help="stop after N passes over the training data")
    parser.add_argument(
        "--until-loss", type=float, metavar="X", help="stop at the first step whose training loss is X or less"
    )
    parser.add_argument(
        "--plateau",
        type=int,
        metavar="STEPS",
        help="stop once the best loss so far has fallen by no more than --plateau-fraction over STEPS steps",
    )
    parser.add_argument(
        "--plateau-fraction",
        type=float,
        default=PLATEAU_FRACTION,
        metavar="F",
        help=f"the relative fall of the best loss that counts as progress for --plateau (default {PLATEAU_FRACTION})",
    )
    parser.add_argument(
        "--batch-size", type=int, metavar="B", help="minibatch size (default: the network file's, else the full batch)"
    )
    parser.add_argument(
        "--metrics",
        metavar="OUT.csv",
        help="per-step loss, per-layer gradient norms, the learning rate used and the total gradient norm",
    )
    parser.add_argument("--save", metavar="OUT.json", help="write the trained network")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")


def run(args: argparse.Namespace) -> int:
    import numpy as np

    if args.steps is None and args.epochs is None:
        raise BpstudioError("give --steps N or --epochs N (how long to train at most)")
    if args.steps is not None and args.steps < 1:
        raise BpstudioError(f"--steps must be 1 or more, got {args.steps}")
    if args.epochs is not None and args.epochs < 1:
        raise BpstudioError(f"--epochs must be 1 or more, got {args.epochs}")
    if args.plateau is not None and args.plateau < 1:
        raise BpstudioError(f"--plateau must be 1 or more steps, got {args.plateau}")
    if args.until_loss is not None and not args.until_loss >= 0:  # (nan too)
        raise BpstudioError(f"--until-loss must be a number 0 or more, got {args.until_loss}")
    if not 0 <= args.plateau_fraction < 1:
        raise BpstudioError(f"--plateau-fraction must be in [0, 1), got {args.plateau_fraction}")
    rule = StopRule(args.until_loss, args.epochs, args.plateau, args.plateau_fraction)
    check_outputs(args.metrics, args.save)
    spec, base = load_network(args.network)
    data = load_data(spec, args.data, base, network=args.network)
    session = engine_session(
        args, spec, data, batch_size=args.batch_size if args.batch_size is not None else spec.batch_size
    )
    dense = [lid for lid in spec.active_order() if spec.layer(lid).type == "dense"]
    rows = []
    most = args.steps if args.epochs is None else args.epochs * session.steps_per_epoch
    if args.steps is not None:
        most = min(most, args.steps)
    report_every = max(1, most // 10)
    watch = rule.watch(session.epoch_count)
    stopped: str | None = None
    diverged: DivergedError | None = None
    with np.errstate(all="ignore"):  # (a run that overflows says so in one line below, not in NumPy's warnings)
        for step in range(1, most + 1):
            try:
                trace = session.step()
            except DivergedError as exc:
                diverged = exc
                break
            assert trace.loss is not None
            if args.metrics is not None:
                assert trace.update is not None
                figures = trace.update
                norms = (trace.grad_norm(lid) for lid in dense)
                rows.append([step, trace.loss, *norms, figures.lr, figures.grad_norm])
            stopped = watch.observe(step, session.epoch_count, float(trace.loss))
            if not args.quiet and (step % report_every == 0 or step == most or stopped):
                print(f"step {step}: loss {trace.loss:.9g}")
            if stopped:
                break
    if args.metrics is not None:
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(["step", "loss", *(f"grad_norm/{lid}" for lid in dense), "lr", "grad_norm/total"])
        writer.writerows([[row[0], *(repr(float(v)) for v in row[1:])] for row in rows])
        write_output(args.metrics, text.getvalue())
        if not args.quiet:
            print(f"wrote {args.metrics}: {len(rows)} steps")
    if args.save is not None:
        write_output(args.save, spec_io.dumps(session.to_spec()))  # (a refused step left the weights before it)
        if not args.quiet and diverged is None:
            print(f"wrote {args.save}: the network after step {session.step_count}")
    if stopped and not args.quiet:
        print(stopped)  # (the last line: why the run ended)
    if diverged is not None:
        print(_stopped(diverged, args.save), file=sys.stderr)
        return EXIT_DIVERGED
    stuck = _stuck(session)
    if stuck:
        print(f"bpstudio: warning: {stuck}", file=sys.stderr)
    return 0


def _stopped(diverged: DivergedError, saved: str | None) -> str:
    """The one line a diverged run ends with: the step, where and what, and what --save wrote."""
    line = f"bpstudio: stopped at step {diverged.step}: {diverged.problem}; lower the learning rate"
    if saved is not None:
        before = diverged.step - 1
        state = f"after step {before}" if before else "as it started (step 0)"
        line += f"; {saved} holds the network {state}, the last one whose values are all numbers"
    return line


def _stuck(session: Any) -> str | None:
    """What keeps the trained network from learning (layers saturated or dead, gradients 0), in a line; None if
    nothing does. Judged on the whole data (one minibatch can be a batch the stuck network happens to get right)."""
    from bpstudio.core.session import Session
    from bpstudio.core.step_health import step_health

    whole = Session(session.to_spec(), session.data)
    health = step_health(whole.spec, whole.forward_backward())
    if not health:
        return None
    said = "; ".join(p.text for p in health.problems)
    return f"after step {session.step_count}, {said}: it has stopped learning; a smaller learning rate may help"
