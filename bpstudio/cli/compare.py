"""``bpstudio compare``: the same forward and backward pass on NumPy and PyTorch, in float64 and float32.

Prints, per layer and quantity (z, a, the loss, dL/dz, dL/dW, dL/db) and per backend/dtype pair, the
largest absolute and relative difference from NumPy float64 (see :mod:`bpstudio.core.tools.compare` for how the
relative difference treats near-zero entries), then one line naming the largest difference and where.
"""

from __future__ import annotations

import argparse

from bpstudio.cli.common import add_network_arguments, check_outputs, load_data, load_network, write_output
from bpstudio.core.backends import DTYPES
from bpstudio.core.errors import BpstudioError
from bpstudio.core.tools.compare import NEAR_ZERO, compare_backends

NAME = "compare"
HELP = "one step on NumPy and PyTorch in float64 and float32: the largest differences per layer"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_network_arguments(
        parser,
        "a .csv/.npz file or a built-in set (default: the network file's own data); "
        "every sample of it is used unless --batch says otherwise",
    )
    parser.add_argument("--batch", type=int, metavar="N", help="compare on the first N samples only")
    parser.add_argument(
        "--dtypes",
        default="float64,float32",
        metavar="LIST",
        help="comma-separated dtypes to run each backend in (default: float64,float32)",
    )
    parser.add_argument("--csv", metavar="OUT.csv", help="also write every row with full-precision numbers")
    parser.add_argument(
        "--order",
        choices=("layer", "worst"),
        default="layer",
        help="table rows in layer order (default) or the largest difference first",
    )
    parser.add_argument(
        "--near-zero",
        type=float,
        default=NEAR_ZERO,
        metavar="F",
        help="entries below F times their array's largest magnitude count as near zero in the "
        f"relative difference (default {NEAR_ZERO:g}; 0 for plain elementwise)",
    )


def run(args: argparse.Namespace) -> int:
    check_outputs(args.csv)
    dtypes = [d.strip() for d in args.dtypes.split(",") if d.strip()]
    unknown = [d for d in dtypes if d not in DTYPES]
    if not dtypes or unknown:
        raise BpstudioError(
            f"--dtypes: unknown dtype '{unknown[0] if unknown else args.dtypes}' (known: {', '.join(DTYPES)})"
        )
    spec, base = load_network(args.network)
    data = load_data(spec, args.data, base, all_of_it=True, network=args.network)
    batch = None
    if args.batch is not None:
        if not 1 <= args.batch <= len(data):
            raise BpstudioError(f"--batch must be between 1 and {len(data)} (the number of samples), got {args.batch}")
        batch = range(args.batch)
    result = compare_backends(spec, data, batch=batch, dtypes=dtypes, near_zero=args.near_zero)
    if args.csv is not None:  # before anything is printed: an error is never mixed into the table
        write_output(args.csv, result.to_csv())
    print(
        f"{spec.name or args.network} — one forward and backward pass on {result.samples} sample"
        f"{'s' if result.samples != 1 else ''}; reference {' '.join(result.reference)}"
    )
    print()
    if result.rows:
        print(result.to_table(order=args.order))
    for backend, dtype, why in result.skipped:
        print(f"skipped {backend} {dtype}: {why}")
    print(result.verdict())
    return 0
