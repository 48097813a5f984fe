"""``bpstudio train NET.json --steps N``: N optimizer steps; the loss now and then, per-step metrics as CSV
(``--metrics``) and the trained network (``--save``)."""

from __future__ import annotations

import argparse
import csv
import io
import math
import sys

from bpstudio.cli.common import (
    add_engine_options,
    add_network_arguments,
    check_outputs,
    load_data,
    load_network,
    write_output,
)
from bpstudio.core.errors import BpstudioError
from bpstudio.core.io import spec_io

NAME = "train"
HELP = "run N optimizer steps, write metrics and the trained network"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_network_arguments(parser)
    add_engine_options(parser)
    parser.add_argument("--steps", type=int, required=True, metavar="N")
    parser.add_argument(
        "--batch-size", type=int, metavar="B", help="minibatch size (default: the network file's, else the full batch)"
    )
    parser.add_argument("--metrics", metavar="OUT.csv", help="per-step loss and per-layer gradient norms")
    parser.add_argument("--save", metavar="OUT.json", help="write the trained network")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")


def run(args: argparse.Namespace) -> int:
    from bpstudio.core.session import Session

    if args.steps < 1:
        raise BpstudioError(f"--steps must be 1 or more, got {args.steps}")
    check_outputs(args.metrics, args.save)
    spec, base = load_network(args.network)
    data = load_data(spec, args.data, base, network=args.network)
    session = Session(
        spec,
        data,
        backend=args.backend,
        device=args.device,
        dtype=args.dtype,
        batch_size=args.batch_size if args.batch_size is not None else spec.batch_size,
    )
    dense = [lid for lid in spec.active_order() if spec.layer(lid).type == "dense"]
    rows = []
    report_every = max(1, args.steps // 10)
    for step in range(1, args.steps + 1):
        trace = session.step()
        assert trace.loss is not None
        if args.metrics is not None:
            rows.append([step, trace.loss, *(trace.grad_norm(lid) for lid in dense)])
        if not args.quiet and (step % report_every == 0 or step == args.steps):
            print(f"step {step}: loss {trace.loss:.9g}")
        if not math.isfinite(trace.loss):
            print(
                f"bpstudio: warning: the loss became {trace.loss} at step {step}; try a smaller learning rate",
                file=sys.stderr,
            )
            break
    if args.metrics is not None:
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(["step", "loss", *(f"grad_norm/{lid}" for lid in dense)])
        writer.writerows([[row[0], *(repr(float(v)) for v in row[1:])] for row in rows])
        write_output(args.metrics, text.getvalue())
    if args.save is not None:
        write_output(args.save, spec_io.dumps(session.to_spec()))
    return 0
