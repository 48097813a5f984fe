"""``bpstudio check NET.json``: backprop's gradient of every parameter against the complex-step derivative and
central finite differences (:mod:`bpstudio.core.tools.gradcheck`), one table row per parameter, under the
criterion it used; exit status 1 when any of them disagree."""

from __future__ import annotations

import argparse
import textwrap

from bpstudio.cli.common import add_network_arguments, load_data, load_network

NAME = "check"
HELP = "numerical gradient check of every parameter, as a table"
RESULT = {"pass": "ok", "unresolved": "below FD resolution"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_network_arguments(parser)
    parser.add_argument(
        "--eps", type=float, metavar="H", help="finite-difference step (default: chosen per parameter, 1e-7 to 1e-2)"
    )
    parser.add_argument("--max-entries", type=int, metavar="K", help="check at most K sampled entries per parameter")


def run(args: argparse.Namespace) -> int:
    from bpstudio.core.tools.gradcheck import criterion, gradient_check, verdict

    spec, base = load_network(args.network)
    data = load_data(spec, args.data, base, network=args.network)
    results = gradient_check(spec, data, eps=args.eps, max_entries=args.max_entries)
    print(textwrap.fill(criterion(results, len(data)), 110))
    print()
    exact = "complex step" if all(r.complex_step for r in results) else ""
    print(
        f"{'parameter':<20} {'checked':>9} {'backprop':>11} {exact:>12} {'rel. error':>10} {'finite diff':>11} "
        f"{'± resolution':>12} {'step':>6} {'FD resolves':>15}  result"
    )
    for r in results:
        reference = f"{r.reference:11.3e}" if r.complex_step else ""
        result = RESULT.get(r.verdict) or f"MISMATCH at {list(r.worst_index)}"
        print(
            f"{r.key:<20} {f'{r.checked}/{r.total}':>9} {r.analytic:11.3e} {reference:>12} {r.max_rel_error:10.1e} "
            f"{r.numeric:11.3e} {r.resolution:12.1e} {r.step:6.0e} {r.fd_note.replace(' resolved', ''):>15}  {result}"
        )
    print(verdict(results))
    return 1 if any(r.verdict == "mismatch" for r in results) else 0
