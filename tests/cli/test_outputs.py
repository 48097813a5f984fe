"""Output paths: every subcommand that writes refuses a path it could not write (a folder, a folder that
takes no new files, a read-only file) with one line, before any work is done or printed, and leaves the
folder as it was."""

import os
import stat
import sys
from pathlib import Path

import pytest

from tests.cli.running import assert_one_line_error, run

SWEEP = ["--depths", "1", "--activations", "relu", "--inits", "he_normal", "--residual", "off", "--seeds", "1"]

# each subcommand that writes, with {out} where the output path goes; the work before the write would
# print something (train, compare, sweep) or fail on its input (import: no such state_dict file)
WRITERS = {
    "grad --out": ["grad", "xor", "--out", "{out}"],
    "train --save": ["train", "xor", "--steps", "3", "--save", "{out}"],
    "train --metrics": ["train", "xor", "--steps", "3", "--metrics", "{out}"],
    "compare --csv": ["compare", "xor", "--dtypes", "float64", "--csv", "{out}"],
    "export --torch": ["export", "xor", "--torch", "{out}"],
    "import --out": ["import", "xor", "--state-dict", "no-such-file.pt", "--out", "{out}"],
    "import MODEL.onnx --out": ["import", "no-such-model.onnx", "--out", "{out}"],
    "export --onnx": ["export", "xor", "--onnx", "{out}"],
    "predict --out": ["predict", "xor", "--out", "{out}"],
    "sweep --out": ["sweep", *SWEEP, "--steps", "1", "--data", "xor:n=8", "--workers", "1", "--out", "{out}"],
    "presets --save": ["presets", "xor", "--save", "{out}"],
}


def run_writer(capsys, case, out):
    return run(capsys, *[str(out) if word == "{out}" else word for word in WRITERS[case]])


def listing(folder):
    return sorted(p.name for p in Path(folder).iterdir())


@pytest.mark.parametrize("case", list(WRITERS))
def test_a_folder_given_as_the_output_is_refused_before_any_work(capsys, tmp_path, case):
    folder = tmp_path / "results"
    folder.mkdir()
    (folder / "kept.txt").write_text("mine")
    code, out, err = run_writer(capsys, case, folder)
    assert (code, out) == (2, "")
    assert f"cannot write '{folder}': it is a folder, not a file" in assert_one_line_error(err)
    assert listing(tmp_path) == ["results"] and listing(folder) == ["kept.txt"]


@pytest.fixture
def unwritable_folder(tmp_path):
    """A folder in which no file can be created: a read-only one, or for root (whom permissions do not
    stop) /proc, which takes no new files."""
    if os.geteuid() != 0:
        folder = tmp_path / "locked"
        folder.mkdir()
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
    elif sys.platform.startswith("linux") and Path("/proc/self").is_dir():
        yield Path("/proc")
    else:
        pytest.skip("no folder here refuses new files to root")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
@pytest.mark.parametrize("case", list(WRITERS))
def test_a_folder_that_takes_no_new_files_is_refused_before_any_work(capsys, unwritable_folder, case):
    target = unwritable_folder / "bpstudio-output.out"
    before = listing(unwritable_folder)
    code, out, err = run_writer(capsys, case, target)
    assert (code, out) == (2, "")
    line = assert_one_line_error(err)
    assert f"cannot write '{target}': cannot create files in folder '{unwritable_folder}'" in line
    assert listing(unwritable_folder) == before


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0, reason="POSIX permissions, which root bypasses")
@pytest.mark.parametrize("case", ["train --save", "compare --csv", "presets --save"])
def test_a_read_only_file_is_refused_and_kept(capsys, tmp_path, case):
    target = tmp_path / "readonly.out"
    target.write_text("mine")
    target.chmod(0o444)
    code, out, err = run_writer(capsys, case, target)
    assert (code, out) == (2, "")
    assert f"cannot write '{target}': the file is read-only" in assert_one_line_error(err)
    assert target.read_text() == "mine" and stat.S_IMODE(target.stat().st_mode) == 0o444
