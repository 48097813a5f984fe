"""The README's command-line examples run as written, one after another in an empty folder, as a new user
would paste them: each exits 0 and says nothing on stderr. The block that needs PyTorch runs where it is
installed."""

import importlib.util
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.running import run
from tests.helpers import HAS_TORCH

HAS_ONNX = importlib.util.find_spec("onnx") is not None

README = Path(__file__).resolve().parents[2] / "README.md"


def example_blocks():
    """The indented code blocks of the README's "Command line" section, each a list of commands (words)."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("\n## Command line\n") : text.index("\n## From Python\n")]
    blocks = re.findall(r"(?:^    .*\n)+", section, re.M)
    return [[shlex.split(line, comments=True) for line in block.replace("\\\n", " ").splitlines()] for block in blocks]


def test_the_section_has_the_examples_this_test_expects():
    first, with_torch, with_onnx = example_blocks()
    assert [c[:2] for c in first][:2] == [["bpstudio", "presets"], ["bpstudio", "presets"]]
    assert {c[1] for c in first} == {"presets", "train", "grad", "check", "sweep", "predict", "export"}
    assert {c[1] for c in with_torch} == {"grad", "compare", "mazur.py", "import"}
    assert [c[1] for c in with_onnx] == ["export", "import", "predict"]


def run_commands(capsys, commands):
    for words in commands:
        if words[0] == "python":
            done = subprocess.run([sys.executable, *words[1:]], capture_output=True, text=True, timeout=120)
            code, err = done.returncode, done.stderr
        else:
            assert words[0] == "bpstudio"
            code, _, err = run(capsys, *words[1:])
        assert (code, err) == (0, ""), shlex.join(words)


@pytest.mark.skipif(not HAS_TORCH, reason="the second block needs PyTorch")
def test_every_example_runs_as_written(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first, with_torch, _ = example_blocks()
    run_commands(capsys, first + with_torch)
    assert {p.name for p in tmp_path.iterdir()} >= {"net.json", "trained.json", "sweep.csv", "mazur_trained.json"}


@pytest.mark.skipif(HAS_TORCH, reason="covered, with the PyTorch block, by the test above")
def test_the_examples_without_pytorch_run_as_written(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_commands(capsys, example_blocks()[0])


@pytest.mark.skipif(not HAS_ONNX, reason="the third block needs the onnx package")
def test_the_onnx_examples_run_as_written(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first, _, with_onnx = example_blocks()
    run_commands(capsys, [c for c in first if c[1] in ("presets", "train")] + with_onnx)
    assert {p.name for p in tmp_path.iterdir()} >= {"trained.onnx", "from_onnx.json", "from_onnx.npz"}


def test_the_python_example_runs_and_gives_mazurs_loss():
    text = README.read_text(encoding="utf-8")
    section = text[text.index("\n## From Python\n") :]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    session = namespace["session"]
    assert session.trace.loss == pytest.approx(0.298371109, abs=1e-9) and session.step_count == 1
