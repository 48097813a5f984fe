"""``bpstudio gui [FILE]``, also ``bpstudio`` alone or ``bpstudio FILE``: open the desktop app.

The app's modules (Qt, pyqtgraph) are imported only here, when the app is opened, so the headless
subcommands start without them.
"""

from __future__ import annotations

import argparse
import os
import sys

from bpstudio.core.errors import BpstudioError
from bpstudio.core.io import run_db

NAME = "gui"
HELP = "open the app (the default with no command)"
SMOKE_HELP = "open the window, step the example once, report, and quit (for checking installs)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "file", nargs="?", help="a session or network file to open, or a folder a bpstudio.watch run is recorded in"
    )
    parser.add_argument("--smoke", action="store_true", help=SMOKE_HELP)


def run(args: argparse.Namespace) -> int:
    return open_app(getattr(args, "file", None), smoke=args.smoke)


def open_app(file: str | None = None, smoke: bool = False) -> int:
    """Open the app's window (on ``file`` if given) and run it until it is closed; its exit status."""
    problem = missing_display(file)
    if problem is not None:
        raise BpstudioError(problem)
    try:
        from bpstudio.gui.app import run
    except ImportError as exc:
        raise BpstudioError(f"the desktop app needs PySide6 and pyqtgraph ({exc})") from None
    return run(file, smoke=smoke)


def missing_display(file: str | None = None) -> str | None:
    """What to say when the app cannot open a window here, else None. On Linux with neither an X11 nor a
    Wayland display and no Qt platform chosen, Qt would abort (status 134) with a message about its xcb
    plugin that sends people looking for a missing library instead. A run folder named (a training loop
    recorded on a server, looked at over SSH) gets the headless command that reads it."""
    if not sys.platform.startswith("linux"):
        return None
    if any(os.environ.get(name) for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")):
        return None
    if file is not None and run_db.db_path(run_db.named_folder(file)).is_file():
        headless = f"'bpstudio runs {file}' prints the run's summary here"
    else:
        headless = "use the headless commands such as 'bpstudio train' (bpstudio --help lists them)"
    return (
        "no display found (neither DISPLAY nor WAYLAND_DISPLAY is set), so the app cannot open its window; "
        f"check the install with 'QT_QPA_PLATFORM=offscreen bpstudio --smoke', or {headless}"
    )
