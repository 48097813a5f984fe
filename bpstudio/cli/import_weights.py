"""``bpstudio import``: a network file from another framework's model or weights.

What is imported depends on the source, each kind read by its own core module:

- ``bpstudio import MODEL.onnx --out NET.json`` — an ONNX model becomes a network with its weights
  (:mod:`bpstudio.core.io.onnx_import`; needs the ``onnx`` package);
- ``bpstudio import NET.json --state-dict W.pt --out NET2.json`` — the network with the weights of a PyTorch
  ``state_dict`` (:func:`bpstudio.core.io.export_torch.load_state_dict`: a file that does not fit, with a missing,
  extra or misshapen entry, is refused);
- ``bpstudio import --torch PACKAGE.MODULE:FACTORY [--state-dict W.pt] --out NET.json`` — the network an
  ``nn.Module`` computes, traced with torch.fx (:mod:`bpstudio.core.io.torch_import`; needs torch).

Nothing is written unless the whole source was read.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from bpstudio.cli.common import check_outputs, load_network, write_output
from bpstudio.core import losses
from bpstudio.core.errors import BpstudioError
from bpstudio.core.io import spec_io
from bpstudio.core.spec import NetworkSpec
from bpstudio.core.spec_rules import loss_notes
from bpstudio.core.words import counted

NAME = "import"
HELP = "make a network file from an ONNX model or a PyTorch nn.Module, or give a network a state_dict's weights"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "source",
        metavar="SOURCE",
        nargs="?",
        help="an ONNX model (MODEL.onnx), or the network file (or preset name) that --state-dict fills",
    )
    parser.add_argument(
        "--torch",
        metavar="PACKAGE.MODULE:FACTORY",
        help="import the nn.Module FACTORY() returns (your own code, imported from the working folder), traced "
        "with torch.fx",
    )
    parser.add_argument(
        "--state-dict",
        metavar="W.pt",
        help="a file written by torch.save(model.state_dict(), ...), for a network (or loaded into --torch's module)",
    )
    parser.add_argument(
        "--loss", choices=losses.NAMES, help="the loss the new network file names (default: mse; not with --state-dict)"
    )
    parser.add_argument("--out", metavar="NET.json", required=True, help="the network file to write")


def source_kind(args: argparse.Namespace) -> str:
    """What the source is: ``"torch"`` (an nn.Module's factory), ``"onnx"`` (an .onnx file) or ``"state_dict"``
    (a network and its new weights)."""
    if args.torch is not None:
        if args.source is not None:
            raise BpstudioError(f"give either {args.source} or --torch, not both")
        return "torch"
    if args.source is None:
        raise BpstudioError("give the model to import: MODEL.onnx, or NET.json with --state-dict W.pt")
    if Path(args.source).suffix.lower() == ".onnx":
        return "onnx"
    return "state_dict"


def run(args: argparse.Namespace) -> int:
    return IMPORTERS[source_kind(args)](args)


def _from_onnx(args: argparse.Namespace) -> int:
    from bpstudio.core.io import onnx_import

    if args.state_dict is not None:
        raise BpstudioError("--state-dict goes with a network file; an ONNX model holds its own weights")
    check_outputs(args.out)
    spec = onnx_import.load(args.source, args.loss or onnx_import.DEFAULT_LOSS)
    write_output(args.out, spec_io.dumps(spec))
    print(f"wrote {args.out}: {len(spec.layers)} layers, {_counts(spec)} from {args.source}")
    _say_notes(spec)
    return 0


def _from_state_dict(args: argparse.Namespace) -> int:
    from bpstudio.core.io.export_torch import load_state_dict

    if args.state_dict is None:
        raise BpstudioError(
            f"give --state-dict W.pt to import weights into {args.source} (or an .onnx file to import a model)"
        )
    if args.loss is not None:
        raise BpstudioError("--loss is for a new network; the network file names its own loss")
    check_outputs(args.out)
    spec, _ = load_network(args.source)
    params = load_state_dict(spec, args.state_dict)
    spec = spec.with_params(params)
    write_output(args.out, spec_io.dumps(spec))
    print(f"wrote {args.out}: {_counts(spec)} from {args.state_dict}")
    return 0


def _counts(spec: NetworkSpec) -> str:
    """``12 parameters and 2 running statistics (345 numbers)``: what a network's file holds."""
    params, running = spec.param_shapes(), spec.state_shapes()
    numbers = sum(_size(s) for s in params.values()) + sum(_size(s) for s in running.values())
    stats = f" and {counted(len(running), 'running statistic')}" if running else ""
    return f"{counted(len(params), 'parameter')}{stats} ({counted(numbers, 'number')})"


def _size(shape: tuple[int, ...]) -> int:
    size = 1
    for n in shape:
        size *= n
    return size


def _from_torch(args: argparse.Namespace) -> int:
    try:
        import torch  # noqa: F401
    except ImportError:
        raise BpstudioError("importing a PyTorch module needs torch, which is not installed") from None
    from bpstudio.core.io.torch_import import import_module
    from bpstudio.core.io.torch_loading import load_factory, load_state_dict_into

    check_outputs(args.out)
    model = load_factory(args.torch)
    if args.state_dict is not None:
        load_state_dict_into(model, args.state_dict)
    spec = import_module(model, args.loss or "mse", name=f"{type(model).__name__} from {args.torch}")
    write_output(args.out, spec_io.dumps(spec))
    print(f"wrote {args.out}: {len(spec.layers)} layers, {_counts(spec)} from {args.torch}")
    _say_notes(spec)
    return 0


def _say_notes(spec: NetworkSpec) -> None:
    """What the imported network allows but most likely should not (it was written all the same)."""
    for note in loss_notes(spec):
        print(f"bpstudio import: note: {note}", file=sys.stderr)


# one importer per kind of source
IMPORTERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "torch": _from_torch,
    "onnx": _from_onnx,
    "state_dict": _from_state_dict,
}
