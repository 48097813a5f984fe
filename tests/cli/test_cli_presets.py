"""``bpstudio presets NAME --save NET.json``: a preset as a network file a new user can edit and train, never
written over a file that is already there."""

import os
import stat
import sys

import pytest

from bpstudio.core.io import presets, spec_io
from tests.cli.running import assert_one_line_error, run


@pytest.mark.parametrize("name", presets.names())
def test_a_saved_preset_is_the_shipped_network(capsys, tmp_path, name):
    target = tmp_path / "net.json"
    code, out, err = run(capsys, "presets", name, "--save", target)
    assert (code, err) == (0, "")
    assert out == f"wrote {target}: the {name} preset ({presets.load(name).name})\n"
    assert target.read_bytes() == presets.path(name).read_bytes()
    assert spec_io.dumps(spec_io.load(target)) == spec_io.dumps(presets.load(name))


def test_the_saved_file_trains_from_its_own_folder(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run(capsys, "presets", "xor", "--save", "net.json")[0] == 0
    code, out, err = run(capsys, "train", "net.json", "--steps", 2, "--save", "trained.json")
    assert (code, err) == (0, "") and out.splitlines()[-2].startswith("step 2: loss")
    assert out.splitlines()[-1] == "wrote trained.json: the network after step 2"  # (saying where it went)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.json", "trained.json"]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")
def test_the_saved_file_gets_the_mode_the_umask_gives(capsys, tmp_path):
    before = os.umask(0o022)
    try:
        assert run(capsys, "presets", "mazur", "--save", tmp_path / "net.json")[0] == 0
    finally:
        os.umask(before)
    assert stat.S_IMODE((tmp_path / "net.json").stat().st_mode) == 0o644


def test_an_existing_file_is_not_overwritten(capsys, tmp_path):
    target = tmp_path / "net.json"
    target.write_text("my own edits")
    code, out, err = run(capsys, "presets", "xor", "--save", target)
    assert (code, out) == (2, "")
    assert f"'{target}' already exists" in assert_one_line_error(err)
    assert target.read_text() == "my own edits"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["nosuch", "--save", "{tmp}/n.json"], "unknown preset 'nosuch' (presets: "),
        (["--save", "{tmp}/n.json"], "--save needs the preset's name: bpstudio presets NAME --save NET.json"),
        (["xor"], "say where to write preset 'xor': bpstudio presets xor --save NET.json"),
        (["xor", "--save", "{tmp}/no/n.json"], "folder '{tmp}/no' does not exist"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(capsys, tmp_path, argv, message):
    code, out, err = run(capsys, "presets", *[a.format(tmp=tmp_path) for a in argv])
    assert (code, out) == (2, "")
    assert message.format(tmp=tmp_path) in assert_one_line_error(err)
    assert list(tmp_path.iterdir()) == []
