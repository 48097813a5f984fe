"""`bpstudio train` trains with the batch size a network file carries, unless --batch-size is given."""

import csv

import pytest

from bpstudio.core.datasets import resolve_split
from bpstudio.core.io import presets
from bpstudio.core.session import Session
from tests.cli.running import run


def first_losses(batch_size, steps=3):
    spec = presets.load("deep_sigmoid")
    session = Session(spec, resolve_split(dict(spec.data))[0], batch_size=batch_size)
    return [float(session.step().loss) for _ in range(steps)]


def metrics_losses(capsys, tmp_path, *extra):
    out = tmp_path / "m.csv"
    code, _, err = run(capsys, "train", "deep_sigmoid", "--steps", 3, "--quiet", "--metrics", out, *extra)
    assert (code, err) == (0, "")
    with open(out, newline="") as f:
        return [float(row["loss"]) for row in csv.DictReader(f)]


def test_the_files_batch_size_is_used_and_the_command_line_overrides_it(capsys, tmp_path):
    assert presets.load("deep_sigmoid").batch_size == 32
    assert metrics_losses(capsys, tmp_path) == pytest.approx(first_losses(32), rel=1e-12)
    assert metrics_losses(capsys, tmp_path, "--batch-size", 8) == pytest.approx(first_losses(8), rel=1e-12)
    assert first_losses(32) != pytest.approx(first_losses(None), rel=1e-6)  # (the two differ: a real check)
