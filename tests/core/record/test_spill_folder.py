"""A timeline's spill folder does not outlive its program: it goes at close or at the latest at exit, and one that a
killed program left (kill -9 runs no clean-up) is removed by the next run, never one a running program uses."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bpstudio.core.io.leftovers import UNOWNED_AGE
from bpstudio.core.record.timeline import SPILL_PREFIX, remove_stale_spills

ROOT = Path(__file__).resolve().parents[3]

# a program that trains XOR with a timeline too small to keep its states in memory, says where they went,
# then waits for a line on its input (or its end) and exits without closing the timeline
SPILLING = """
import sys
from bpstudio.core.datasets import resolve_split
from bpstudio.core.io import presets
from bpstudio.core.record.timeline import Timeline
from bpstudio.core.session import Session
spec = presets.load("xor")
session = Session(spec, resolve_split(spec.data)[0])
timeline = Timeline(memory_bound=Timeline().held_bytes(session.state(), in_memory=2, spilled=60))
for _ in range(60):
    session.step()
    timeline.record(session.state())
folder = timeline._spill_dir
assert folder is not None and len(list(folder.iterdir())) > 10
print(folder, flush=True)
sys.stdin.readline()
"""


def spilling_program(tmp_path):
    """A running SPILLING program whose temporary folder is ``tmp_path``, and its spill folder."""
    child = subprocess.Popen(
        [sys.executable, "-c", SPILLING],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "TMPDIR": str(tmp_path), "PYTHONPATH": str(ROOT)},
    )
    folder = Path(child.stdout.readline().strip())
    assert folder.parent == tmp_path and folder.name.startswith(SPILL_PREFIX) and folder.is_dir()
    return child, folder


def ended(child, folder):
    child.stdin.close()
    assert child.wait(timeout=60) == 0
    return not folder.exists()


def test_a_program_that_ends_without_closing_its_timeline_leaves_no_spill_folder(tmp_path):
    child, folder = spilling_program(tmp_path)
    assert ended(child, folder) and list(tmp_path.iterdir()) == []


@pytest.mark.skipif(sys.platform == "win32", reason="kill -9")
def test_a_killed_programs_spill_folder_goes_at_the_next_start_and_a_running_ones_stays(tmp_path):
    killed, left = spilling_program(tmp_path)
    killed.send_signal(signal.SIGKILL)
    killed.wait(timeout=60)
    assert left.is_dir()  # (kill -9: no clean-up ran)
    running, in_use = spilling_program(tmp_path)  # the next run: its timeline's first spill clears what was left
    assert not left.exists() and in_use.is_dir()
    assert remove_stale_spills(tmp_path) == []  # (as the app does at its start): a running program's stays
    assert in_use.is_dir() and len(list(in_use.iterdir())) > 10
    assert ended(running, in_use)


def test_an_earlier_versions_spill_folder_goes_once_a_day_old(tmp_path):
    old, recent = tmp_path / f"{SPILL_PREFIX}ab_cd3fg", tmp_path / f"{SPILL_PREFIX}k2j4m9x0"
    for folder in (old, recent):
        folder.mkdir()
        (folder / "state-7f00-12.npz").write_bytes(b"0" * 100)
    day_ago = time.time() - UNOWNED_AGE - 60
    os.utime(old, (day_ago, day_ago))
    unrelated = tmp_path / "bpstudio-smoke-x1"
    unrelated.mkdir()
    assert remove_stale_spills(tmp_path) == [old]
    assert recent.is_dir() and unrelated.is_dir()
