"""``bpstudio import``: models from PyTorch into network files.

- ``bpstudio import NET.json --state-dict W.pt --out NET2.json``: the network with the weights of a ``state_dict``
  (from a script ``bpstudio export`` wrote, or any module whose keys clearly name the network's parameters, see
  :func:`bpstudio.core.io.export_torch.load_state_dict`);
- ``bpstudio import --torch PACKAGE.MODULE:FACTORY [--state-dict W.pt] [--loss NAME] --out NET.json``: the network
  an ``nn.Module`` computes, traced with torch.fx (:mod:`bpstudio.core.io.torch_import`).

Whatever does not fit is refused in one line and nothing is written.
"""

from __future__ import annotations

import argparse

from bpstudio.cli.common import NETWORK_HELP, check_outputs, load_network, write_output
from bpstudio.core import losses
from bpstudio.core.errors import BpstudioError
from bpstudio.core.io import spec_io
from bpstudio.core.io.export_torch import load_state_dict

NAME = "import"
HELP = "write the network with the weights of a PyTorch state_dict file"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("network", metavar="NET.json", nargs="?", help=f"{NETWORK_HELP} to give the weights to")
    parser.add_argument(
        "--torch",
        metavar="PACKAGE.MODULE:FACTORY",
        help="import the nn.Module FACTORY() returns (your own code, imported from the working folder), traced "
        "with torch.fx",
    )
    parser.add_argument("--state-dict", metavar="W.pt", help="a file written by torch.save(model.state_dict(), ...)")
    parser.add_argument(
        "--loss", choices=losses.NAMES, default="mse", help="with --torch: the network's loss (default mse)"
    )
    parser.add_argument("--out", metavar="NET2.json", required=True, help="the network file to write")


def run(args: argparse.Namespace) -> int:
    check_outputs(args.out)
    if args.torch is not None:
        if args.network is not None:
            raise BpstudioError("give either a network file or --torch, not both")
        return _from_torch(args)
    if args.network is None or args.state_dict is None:
        raise BpstudioError("give a network file and --state-dict W.pt, or --torch PACKAGE.MODULE:FACTORY")
    spec, _ = load_network(args.network)
    params = load_state_dict(spec, args.state_dict)
    write_output(args.out, spec_io.dumps(spec.with_params(params)))
    numbers = sum(p.size for p in params.values())
    running = len(spec.state_shapes())
    stats = f" and {running} running statistics" if running else ""
    print(f"wrote {args.out}: {len(params) - running} parameters{stats} ({numbers} numbers) from {args.state_dict}")
    return 0


def _from_torch(args: argparse.Namespace) -> int:
    try:
        import torch  # noqa: F401
    except ImportError:
        raise BpstudioError("importing a PyTorch module needs torch, which is not installed") from None
    from bpstudio.core.io.torch_import import import_module, load_factory, load_state_dict_into

    model = load_factory(args.torch)
    if args.state_dict is not None:
        load_state_dict_into(model, args.state_dict)
    spec = import_module(model, args.loss, name=f"{type(model).__name__} from {args.torch}")
    write_output(args.out, spec_io.dumps(spec))
    layers = len(spec.layers) - 1
    print(f"wrote {args.out}: {layers} layers, {len(spec.param_shapes())} parameters from {args.torch}")
    return 0
