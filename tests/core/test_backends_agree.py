"""NumPy backprop against PyTorch autograd and against finite differences, on random DAGs."""

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings

from bpstudio.core import activations
from bpstudio.core.io import spec_io
from bpstudio.core.session import Session
from bpstudio.core.tools.gradcheck import gradient_check
from tests.core.random_nets import nets
from tests.helpers import needs_torch, network

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TOLERANCE = {"float64": dict(rtol=1e-9, atol=1e-12), "float32": dict(rtol=2e-4, atol=2e-5)}


def full_record(session):
    trace = session.forward_backward()
    rec = {"loss": np.float64(trace.loss)}
    for lid, layer in trace.layers.items():
        rec[f"{lid}/pre"] = trace.numpy(layer.pre)
        rec[f"{lid}/out"] = trace.numpy(layer.out)
        rec[f"{lid}/grad_out"] = trace.numpy(layer.grad_out)
        rec[f"{lid}/grad_pre"] = trace.numpy(layer.grad_pre)
        for i, g in enumerate(layer.grad_inputs):
            if g is not None:
                rec[f"{lid}/grad_in{i}"] = trace.numpy(g)
    rec.update({k: trace.numpy(g) for k, g in trace.grads.items()})
    return rec


@needs_torch
@SETTINGS
@given(nets())
def test_numpy_matches_torch_autograd_float64(case):
    spec, data = case
    ours = full_record(Session(spec, data, backend="numpy"))
    theirs = full_record(Session(spec, data, backend="torch"))
    assert ours.keys() == theirs.keys()
    for key in ours:
        np.testing.assert_allclose(ours[key], theirs[key], **TOLERANCE["float64"], err_msg=key)


@needs_torch
@SETTINGS
@given(nets(max_layers=3))
def test_numpy_matches_torch_autograd_float32(case):
    spec, data = case
    ours = full_record(Session(spec, data, backend="numpy", dtype="float32"))
    theirs = full_record(Session(spec, data, backend="torch", dtype="float32"))
    ref = full_record(Session(spec, data, backend="numpy", dtype="float64"))
    for key in ours:
        assert ours[key].dtype == np.float32 or key == "loss", key
        np.testing.assert_allclose(ours[key], theirs[key], **TOLERANCE["float32"], err_msg=key)
        np.testing.assert_allclose(ours[key], ref[key], **TOLERANCE["float32"], err_msg=key)


@needs_torch
@SETTINGS
@given(nets(dropout=True))
def test_dags_with_dropout_match_torch_autograd_float64_with_the_same_masks(case):
    spec, data = case
    ours = full_record(Session(spec, data, backend="numpy"))
    theirs = full_record(Session(spec, data, backend="torch"))
    assert ours.keys() == theirs.keys()
    for key in ours:
        np.testing.assert_allclose(ours[key], theirs[key], **TOLERANCE["float64"], err_msg=key)


@SETTINGS
@given(nets(max_layers=4, dropout=True))
def test_dags_with_dropout_match_finite_differences_with_the_steps_mask_fixed(case):
    spec, data = case
    assume(not near_a_kink(spec, data))
    for check in gradient_check(spec, data):
        assert check.verdict != "mismatch", check


KINKED = ("relu", "leaky_relu")


def near_a_kink(spec, data, margin=1e-4):
    """True if a relu/leaky_relu pre-activation sits within ``margin`` of 0, where the derivative jumps
    and a central difference straddling it measures neither side (e.g. a dense layer fed all zeros)."""
    trace = Session(spec, data).forward_backward()
    return any(
        np.min(np.abs(trace.layers[lid].pre)) < margin for lid in trace.layers if spec.layer(lid).activation in KINKED
    )


@SETTINGS
@given(nets(max_layers=4))
def test_backprop_matches_finite_differences(case):
    spec, data = case
    assume(not near_a_kink(spec, data))
    for check in gradient_check(spec, data):  # (a gelu net without scipy: finite differences may not resolve all)
        assert check.verdict != "mismatch", check


@needs_torch
@settings(max_examples=25, deadline=None)
@given(nets(max_layers=3))
def test_stepping_phase_by_phase_equals_a_whole_step_on_both_backends(case):
    spec, data = case
    whole = Session(spec, data)
    whole.step()
    stepped = Session(spec, data, backend="torch")
    while True:
        if stepped.advance().kind == "update":
            break
    for key, value in whole.params_numpy().items():
        np.testing.assert_allclose(value, stepped.params_numpy()[key], rtol=1e-9, atol=1e-12, err_msg=key)


def _every_layer_type_net(activation, loss):
    rng = np.random.default_rng(7)
    w = lambda o, i: (rng.normal(size=(o, i)) * 0.7).tolist()  # noqa: E731
    out_units, head = (3, "identity") if loss == "cross_entropy" else (2, "sigmoid")
    layers = [
        {"id": "x", "type": "input", "units": 3},
        {
            "id": "a",
            "type": "dense",
            "inputs": ["x"],
            "units": 4,
            "activation": activation,
            "weight": w(4, 3),
            "bias": rng.normal(size=4).tolist(),
        },
        {
            "id": "b",
            "type": "dense",
            "inputs": ["a"],
            "units": 4,
            "activation": activation,
            "weight": w(4, 4),
            "use_bias": False,
        },
        {"id": "r", "type": "add", "inputs": ["a", "b"], "activation": activation},
        {"id": "c", "type": "concat", "inputs": ["r", "x"], "activation": activation},
        {
            "id": "out",
            "type": "dense",
            "inputs": ["c"],
            "units": out_units,
            "activation": head,
            "weight": w(out_units, 7),
            "bias": [0.1] * out_units,
        },
    ]
    X = rng.normal(size=(5, 3))
    Y = rng.integers(0, 3, size=5) if loss == "cross_entropy" else rng.uniform(size=(5, 2))
    from bpstudio.core.data import Dataset

    return network(layers, "out", loss), Dataset(X, Y)


@needs_torch
@pytest.mark.parametrize("loss", ["sse_half", "mse", "bce", "cross_entropy"])
@pytest.mark.parametrize("activation", activations.NAMES)
def test_every_activation_and_loss_through_every_layer_type(activation, loss):
    spec, data = _every_layer_type_net(activation, loss)
    for dtype in ("float64", "float32"):
        ours = full_record(Session(spec, data, dtype=dtype))
        theirs = full_record(Session(spec, data, backend="torch", dtype=dtype))
        for key in ours:
            np.testing.assert_allclose(ours[key], theirs[key], **TOLERANCE[dtype], err_msg=f"{dtype} {key}")
    assert all(c.passed for c in gradient_check(spec, data))


@needs_torch
@pytest.mark.parametrize(
    "optimizer",
    [
        {"name": "rmsprop", "lr": 0.01, "weight_decay": 0.01, "l1": 0.01},
        {"name": "adamw", "lr": 0.02, "weight_decay": 0.1, "clip_norm": 0.3},
        {"name": "momentum", "lr": 0.05, "l1": 0.02, "clip_norm": 0.5, "schedule": {"name": "step", "step_size": 3}},
        {"name": "adam", "lr": 0.05, "schedule": {"name": "cosine", "t_max": 5, "eta_min": 0.001}},
    ],
    ids=lambda o: o["name"],
)
def test_training_with_every_optimizer_setting_is_the_same_on_both_backends(optimizer):
    """Eight minibatch steps with the new activations: equal weights, learning rates and gradient norms."""
    spec, data = _every_layer_type_net("silu", "cross_entropy")
    spec = network(
        [{**layer, "activation": "mish"} if layer["id"] == "b" else layer for layer in spec_io.to_dict(spec)["layers"]],
        "out",
        "cross_entropy",
        optimizer=optimizer,
    )
    runs = {}
    for backend in ("numpy", "torch"):
        session = Session(spec, data, backend=backend, batch_size=3)
        figures = [session.step().update for _ in range(8)]
        runs[backend] = session.params_numpy(), figures
    (ours, our_figures), (theirs, their_figures) = runs["numpy"], runs["torch"]
    for key in ours:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-9, atol=1e-12, err_msg=key)
    for a, b in zip(our_figures, their_figures):
        assert a.lr == pytest.approx(b.lr, rel=1e-12) and a.grad_norm == pytest.approx(b.grad_norm, rel=1e-9)
        assert a.clip_scale == pytest.approx(b.clip_scale, rel=1e-9)
    assert any(f.clipped for f in our_figures) == ("clip_norm" in optimizer)
