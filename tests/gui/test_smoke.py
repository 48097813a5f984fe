"""`bpstudio --smoke`, the check an install runs: the window opens on the default example, one step runs,
the report says so, and the exit status says whether it all worked (text drawn included)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bpstudio import __version__
from bpstudio.core.datasets import resolve_split
from bpstudio.core.io import presets
from bpstudio.core.session import Session

ROOT = Path(__file__).resolve().parents[2]
NO_FONTS = """<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<fontconfig><cachedir>{cache}</cachedir></fontconfig>
"""


def smoke(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "bpstudio", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen", **(env or {})},
    )


def first_loss(name):
    spec = presets.load(name)
    return Session(spec, resolve_split(spec.data)[0]).step().loss


def no_fonts_config(tmp_path):
    """A fontconfig setup that finds no fonts at all, as on a bare Debian system."""
    config = tmp_path / "fonts.conf"
    config.write_text(NO_FONTS.format(cache=tmp_path / "cache"))
    return {"FONTCONFIG_FILE": str(config)}


def test_smoke_opens_the_default_example_steps_once_and_exits_0():
    done = smoke("--smoke")
    assert done.returncode == 0, done.stderr
    assert "network 'XOR 2-4-1'" in done.stdout and f"one step: loss {first_loss('xor'):.6g}" in done.stdout
    assert "fonts: system" in done.stdout and "torch loaded: False" in done.stdout


def test_a_file_named_on_the_command_line_opens_and_a_missing_one_is_said_without_a_dialog(tmp_path):
    done = smoke(str(presets.path("mazur")), "--smoke")
    assert done.returncode == 0 and f"one step: loss {first_loss('mazur'):.6g}" in done.stdout
    missing = tmp_path / "gone.json"
    done = smoke(str(missing), "--smoke")  # (a dialog would wait for a click forever)
    assert done.returncode == 0 and f"cannot open {missing}" in done.stderr and "XOR 2-4-1" in done.stdout


def test_without_any_font_the_check_fails_outside_a_bundle(tmp_path):
    done = smoke("--smoke", env=no_fonts_config(tmp_path))
    assert done.returncode == 1 and "fonts: none" in done.stdout


@pytest.mark.parametrize(
    ("words", "says"),
    [
        (["--version"], f"bpstudio {__version__}"),
        (["gui", "--help"], "--smoke"),
        (["trian"], "invalid choice: 'trian'"),
    ],
)
def test_version_help_and_typos_answer_without_a_window(words, says):
    done = smoke(*words)
    assert says in done.stdout + done.stderr and done.returncode == (2 if words == ["trian"] else 0)


def test_at_its_start_the_app_removes_the_spill_folders_killed_runs_left(tmp_path):
    from bpstudio.core.record.timeline import SPILL_PREFIX

    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    left = tmp_path / f"{SPILL_PREFIX}pid{int(ended.stdout)}-x7k2m9qa"  # its program has ended
    in_use = tmp_path / f"{SPILL_PREFIX}pid{os.getpid()}-p3n8c1zb"  # this test's program runs
    for folder in (left, in_use):
        folder.mkdir()
        (folder / "0.npy").write_bytes(b"\x93NUMPY" + b"0" * 200)
    done = smoke("--smoke", env={"TMPDIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert not left.exists() and (in_use / "0.npy").is_file()
