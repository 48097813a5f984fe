"""``bpstudio gui [FILE]``, also ``bpstudio`` alone or ``bpstudio FILE``: open the desktop app.

The app's modules (Qt, pyqtgraph) are imported only here, when the app is opened, so the headless
subcommands start without them.
"""

from __future__ import annotations

import argparse

from bpstudio.core.errors import BpstudioError

NAME = "gui"
HELP = "open the app (the default with no command)"
SMOKE_HELP = "open the window, step the example once, report, and quit (for checking installs)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", nargs="?", help="a session or network file to open")
    parser.add_argument("--smoke", action="store_true", help=SMOKE_HELP)


def run(args: argparse.Namespace) -> int:
    return open_app(getattr(args, "file", None), smoke=args.smoke)


def open_app(file: str | None = None, smoke: bool = False) -> int:
    """Open the app's window (on ``file`` if given) and run it until it is closed; its exit status."""
    try:
        from bpstudio.gui.app import run
    except ImportError as exc:
        raise BpstudioError(f"the desktop app needs PySide6 and pyqtgraph ({exc})") from None
    return run(file, smoke=smoke)
