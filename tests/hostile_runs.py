"""Running hostile files (tests/hostile_files.py) through bpstudio and sorting what happened.

:func:`run_case` puts a case through the command line in-process (``bpstudio train``, ``grad``, ``export --torch``
for a network; ``train --data`` for a data file) and through the app's document (``Document.open_file``, what
File ▸ Open does) and sorts each outcome: ``ok`` (exit 0), ``refused`` (exit 2 with one clear line), or a
defect — ``traceback`` (any other exception), ``memory`` (MemoryError), ``unclear`` (exit 2, but not one line
of bounded length).
"""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bpstudio.core.io import presets
from tests.hostile_files import Case

# the longest error line accepted, beyond the paths it names (the bad value is cut to ~100 characters)
LINE_ALLOWANCE = 400


@dataclass(frozen=True)
class Outcome:
    verdict: str  # ok, refused, traceback, memory, unclear
    runner: str  # which entry point ran it
    detail: str  # the error line, or the exception


DEFECTS = ("traceback", "memory", "unclear")


# --- running them --------------------------------------------------------------------------------------


def network_commands(path: Path, out: Path) -> list[tuple[str, list[str]]]:
    return [
        (
            "train",
            [
                "train",
                str(path),
                "--steps",
                "2",
                "--quiet",
                "--metrics",
                str(out / "m.csv"),
                "--save",
                str(out / "s.json"),
            ],
        ),
        ("grad", ["grad", str(path), "--out", str(out / "g.npz")]),
        ("export", ["export", str(path), "--torch", str(out / "net.py"), "--steps", "1"]),
    ]


def data_commands(path: Path, out: Path) -> list[tuple[str, list[str]]]:
    net = out / "xor.json"
    if not net.exists():
        tree = json.loads(presets.path("xor").read_text(encoding="utf-8"))
        tree.pop("data")
        net.write_text(json.dumps(tree), encoding="utf-8")
    return [("train --data", ["train", str(net), "--data", str(path), "--steps", "1", "--quiet"])]


def _one_line(err: str, names: list[str]) -> str | None:
    """What is wrong with ``err`` as a command-line error, or None when it is one clear line."""
    lines = err.splitlines()
    if len(lines) != 1 or not lines[0].startswith("bpstudio: error: "):
        return f"{len(lines)} lines"
    allowance = LINE_ALLOWANCE + sum(len(n) for n in names)
    if len(lines[0]) > allowance:
        return f"{len(lines[0])} characters"
    return None


def run_cli(argv: list[str], names: list[str]) -> tuple[str, str]:
    from bpstudio.cli import main

    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 2
    except MemoryError:
        return "memory", "MemoryError"
    except TimeoutError:  # (the campaign's time limit, raised by its alarm)
        raise
    except Exception as exc:  # sorting the outcome is the point
        return "traceback", _last_frame(exc)
    text = err.getvalue()
    if code == 0:
        return "ok", ""
    if code == 2:
        wrong = _one_line(text, names)
        return ("refused", text.strip()) if wrong is None else ("unclear", f"{wrong}: {text[:300]!r}")
    return "unclear", f"exit {code}: {text[:300]!r}"


def _last_frame(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    return f"{type(exc).__name__}{where}: {str(exc)[:200]}"


def open_in_document(path: Path) -> tuple[str, str]:
    """The app's File ▸ Open without the window: the document loads the file or raises a BpstudioError."""
    from bpstudio.core.errors import BpstudioError

    document = _document()
    try:
        document.open_file(str(path))
    except BpstudioError as exc:
        message = str(exc)
        if "\n" in message or len(message) > LINE_ALLOWANCE + 2 * len(str(path)):
            return "unclear", message[:300]
        return "refused", message
    except MemoryError:
        return "memory", "MemoryError"
    except TimeoutError:
        raise
    except Exception as exc:
        return "traceback", _last_frame(exc)
    return "ok", ""


_DOCUMENT: list[Any] = []


def _document() -> Any:
    from bpstudio.document import Document

    if not _DOCUMENT:
        _DOCUMENT.append(Document())
    return _DOCUMENT[0]


def run_case(case: Case, folder: Path) -> list[Outcome]:
    """Write the case's file into ``folder`` and run it through every entry point that reads its kind."""
    path = folder / case.name
    try:
        path.write_bytes(case.content)
    except OSError as exc:  # a name this file system refuses: the file cannot exist, so nothing to run
        return [Outcome("ok", "write", f"not writable here ({exc.strerror})")]
    out = folder / "out"
    out.mkdir(exist_ok=True)
    names = [str(path), str(out)]
    runs: list[tuple[str, list[str]]] = []
    if case.kind == "network":
        runs = network_commands(path, out)
    elif case.kind == "data":
        runs = data_commands(path, out)
    outcomes = []
    for runner, argv in runs:
        verdict, detail = run_cli(argv, names)
        outcomes.append(Outcome(verdict, runner, detail))
    if case.kind in ("network", "session"):
        verdict, detail = open_in_document(path)
        outcomes.append(Outcome(verdict, "document", detail))
    path.unlink(missing_ok=True)
    return outcomes


def run_all(
    cases: list[Case], on_result: Callable[[Case, list[Outcome]], None] | None = None
) -> list[tuple[Case, list[Outcome]]]:
    results = []
    with tempfile.TemporaryDirectory(prefix="bpstudio-hostile-") as folder:
        for case in cases:
            outcomes = run_case(case, Path(folder))
            results.append((case, outcomes))
            if on_result is not None:
                on_result(case, outcomes)
    return results
