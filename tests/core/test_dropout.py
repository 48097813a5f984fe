"""The dropout layer: inverted dropout in training with a mask drawn from (seed, layer id, step), the identity in
evaluation; against PyTorch autograd of x·mask/(1−p) in float64, the same mask on both backends, the gradient
check with the step's mask fixed, validation naming the field p and the file form (version 2)."""

import json
import zlib

import numpy as np
import pytest

from bpstudio.core import dropout
from bpstudio.core.data import Dataset
from bpstudio.core.errors import SpecError
from bpstudio.core.io import spec_io
from bpstudio.core.session import Session
from bpstudio.core.tools.gradcheck import gradient_check
from tests.helpers import needs_torch, network, optional_torch

torch = optional_torch()


def dropout_net(p=0.5, seed=3, samples=8):
    """x(3) → h(5, tanh) → d(dropout p) → out(2): the dropout sits mid-network, so gradients flow through it."""
    rng = np.random.default_rng(4)
    layers = [
        {"id": "x", "type": "input", "units": 3},
        {
            "id": "h",
            "type": "dense",
            "inputs": ["x"],
            "units": 5,
            "activation": "tanh",
            "weight": (rng.normal(size=(5, 3)) * 0.7).tolist(),
            "bias": (rng.normal(size=5) * 0.3).tolist(),
        },
        {"id": "d", "type": "dropout", "inputs": ["h"], "p": p},
        {
            "id": "out",
            "type": "dense",
            "inputs": ["d"],
            "units": 2,
            "weight": (rng.normal(size=(2, 5)) * 0.5).tolist(),
            "bias": [0.1, -0.2],
        },
    ]
    X = rng.normal(size=(samples, 3))
    return network(layers, "out", "mse", seed=seed), Dataset(X, rng.normal(size=(samples, 2)), "random")


def test_the_mask_comes_from_the_seed_the_layer_id_and_the_step_alone():
    first = dropout.draw_mask(3, "d", 1, (8, 5), 0.5)
    assert set(np.unique(first)) <= {0.0, 1.0} and first.dtype == np.float64
    np.testing.assert_array_equal(first, dropout.draw_mask(3, "d", 1, (8, 5), 0.5))
    for other in (dropout.draw_mask(4, "d", 1, (8, 5), 0.5), dropout.draw_mask(3, "e", 1, (8, 5), 0.5)):
        assert not np.array_equal(first, other)
    assert not np.array_equal(first, dropout.draw_mask(3, "d", 2, (8, 5), 0.5))
    # written out: NumPy's generator seeded with (seed, CRC-32 of the id, step), a unit kept where u >= p
    u = np.random.default_rng([3, zlib.crc32(b"d"), 1]).random((8, 5))
    np.testing.assert_array_equal(first, (u >= 0.5).astype(float))
    big = dropout.draw_mask(0, "d", 1, (400, 50), 0.3)
    assert big.mean() == pytest.approx(0.7, abs=0.01)


def test_a_training_step_is_x_times_mask_over_one_minus_p_and_evaluation_is_the_identity():
    spec, data = dropout_net(p=0.4)
    session = Session(spec, data)
    trace = session.forward_backward()
    mask = trace.masks["d.mask"]
    np.testing.assert_array_equal(mask, dropout.draw_mask(3, "d", 1, (8, 5), 0.4))
    h = trace.layers["h"].out
    np.testing.assert_allclose(trace.layers["d"].out, h * mask / 0.6, rtol=1e-15)
    grad = trace.layers["d"].grad_out
    np.testing.assert_allclose(trace.layers["d"].grad_inputs[0], grad * mask / 0.6, rtol=1e-15)
    evaluated = session.layer_outputs(data.X, ("h", "d"))
    np.testing.assert_array_equal(evaluated["d"], evaluated["h"])  # evaluation: dropout passes its input on


def test_test_loss_differs_from_the_training_loss_on_the_same_batch_and_equals_the_net_without_dropout():
    spec, data = dropout_net(p=0.5)
    session = Session(spec, data)
    train_loss = session.forward_backward().loss
    assert session.evaluate(data, mode="train") == pytest.approx(train_loss, rel=1e-12)  # the step's own mask
    eval_loss = session.evaluate(data)
    assert abs(eval_loss - train_loss) > 1e-3
    without = Session(dropout_net(p=0.0)[0], data)  # p = 0 keeps every unit: the identity in both modes
    assert eval_loss == pytest.approx(without.evaluate(data), rel=1e-12)
    assert without.forward_backward().loss == pytest.approx(eval_loss, rel=1e-12)
    np.testing.assert_array_equal(session.predict(data.X), without.predict(data.X))


def test_each_step_draws_a_new_mask_and_a_rerun_draws_the_same_ones():
    spec, data = dropout_net()
    a, b = Session(spec, data), Session(spec, data)
    masks = [a.step().masks["d.mask"].copy() for _ in range(3)]
    assert not np.array_equal(masks[0], masks[1])
    again = [b.step().masks["d.mask"] for _ in range(3)]
    for m, n in zip(masks, again):
        np.testing.assert_array_equal(m, n)
    c = Session(spec, data)  # stepping phase by phase draws the same mask as a whole step
    c.forward_layer()
    c.forward_layer()
    np.testing.assert_array_equal(c.trace.masks["d.mask"], masks[0])


@needs_torch
def test_both_backends_drop_the_same_units_and_match_torch_autograd_in_float64():
    spec, data = dropout_net(p=0.3)
    ours = Session(spec, data, backend="numpy")
    theirs = Session(spec, data, backend="torch")
    for _ in range(3):  # whole steps (torch: one autograd call) and the same numbers after each update
        mine, other = ours.step(), theirs.step()
        np.testing.assert_array_equal(mine.masks["d.mask"], other.numpy(other.masks["d.mask"]))
        for key in mine.grads:
            np.testing.assert_allclose(mine.grads[key], other.numpy(other.grads[key]), rtol=1e-9, atol=1e-12)
    layered = Session(spec, data, backend="torch")  # layer by layer on torch too
    layered.forward_layer()
    layered.forward_layer()
    first = Session(spec, data).forward_backward()
    np.testing.assert_allclose(layered.trace.numpy(layered.trace.layers["d"].out), first.layers["d"].out, rtol=1e-12)
    # against torch autograd of x·mask/(1−p) written out here with the mask fed in
    mask = torch.tensor(first.masks["d.mask"])
    h = torch.tensor(first.layers["h"].out, requires_grad=True)
    y = h * mask / (1 - 0.3)
    (dh,) = torch.autograd.grad(y, h, torch.tensor(first.layers["d"].grad_out))
    np.testing.assert_allclose(y.detach().numpy(), first.layers["d"].out, rtol=1e-9)
    np.testing.assert_allclose(first.layers["d"].grad_inputs[0], dh.numpy(), rtol=1e-9, atol=1e-15)
    assert theirs.evaluate(data) == pytest.approx(ours.evaluate(data), rel=1e-9)


def test_the_gradient_check_holds_the_steps_mask_fixed():
    spec, data = dropout_net(p=0.5)
    results = gradient_check(spec, data)
    assert [r.key for r in results] == ["h.weight", "h.bias", "out.weight", "out.bias"]
    assert all(r.passed for r in results), [(r.key, r.max_rel_error) for r in results]
    dropped = Session(spec, data).forward_backward().masks["d.mask"]
    assert 0 < dropped.sum() < dropped.size  # some units dropped and some kept: the check saw a real mask


@pytest.mark.parametrize("p", [1.0, -0.1, 1.5, "0.5", True, float("nan")])
def test_p_outside_zero_to_one_is_refused_naming_the_layer_and_the_field(p):
    raw = spec_io.to_dict(dropout_net()[0])
    raw["layers"][2]["p"] = p
    with pytest.raises(SpecError) as info:
        spec_io.from_dict(raw)
    assert (info.value.layer, info.value.field) == ("d", "p")
    assert str(info.value).count("'d'") == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [({"activation": "relu"}, "activation"), ({"inputs": ["x", "h"]}, "inputs"), ({"units": 3}, "units")],
)
def test_a_dropout_layer_takes_one_input_no_activation_and_no_units(change, field):
    raw = spec_io.to_dict(dropout_net()[0])
    raw["layers"][2].update(change)
    with pytest.raises(SpecError) as info:
        spec_io.from_dict(raw)
    assert (info.value.layer, info.value.field) == ("d", field)


def test_a_dropout_layer_is_written_to_a_version_2_file_and_read_back():
    spec, _ = dropout_net(p=0.25)
    saved = json.loads(spec_io.dumps(spec))
    assert saved["version"] == 2
    assert saved["layers"][2] == {"id": "d", "type": "dropout", "inputs": ["h"], "p": 0.25}
    assert spec_io.loads(spec_io.dumps(spec)).layer("d").p == 0.25
    raw = dict(
        saved, layers=[*saved["layers"][:2], {"id": "d", "type": "dropout", "inputs": ["h"]}, saved["layers"][3]]
    )
    assert spec_io.from_dict(raw).layer("d").p == 0.5  # p left out: 0.5


def test_the_chain_rule_through_a_dropout_layer_shows_mask_over_one_minus_p_with_its_numbers():
    from bpstudio.core.tools.explain import explain, to_text

    spec, data = dropout_net(p=0.5)
    trace = Session(spec, data).forward_backward().to_numpy()
    mask = trace.masks["d.mask"]
    sample = int(np.flatnonzero(mask[:, 1] == 1)[0])  # a sample where h[1] is kept
    expl = explain(spec, trace, "h.weight", (1, 2), sample=sample)
    assert expl.matches and expl.batch_value == pytest.approx(float(trace.grads["h.weight"][1, 2]), rel=1e-9)
    factors = {f.symbol: f for p in expl.paths for f in p.factors}
    kept = factors["∂net_d[1]/∂out_h[1]"]
    assert kept.value == pytest.approx(2.0) and "mask/(1−p) = 1/(1−0.5)" in kept.meaning
    assert "∂net_d[1]/∂out_h[1]" in to_text(expl)
    dropped = int(np.flatnonzero(mask[:, 1] == 0)[0])
    expl = explain(spec, trace, "h.weight", (1, 2), sample=dropped)
    assert expl.matches and expl.sample_value == 0.0  # h[1] dropped in that sample: no path carries a gradient


def test_a_run_saved_to_a_session_file_and_reopened_drops_what_the_run_would_have_dropped():
    from bpstudio.core.io import session_io

    spec, data = dropout_net(samples=12)
    straight = Session(spec, data, batch_size=4)
    for _ in range(3):
        straight.step()
    saved = session_io.loads(session_io.dumps(session_io.SavedSession(straight.state(), batch_size=4)))
    assert saved.spec.layer("d").p == 0.5
    reopened = Session.from_state(saved.state, data, batch_size=4)
    for _ in range(3):  # the next steps (numbers 4 to 6): the same masks, losses and weights as the run itself
        a, b = straight.step(), reopened.step()
        assert a.step == b.step
        np.testing.assert_array_equal(a.masks["d.mask"], b.masks["d.mask"])
        assert a.loss == b.loss
    for key, value in straight.params_numpy().items():
        np.testing.assert_array_equal(reopened.params_numpy()[key], value)
