"""Edge cases found in review: each once crashed, misled, or disagreed with PyTorch."""

import warnings

import numpy as np
import pytest

from bpstudio.core import activations, losses
from bpstudio.core.data import Dataset
from bpstudio.core.errors import BpstudioError, DataError, SessionError, SpecError
from bpstudio.core.init import initial_params
from bpstudio.core.io import spec_io
from bpstudio.core.session import Session
from bpstudio.core.tools.gradcheck import gradient_check
from tests.helpers import MAZUR, MAZUR_DATA, needs_torch, network, optional_torch

torch = optional_torch()
F = torch.nn.functional if torch is not None else None


def two_layer(head, units, loss, **extra):
    return network(
        [
            {"id": "x", "type": "input", "units": 2},
            {"id": "o", "type": "dense", "inputs": ["x"], "units": units, "activation": head, **extra},
        ],
        "o",
        loss,
    )


def test_bce_without_a_probability_output_is_refused_up_front():
    with pytest.raises(SpecError, match="loss 'bce' needs outputs in \\(0, 1\\).*'o'.*identity"):
        two_layer("identity", 1, "bce")


def test_cross_entropy_needs_one_unit_per_class():
    with pytest.raises(SpecError, match="cross_entropy.*at least 2.*'o' has 1"):
        two_layer("identity", 1, "cross_entropy")


def test_cross_entropy_float_targets_must_be_probability_rows():
    spec = two_layer("identity", 3, "cross_entropy")
    bad = Dataset(np.zeros((2, 2)), np.array([[0.5, 0.5, 0.5], [0.0, 0.0, 1.0]]))
    with pytest.raises(DataError, match="row 1 sums to 1.5"):
        Session(spec, bad)
    good = Dataset(np.ones((2, 2)), np.array([[0.2, 0.3, 0.5], [0.0, 0.0, 1.0]]))
    assert all(c.passed for c in gradient_check(spec, good))


@needs_torch
def test_a_diverged_bce_run_reports_nan_on_both_backends_instead_of_crashing():
    spec = two_layer("sigmoid", 1, "bce")
    data = Dataset(np.ones((1, 2)), np.array([1]))
    numpy_session = Session(spec, data)
    numpy_session.params["o.weight"] = np.full((1, 2), np.nan)
    refusal = "update not applied: layer o: its weights hold nan"  # (parameters stay numbers: no update)
    with pytest.raises(SessionError, match=refusal):
        numpy_session.step()
    assert np.isnan(numpy_session.trace.loss) and numpy_session.step_count == 0
    s = Session(spec, data, backend="torch")
    s.params["o.weight"] = torch.full((1, 2), float("nan"), dtype=torch.float64)
    with pytest.raises(SessionError, match=refusal):
        s.step()
    assert np.isnan(s.trace.loss) and s.step_count == 0
    s.params["o.weight"] = torch.full((1, 2), float("nan"), dtype=torch.float64)
    s.forward_layer()
    s.compute_loss()
    assert np.isnan(s.trace.loss)


def test_an_aborted_step_has_no_gradients_to_report():
    s = Session(spec_io.from_dict(MAZUR), MAZUR_DATA)
    for _ in range(4):
        s.advance()
    s.abort_step()
    with pytest.raises(SessionError, match="run the backward pass first"):
        s.gradients()


def test_gradient_check_settings_are_checked():
    spec = spec_io.from_dict(MAZUR)
    with pytest.raises(BpstudioError, match="positive number, got 0"):
        gradient_check(spec, MAZUR_DATA, eps=0.0)
    with pytest.raises(BpstudioError, match="at least 1, got 0"):
        gradient_check(spec, MAZUR_DATA, max_entries=0)


def test_an_initialiser_that_cannot_draw_names_the_layer():
    spec = two_layer("sigmoid", 1, "bce", init={"name": "uniform", "low": -1e308, "high": 1e308})
    with pytest.raises(SpecError, match="layer 'o', field 'init': initialiser 'uniform' cannot draw"):
        initial_params(spec)


def test_predict_refuses_inputs_of_the_wrong_width():
    s = Session(spec_io.from_dict(MAZUR), MAZUR_DATA)
    with pytest.raises(DataError, match=r"shape \(1, 3\) do not fit the input layer \(2 units\)"):
        s.predict(np.zeros((1, 3)))


@needs_torch
def test_bce_float32_clamps_each_log_at_minus_100_like_torch():
    y = np.array([[0.0, 1.0, 0.5]], dtype=np.float32)
    t = np.array([[1.0, 0.0, 1.0]], dtype=np.float32)
    ours = losses.bce(y, t)
    theirs = F.binary_cross_entropy(torch.tensor(y), torch.tensor(t)).item()
    assert ours == pytest.approx(theirs, rel=1e-6)


@needs_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_far_tails_match_torch_without_warnings(dtype):
    z = np.array([[-200.0, -90.0, -37.5, -20.5, 0.0, 20.5, 90.0]], dtype=dtype)
    g = np.ones_like(z)
    tz = torch.tensor(z, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name, fn in (("sigmoid", torch.sigmoid), ("elu", F.elu), ("softplus", F.softplus)):
            forward, backward = activations.FUNCTIONS[name]
            y = forward(z)
            (tg,) = torch.autograd.grad(fn(tz), tz, torch.ones_like(tz))
            np.testing.assert_allclose(y, fn(tz).detach().numpy(), rtol=1e-6, atol=1e-37, err_msg=name)
            np.testing.assert_allclose(backward(z, y, g), tg.numpy(), rtol=1e-6, atol=1e-37, err_msg=name)
