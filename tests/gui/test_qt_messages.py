"""Qt's own messages: the app drops the known noise (the offscreen platform's "does not support
propagateSizeHints()", printed each time a window is shown) and passes every other message on unchanged, so
`bpstudio --smoke` prints its one report line and nothing else."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QtMsgType, qInstallMessageHandler, qWarning

from bpstudio.gui.app import install_qt_message_filter

ROOT = Path(__file__).resolve().parents[2]
NOISE = "This plugin does not support propagateSizeHints()"


def run_python(code, *args):
    return subprocess.run(
        [sys.executable, *args] if not code else [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )


def test_the_noise_is_dropped_and_other_messages_reach_the_handler_before(qtlog):
    previous = install_qt_message_filter()
    try:
        qWarning(NOISE)
        qWarning("a warning someone should read")
        qWarning(f"{NOISE} and then something else")
    finally:
        qInstallMessageHandler(previous)
    assert [(r.type, r.message) for r in qtlog.records] == [
        (QtMsgType.QtWarningMsg, "a warning someone should read"),
        (QtMsgType.QtWarningMsg, f"{NOISE} and then something else"),
    ]


def test_without_a_handler_before_other_messages_go_to_stderr_as_qt_writes_them():
    done = run_python(f"""
        from PySide6.QtCore import qInstallMessageHandler, qWarning
        from bpstudio.gui.app import install_qt_message_filter
        assert install_qt_message_filter() is None
        qWarning({NOISE!r})
        qWarning("a warning someone should read")
        qInstallMessageHandler(None)
        qWarning("and one after the filter is gone")
    """)
    assert done.returncode == 0
    assert done.stderr == "a warning someone should read\nand one after the filter is gone\n"


def test_smoke_prints_its_report_line_and_nothing_else():
    done = run_python(None, "-m", "bpstudio", "--smoke")
    assert (done.returncode, done.stderr) == (0, "")
    (line,) = done.stdout.splitlines()
    assert line.startswith("bpstudio: window shown ") and "one step: loss " in line
