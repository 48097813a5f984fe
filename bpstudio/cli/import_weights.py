"""``bpstudio import NET.json --state-dict W.pt --out NET2.json``: weights from PyTorch into a network file.

The ``state_dict`` may come from a script ``bpstudio export`` wrote, or from any module whose keys
clearly name the network's parameters (see :func:`bpstudio.core.io.export_torch.load_state_dict`); a file
that does not fit (a missing, extra or misshapen entry) is refused and nothing is written.
"""

from __future__ import annotations

import argparse

from bpstudio.cli.common import NETWORK_HELP, check_outputs, load_network, write_output
from bpstudio.core.io import spec_io
from bpstudio.core.io.export_torch import load_state_dict

NAME = "import"
HELP = "write the network with the weights of a PyTorch state_dict file"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("network", metavar="NET.json", help=NETWORK_HELP)
    parser.add_argument(
        "--state-dict", metavar="W.pt", required=True, help="a file written by torch.save(model.state_dict(), ...)"
    )
    parser.add_argument("--out", metavar="NET2.json", required=True, help="the network file to write")


def run(args: argparse.Namespace) -> int:
    check_outputs(args.out)
    spec, _ = load_network(args.network)
    params = load_state_dict(spec, args.state_dict)
    write_output(args.out, spec_io.dumps(spec.with_params(params)))
    numbers = sum(p.size for p in params.values())
    running = len(spec.state_shapes())
    stats = f" and {running} running statistics" if running else ""
    print(f"wrote {args.out}: {len(params) - running} parameters{stats} ({numbers} numbers) from {args.state_dict}")
    return 0
