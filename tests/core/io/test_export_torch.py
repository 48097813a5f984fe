"""The exported PyTorch script against the engine, state_dict files read back, metrics and trace files.

The engine's NumPy backend is the reference: the script computes with torch autograd, an independent
implementation, so agreement to 1e-10 in float64 checks both the export and the formulas it names.
"""

import ast
import contextlib
import csv
import io
import math
import runpy
import subprocess
import sys

import numpy as np
import pytest

from bpstudio.core import activations, losses
from bpstudio.core.data import Dataset
from bpstudio.core.datasets import resolve_split
from bpstudio.core.errors import BpstudioError
from bpstudio.core.init import initial_params
from bpstudio.core.io import presets
from bpstudio.core.io.export_torch import (
    export_metrics,
    export_trace,
    load_state_dict,
    python_names,
    state_dict_keys,
    torch_export,
    torch_script,
    write_torch_script,
)
from bpstudio.core.record.history import TrainingHistory
from bpstudio.core.session import Session
from tests.helpers import needs_torch, network, optional_torch

torch = optional_torch()
TOL = dict(rtol=1e-10, atol=1e-10)


def concat_net():
    """Add, concat, an unused branch, a layer without bias and ids that are no Python names."""
    layers = [
        {"id": "x", "type": "input", "units": 2},
        {"id": "h-1", "type": "dense", "inputs": ["x"], "units": 3, "activation": "relu"},
        {"id": "class", "type": "dense", "inputs": ["x"], "units": 3, "activation": "tanh", "use_bias": False},
        {"id": "float", "type": "add", "inputs": ["h-1", "class"], "activation": "elu"},
        {"id": "c", "type": "concat", "inputs": ["float", "x"], "activation": "gelu"},
        {"id": "side", "type": "dense", "inputs": ["x"], "units": 4},
        {"id": "y", "type": "dense", "inputs": ["c"], "units": 2, "activation": "sigmoid", "frozen": ["bias"]},
    ]
    rng = np.random.default_rng(5)
    data = {"X": rng.normal(size=(7, 2)).tolist(), "Y": rng.uniform(size=(7, 2)).tolist()}
    return network(layers, "y", "mse", seed=3, data=data, name="concat test")


def engine(spec, data, params):
    """(output, loss, gradients) of one full-batch forward and backward pass in the NumPy engine."""
    session = Session(spec, data, params=params)
    trace = session.forward_backward()
    return trace.layers[spec.output].out, trace.loss, session.gradients()


def assert_check_matches(result, spec, data, params):
    output, loss, grads = engine(spec, data, params)
    np.testing.assert_allclose(result["output"], output, **TOL)
    assert result["loss"] == pytest.approx(loss, rel=1e-10, abs=1e-10)
    assert {k[5:] for k in result.files if k.startswith("grad/")} == set(spec.param_shapes())
    for key, grad in grads.items():
        np.testing.assert_allclose(result[f"grad/{key}"], grad, **TOL, err_msg=key)


@contextlib.contextmanager
def keeps_default_dtype():
    old = torch.get_default_dtype()  # (an exported script sets float64 as the default)
    try:
        yield
    finally:
        torch.set_default_dtype(old)


def run_in_process(path, *argv):
    """Run an exported script's main() here (much faster than a new Python), returning what it printed."""
    out = io.StringIO()
    with keeps_default_dtype(), contextlib.redirect_stdout(out):
        runpy.run_path(str(path), run_name="exported")["main"]([str(a) for a in argv])
    return out.getvalue()


@needs_torch
def test_the_script_is_readable_python_naming_layers_safely(tmp_path):
    spec = concat_net()
    text = torch_script(spec, initial_params(spec))
    ast.parse(text)
    names = python_names(spec)
    assert names["x"] == "x" and names["c"] == "c"
    assert names["h-1"] == "h_1" and names["class"] == "class_" and names["float"] == "float_"
    assert "self.h_1 = nn.Linear(2, 3)" in text and "self.class_ = nn.Linear(2, 3, bias=False)" in text
    assert "float_ = F.elu(h_1 + class_, alpha=1.0)" in text
    assert 'c = F.gelu(torch.cat([float_, x], dim=1), approximate="none")' in text
    assert "side" not in text.split("def forward")[1].split("def loss_fn")[0]  # the unused branch never runs
    assert max(len(line) for line in text.splitlines()) <= 120
    ns = {}
    with keeps_default_dtype():
        exec(compile(text, "exported.py", "exec"), ns)
        model = ns["Network"]()
    assert set(model.state_dict()) == set(state_dict_keys(spec).values())
    assert ns["FROZEN"] == ["y.bias"]


def one_layer(act="identity", loss="mse", head="identity", units=2):
    layers = [
        {"id": "x", "type": "input", "units": 2},
        {"id": "h", "type": "dense", "inputs": ["x"], "units": 4, "activation": act},
        {"id": "y", "type": "dense", "inputs": ["h"], "units": units, "activation": head},
    ]
    return network(layers, "y", loss, seed=11)


def random_targets(loss, n, units, rng, labels=True):
    if loss == "cross_entropy":
        return rng.integers(0, units, size=n) if labels else rng.dirichlet(np.ones(units), size=n)
    return rng.uniform(0.05, 0.95, size=(n, units)) if loss == "bce" else rng.normal(size=(n, units))


CASES = (
    [(act, "mse", "identity", True) for act in activations.NAMES]
    + [("tanh", loss, {"bce": "sigmoid", "sse_half": "softplus"}.get(loss, "identity"), True) for loss in losses.NAMES]
    + [("relu", "cross_entropy", "softmax", False)]
)


@needs_torch
@pytest.mark.parametrize("act, loss, head, labels", CASES, ids=lambda v: str(v))
def test_every_activation_and_loss_matches_the_engine(tmp_path, act, loss, head, labels):
    units = 3 if loss == "cross_entropy" else 2
    spec = one_layer(act, loss, head, units)
    rng = np.random.default_rng(len(act) + 7 * len(loss))
    X = rng.normal(scale=2.0, size=(6, 2))  # wide enough to reach both sides of relu, elu, leaky_relu
    data = Dataset(X, random_targets(loss, 6, units, rng, labels))
    params = initial_params(spec)
    write_torch_script(tmp_path / "net.py", spec, params, data)
    run_in_process(tmp_path / "net.py", "--check", tmp_path / "out.npz")
    with np.load(tmp_path / "out.npz") as result:
        assert_check_matches(result, spec, data, params)


@needs_torch
@pytest.mark.parametrize(
    "optimizer",
    [
        {"name": "sgd", "lr": 0.3, "weight_decay": 0.01},
        {"name": "momentum", "lr": 0.1, "momentum": 0.8},
        {"name": "adam", "lr": 0.05, "beta1": 0.8, "weight_decay": 0.001},
        {"name": "rmsprop", "lr": 0.02, "alpha": 0.9, "weight_decay": 0.01, "l1": 0.01},
        {
            "name": "adamw",
            "lr": 0.05,
            "weight_decay": 0.1,
            "clip_norm": 0.2,
            "schedule": {"name": "cosine", "t_max": 4},
        },
        {"name": "sgd", "lr": 0.5, "l1": 0.02, "clip_norm": 0.3, "schedule": {"name": "step", "step_size": 2}},
        {"name": "momentum", "lr": 0.1, "schedule": {"name": "exponential", "gamma": 0.7}},
    ],
    ids=lambda o: "-".join([o["name"], *(k for k in o if k in ("l1", "clip_norm", "schedule"))]),
)
def test_training_in_the_script_follows_the_engine_step_for_step(tmp_path, optimizer):
    """Minibatches of 3 from 8 samples over several passes, a frozen bias: same batches, same updates."""
    layers = [
        {"id": "x", "type": "input", "units": 2},
        {"id": "h", "type": "dense", "inputs": ["x"], "units": 3, "activation": "tanh", "frozen": ["bias"]},
        {"id": "y", "type": "dense", "inputs": ["h"], "units": 3},
    ]
    spec = network(
        layers, "y", "cross_entropy", seed=4, optimizer=optimizer, data={"builtin": "blobs", "n": 8, "seed": 2}
    )
    data = resolve_split(spec.data)[0]
    params = initial_params(spec)
    write_torch_script(tmp_path / "net.py", spec, params, batch_size=3)
    printed = run_in_process(tmp_path / "net.py", "--steps", 7, "--save-state", tmp_path / "w.pt")

    session = Session(spec, data, batch_size=3, params=params)
    engine_losses = [session.step().loss for _ in range(7)]
    script_losses = [float(line.split()[-1]) for line in printed.splitlines()]
    np.testing.assert_allclose(script_losses, engine_losses, rtol=1e-8)  # (printed to 9 digits)
    trained = load_state_dict(spec, tmp_path / "w.pt")
    for key, value in session.params_numpy().items():
        np.testing.assert_allclose(trained[key], value, **TOL, err_msg=key)
    np.testing.assert_array_equal(trained["h.bias"], params["h.bias"])  # frozen
    assert (session.optimizer.counters["clipped"] > 0) == ("clip_norm" in optimizer)  # (clipping did something)


@needs_torch
def test_big_weights_and_data_go_to_a_npz_beside_the_script(tmp_path):
    spec = presets.load("spiral")
    params = initial_params(spec)
    assert torch_export(spec, params).side_file is None  # 1251 weights and 720 data numbers: embedded
    written = write_torch_script(tmp_path / "spiral.py", spec, params, embed_limit=500)
    assert written == [tmp_path / "spiral.py", tmp_path / "spiral.npz"]
    text = written[0].read_text()
    assert "WEIGHTS = {key[" in text and "X, T = side_arrays()" in text and "-0.1357877" not in text
    run_in_process(written[0], "--check", tmp_path / "out.npz")
    with np.load(tmp_path / "out.npz") as result:
        assert_check_matches(result, spec, resolve_split(spec.data)[0], params)


@needs_torch
def test_a_network_without_data_takes_inputs_from_a_file(tmp_path):
    spec = one_layer(loss="mse")
    text = torch_script(spec, initial_params(spec))
    assert "X = T = None" in text
    (tmp_path / "net.py").write_text(text)
    data = Dataset(np.array([[0.5, -1.0], [2.0, 0.25]]), np.array([[1.0, 0.0], [0.0, 1.0]]))
    np.savez(tmp_path / "in.npz", X=data.X, T=data.Y)
    run_in_process(tmp_path / "net.py", "--check", tmp_path / "out.npz", "--inputs", tmp_path / "in.npz")
    with np.load(tmp_path / "out.npz") as result:
        assert_check_matches(result, spec, data, initial_params(spec))
    with pytest.raises(SystemExit, match="no data"):
        run_in_process(tmp_path / "net.py", "--check", tmp_path / "out.npz")


# --- state_dict files ------------------------------------------------------------------------------------


def save(tmp_path, state, name="w.pt"):
    torch.save(state, tmp_path / name)
    return tmp_path / name


def tensors(params, rename=lambda k: k):
    return {rename(k): torch.tensor(v) for k, v in params.items()}


@needs_torch
def test_state_dicts_from_the_export_a_wrapper_a_checkpoint_or_a_sequential_are_read(tmp_path):
    spec = concat_net()
    params = {k: np.random.default_rng(1).normal(size=s) for k, s in spec.param_shapes().items()}
    keys = state_dict_keys(spec)
    for state in (
        tensors(params, keys.get),
        tensors(params, lambda k: "module." + keys[k]),
        {"epoch": 3, "state_dict": tensors(params)},
    ):
        got = load_state_dict(spec, save(tmp_path, state))
        assert set(got) == set(params)
        for key in params:
            np.testing.assert_array_equal(got[key], params[key])
    xor = presets.load("xor")
    sequential = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1)).double()
    got = load_state_dict(xor, save(tmp_path, sequential.state_dict()))
    np.testing.assert_array_equal(got["y.weight"], sequential[2].weight.detach().numpy())


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda s: s.pop("o.bias"), "missing key 'o.bias' (parameter 'o.bias', 2)"),
        (lambda s: s.update({"o.gain": torch.ones(2)}), "key 'o.gain' matches no parameter"),
        (lambda s: s.update({"h.weight": torch.ones(3, 2)}), "'h.weight' has shape 3×2 but 'h.weight' needs 2×2"),
        (lambda s: s.update({"h.bias": torch.tensor([1.0, math.inf])}), "'h.bias' holds a value that is not a finite"),
    ],
)
@needs_torch
def test_a_state_dict_that_does_not_fit_is_refused_naming_the_mismatch(tmp_path, change, message):
    spec = presets.load("mazur")
    state = tensors(initial_params(spec))
    change(state)
    with pytest.raises(BpstudioError, match=f"'w.pt' does not fit .*{message.replace('(', '.').replace(')', '.')}"):
        load_state_dict(spec, save(tmp_path, state))


@needs_torch
def test_unreadable_files_are_refused_with_a_reason(tmp_path):
    spec = presets.load("mazur")
    (tmp_path / "junk.pt").write_bytes(b"not a zip")
    with pytest.raises(BpstudioError, match="cannot read '.*junk.pt' as a PyTorch state_dict"):
        load_state_dict(spec, tmp_path / "junk.pt")
    with pytest.raises(BpstudioError, match="not found"):
        load_state_dict(spec, tmp_path / "nowhere.pt")
    with pytest.raises(BpstudioError, match="holds a list, not a state_dict"):
        load_state_dict(spec, save(tmp_path, [torch.ones(2)]))


# --- notebooks -------------------------------------------------------------------------------------------


def test_a_trace_npz_holds_every_layers_values_under_documented_names(tmp_path):
    spec = presets.load("deep_sigmoid_residual")
    session = Session(spec, resolve_split(spec.data)[0], batch_size=10)
    session.step()
    trace = session.step()
    export_trace(trace, tmp_path / "t.npz")
    with np.load(tmp_path / "t.npz") as saved:
        assert list(saved["layers"]) == list(spec.active_order()[1:])
        assert float(saved["loss"]) == trace.loss and int(saved["step"]) == 2  # (the second step: steps count from 1)
        np.testing.assert_array_equal(saved["batch"], trace.batch)
        np.testing.assert_array_equal(saved["x"], session.data.X[trace.batch])
        np.testing.assert_array_equal(saved["r3/input/1"], trace.layers["h3"].out)  # r3 = r2 + h3
        for lid, rec in trace.layers.items():
            for name in ("pre", "out", "grad_pre", "grad_out"):
                np.testing.assert_array_equal(saved[f"{lid}/{name}"], getattr(rec, name))
            for name, grad in rec.grads.items():
                np.testing.assert_array_equal(saved[f"{lid}/grad/{name}"], grad)
        np.testing.assert_array_equal(saved["params_after/h1.weight"], session.params["h1.weight"])

    partial = Session(spec, resolve_split(spec.data)[0])
    partial.advance()  # only the first layer's forward pass
    export_trace(partial.trace, tmp_path / "p.npz")
    with np.load(tmp_path / "p.npz") as saved:
        assert list(saved["layers"]) == ["h1"] and math.isnan(saved["loss"])
        assert "h1/grad_pre" not in saved.files and "params_after/h1.weight" not in saved.files
        assert len(saved["batch"]) == len(partial.data)


def test_metrics_csv_joins_losses_accuracies_and_gradient_norms_by_step(tmp_path):
    history = TrainingHistory(["h", "y"])
    history.record(0, 0.75, {"h": 0.5, "y": 2.0}, 0.5)
    history.record(1, 0.25, {"h": math.nan, "y": 1.0}, 0.75)
    history.record_test(1, 0.5, 0.625)
    export_metrics(history, tmp_path / "m.csv")
    rows = list(csv.reader(open(tmp_path / "m.csv", encoding="utf-8")))
    assert rows == [
        ["step", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "grad_norm/h", "grad_norm/y"],
        ["0", "0.75", "0.5", "", "", "0.5", "2.0"],
        ["1", "0.25", "0.75", "0.5", "0.625", "", "1.0"],
    ]
    with pytest.raises(BpstudioError, match="does not exist"):
        export_metrics(history, tmp_path / "missing" / "m.csv")


# --- the script as a program (started by the fixture above the tests) ------------------------------------

PROGRAMS = ("mazur", "xor", "deep_sigmoid_residual", "concat")


@pytest.fixture(scope="module", autouse=True)
def programs(tmp_path_factory):
    """Each of PROGRAMS exported and started as ``python NAME.py --check out.npz``, all at once, when this
    file's first test starts (they run while the others do; their tests, last in the file, collect them)."""
    started = {}
    for name in PROGRAMS:
        folder = tmp_path_factory.mktemp(name)
        spec = concat_net() if name == "concat" else presets.load(name)
        params = initial_params(spec)
        assert write_torch_script(folder / f"{name}.py", spec, params) == [folder / f"{name}.py"]
        process = subprocess.Popen(
            [sys.executable, f"{name}.py", "--check", "out.npz"],
            cwd=folder,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started[name] = (process, folder, spec, params)
    yield started
    for process, *_ in started.values():
        if process.poll() is None:
            process.kill()
            process.wait()


@needs_torch
@pytest.mark.parametrize("name", PROGRAMS)
def test_the_exported_script_run_as_a_program_gives_the_engines_outputs_loss_and_gradients(programs, name):
    process, folder, spec, params = programs[name]
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    with np.load(folder / "out.npz") as result:
        assert_check_matches(result, spec, resolve_split(spec.data)[0], params)
        if name == "mazur":  # Mazur's published figures, independently
            assert float(result["loss"]) == pytest.approx(0.298371109, abs=1e-9)
            assert result["grad/o.weight"][0, 0] == pytest.approx(0.082167041, abs=1e-9)
            assert result["grad/h.weight"][0, 0] == pytest.approx(0.000438568, abs=1e-9)


@needs_torch
def test_a_features_layer_is_exported_as_its_terms_and_matches_the_engine(tmp_path):
    """Every kind of term, mid-network (gradients flow through it into h), trained step for step."""
    terms = ["x1", "x2^2", "x3^9", "x1*x3", "x2*x2", "sin(x2)", "cos(x3)"]
    layers = [
        {"id": "x", "type": "input", "units": 2},
        {"id": "h", "type": "dense", "inputs": ["x"], "units": 3, "activation": "tanh"},
        {"id": "feat-1", "type": "features", "inputs": ["h"], "terms": terms},
        {"id": "y", "type": "dense", "inputs": ["feat-1"], "units": 1, "activation": "sigmoid"},
    ]
    spec = network(layers, "y", "bce", seed=2, optimizer={"name": "adam", "lr": 0.05}, data={"builtin": "circles"})
    data = resolve_split(spec.data)[0]
    params = initial_params(spec)
    write_torch_script(tmp_path / "net.py", spec, params, batch_size=16)
    text = (tmp_path / "net.py").read_text()
    assert "feat_1 = torch.stack([h[:, 0], h[:, 1] ** 2, h[:, 2] ** 9, h[:, 0] * h[:, 2]," in text
    assert "features x1, x2^2, x3^9, x1*x3, x2*x2, sin(x2), cos(x3) of h" in text
    run_in_process(tmp_path / "net.py", "--check", tmp_path / "out.npz")
    with np.load(tmp_path / "out.npz") as result:
        assert_check_matches(result, spec, data, params)
    printed = run_in_process(tmp_path / "net.py", "--steps", 5, "--save-state", tmp_path / "w.pt")
    session = Session(spec, data, batch_size=16, params=params)
    engine_losses = [session.step().loss for _ in range(5)]
    np.testing.assert_allclose([float(line.split()[-1]) for line in printed.splitlines()], engine_losses, rtol=1e-8)
    trained = load_state_dict(spec, tmp_path / "w.pt")
    for key, value in session.params_numpy().items():
        np.testing.assert_allclose(trained[key], value, **TOL, err_msg=key)


@needs_torch
def test_a_dropout_layer_is_exported_as_nn_dropout_and_trains_on_the_engines_masks(tmp_path):
    """The script's check and training feed bpstudio's masks (the same numbers as the engine, step for step);
    the module alone is a plain nn.Dropout: the identity in eval(), the engine's evaluation."""
    layers = [
        {"id": "x", "type": "input", "units": 2},
        {"id": "h", "type": "dense", "inputs": ["x"], "units": 8, "activation": "tanh"},
        {"id": "drop-1", "type": "dropout", "inputs": ["h"], "p": 0.3},
        {"id": "y", "type": "dense", "inputs": ["drop-1"], "units": 1, "activation": "sigmoid"},
    ]
    spec = network(layers, "y", "bce", seed=2, optimizer={"name": "adam", "lr": 0.05}, data={"builtin": "circles"})
    data = resolve_split(spec.data)[0]
    params = initial_params(spec)
    write_torch_script(tmp_path / "net.py", spec, params, batch_size=16)
    text = (tmp_path / "net.py").read_text()
    assert "self.drop_1 = nn.Dropout(0.3)" in text and "dropout p=0.3 of h" in text
    run_in_process(tmp_path / "net.py", "--check", tmp_path / "out.npz")
    with np.load(tmp_path / "out.npz") as result:
        assert_check_matches(result, spec, data, params)  # (the engine's step 1 draws the same mask)
    printed = run_in_process(tmp_path / "net.py", "--steps", 5, "--save-state", tmp_path / "w.pt")
    session = Session(spec, data, batch_size=16, params=params)
    engine_losses = [session.step().loss for _ in range(5)]
    np.testing.assert_allclose([float(line.split()[-1]) for line in printed.splitlines()], engine_losses, rtol=1e-8)
    trained = load_state_dict(spec, tmp_path / "w.pt")
    for key, value in session.params_numpy().items():
        np.testing.assert_allclose(trained[key], value, **TOL, err_msg=key)
    with keeps_default_dtype():  # evaluation: the module in eval() is the engine's prediction
        module = runpy.run_path(str(tmp_path / "net.py"), run_name="exported")
        model = module["Network"]()
        model.load_state_dict({k: torch.as_tensor(v) for k, v in module["WEIGHTS"].items()})
        model.eval()
        out = model(torch.tensor(data.X)).detach().numpy()
    np.testing.assert_allclose(out, Session(spec, data, params=params).predict(data.X), **TOL)


def norm_export_net():
    layers = [
        {"id": "x", "type": "input", "units": 2},
        {"id": "h", "type": "dense", "inputs": ["x"], "units": 6, "activation": "sigmoid"},
        {"id": "bn-1", "type": "batchnorm", "inputs": ["h"], "momentum": 0.3, "activation": "relu"},
        {"id": "ln", "type": "layernorm", "inputs": ["bn-1"], "eps": 1e-3},
        {"id": "y", "type": "dense", "inputs": ["ln"], "units": 1, "activation": "sigmoid"},
    ]
    return network(layers, "y", "bce", seed=4, optimizer={"name": "adam", "lr": 0.05}, data={"builtin": "circles"})


@needs_torch
def test_norm_layers_are_exported_as_torch_modules_that_train_and_evaluate_as_the_engine(tmp_path):
    """nn.BatchNorm1d and nn.LayerNorm with the layer's settings: the script's check (training mode: batch
    statistics) and training equal the engine's step for step; the saved state_dict's running statistics and the
    module in eval() equal the engine's; the trained state_dict reads back, running statistics included."""
    spec = norm_export_net()
    data = resolve_split(spec.data)[0]
    params = initial_params(spec)
    write_torch_script(tmp_path / "net.py", spec, params, batch_size=16)
    text = (tmp_path / "net.py").read_text()
    assert "self.bn_1 = nn.BatchNorm1d(6, eps=1e-05, momentum=0.3, affine=True)" in text
    assert "self.ln = nn.LayerNorm(6, eps=0.001, elementwise_affine=True)" in text
    run_in_process(tmp_path / "net.py", "--check", tmp_path / "out.npz")
    with np.load(tmp_path / "out.npz") as result:
        assert_check_matches(result, spec, data, params)
    printed = run_in_process(tmp_path / "net.py", "--steps", 6, "--save-state", tmp_path / "w.pt")
    session = Session(spec, data, batch_size=16, params=params)
    engine_losses = [session.step().loss for _ in range(6)]
    np.testing.assert_allclose([float(line.split()[-1]) for line in printed.splitlines()], engine_losses, rtol=1e-8)
    trained = load_state_dict(spec, tmp_path / "w.pt")  # (num_batches_tracked is passed over)
    expected = {**session.params_numpy(), **session.running_numpy()}
    assert trained.keys() == expected.keys()
    for key, value in expected.items():
        np.testing.assert_allclose(trained[key], value, **TOL, err_msg=key)
    reloaded = spec.with_params(trained)
    np.testing.assert_allclose(Session(reloaded, data).predict(data.X), session.predict(data.X), **TOL)
    # exported after training: the module in eval() (running statistics) is the engine's prediction
    write_torch_script(tmp_path / "trained.py", spec, session.params_numpy(), running=session.running_numpy())
    with keeps_default_dtype():
        module = runpy.run_path(str(tmp_path / "trained.py"), run_name="exported")
        model = module["Network"]()
        model.load_state_dict({k: torch.as_tensor(np.asarray(v)) for k, v in module["WEIGHTS"].items()})
        model.eval()
        out = model(torch.tensor(data.X)).detach().numpy()
    np.testing.assert_allclose(out, session.predict(data.X), **TOL)


@needs_torch
def test_a_sequential_with_batchnorm_is_read_running_statistics_included(tmp_path):
    """nn.Sequential(Linear, BatchNorm1d, ReLU, Linear)'s keys 0.*, 1.* (running statistics and the batch counter
    included), 3.* map onto the layers that store something, in order."""
    spec = network(
        [
            {"id": "x", "type": "input", "units": 2},
            {"id": "h", "type": "dense", "inputs": ["x"], "units": 4},
            {"id": "bn", "type": "batchnorm", "inputs": ["h"], "activation": "relu"},
            {"id": "y", "type": "dense", "inputs": ["bn"], "units": 1},
        ],
        "y",
        "mse",
    )
    model = torch.nn.Sequential(
        torch.nn.Linear(2, 4), torch.nn.BatchNorm1d(4), torch.nn.ReLU(), torch.nn.Linear(4, 1)
    ).double()
    model.train()
    model(torch.randn(16, 2, dtype=torch.float64) * 3 + 1)  # moves the running statistics
    values = load_state_dict(spec, save(tmp_path, model.state_dict()))
    assert set(values) == {"h.weight", "h.bias", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"} | {
        "y.weight",
        "y.bias",
    }
    np.testing.assert_array_equal(values["bn.running_var"], model[1].running_var.numpy())
    x = np.random.default_rng(1).normal(size=(5, 2))
    model.eval()
    expected = model(torch.tensor(x)).detach().numpy()
    np.testing.assert_allclose(Session(spec.with_params(values), Dataset(x, expected)).predict(x), expected, **TOL)
    state = {k: v for k, v in values.items() if k != "bn.running_var"}  # a file without it is refused
    with pytest.raises(BpstudioError, match="missing key 'bn.running_var'"):
        load_state_dict(spec, save(tmp_path, tensors(state)))
