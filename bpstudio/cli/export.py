"""``bpstudio export NET.json --torch OUT.py`` or ``--onnx OUT.onnx``: the network for PyTorch or any ONNX tool.

``--torch`` writes a runnable script: an ``nn.Module`` mirroring the network with its current weights, the training
data and a training loop with the network's optimizer (see :mod:`bpstudio.core.io.export_torch`); big networks
or data sets also get ``OUT.npz`` beside the script. ``--onnx`` writes the network in evaluation mode as an ONNX
model, float32 with a symbolic batch dimension (see :mod:`bpstudio.core.io.onnx_export`; needs the onnx package).
"""

from __future__ import annotations

import argparse

from bpstudio.cli.common import NETWORK_HELP, check_outputs, load_network, naming_the_data_of, write_output
from bpstudio.core.errors import BpstudioError
from bpstudio.core.init import initial_params
from bpstudio.core.io.export_torch import DEFAULT_STEPS, EMBED_LIMIT, write_torch_script

NAME = "export"
HELP = "write the network as a runnable PyTorch script, or as an ONNX model"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("network", metavar="NET.json", help=NETWORK_HELP)
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument(
        "--torch",
        metavar="OUT.py",
        help=f"the script to write (weights or data of more than {EMBED_LIMIT} numbers go to OUT.npz beside it)",
    )
    target.add_argument(
        "--onnx",
        metavar="OUT.onnx",
        help="the ONNX model to write: the network in evaluation mode, float32, with a symbolic batch dimension",
    )
    parser.add_argument(
        "--data",
        metavar="DATA",
        help="the data the script trains on: a .csv/.npz file or a built-in set such as "
        "'spirals:classes=3,n=300' (default: the network file's own data, its training part)",
    )
    parser.add_argument(
        "--batch-size", type=int, metavar="B", help="minibatch size (default: the network file's, else the full batch)"
    )
    parser.add_argument(
        "--steps",
        type=int,
        metavar="N",
        help=f"the script's default number of training steps (default {DEFAULT_STEPS})",
    )


def run(args: argparse.Namespace) -> int:
    if args.onnx is not None:
        return _onnx(args)
    steps = DEFAULT_STEPS if args.steps is None else args.steps
    if steps < 0:
        raise BpstudioError(f"--steps must be 0 or more, got {steps}")
    if args.batch_size is not None and args.batch_size < 1:
        raise BpstudioError(f"--batch-size must be 1 or more, got {args.batch_size}")
    check_outputs(args.torch)
    spec, base = load_network(args.network)
    # data named here is found from the working folder; the file's own data from the file's folder
    with naming_the_data_of(args.network if args.data is None else None):
        written = write_torch_script(
            args.torch,
            spec,
            initial_params(spec),
            args.data,
            base_dir=None if args.data is not None else base,
            batch_size=args.batch_size if args.batch_size is not None else spec.batch_size,
            steps=steps,
        )
    print(f"wrote {' and '.join(str(p) for p in written)}")
    return 0


def _onnx(args: argparse.Namespace) -> int:
    from bpstudio.core.io import onnx_export

    options = {"--data": args.data, "--batch-size": args.batch_size, "--steps": args.steps}
    given = [flag for flag, value in options.items() if value is not None]
    if given:
        raise BpstudioError(f"{', '.join(given)} go with --torch (the script's training); an ONNX model has no data")
    check_outputs(args.onnx)
    spec, _ = load_network(args.network)
    data = onnx_export.to_bytes(spec, initial_params(spec), spec.running_stats())
    write_output(args.onnx, data)
    print(
        f"wrote {args.onnx}: opset {onnx_export.OPSET}, float32, input '{spec.input_id}' "
        f"(batch × {spec.widths[spec.input_id]}), output '{spec.output}' (batch × {spec.widths[spec.output]})"
    )
    return 0
