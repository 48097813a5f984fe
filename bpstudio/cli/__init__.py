"""The ``bpstudio`` command: with no arguments it opens the app; subcommands run headless over core.

Each subcommand is a module of this package defining ``NAME`` (the subcommand), ``HELP`` (one line for
``bpstudio --help``), ``add_arguments(parser)`` and ``run(args) -> int`` (the exit status); what they
share is in :mod:`bpstudio.cli.common`. Invalid input exits with status 2 and one readable line on stderr
(no traceback).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from bpstudio import __version__
from bpstudio.cli import check, compare, export, grad, gui, import_weights, predict, presets, runs, sweep, train
from bpstudio.cli.common import EXIT_USAGE, Parser
from bpstudio.core.errors import BpstudioError
from bpstudio.core.limits import one_line

# in the order `bpstudio --help` lists them
COMMANDS: tuple[ModuleType, ...] = (
    gui,
    grad,
    train,
    predict,
    check,
    presets,
    compare,
    export,
    import_weights,
    sweep,
    runs,
)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="bpstudio", description="A desktop backpropagation playground.")
    parser.add_argument("--version", action="version", version=f"bpstudio {__version__}")
    parser.add_argument("--smoke", action="store_true", help=gui.SMOKE_HELP)
    sub = parser.add_subparsers(dest="command", parser_class=Parser)
    for module in COMMANDS:
        module.add_arguments(sub.add_parser(module.NAME, help=module.HELP))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    first = words[0] if words else ""
    known = {module.NAME for module in COMMANDS}
    if first not in known and not first.startswith("-") and (Path(first).suffix or _exists(first)):
        words.insert(0, gui.NAME)  # `bpstudio run.json` opens the file in the app, as a file manager calls it
    elif first not in known and _looks_like_a_path(first):  # (not a misspelt command: argparse says those)
        print(f"bpstudio: error: '{first}' does not exist (no file or run folder to open there)", file=sys.stderr)
        return EXIT_USAGE
    args = build_parser().parse_args(words)
    command = next((module for module in COMMANDS if module.NAME == args.command), gui)
    try:
        code: int = command.run(args)
        sys.stdout.flush()
    except BpstudioError as exc:
        print(f"bpstudio: error: {one_line(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # the reader went away (`bpstudio runs DIR | head -1`): stop quietly, as tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return code


def _looks_like_a_path(word: str) -> bool:
    return "/" in word or os.sep in word or word.startswith((".", "~"))


def _exists(path: str) -> bool:
    try:
        return Path(path).exists()
    except OSError:  # a name longer than the file system takes: not a file to open
        return False
