"""``bpstudio grad NET.json --out OUT.npz``: one forward and backward pass over all of the data; the loss and
every parameter's gradient as arrays in an NPZ archive (keys ``loss``, ``h.weight``, ``h.bias``, ...), and the mask
each dropout layer used in this training-mode pass (``d.mask``: 0/1, samples × width)."""

from __future__ import annotations

import argparse
import io

import numpy as np

from bpstudio.cli.common import (
    add_engine_options,
    add_network_arguments,
    check_outputs,
    engine_session,
    load_data,
    load_network,
    write_output,
)

NAME = "grad"
HELP = "one forward and backward pass over all of DATA; gradients to NPZ"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_network_arguments(parser)
    add_engine_options(parser)
    parser.add_argument("--out", metavar="OUT.npz", required=True)


def run(args: argparse.Namespace) -> int:
    check_outputs(args.out)
    spec, base = load_network(args.network)
    data = load_data(spec, args.data, base, all_of_it=True, network=args.network)
    session = engine_session(args, spec, data)
    trace = session.forward_backward()
    arrays = {"loss": np.float64(trace.loss)}
    arrays.update(session.gradients())
    arrays.update({key: np.asarray(trace.numpy(mask), dtype=np.float64) for key, mask in trace.masks.items()})
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    write_output(args.out, buffer.getvalue())
    print(f"wrote {args.out}: loss {trace.loss:.9g} and the gradients of {len(session.gradients())} parameters")
    return 0
