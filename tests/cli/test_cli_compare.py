"""``bpstudio compare``: the table, the verdict, the CSV, and bad input.

The float32 loss difference is checked against Mazur's forward pass written out here in NumPy float32 and
float64 (an independent reference, not the engine's code).
"""

import csv
import importlib.util

import numpy as np
import pytest

from tests.cli.running import run
from tests.helpers import needs_torch


def mazur_loss(dtype):
    x = np.array([[0.05, 0.10]], dtype)
    t = np.array([[0.01, 0.99]], dtype)
    w1, b1 = np.array([[0.15, 0.20], [0.25, 0.30]], dtype), np.array([0.35, 0.35], dtype)
    w2, b2 = np.array([[0.40, 0.45], [0.50, 0.55]], dtype), np.array([0.60, 0.60], dtype)
    h = 1 / (1 + np.exp(-(x @ w1.T + b1)))
    o = 1 / (1 + np.exp(-(h @ w2.T + b2)))
    return float(0.5 * ((o - t) ** 2).sum())


def table_rows(out):
    """The table's body rows as lists of cells, cut where the dashes under the header say the columns are."""
    lines = out.splitlines()
    dashes = next(i for i, line in enumerate(lines) if line.startswith("-----"))
    spans, at = [], 0
    for run_ in lines[dashes].split("  "):
        spans.append((at, at + len(run_)))
        at += len(run_) + 2
    end = lines.index("", dashes)
    assert [lines[dashes - 1][a:b].strip() for a, b in spans] == [
        "layer",
        "quantity",
        "backend",
        "dtype",
        "max abs diff",
        "max rel diff",
        "shape",
        "at",
    ]
    return [[line[a:b].strip() for a, b in spans] for line in lines[dashes + 1 : end]]


@needs_torch
def test_table_and_verdict(capsys, mazur_files, tmp_path):
    net, data = mazur_files
    out_csv = tmp_path / "diff.csv"
    code, out, err = run(capsys, "compare", net, "--data", data, "--csv", out_csv)
    assert code == 0 and err == ""
    assert "on 1 sample;" in out and "reference numpy float64" in out
    rows = table_rows(out)
    # 2 layers × (z, a, dL/dz, dL/dW, dL/db) + the loss, on 3 pairs
    assert len(rows) == 3 * (2 * 5 + 1)
    assert {r[0] for r in rows} == {"h", "o"}
    assert {(r[2], r[3]) for r in rows if r[0] == "h"} == {
        ("numpy", "float32"),
        ("torch", "float64"),
        ("torch", "float32"),
    }
    verdict = out.strip().splitlines()[-1]
    assert verdict.startswith("largest difference: ") and "float32 vs numpy float64" in verdict
    assert "torch float64 agrees to" in verdict

    with open(out_csv, newline="", encoding="utf-8") as f:
        parsed = list(csv.DictReader(f))
    assert len(parsed) == len(rows)
    by_key = {(r["layer"], r["quantity"], r["backend"], r["dtype"]): r for r in parsed}
    want = abs(mazur_loss(np.float32) - mazur_loss(np.float64))
    assert want > 0
    for backend in ("numpy", "torch"):
        assert float(by_key[("o", "loss", backend, "float32")]["max_abs"]) == pytest.approx(want, rel=0.5)
    assert max(float(r["max_rel"]) for r in parsed if r["dtype"] == "float64") < 1e-10
    worst = max(parsed, key=lambda r: float(r["max_rel"]))
    assert f"{float(worst['max_rel']):.2e} relative" in verdict and f"in {worst['layer']} " in verdict


@needs_torch
def test_dtypes_batch_and_order(capsys):
    code, out, _ = run(capsys, "compare", "deep_sigmoid", "--dtypes", "float64", "--batch", "4", "--order", "worst")
    assert code == 0
    assert "on 4 samples" in out
    rows = table_rows(out)
    assert {(r[2], r[3]) for r in rows} == {("torch", "float64")}
    assert any(r[6] == "4×8" for r in rows)
    rel = [float(r[5]) for r in rows]
    assert rel == sorted(rel, reverse=True) and rel[0] < 1e-10


def test_without_torch_says_why(capsys, mazur_files, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
    net, data = mazur_files
    code, out, _ = run(capsys, "compare", net, "--data", data)
    assert code == 0
    assert {r[2] for r in table_rows(out)} == {"numpy"}
    assert "skipped torch float64: the torch backend needs PyTorch, which is not installed" in out
    assert "skipped torch float32:" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--batch", "2"], "--batch must be between 1 and 1"),
        (["--dtypes", "float16"], "unknown dtype 'float16'"),
        (["--dtypes", ","], "--dtypes"),
        (["--csv", "/no/such/folder/x.csv"], "folder '/no/such/folder' does not exist"),
    ],
)
def test_bad_input_is_one_line(capsys, mazur_files, argv, message):
    net, data = mazur_files
    code, out, err = run(capsys, "compare", net, "--data", data, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err
