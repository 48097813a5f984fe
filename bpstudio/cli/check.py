"""``bpstudio check NET.json``: backprop's gradient of every parameter against central finite differences,
one table row per parameter; exit status 1 when any of them disagree."""

from __future__ import annotations

import argparse

from bpstudio.cli.common import add_network_arguments, load_data, load_network

NAME = "check"
HELP = "numerical gradient check of every parameter, as a table"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_network_arguments(parser)
    parser.add_argument("--eps", type=float, default=1e-6)
    parser.add_argument("--max-entries", type=int, metavar="K", help="check at most K sampled entries per parameter")


def run(args: argparse.Namespace) -> int:
    from bpstudio.core.tools.gradcheck import gradient_check

    spec, base = load_network(args.network)
    data = load_data(spec, args.data, base, network=args.network)
    results = gradient_check(spec, data, eps=args.eps, max_entries=args.max_entries)
    print(f"{'parameter':<24} {'checked':>9} {'max abs err':>12} {'max rel err':>12}  result")
    for r in results:
        checked = f"{r.checked}/{r.total}"
        print(
            f"{r.key:<24} {checked:>9} {r.max_abs_error:12.3e} {r.max_rel_error:12.3e}  "
            f"{'ok' if r.passed else 'MISMATCH at ' + str(list(r.worst_index))}"
        )
    failed = [r.key for r in results if not r.passed]
    print("all gradients match finite differences" if not failed else f"mismatch in: {', '.join(failed)}")
    return 1 if failed else 0
