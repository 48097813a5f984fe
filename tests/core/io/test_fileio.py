"""Atomic writes: a crash leaves the old file or the new one, and the file gets the mode a plain write would
give it (the umask's for a new file, the old file's own when overwriting), not the temp file's 0600."""

import os
import stat
import sys

import pytest

from bpstudio.core.io.fileio import write_atomic

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")


@pytest.fixture
def umask():
    """Set the process umask for one test and restore it afterwards."""
    before = os.umask(0o022)
    os.umask(before)
    yield os.umask
    os.umask(before)


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("mask", [0o022, 0o027, 0o077])
def test_a_new_file_gets_the_mode_the_umask_gives(tmp_path, umask, mask):
    umask(mask)
    write_atomic(tmp_path / "new.json", "{}")
    assert mode(tmp_path / "new.json") == 0o666 & ~mask
    assert (tmp_path / "new.json").read_text() == "{}"


@pytest.mark.parametrize("old_mode", [0o644, 0o600, 0o664, 0o444])
def test_overwriting_keeps_the_old_files_mode(tmp_path, umask, old_mode):
    umask(0o077)
    target = tmp_path / "old.csv"
    target.write_text("old")
    target.chmod(old_mode)
    write_atomic(target, b"new")
    assert mode(target) == old_mode
    assert target.read_bytes() == b"new"


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path, monkeypatch):
    target = tmp_path / "keep.txt"
    target.write_text("old")

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space"):
        write_atomic(target, "new")
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]
    assert target.read_text() == "old"
