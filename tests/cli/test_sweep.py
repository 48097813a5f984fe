"""``bpstudio sweep``: the CSV it writes (checked against gradients worked out by hand in NumPy), the summary
it prints, its one-line errors, and the Dask path against a local in-process cluster."""

import csv
import math
import re

import numpy as np
import pytest

from bpstudio.core.datasets import resolve_split
from bpstudio.core.init import initial_params
from bpstudio.core.tools.sweep import Config, build_spec
from tests.cli.running import run

SMALL = [
    "--depths",
    "1,3",
    "--activations",
    "sigmoid",
    "--inits",
    "xavier_uniform",
    "--residual",
    "both",
    "--seeds",
    "2",
    "--steps",
    "2",
    "--data",
    "xor:n=30",
]


def assert_one_line_error(err):
    assert "Traceback" not in err and err.endswith("\n") and len(err.splitlines()) == 1, err
    assert err.startswith("bpstudio: error: "), err
    return err


def rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def one_hidden_layer_gradients(seed, units=8):
    """‖∂L/∂W_h1‖ and ‖∂L/∂W_out‖ of x → sigmoid(h1) → sigmoid(out) with mean BCE, worked out by hand."""
    data = resolve_split("xor:n=30")[0]
    p = initial_params(build_spec(Config(1, "sigmoid", "xavier_uniform", False, (("units", units),)), data, seed))
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    X, t = data.X, data.Y.reshape(-1, 1).astype(float)
    a = sig(X @ p["h1.weight"].T + p["h1.bias"])
    y = sig(a @ p["out.weight"].T + p["out.bias"])
    dz2 = (y - t) / len(X)  # BCE through a sigmoid: (y − t), averaged over samples
    dz1 = dz2 @ p["out.weight"] * a * (1 - a)
    return np.linalg.norm(dz1.T @ X), np.linalg.norm(dz2.T @ a)


def test_the_csv_holds_every_run_and_every_configuration(capsys, tmp_path):
    out = tmp_path / "results.csv"
    code, printed, err = run(capsys, "sweep", *SMALL, "--set", "units=8", "--workers", "1", "--out", out)
    assert code == 0, err
    table = rows(out)
    runs = [r for r in table if r["row"] == "run"]
    assert [(r["depth"], r["residual"], r["seed"]) for r in runs] == [
        ("1", "off", "0"),
        ("1", "off", "1"),
        ("3", "off", "0"),
        ("3", "off", "1"),
        ("1", "on", "0"),
        ("1", "on", "1"),
        ("3", "on", "0"),
        ("3", "on", "1"),
    ]
    for r in runs[:2]:
        first, last = one_hidden_layer_gradients(int(r["seed"]))
        assert float(r["grad_first_start"]) == pytest.approx(first, rel=1e-10)
        assert float(r["grad_last_start"]) == pytest.approx(last, rel=1e-10)
        assert float(r["ratio"]) == pytest.approx(first / last, rel=1e-10)
        assert r["steps_done"] == "2" and r["units"] == "8"
    means = [r for r in table if r["row"] == "mean"]
    assert len(means) == 4 and all(m["seeds"] == "2" and m["seed"] == "" for m in means)
    both = [float(r["final_loss"]) for r in runs[:2]]
    assert float(means[0]["final_loss"]) == pytest.approx(np.mean(both), rel=1e-12)
    assert float(means[0]["final_loss_std"]) == pytest.approx(np.std(both), rel=1e-12)
    # the summary: a header, one line per configuration, and where the file went
    lines = printed.splitlines()
    assert len(lines) == 1 + 4 + 1 and "depth" in lines[0] and lines[-1].startswith(f"wrote {out}: 8 runs of 4")
    assert lines[1].split()[:4] == ["sigmoid", "xavier_uniform", "off", "1"]
    assert lines[1].split()[4] == f"{np.mean([float(r['grad_first_start']) for r in runs[:2]]):.2e}"


def test_extra_axes_get_their_own_columns_and_summary_columns(capsys, tmp_path):
    out = tmp_path / "r.csv"
    code, printed, err = run(
        capsys, "sweep", *SMALL, "--residual", "off", "--set", "lr=0.1,2", "--quiet", "--workers", "1", "--out", out
    )
    assert code == 0 and printed == "" and err == ""
    runs = [r for r in rows(out) if r["row"] == "run"]
    assert sorted({r["lr"] for r in runs}) == ["0.1", "2.0"] and len(runs) == 8
    fast, slow = (
        [r for r in runs if r["lr"] == lr and r["depth"] == "1" and r["seed"] == "0"][0] for lr in ("2.0", "0.1")
    )
    assert fast["grad_first_start"] == slow["grad_first_start"]  # the same start; the step size differs after
    assert fast["final_loss"] != slow["final_loss"]


def test_dropout_and_the_schedule_are_settings_too(capsys, tmp_path):
    out = tmp_path / "r.csv"
    code, printed, err = run(
        capsys,
        "sweep",
        *SMALL,
        "--residual",
        "off",
        "--set",
        "dropout=0,0.5",
        "--set",
        "schedule=step:1:0.5",
        "--workers",
        "1",
        "--out",
        out,
    )
    assert code == 0 and err == ""
    assert printed.splitlines()[0].split()[:4] == ["activation", "init", "residual", "dropout"]
    runs = [r for r in rows(out) if r["row"] == "run"]
    assert {(r["dropout"], r["schedule"]) for r in runs} == {("0.0", "step:1:0.5"), ("0.5", "step:1:0.5")}
    code, printed, _ = run(capsys, "sweep", "--help")
    assert code == 0 and "step:STEP_SIZE[:GAMMA]" in printed and "dropout " in printed


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--depths", "2,x"], "--depths: 'x' is not a whole number"),
        (["--depths", "2,,4"], "--depths: give a comma-separated list"),
        (["--depths", "0"], "depth .* ≥ 1, got 0"),
        (["--activations", "sigmoid,swish"], "unknown hidden activation 'swish'"),
        (["--inits", "glorot"], "unknown initialiser 'glorot'"),
        (["--seeds", "0"], "--seeds must be 1 or more"),
        (["--steps", "0"], "steps must be .* ≥ 1"),
        (["--set", "lr=fast"], "'lr' takes numbers, got 'fast'"),
        (["--set", "depth=3"], "main axis .* depths"),
        (["--set", "lr=0.1", "--set", "lr=0.2"], "setting .lr. is given twice"),
        (["--set", "schedule=step"], "writes a step schedule as step:STEP_SIZE"),
        (["--set", "dropout=1"], "'dropout' takes p from 0"),
        (["--data", "nosuchset"], "not a built-in data set"),
        (["--workers", "0"], "--workers must be 1 or more"),
    ],
)
def test_bad_options_are_one_line_errors(capsys, tmp_path, argv, message):
    out = tmp_path / "r.csv"
    code, _, err = run(capsys, "sweep", *SMALL, *argv, "--out", out)
    assert code == 2 and not out.exists()
    assert re.search(message, assert_one_line_error(err)), err


def test_workers_and_scheduler_exclude_each_other_and_the_folder_must_exist(capsys, tmp_path):
    code, _, err = run(
        capsys, "sweep", *SMALL, "--workers", "2", "--scheduler", "tcp://h:1", "--out", tmp_path / "r.csv"
    )
    assert code == 2 and "not allowed with argument" in assert_one_line_error(err)
    code, _, err = run(capsys, "sweep", *SMALL, "--out", tmp_path / "missing" / "r.csv")
    assert code == 2 and "folder" in assert_one_line_error(err)


def test_an_unreachable_scheduler_is_one_line(capsys, tmp_path):
    pytest.importorskip("distributed")
    code, _, err = run(
        capsys,
        "sweep",
        *SMALL,
        "--scheduler",
        "tcp://127.0.0.1:9",
        "--connect-timeout",
        "0.5",
        "--out",
        tmp_path / "r.csv",
    )
    assert code == 2 and "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in assert_one_line_error(err)


def test_the_scheduler_option_runs_on_a_dask_cluster(capsys, tmp_path):
    distributed = pytest.importorskip("distributed")
    local, remote = tmp_path / "local.csv", tmp_path / "dask.csv"
    assert run(capsys, "sweep", *SMALL, "--workers", "1", "--out", local)[0] == 0
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        code, printed, err = run(capsys, "sweep", *SMALL, "--scheduler", cluster.scheduler_address, "--out", remote)
    assert code == 0, err
    assert f"on Dask at {cluster.scheduler_address}" in printed.splitlines()[-1]
    assert remote.read_text() == local.read_text()
    assert all(math.isfinite(float(r["grad_first_start"])) for r in rows(remote))
