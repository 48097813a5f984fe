"""The ``bpstudio`` command line: grad, train, check, presets and the error contract.

Numbers are checked against independent references: Mazur's published figures and a plain
torch-autograd re-derivation written here, never against the CLI's own output alone. Most tests call
``bpstudio.cli.main`` in-process; a few run ``python -m bpstudio`` as a real process.
"""

import csv
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

from bpstudio.core.io import spec_io
from tests.cli.running import assert_one_line_error, run
from tests.helpers import MAZUR, needs_torch, optional_torch

torch = optional_torch()
F = torch.nn.functional if torch is not None else None

REPO = Path(__file__).resolve().parents[2]
PRESETS = (
    "circle_features",
    "deep_relu_he",
    "deep_sigmoid",
    "deep_sigmoid_batchnorm",
    "deep_sigmoid_residual",
    "digits",
    "digits_l1",
    "dropout",
    "exploding",
    "exploding_clipped",
    "mazur",
    "spiral",
    "xor",
)
MAZUR_KEYS = {"loss", "h.weight", "h.bias", "o.weight", "o.bias"}


def run_process(*argv, cwd):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    return subprocess.run(
        [sys.executable, "-m", "bpstudio", *map(str, argv)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


# --- independent references ---------------------------------------------------------------------------


def mazur_reference(steps=1):
    """Mazur's net in plain torch: per-step (loss, ‖∇W_h‖, ‖∇W_o‖) and the weights after ``steps`` SGD steps."""
    t64 = dict(dtype=torch.float64)
    x, t = torch.tensor([[0.05, 0.10]], **t64), torch.tensor([[0.01, 0.99]], **t64)
    wh = torch.tensor([[0.15, 0.20], [0.25, 0.30]], **t64, requires_grad=True)
    wo = torch.tensor([[0.40, 0.45], [0.50, 0.55]], **t64, requires_grad=True)
    bh = torch.tensor([0.35, 0.35], **t64, requires_grad=True)
    bo = torch.tensor([0.60, 0.60], **t64, requires_grad=True)
    rows, grads = [], None
    for _ in range(steps):
        o = torch.sigmoid(F.linear(torch.sigmoid(F.linear(x, wh, bh)), wo, bo))
        loss = 0.5 * ((o - t) ** 2).sum() / x.shape[0]
        g = torch.autograd.grad(loss, (wh, bh, wo, bo))
        grads = grads or {k: v.numpy() for k, v in zip(("h.weight", "h.bias", "o.weight", "o.bias"), g)}
        rows.append((loss.item(), g[0].norm().item(), g[2].norm().item()))
        with torch.no_grad():  # biases are frozen in the walk-through
            wh -= 0.5 * g[0]
            wo -= 0.5 * g[2]
    return rows, grads, {"h.weight": wh.detach().numpy(), "o.weight": wo.detach().numpy()}


def random_net(tmp_path, loss):
    """A 3-5-K tanh net with explicit weights, an .npz of integer labels, and torch's loss and gradients."""
    rng = np.random.default_rng(7)
    out_units, out_act = (3, "identity") if loss == "cross_entropy" else (1, "sigmoid")
    p = {
        "h.weight": rng.normal(size=(5, 3)),
        "h.bias": rng.normal(size=5),
        "o.weight": rng.normal(size=(out_units, 5)),
        "o.bias": rng.normal(size=out_units),
    }
    X, labels = rng.normal(size=(9, 3)), rng.integers(0, 3 if out_units == 3 else 2, size=9)
    net = {
        "format": "bpstudio-network",
        "version": 1,
        "output": "o",
        "loss": loss,
        "layers": [
            {"id": "i", "type": "input", "units": 3},
            {
                "id": "h",
                "type": "dense",
                "inputs": ["i"],
                "units": 5,
                "activation": "tanh",
                "weight": p["h.weight"].tolist(),
                "bias": p["h.bias"].tolist(),
            },
            {
                "id": "o",
                "type": "dense",
                "inputs": ["h"],
                "units": out_units,
                "activation": out_act,
                "weight": p["o.weight"].tolist(),
                "bias": p["o.bias"].tolist(),
            },
        ],
    }
    (tmp_path / "net.json").write_text(json.dumps(net), encoding="utf-8")
    np.savez(tmp_path / "data.npz", X=X, Y=labels)

    tp = {k: torch.tensor(v, requires_grad=True) for k, v in p.items()}
    z = F.linear(torch.tanh(F.linear(torch.tensor(X), tp["h.weight"], tp["h.bias"])), tp["o.weight"], tp["o.bias"])
    if loss == "cross_entropy":
        value = F.cross_entropy(z, torch.tensor(labels))
    else:
        value = F.binary_cross_entropy(torch.sigmoid(z), torch.tensor(labels, dtype=torch.float64)[:, None])
    grads = torch.autograd.grad(value, list(tp.values()))
    return value.item(), {k: g.numpy() for k, g in zip(tp, grads)}


# --- grad ---------------------------------------------------------------------------------------------


@needs_torch
@pytest.mark.parametrize(
    "backend,dtype,tol",
    [("numpy", "float64", 1e-9), ("torch", "float64", 1e-9), ("numpy", "float32", 1e-6), ("torch", "float32", 1e-6)],
)
def test_grad_on_mazur_file_matches_published_figures(capsys, tmp_path, mazur_files, backend, dtype, tol):
    net, data = mazur_files
    out = tmp_path / "grads.npz"
    code, _, err = run(capsys, "grad", net, "--data", data, "--backend", backend, "--dtype", dtype, "--out", out)
    assert (code, err) == (0, "")
    with np.load(out) as g:
        assert set(g.files) == MAZUR_KEYS
        assert g["loss"].shape == ()
        assert float(g["loss"]) == pytest.approx(0.298371109, abs=tol)
        assert g["o.weight"][0, 0] == pytest.approx(0.082167041, abs=tol)  # ∂E/∂w5
        assert g["h.weight"][0, 0] == pytest.approx(0.000438568, abs=tol)  # ∂E/∂w1
        _, ref, _ = mazur_reference()
        for key, value in ref.items():
            assert g[key].shape == value.shape
            np.testing.assert_allclose(g[key], value, rtol=0, atol=tol * 1e-2 if dtype == "float64" else tol)


@needs_torch
@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("loss", ["cross_entropy", "bce"])
def test_grad_on_random_net_matches_torch_autograd(capsys, tmp_path, loss, backend):
    ref_loss, ref_grads = random_net(tmp_path, loss)
    code, _, err = run(
        capsys,
        "grad",
        tmp_path / "net.json",
        "--data",
        tmp_path / "data.npz",
        "--backend",
        backend,
        "--out",
        tmp_path / "g.npz",
    )
    assert (code, err) == (0, "")
    with np.load(tmp_path / "g.npz") as g:
        assert set(g.files) == {"loss", *ref_grads}
        assert float(g["loss"]) == pytest.approx(ref_loss, abs=1e-10)
        for key, value in ref_grads.items():
            np.testing.assert_allclose(g[key], value, rtol=0, atol=1e-10, err_msg=key)


def test_grad_takes_data_from_the_preset_when_no_data_is_given(capsys, tmp_path):
    code, out, _ = run(capsys, "grad", "mazur", "--out", tmp_path / "g.npz")
    assert code == 0
    with np.load(tmp_path / "g.npz") as g:
        assert set(g.files) == MAZUR_KEYS
        assert float(g["loss"]) == pytest.approx(0.298371109, abs=1e-9)
        weights_and_biases = sum(1 for k in g.files if k.endswith((".weight", ".bias")))
    # it says what it wrote, where
    assert out == f"wrote {tmp_path / 'g.npz'}: loss 0.298371109 and the gradients of {weights_and_biases} parameters\n"


# --- train --------------------------------------------------------------------------------------------


@needs_torch
def test_train_writes_metrics_that_match_an_independent_derivation(capsys, tmp_path, mazur_files):
    net, data = mazur_files
    metrics, saved = tmp_path / "m.csv", tmp_path / "trained.json"
    code, out, err = run(capsys, "train", net, "--data", data, "--steps", 3, "--metrics", metrics, "--save", saved)
    assert (code, err) == (0, "")
    assert "step 3" in out
    assert metrics.read_text(encoding="utf-8").splitlines()[0] == "step,loss,grad_norm/h,grad_norm/o,lr,grad_norm/total"
    with open(metrics, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == [1, 2, 3]
    assert float(rows[0]["loss"]) == pytest.approx(0.298371109, abs=1e-9)
    ref_rows, ref_grads, ref_weights = mazur_reference(steps=3)
    # the first row's norms also straight from the first step's gradients
    assert float(rows[0]["grad_norm/h"]) == pytest.approx(np.linalg.norm(ref_grads["h.weight"]), abs=1e-12)
    for row, (loss, norm_h, norm_o) in zip(rows, ref_rows):
        assert float(row["loss"]) == pytest.approx(loss, abs=1e-12)
        assert float(row["grad_norm/h"]) == pytest.approx(norm_h, abs=1e-12)
        assert float(row["grad_norm/o"]) == pytest.approx(norm_o, abs=1e-12)
    assert float(rows[2]["loss"]) < float(rows[0]["loss"])
    trained = spec_io.load(saved)
    for key, value in ref_weights.items():
        np.testing.assert_allclose(trained.layer(key[0]).weight, value, rtol=0, atol=1e-12)
    assert trained.layer("h").bias.tolist() == [0.35, 0.35] and trained.layer("o").bias.tolist() == [0.6, 0.6]


@needs_torch
@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_train_one_step_on_a_preset_without_data_saves_mazurs_updated_weights(capsys, tmp_path, backend):
    saved = tmp_path / "trained.json"
    code, _, err = run(capsys, "train", "mazur", "--steps", 1, "--backend", backend, "--save", saved, "--quiet")
    assert (code, err) == (0, "")
    trained = spec_io.load(saved)
    w_o, w_h = trained.layer("o").weight, trained.layer("h").weight
    assert w_o.ravel() == pytest.approx([0.35891648, 0.408666186, 0.511301270, 0.561370121], abs=5e-9)  # w5+..w8+
    assert w_h.ravel() == pytest.approx([0.149780716, 0.19956143, 0.24975114, 0.29950229], abs=5e-9)  # w1+..w4+
    # the saved file is itself a usable network: one more step from it is Mazur's second step
    code, _, _ = run(capsys, "train", saved, "--steps", 1, "--metrics", tmp_path / "m.csv", "--quiet")
    assert code == 0
    with open(tmp_path / "m.csv", newline="", encoding="utf-8") as f:
        (row,) = list(csv.DictReader(f))
    assert float(row["loss"]) == pytest.approx(mazur_reference(steps=2)[0][1][0], abs=1e-12)


def test_train_with_minibatches_on_a_builtin_set_lowers_the_loss(capsys, tmp_path):
    metrics = tmp_path / "m.csv"
    code, _, _ = run(
        capsys,
        "train",
        "xor",
        "--data",
        "xor:n=64",
        "--batch-size",
        16,
        "--steps",
        300,
        "--metrics",
        metrics,
        "--quiet",
    )
    assert code == 0
    with open(metrics, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["step", "loss", "grad_norm/h", "grad_norm/y", "lr", "grad_norm/total"]
    assert [int(r["step"]) for r in rows] == list(range(1, 301))
    losses = np.array([float(r["loss"]) for r in rows])
    assert np.all(np.isfinite(losses))
    assert losses[-20:].mean() < 0.8 * losses[:20].mean()


def test_train_quiet_prints_nothing(capsys, tmp_path, mazur_files):
    net, data = mazur_files
    code, out, err = run(capsys, "train", net, "--data", data, "--steps", 2, "--save", tmp_path / "s.json", "--quiet")
    assert (code, out, err) == (0, "", "")
    assert spec_io.load(tmp_path / "s.json").layer("o").weight.tolist() != MAZUR["layers"][2]["weight"]


# --- check and presets --------------------------------------------------------------------------------


def table(out):
    """The rows of ``bpstudio check``'s table by parameter (after the criterion and the header, before the verdict)."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("parameter")) + 1
    return {line.split()[0]: line for line in lines[start:-1]}


def test_check_prints_a_table_for_every_parameter(capsys):
    code, out, err = run(capsys, "check", "xor", "--max-entries", 5)
    assert (code, err) == (0, "")
    assert "Pass: |backprop − complex step| ≤ 1e-05 × the larger of the two" in " ".join(out.split())  # (wrapped)
    rows = table(out)
    assert set(rows) == {"h.weight", "h.bias", "y.weight", "y.bias"}
    assert rows["h.weight"].split()[1] == "5/8" and rows["y.bias"].split()[1] == "1/1"
    assert all(line.endswith("ok") for line in rows.values())
    assert out.splitlines()[-1] == "Every gradient matches the complex step."


def test_check_on_a_network_file(capsys, mazur_files):
    net, data = mazur_files
    code, out, _ = run(capsys, "check", net, "--data", data)
    assert code == 0
    assert set(table(out)) == MAZUR_KEYS - {"loss"}
    assert "Every gradient matches" in out


def test_check_says_what_finite_differences_cannot_resolve(capsys):
    """deep_sigmoid's first layer: its gradients (~1e-10) pass against the complex step, and the table says how
    few of them a finite difference resolves instead of calling them checked by it."""
    code, out, _ = run(capsys, "check", "deep_sigmoid", "--eps", "1e-6")
    assert code == 0
    h1 = table(out)["h1.weight"].split()
    assert h1[-1] == "ok" and h1[-4:-1] == ["0", "of", "16"]
    assert "Finite differences cannot resolve" in out.splitlines()[-1]


def test_presets_lists_every_example(capsys):
    code, out, _ = run(capsys, "presets")
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()] == list(PRESETS)


# --- errors -------------------------------------------------------------------------------------------


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def _bad_activation(tmp):
    bad = json.loads(json.dumps(MAZUR))
    bad["layers"][1]["activation"] = "sigmoidd"
    return _write(tmp / "bad_act.json", json.dumps(bad))


# name: (argv builder(tmp, net, csv), words the message must contain, from argparse?)
ERRORS = {
    "missing network": (lambda t, n, d: ["grad", t / "nope.json", "--data", d], ["nope.json", "not found"], False),
    "invalid JSON": (
        lambda t, n, d: ["grad", _write(t / "broken.json", '{"format": '), "--data", d],
        ["broken.json", "not valid JSON"],
        False,
    ),
    "unknown activation": (
        lambda t, n, d: ["grad", _bad_activation(t), "--data", d],
        ["layer 'h'", "field 'activation'", "sigmoidd"],
        False,
    ),
    "missing data file": (lambda t, n, d: ["grad", n, "--data", t / "nope.csv"], ["nope.csv", "not found"], False),
    "text in a number": (
        lambda t, n, d: ["grad", n, "--data", _write(t / "t.csv", "x1,x2,y1,y2\n0.05,abc,0.01,0.99\n")],
        ["t.csv", "line 2", "x2", "'abc'", "not a number"],
        False,
    ),
    "wrong input width": (
        lambda t, n, d: ["grad", n, "--data", _write(t / "w.csv", "x1,x2,x3,y1,y2\n1,2,3,4,5\n")],
        ["3 input columns", "2 units"],
        False,
    ),
    "unknown builtin": (lambda t, n, d: ["grad", n, "--data", "nosuchset:n=3"], ["nosuchset", "built-in"], False),
    "unknown preset": (lambda t, n, d: ["grad", "nosuchpreset", "--data", d], ["nosuchpreset", "not found"], False),
    "out folder missing": (
        lambda t, n, d: ["grad", n, "--data", d, "--out", t / "nodir" / "g.npz"],
        ["nodir", "does not exist"],
        False,
    ),
    "bogus backend": (lambda t, n, d: ["grad", n, "--data", d, "--backend", "bogus"], ["--backend", "bogus"], True),
    "missing steps": (lambda t, n, d: ["train", n, "--data", d], ["--steps"], True),
    "negative steps": (lambda t, n, d: ["train", n, "--data", d, "--steps", -1], ["--steps", "-1"], False),
    "zero steps": (
        lambda t, n, d: ["train", n, "--data", d, "--steps", 0],
        ["--steps must be 1 or more, got 0"],
        False,
    ),
    "batch size 0": (
        lambda t, n, d: ["train", n, "--data", d, "--steps", 1, "--batch-size", 0],
        ["batch size", "0"],
        False,
    ),
    "cuda missing": (
        lambda t, n, d: ["grad", n, "--data", d, "--backend", "torch", "--device", "cuda"],
        ["CUDA"],
        False,
    ),
    "check eps 0": (lambda t, n, d: ["check", n, "--data", d, "--eps", 0], ["step", "positive", "0"], False),
    "check no entries": (lambda t, n, d: ["check", n, "--data", d, "--max-entries", 0], ["at least 1"], False),
    "bce on identity": (
        lambda t, n, d: [
            "grad",
            _write(
                t / "i.json",
                json.dumps(
                    {
                        **MAZUR,
                        "loss": "bce",
                        "layers": MAZUR["layers"][:2] + [{**MAZUR["layers"][2], "activation": "identity"}],
                    }
                ),
            ),
            "--data",
            d,
        ],
        ["bce", "sigmoid", "'o'"],
        False,
    ),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_invalid_input_exits_2_with_one_line_and_leaves_no_output(capsys, tmp_path, mazur_files, case):
    if case == "cuda missing" and torch is not None and torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    build, words, from_argparse = ERRORS[case]
    if case == "cuda missing" and torch is None:
        words = ["torch backend needs PyTorch"]
    net, data = mazur_files
    argv = build(tmp_path, net, data)
    if "--out" not in argv and argv[0] == "grad":
        argv += ["--out", tmp_path / "g.npz"]
    elif argv[0] == "train":
        argv += ["--metrics", tmp_path / "m.csv", "--save", tmp_path / "s.json"]
    before = set(tmp_path.rglob("*"))
    code, out, err = run(capsys, *argv)
    assert code == 2
    line = assert_one_line_error(err, r"bpstudio: error: ")
    for word in words:
        assert word in line
    assert set(tmp_path.rglob("*")) == before  # no output file, no leftover temp file


def test_train_uses_the_training_part_of_a_split_data_source(capsys, tmp_path):
    from bpstudio.cli.common import load_data
    from bpstudio.core.io import presets

    spec = presets.load("xor")
    assert len(load_data(spec, "xor:n=100,test_fraction=0.25", None)) == 75
    assert len(load_data(spec, "xor:n=100,test_fraction=0.25", None, all_of_it=True)) == 100
    code, out, _ = run(capsys, "train", "xor", "--data", "xor:n=100,test_fraction=0.25", "--steps", 2)
    assert code == 0 and out.splitlines()[-1].startswith("step 2: loss")


def test_a_failing_save_leaves_no_metrics_file_behind(capsys, tmp_path, mazur_files):
    net, data = mazur_files
    code, _, err = run(
        capsys,
        "train",
        net,
        "--data",
        data,
        "--steps",
        2,
        "--quiet",
        "--metrics",
        tmp_path / "m.csv",
        "--save",
        tmp_path / "nodir" / "s.json",
    )
    assert code == 2
    assert "nodir" in assert_one_line_error(err)
    assert not (tmp_path / "m.csv").exists()


# --- the real entry point, as a separate process ------------------------------------------------------


@needs_torch
def test_process_grad_succeeds(tmp_path, mazur_files):
    net, data = mazur_files
    result = run_process("grad", net, "--data", data, "--backend", "torch", "--out", "g.npz", cwd=tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    with np.load(tmp_path / "g.npz") as g:
        assert set(g.files) == MAZUR_KEYS
        assert float(g["loss"]) == pytest.approx(0.298371109, abs=1e-9)


def test_process_error_is_one_line_with_status_2(tmp_path):
    result = run_process("grad", "missing.json", "--out", "g.npz", cwd=tmp_path)
    assert result.returncode == 2
    assert "missing.json" in assert_one_line_error(result.stderr)
    assert result.stdout == "" and not (tmp_path / "g.npz").exists()


def test_process_version_matches_the_project_metadata(tmp_path):
    version = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    result = run_process("--version", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.strip() == f"bpstudio {version}"


# --- the GPU -----------------------------------------------------------------------------------------


CUDA = pytest.mark.skipif(torch is None or not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.mark.cuda
@CUDA
@pytest.mark.parametrize("loss", ["cross_entropy", "bce"])
def test_grad_on_the_gpu_matches_torch_autograd(capsys, tmp_path, loss):
    ref_loss, ref_grads = random_net(tmp_path, loss)
    net, data, out = tmp_path / "net.json", tmp_path / "data.npz", tmp_path / "g.npz"
    code, _, err = run(capsys, "grad", net, "--data", data, "--backend", "torch", "--device", "cuda", "--out", out)
    assert (code, err) == (0, "")
    with np.load(out) as g:
        assert float(g["loss"]) == pytest.approx(ref_loss, abs=1e-10)
        for key, value in ref_grads.items():
            np.testing.assert_allclose(g[key], value, rtol=0, atol=1e-10, err_msg=key)


@pytest.mark.cuda
@CUDA
def test_train_on_the_gpu_writes_the_numpy_engines_metrics_and_weights(capsys, tmp_path):
    runs = {}
    for label, backend, device in (("cpu", "numpy", "cpu"), ("gpu", "torch", "cuda")):
        metrics, saved = tmp_path / f"{label}.csv", tmp_path / f"{label}.json"
        argv = ["train", "deep_sigmoid_batchnorm", "--steps", 20, "--backend", backend, "--device", device]
        code, _, err = run(capsys, *argv, "--metrics", metrics, "--save", saved, "--quiet")
        assert (code, err) == (0, "")
        with open(metrics, newline="", encoding="utf-8") as f:
            runs[label] = (list(csv.DictReader(f)), spec_io.load(saved))
    (rows_cpu, net_cpu), (rows_gpu, net_gpu) = runs["cpu"], runs["gpu"]
    assert len(rows_gpu) == len(rows_cpu) == 20 and rows_gpu[0].keys() == rows_cpu[0].keys()
    for a, b in zip(rows_cpu, rows_gpu):
        for column in a:
            assert float(b[column]) == pytest.approx(float(a[column]), rel=1e-9, abs=1e-12), column
    for a, b in zip(net_cpu.layers, net_gpu.layers):
        for field in ("weight", "bias", "running_mean", "running_var"):
            if getattr(a, field, None) is not None:
                np.testing.assert_allclose(getattr(b, field), getattr(a, field), rtol=1e-9, atol=1e-12)
