"""``bpstudio predict NET.json --data DATA --out OUT.npz``: the network's outputs for a data set's inputs.

The outputs are computed in evaluation mode — batchnorm layers normalize by their running statistics, dropout
layers pass their input on — exactly as :meth:`bpstudio.core.session.Session.predict`, and written as float64
under the key ``y`` (samples × output units). DATA is what the other commands take (a .csv/.npz file or a
built-in set; default: every sample of the network file's own data); a file may leave out the targets (an .npz
with ``X`` alone, a .csv with only ``x…`` columns), as predictions need only the inputs.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

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
from bpstudio.core.data import Dataset

NAME = "predict"
HELP = "write the network's outputs (evaluation mode) for a data set's inputs as .npz (key 'y')"
DATA_HELP = (
    "the inputs: a .csv/.npz file (targets may be left out) or a built-in set such as 'spirals:classes=3' "
    "(default: every sample of the network file's own data)"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_network_arguments(parser, DATA_HELP)
    add_engine_options(parser)
    parser.add_argument("--out", metavar="OUT.npz", required=True, help="where to write the outputs (key 'y')")


def run(args: argparse.Namespace) -> int:
    from bpstudio.core.datasets.files import SUFFIXES, load_file

    check_outputs(args.out)
    spec, base = load_network(args.network)
    if args.data is not None and Path(args.data).suffix.lower() in SUFFIXES and Path(args.data).is_file():
        data = load_file(args.data, inputs_only=True)
        data.check_inputs(spec.widths[spec.input_id])
    else:
        data = load_data(spec, args.data, base, all_of_it=True, network=args.network)
    # the targets play no part: labels 0 fit any loss and output width
    inputs = Dataset(data.X, np.zeros(len(data), dtype=np.int64), data.name)
    session = engine_session(args, spec, inputs)
    y = session.predict(data.X)
    buffer = io.BytesIO()
    np.savez(buffer, y=y)
    write_output(args.out, buffer.getvalue())
    print(f"wrote {args.out}: y, {y.shape[0]} samples × {y.shape[1]} outputs (evaluation mode)")
    return 0
