"""The ``bpstudio`` command: with no arguments it opens the app; subcommands run headless over core.

Invalid input exits with status 2 and one readable line on stderr (no traceback).
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bpstudio import __version__
from bpstudio.commands import command_modules
from bpstudio.core import presets, spec_io
from bpstudio.core.backends import BACKENDS, DEVICES, DTYPES
from bpstudio.core.data import Dataset
from bpstudio.core.errors import BpstudioError, DataError
from bpstudio.core.fileio import write_atomic
from bpstudio.core.spec import NetworkSpec

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        command = self.prog.split()[-1]
        where = f" (bpstudio {command} --help for usage)" if command != "bpstudio" else ""
        self.exit(EXIT_USAGE, f"bpstudio: error: {message}{where}\n")


def load_network(source: str) -> tuple[NetworkSpec, Path | None]:
    """A network file's spec and folder; a name that is no file but is a preset loads the preset."""
    path = Path(source)
    if not path.exists() and source in presets.names():
        path = presets.path(source)
    elif not path.exists():
        raise BpstudioError(f"network file '{source}' not found (presets: {', '.join(presets.names())})")
    return spec_io.load(path), path.parent


def load_data(spec: NetworkSpec, source: str | None, base: Path | None, all_of_it: bool = False) -> Dataset:
    """The data named on the command line, else the network file's own ``data`` entry: its training
    part after any ``test_fraction`` split, or every sample with ``all_of_it``."""
    from bpstudio.core.datasets import resolve, resolve_split

    if source is not None:
        data = resolve(source) if all_of_it else resolve_split(source)[0]
    elif spec.data is not None and all_of_it:
        data = resolve(dict(spec.data), base_dir=base)
    elif spec.data is not None:
        data, _ = resolve_split(dict(spec.data), base_dir=base)
    else:
        raise DataError(
            "no data: pass --data (a .csv/.npz file or a built-in set such as 'xor') "
            'or add a "data" entry to the network file'
        )
    data.check_inputs(spec.widths[spec.input_id])
    return data


def _add_engine_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", choices=sorted(BACKENDS), default="numpy")
    p.add_argument("--device", choices=DEVICES, default="cpu")
    p.add_argument("--dtype", choices=DTYPES, default="float64")


def _common(p: argparse.ArgumentParser, data_help: str) -> None:
    p.add_argument("network", metavar="NET.json", help="network file (or a preset name, see 'bpstudio presets')")
    p.add_argument("--data", metavar="DATA", help=data_help)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="bpstudio", description="A desktop backpropagation playground.")
    parser.add_argument("--version", action="version", version=f"bpstudio {__version__}")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="open the window, step the example once, report, and quit (for checking installs)",
    )
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    data_help = (
        "a .csv/.npz file or a built-in set, e.g. 'spirals:classes=3,n=300' (default: the network file's own data)"
    )

    gui = sub.add_parser("gui", help="open the app (the default with no command)")
    gui.add_argument("file", nargs="?", help="a session or network file to open")
    gui.add_argument(
        "--smoke",
        action="store_true",
        help="open the window, step the example once, report, and quit (for checking installs)",
    )

    grad = sub.add_parser("grad", help="one forward and backward pass over all of DATA; gradients to NPZ")
    _common(grad, data_help)
    _add_engine_options(grad)
    grad.add_argument("--out", metavar="OUT.npz", required=True)

    train = sub.add_parser("train", help="run N optimizer steps, write metrics and the trained network")
    _common(train, data_help)
    _add_engine_options(train)
    train.add_argument("--steps", type=int, required=True, metavar="N")
    train.add_argument("--batch-size", type=int, metavar="B", help="minibatch size (default: full batch)")
    train.add_argument("--metrics", metavar="OUT.csv", help="per-step loss and per-layer gradient norms")
    train.add_argument("--save", metavar="OUT.json", help="write the trained network")
    train.add_argument("--quiet", action="store_true", help="print nothing but errors")

    check = sub.add_parser("check", help="numerical gradient check of every parameter, as a table")
    _common(check, data_help)
    check.add_argument("--eps", type=float, default=1e-6)
    check.add_argument("--max-entries", type=int, metavar="K", help="check at most K sampled entries per parameter")

    sub.add_parser("presets", help="list the example networks")
    for module in command_modules():
        module.add_arguments(sub.add_parser(module.NAME, help=module.HELP))
    return parser


def _check_outputs(*paths: str | None) -> None:
    """Refuse output paths in missing folders before any work is done (and before any file is written)."""
    for path in paths:
        if path is not None and not Path(path).parent.is_dir():
            raise BpstudioError(f"cannot write '{path}': folder '{Path(path).parent}' does not exist")


def cmd_grad(args: argparse.Namespace) -> int:
    from bpstudio.core.session import Session

    _check_outputs(args.out)
    spec, base = load_network(args.network)
    data = load_data(spec, args.data, base, all_of_it=True)
    session = Session(spec, data, backend=args.backend, device=args.device, dtype=args.dtype)
    trace = session.forward_backward()
    arrays = {"loss": np.float64(trace.loss)}
    arrays.update(session.gradients())
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    _write(args.out, buffer.getvalue())
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from bpstudio.core.session import Session

    if args.steps < 0:
        raise BpstudioError(f"--steps must be 0 or more, got {args.steps}")
    _check_outputs(args.metrics, args.save)
    spec, base = load_network(args.network)
    data = load_data(spec, args.data, base)
    session = Session(
        spec, data, backend=args.backend, device=args.device, dtype=args.dtype, batch_size=args.batch_size
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
        _write(args.metrics, text.getvalue())
    if args.save is not None:
        _write(args.save, spec_io.dumps(session.to_spec()))
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from bpstudio.core.gradcheck import gradient_check

    spec, base = load_network(args.network)
    data = load_data(spec, args.data, base)
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


def cmd_presets(args: argparse.Namespace) -> int:
    for name in presets.names():
        spec = presets.load(name)
        print(f"{name:<24} {spec.name or ''}")
    return 0


def _write(path: str, content: str | bytes) -> None:
    """Write an output file atomically; a bad path becomes a clear error, not a traceback."""
    _check_outputs(path)
    try:
        write_atomic(path, content)
    except OSError as exc:
        raise BpstudioError(f"cannot write '{path}': {exc.strerror or exc}") from None


def open_gui(file: str | None = None, smoke: bool = False) -> int:
    try:
        from bpstudio.gui.app import run
    except ImportError as exc:
        raise BpstudioError(f"the desktop app needs PySide6 and pyqtgraph ({exc})") from None
    return run(file, smoke=smoke)


COMMANDS = {"grad": cmd_grad, "train": cmd_train, "check": cmd_check, "presets": cmd_presets}


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    first = words[0] if words else ""
    known = (*COMMANDS, "gui", *(m.NAME for m in command_modules()))
    if first not in known and not first.startswith("-") and (Path(first).suffix or Path(first).exists()):
        words.insert(0, "gui")  # `bpstudio run.json` opens the file in the app, as a file manager calls it
    args = build_parser().parse_args(words)
    try:
        if args.command in (None, "gui"):
            return open_gui(getattr(args, "file", None), getattr(args, "smoke", False))
        if args.command in COMMANDS:
            return COMMANDS[args.command](args)
        return next(m for m in command_modules() if m.NAME == args.command).run(args)
    except BpstudioError as exc:
        print(f"bpstudio: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
