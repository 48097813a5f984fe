"""docs/examples/watch_digits_cnn.py, the example a practitioner copies, runs and leaves a run that bpstudio runs
reads: every parameter's gradient norms at every step, every module's activations at the first step and every
twentieth."""

import importlib.util
import sqlite3
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "watch_digits_cnn.py"


def test_the_digits_cnn_example_records_its_run(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("watch_digits_cnn", EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    example.main([str(tmp_path / "run"), "--steps", "22"])
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == f"recorded in {tmp_path / 'run'}; read it with: bpstudio runs {tmp_path / 'run'}"
    names = [name for name, _ in example.model().named_parameters()]
    with sqlite3.connect(tmp_path / "run" / "run.sqlite") as conn:
        assert conn.execute("SELECT step FROM steps ORDER BY step").fetchall() == [(s,) for s in range(1, 23)]
        for step in range(1, 23):
            recorded = {n for (n,) in conn.execute("SELECT name FROM grad_norms WHERE step = ?", (step,))}
            assert recorded == set(names)
        modules = conn.execute("SELECT name, type, kind FROM modules ORDER BY position").fetchall()
        assert modules == [
            ("0", "Conv2d", None),
            ("1", "ReLU", "dead"),
            ("2", "Conv2d", None),
            ("3", "ReLU", "dead"),
            ("4", "MaxPool2d", None),
            ("6", "Linear", None),
        ]
        steps = conn.execute("SELECT step, count(*) FROM activations GROUP BY step").fetchall()
        assert steps == [(1, len(modules)), (20, len(modules))]
        assert dict(conn.execute("SELECT key, value FROM run_info"))["finished"] == "1"
