"""A save killed mid-way (kill -9) leaves the old file whole and a temp file beside it; the next save of that file
removes the temp file, but never the one of a save another running program is making."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bpstudio.core.io.fileio import write_atomic
from bpstudio.core.io.leftovers import UNOWNED_AGE

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="kill -9")

ROOT = Path(__file__).resolve().parents[3]

# a program that saves 4 MB over the file named on its command line and stops just before the data reaches the
# disk, says so, waits for a line on its input, then finishes the save
SAVING = """
import os, sys
from bpstudio.core.io.fileio import write_atomic
real_fsync = os.fsync
def held(fd):
    print("writing", flush=True)
    sys.stdin.readline()
    real_fsync(fd)
os.fsync = held
write_atomic(sys.argv[1], b"n" * 4_000_000)
"""


def saving(target):
    """A program in the middle of saving over ``target``."""
    child = subprocess.Popen(
        [sys.executable, "-c", SAVING, str(target)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert child.stdout.readline().strip() == "writing"
    return child


def temps(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_a_killed_saves_temp_file_goes_at_the_next_save_of_that_file(tmp_path):
    target, other = tmp_path / "run.json", tmp_path / "other.json"
    target.write_text("old")
    for _ in range(3):  # each killed save's temp file goes when the next one starts: they do not pile up
        child = saving(target)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
        assert len(temps(tmp_path)) == 1 and target.read_text() == "old"  # not torn: the old file, whole

    write_atomic(other, "another file")  # (saving another file leaves it alone)
    assert len(temps(tmp_path)) == 1
    write_atomic(target, "new")
    assert temps(tmp_path) == [] and target.read_text() == "new"


def test_a_save_another_running_program_is_making_keeps_its_temp_file(tmp_path):
    target = tmp_path / "run.json"
    child = saving(target)
    assert len(temps(tmp_path)) == 1
    write_atomic(target, "mine")
    assert len(temps(tmp_path)) == 1 and target.read_text() == "mine"
    child.stdin.write("go on\n")
    child.stdin.close()
    assert child.wait(timeout=60) == 0
    assert temps(tmp_path) == [] and target.read_bytes() == b"n" * 4_000_000  # its save, whole, came last


def test_an_earlier_versions_temp_file_goes_once_a_day_old(tmp_path):
    target = tmp_path / "net.json"
    old, recent = tmp_path / ".net.json.0a1b2c3d.tmp", tmp_path / ".net.json.9f8e7d6c.tmp"
    unrelated = [tmp_path / ".net.json.notes.tmp", tmp_path / ".other.json.0a1b2c3d.tmp"]
    for path in (old, recent, *unrelated):
        path.write_text("partial")
    day_ago = time.time() - UNOWNED_AGE - 60
    os.utime(old, (day_ago, day_ago))
    os.utime(unrelated[1], (day_ago, day_ago))
    write_atomic(target, "{}")
    assert not old.exists() and recent.exists() and all(p.exists() for p in unrelated)
