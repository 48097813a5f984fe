"""Batchnorm and layernorm layers: training and evaluation against torch.nn.BatchNorm1d / LayerNorm modules (float64,
rtol 1e-9, running statistics after several mini-batch steps included), both backends on random DAGs that mix them
with every other layer type, finite differences and the complex step, validation naming the layer and the field,
the one-sample batch refused, the file form (version 2) and the run state carrying the running statistics."""

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings

from bpstudio.core.data import Dataset
from bpstudio.core.errors import SessionError, SpecError
from bpstudio.core.io import spec_io
from bpstudio.core.record.packed_state import pack, skeleton_of, unpack
from bpstudio.core.session import Session
from bpstudio.core.tools.gradcheck import gradient_check
from tests.core.random_nets import nets
from tests.core.test_backends_agree import full_record, near_a_kink
from tests.helpers import needs_torch, network, optional_torch

torch = optional_torch()
TIGHT = dict(rtol=1e-9, atol=1e-12)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def norm_net(kind="batchnorm", affine=True, momentum=0.1, eps=1e-5, activation="relu", samples=12, seed=5):
    """x(3) → h(4, tanh) → n(kind, activation) → out(2): a norm layer mid-network with γ and β away from 1 and 0."""
    rng = np.random.default_rng(seed)
    norm = {"id": "n", "type": kind, "inputs": ["h"], "eps": eps, "affine": affine, "activation": activation}
    if affine:
        norm["weight"] = (1 + 0.3 * rng.normal(size=4)).tolist()
        norm["bias"] = (0.2 * rng.normal(size=4)).tolist()
    if kind == "batchnorm":
        norm["momentum"] = momentum
    layers = [
        {"id": "x", "type": "input", "units": 3},
        {
            "id": "h",
            "type": "dense",
            "inputs": ["x"],
            "units": 4,
            "activation": "tanh",
            "weight": (rng.normal(size=(4, 3)) * 0.8).tolist(),
            "bias": (rng.normal(size=4) * 0.3).tolist(),
        },
        norm,
        {
            "id": "out",
            "type": "dense",
            "inputs": ["n"],
            "units": 2,
            "weight": (rng.normal(size=(2, 4)) * 0.5).tolist(),
            "bias": [0.1, -0.2],
        },
    ]
    X = rng.normal(size=(samples, 3)) * 2 + 1
    spec = network(layers, "out", "mse", optimizer={"name": "sgd", "lr": 0.1}, seed=seed)
    return spec, Dataset(X, rng.normal(size=(samples, 2)), "random")


def torch_twin(spec):
    """The same network as torch modules with the same values (float64)."""
    h, n, out = (spec.layer(i) for i in ("h", "n", "out"))
    lin1, lin2 = torch.nn.Linear(3, 4).double(), torch.nn.Linear(4, 2).double()
    if n.type == "batchnorm":
        norm = torch.nn.BatchNorm1d(4, eps=n.eps, momentum=n.momentum, affine=n.affine).double()
    else:
        norm = torch.nn.LayerNorm(4, eps=n.eps, elementwise_affine=n.affine).double()
    with torch.no_grad():
        for module, layer in ((lin1, h), (lin2, out)):
            module.weight.copy_(torch.tensor(layer.weight))
            module.bias.copy_(torch.tensor(layer.bias))
        if n.affine:
            norm.weight.copy_(torch.tensor(n.weight))
            norm.bias.copy_(torch.tensor(n.bias))
    act = torch.nn.ReLU() if n.activation == "relu" else torch.nn.Identity()
    return torch.nn.Sequential(lin1, torch.nn.Tanh(), norm, act, lin2)


@needs_torch
@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize(
    "kind, affine, momentum", [("batchnorm", True, 0.1), ("batchnorm", False, 0.7), ("layernorm", True, None)]
)
def test_mini_batch_training_equals_torch_modules_running_statistics_included(backend, kind, affine, momentum):
    spec, data = norm_net(kind, affine, momentum if momentum is not None else 0.1)
    if kind == "layernorm":
        spec = spec.replace_layer("n", momentum=None)
    session = Session(spec, data, backend=backend, batch_size=5)  # passes of 5, 5 and 2 samples
    model = torch_twin(spec)
    sgd = torch.optim.SGD(model.parameters(), lr=0.1)
    X, Y = torch.tensor(data.X), torch.tensor(data.Y)
    for _ in range(7):
        trace = session.step()
        batch = torch.as_tensor(trace.batch) if trace.batch is not None else slice(None)
        model.train()
        sgd.zero_grad()
        loss = torch.nn.functional.mse_loss(model(X[batch]), Y[batch])
        loss.backward()
        sgd.step()
        assert trace.loss == pytest.approx(float(loss.detach()), rel=1e-9)
    ours = session.to_spec()
    norm = model[2]
    if kind == "batchnorm":
        np.testing.assert_allclose(ours.layer("n").running_mean, norm.running_mean.numpy(), **TIGHT)
        np.testing.assert_allclose(ours.layer("n").running_var, norm.running_var.numpy(), **TIGHT)
    if affine:
        np.testing.assert_allclose(ours.layer("n").weight, norm.weight.detach().numpy(), **TIGHT)
        np.testing.assert_allclose(ours.layer("n").bias, norm.bias.detach().numpy(), **TIGHT)
    np.testing.assert_allclose(ours.layer("h").weight, model[0].weight.detach().numpy(), **TIGHT)
    # evaluation: the running statistics (batchnorm), per sample alone (layernorm) — also on one sample
    model.eval()
    with torch.no_grad():
        expected = model(X).numpy()
    np.testing.assert_allclose(session.predict(data.X), expected, **TIGHT)
    np.testing.assert_allclose(session.predict(data.X[:1]), expected[:1], **TIGHT)
    assert session.evaluate(data) == pytest.approx(float(np.mean((expected - data.Y) ** 2)), rel=1e-9)


def test_evaluation_normalizes_by_the_running_statistics_and_training_mode_by_the_batch():
    spec, data = norm_net(activation="identity")
    session = Session(spec, data)
    for _ in range(3):
        session.step()
    stats = session.running_numpy()
    n = session.to_spec().layer("n")
    h = session.layer_outputs(data.X, ("h",))["h"]
    w_out, b_out = session.to_spec().layer("out").weight, session.to_spec().layer("out").bias

    def through(mean, var):
        return ((h - mean) / np.sqrt(var + n.eps) * n.weight + n.bias) @ w_out.T + b_out

    running = through(stats["n.running_mean"], stats["n.running_var"])
    np.testing.assert_allclose(session.predict(data.X), running, **TIGHT)
    batch = through(h.mean(axis=0), h.var(axis=0))  # (NumPy's var is the biased one)
    np.testing.assert_allclose(session.predict(data.X, mode="train"), batch, **TIGHT)
    assert not np.allclose(running, batch)


def test_running_statistics_move_by_momentum_towards_the_unbiased_batch_variance():
    spec, data = norm_net(momentum=0.25)
    session = Session(spec, data)
    before = session.running_numpy()
    h = session.layer_outputs(data.X, ("h",))["h"]
    session.step()  # (the full batch: the running statistics see h of all 12 samples)
    after = session.running_numpy()
    np.testing.assert_allclose(after["n.running_mean"], 0.75 * before["n.running_mean"] + 0.25 * h.mean(0), **TIGHT)
    np.testing.assert_allclose(after["n.running_var"], 0.75 * 1.0 + 0.25 * h.var(0, ddof=1), **TIGHT)


@needs_torch
@SETTINGS
@given(nets(norm=True))
def test_dags_with_norm_layers_match_torch_autograd_float64(case):
    spec, data = case
    ours = full_record(Session(spec, data, backend="numpy"))
    theirs = full_record(Session(spec, data, backend="torch"))
    assert ours.keys() == theirs.keys()
    for key in ours:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-9, atol=1e-10, err_msg=key)


@needs_torch
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(nets(max_layers=4, norm=True, dropout=True))
def test_training_and_evaluation_with_norm_layers_are_the_same_on_both_backends(case):
    spec, data = case
    sessions = [Session(spec, data, backend=b) for b in ("numpy", "torch")]
    for session in sessions:
        session.run(3)
    a, b = (s.running_numpy() for s in sessions)
    for key in a:
        np.testing.assert_allclose(a[key], b[key], rtol=1e-9, atol=1e-10, err_msg=key)
    np.testing.assert_allclose(sessions[0].predict(data.X), sessions[1].predict(data.X), rtol=1e-9, atol=1e-10)


@SETTINGS
@given(nets(max_layers=4, norm=True))
def test_dags_with_norm_layers_match_the_complex_step_and_finite_differences(case):
    spec, data = case
    assume(not near_a_kink(spec, data))
    for check in gradient_check(spec, data):
        assert check.verdict != "mismatch", check


def test_the_gradient_check_catches_a_backward_that_forgets_the_batch_coupling(monkeypatch):
    """The lesson of batchnorm's backward pass: without the batch terms the gradient is wrong, and the check says so."""
    from bpstudio.core import normalization

    spec, data = norm_net(activation="identity")
    assert all(c.verdict == "pass" for c in gradient_check(spec, data))
    monkeypatch.setattr(normalization, "backward", lambda norm, dxhat, axis, coupled: dxhat * norm.inv_std)
    verdicts = {c.key: c.verdict for c in gradient_check(spec, data)}
    assert verdicts["h.weight"] == "mismatch" and verdicts["n.weight"] == "pass"


@pytest.mark.parametrize(
    "change, field, words",
    [
        ({"eps": 0}, "eps", "above 0"),
        ({"eps": -1e-5}, "eps", "above 0"),
        ({"momentum": 1.5}, "momentum", "[0, 1]"),
        ({"momentum": -0.1}, "momentum", "[0, 1]"),
        ({"affine": "yes"}, "affine", "true or false"),
        ({"running_var": [1, -1, 1, 1]}, "running_var", "negative"),
        ({"running_mean": [0, 0, 0]}, "running_mean", "expected 4"),
        ({"weight": [1, 1]}, "weight", "expected 4"),
        ({"units": 4}, "units", "unknown field"),
        ({"inputs": ["h", "x"]}, "inputs", "exactly one input"),
        ({"affine": False, "weight": [1, 1, 1, 1]}, "weight", "affine is false"),
        ({"eps": "tiny"}, "eps", "must be a number"),
    ],
)
def test_bad_batchnorm_fields_are_refused_naming_the_layer_and_the_field(change, field, words):
    spec, _ = norm_net()
    raw = spec_io.to_dict(spec)
    norm = next(layer for layer in raw["layers"] if layer["id"] == "n")
    norm.update(change)
    with pytest.raises(SpecError) as err:
        spec_io.from_dict(raw)
    assert err.value.layer == "n" and err.value.field == field and words in str(err.value)


def test_layernorm_refuses_batchnorm_only_fields():
    spec, _ = norm_net("layernorm")
    raw = spec_io.to_dict(spec)
    norm = next(layer for layer in raw["layers"] if layer["id"] == "n")
    for extra in ({"momentum": 0.1}, {"running_mean": [0, 0, 0, 0]}):
        with pytest.raises(SpecError) as err:
            spec_io.from_dict({**raw, "layers": [dict(l, **extra) if l is norm else l for l in raw["layers"]]})
        assert err.value.layer == "n" and "unknown field" in str(err.value)


@pytest.mark.parametrize(
    "samples, batch_size, cause",
    [(1, None, "one sample"), (12, 1, "batch size is 1"), (11, 5, "11 samples in batches of 5")],
)
def test_a_training_batch_of_one_sample_is_refused_with_what_to_change(samples, batch_size, cause):
    spec, data = norm_net(samples=samples)
    session = Session(spec, data, batch_size=batch_size)
    with pytest.raises(SessionError) as err:
        session.run(3)
    assert "batchnorm layer 'n'" in str(err.value) and cause in str(err.value) and "at least 2" in str(err.value)
    assert session.predict(data.X[:1]).shape == (1, 2)  # evaluation of one sample is fine


def test_the_file_form_is_version_2_and_saving_after_training_round_trips_bit_exactly():
    spec, data = norm_net()
    session = Session(spec, data, batch_size=4)
    session.run(5)
    trained = session.to_spec()
    raw = json.loads(spec_io.dumps(trained))
    assert raw["version"] == 2
    norm = next(layer for layer in raw["layers"] if layer["id"] == "n")
    assert set(norm) >= {"eps", "momentum", "affine", "weight", "bias", "running_mean", "running_var"}
    again = spec_io.loads(spec_io.dumps(trained))
    for name in ("weight", "bias", "running_mean", "running_var"):
        np.testing.assert_array_equal(getattr(again.layer("n"), name), getattr(trained.layer("n"), name))
    # a session on the reloaded network predicts what the trained one does (the running statistics came along)
    np.testing.assert_array_equal(Session(again, data).predict(data.X), session.predict(data.X))


def test_a_network_file_without_running_statistics_starts_from_zeros_and_ones_and_unit_gamma():
    spec, data = norm_net(affine=True)
    bare = spec.replace_layer("n", weight=None, bias=None)
    session = Session(bare, data)
    assert session.params_numpy()["n.weight"].tolist() == [1.0] * 4
    assert session.params_numpy()["n.bias"].tolist() == [0.0] * 4
    stats = session.running_numpy()
    assert stats["n.running_mean"].tolist() == [0.0] * 4 and stats["n.running_var"].tolist() == [1.0] * 4


def test_the_run_state_and_the_timelines_packed_copy_carry_the_running_statistics():
    spec, data = norm_net()
    session = Session(spec, data, batch_size=4)
    session.run(2)
    state = session.state()
    session.run(3)
    later = session.predict(data.X)
    fork = Session.from_state(state, data, batch_size=4)
    fork.run(3)
    np.testing.assert_array_equal(fork.predict(data.X), later)
    skeleton = skeleton_of(state)
    back = unpack(skeleton, pack(state, skeleton), *state.progress, state.optimizer_state["steps"])
    np.testing.assert_array_equal(back.spec.layer("n").running_var, state.spec.layer("n").running_var)
    session.restore(back)
    np.testing.assert_array_equal(session.running_numpy()["n.running_var"], state.spec.layer("n").running_var)


def test_frozen_gamma_and_beta_stay_while_the_running_statistics_move():
    spec, data = norm_net()
    frozen = spec.replace_layer("n", frozen=frozenset({"weight", "bias"}))
    session = Session(frozen, data)
    before = session.params_numpy()
    session.run(3)
    after = session.params_numpy()
    np.testing.assert_array_equal(after["n.weight"], before["n.weight"])
    assert not np.array_equal(after["h.weight"], before["h.weight"])
    assert not np.array_equal(session.running_numpy()["n.running_mean"], np.zeros(4))


def test_a_bias_just_before_batchnorm_has_no_gradient_and_the_check_passes_it():
    """Batchnorm removes each unit's batch mean, so a bias added just before it changes nothing: its exact gradient
    is 0, backprop's is rounding (~1e-16), and the check allows backprop's own rounding instead of calling it a
    mismatch; a backprop off by more than that is still one."""
    spec, data = norm_net(activation="identity")
    direct = spec.replace_layer("h", activation="identity")
    session = Session(direct, data)
    session.forward_backward()
    grads = session.gradients()
    assert np.abs(grads["h.bias"]).max() < 1e-14 and np.abs(grads["h.weight"]).max() > 1e-3
    checks = {c.key: c for c in gradient_check(direct, data)}
    assert all(c.verdict == "pass" for c in checks.values()), checks
    assert checks["h.bias"].complex_step and checks["h.bias"].reference == 0.0


def test_the_per_layer_gradient_norms_include_a_norm_layers_scales():
    spec, data = norm_net()
    trace = Session(spec, data).step()
    assert set(trace.grad_norms()) == {"h", "n", "out"}
    assert trace.grads["n.weight"].shape == (4,)
    assert trace.grad_norms()["n"] == float(np.linalg.norm(trace.numpy(trace.grads["n.weight"])))
