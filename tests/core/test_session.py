"""The stepping session: phase order, wrong-phase errors, batches and epochs, traces, backend switching."""

import math

import numpy as np
import pytest

from bpstudio.core.data import Dataset
from bpstudio.core.datasets import resolve_split
from bpstudio.core.errors import BackendError, SessionError
from bpstudio.core.io import presets, spec_io
from bpstudio.core.session import Phase, Session
from bpstudio.core.spec import OptimizerSpec
from tests.helpers import MAZUR, MAZUR_DATA, needs_torch, optional_torch

torch = optional_torch()


def mazur_session(**options):
    return Session(spec_io.from_dict(MAZUR), MAZUR_DATA, **options)


def xor_session(**options):
    spec = presets.load("xor")
    train, _ = resolve_split(dict(spec.data))
    return Session(spec, train, **options)


def test_phases_run_in_order_and_fill_the_trace_as_they_go():
    s = mazur_session()
    assert s.phases == (
        Phase("forward", "h"),
        Phase("forward", "o"),
        Phase("loss"),
        Phase("backward", "o"),
        Phase("backward", "h"),
        Phase("update"),
    )
    assert s.forward_layer() == Phase("forward", "h")
    assert set(s.trace.layers) == {"h"} and s.trace.loss is None and s.mid_step
    s.forward_layer()
    s.compute_loss()
    assert s.trace.loss == pytest.approx(0.298371109, abs=1e-9)
    s.backward_layer()
    assert s.trace.layers["o"].grad_pre is not None and s.trace.layers["h"].grad_pre is None
    assert math.isnan(s.trace.grad_norm("h")) and s.trace.grad_norm("o") > 0
    before = s.params_numpy()
    s.backward_layer()
    assert s.params_numpy()["h.weight"].tolist() == before["h.weight"].tolist()  # nothing applied yet
    s.apply_update()
    assert not s.mid_step and s.step_count == 1
    assert s.params_numpy()["o.weight"][0, 0] == pytest.approx(0.35891648, abs=5e-9)


@pytest.mark.parametrize(
    "call, next_kind", [("compute_loss", "forward"), ("backward_layer", "forward"), ("apply_update", "forward")]
)
def test_a_phase_out_of_turn_is_refused_with_the_next_phase_named(call, next_kind):
    s = mazur_session()
    with pytest.raises(SessionError, match=f"next phase is '{next_kind} h'"):
        getattr(s, call)()
    assert s.step_count == 0 and not s.mid_step


def test_trace_records_every_quantity_with_consistent_shapes():
    s = xor_session(batch_size=16)
    trace = s.step()
    h, y = trace.layers["h"], trace.layers["y"]
    assert trace.batch.shape == (16,) and trace.x.shape == (16, 2) and trace.targets.shape == (16, 1)
    assert h.pre.shape == h.out.shape == h.grad_out.shape == h.grad_pre.shape == (16, 4)
    assert h.grad_inputs == [None]  # nothing upstream of the input needs a gradient
    assert y.grad_inputs[0] is not None and y.grad_inputs[0].shape == (16, 4)
    np.testing.assert_array_equal(y.grad_inputs[0], h.grad_out)
    assert h.grads["weight"].shape == (4, 2) and h.grads["bias"].shape == (4,)
    np.testing.assert_allclose(trace.grad_norm("h"), np.linalg.norm(h.grads["weight"]))
    delta = trace.params_after["h.weight"] - trace.params_before["h.weight"]
    np.testing.assert_allclose(delta, -0.5 * h.grads["weight"])  # plain SGD, lr 0.5
    np.testing.assert_allclose(
        trace.update_ratio("h.weight"), np.linalg.norm(delta) / np.linalg.norm(trace.params_before["h.weight"])
    )
    copy = trace.to_numpy()
    assert copy.layers["h"].out is not h.out and np.array_equal(copy.layers["h"].out, h.out)


def test_a_light_copy_leaves_out_big_parameters_and_keeps_their_gradient_norms():
    spec = presets.load("spiral")  # h1 32×2, h2 32×32, logits 3×32
    session = Session(spec, resolve_split(spec.data)[0], batch_size=16)
    trace = session.step()
    light = trace.to_numpy(param_limit=100)
    small = {"h1.weight", "h1.bias", "h2.bias", "logits.weight", "logits.bias"}
    assert set(light.params_before) == set(light.params_after) == set(light.grads) == small
    for key in small:
        np.testing.assert_array_equal(light.params_after[key], trace.params_after[key])
        np.testing.assert_array_equal(light.grads[key], trace.grads[key])
    norms = {lid: float(np.linalg.norm(trace.layers[lid].grads["weight"])) for lid in ("h1", "h2", "logits")}
    assert light.grad_norms() == pytest.approx(norms, rel=1e-12)  # h2's too, though its gradient was left out
    assert math.isnan(light.update_ratio("h2.weight"))
    for lid in ("h1", "h2", "logits"):  # what the layers computed per sample is all there
        np.testing.assert_array_equal(light.layers[lid].out, trace.layers[lid].out)
        np.testing.assert_array_equal(light.layers[lid].grad_pre, trace.layers[lid].grad_pre)
    assert light.to_numpy().grad_norms() == light.grad_norms()  # (a copy of the copy keeps them too)


def test_traces_of_earlier_steps_stay_intact():
    s = xor_session()
    first = s.step()
    kept = {k: v.copy() for k, v in first.params_after.items()}
    grads = {k: v.copy() for k, v in first.grads.items()}
    s.run(5)
    for key in kept:
        np.testing.assert_array_equal(first.params_after[key], kept[key])
        np.testing.assert_array_equal(first.grads[key], grads[key])


def test_nothing_the_caller_holds_is_modified():
    X = np.array([[0.05, 0.10]])
    params = {
        k: np.array(v)
        for k, v in {
            "h.weight": [[0.15, 0.2], [0.25, 0.3]],
            "h.bias": [0.35, 0.35],
            "o.weight": [[0.4, 0.45], [0.5, 0.55]],
            "o.bias": [0.6, 0.6],
        }.items()
    }
    original = {k: v.copy() for k, v in params.items()}
    s = Session(spec_io.from_dict(MAZUR), Dataset(X, np.array([[0.01, 0.99]])), params=params)
    s.run(3)
    for key in params:
        np.testing.assert_array_equal(params[key], original[key])
    assert X.tolist() == [[0.05, 0.10]]


def test_minibatches_cover_the_data_once_per_epoch():
    s = xor_session(batch_size=32)
    n = len(s.data)
    assert s.steps_per_epoch == math.ceil(n / 32)
    s.epoch()
    assert s.epoch_count == 1 and s.step_count == s.steps_per_epoch
    seen = []
    s2 = xor_session(batch_size=32)
    for _ in range(s2.steps_per_epoch):
        seen.extend(s2.step().batch.tolist())
    assert sorted(seen) == list(range(n)) and s2.epoch_count == 1


def test_full_batch_steps_are_epochs_and_use_all_samples_in_order():
    s = xor_session()
    trace = s.step()
    assert trace.batch is None and trace.x.shape[0] == len(s.data) and s.epoch_count == 1


def test_the_same_seed_gives_the_same_run():
    a, b = xor_session(batch_size=10), xor_session(batch_size=10)
    a.run(20)
    b.run(20)
    for key, value in a.params_numpy().items():
        np.testing.assert_array_equal(value, b.params_numpy()[key])


def test_each_pass_is_shuffled_by_the_seed_and_its_number_alone():
    a = xor_session(batch_size=24)
    batches = [a.step().batch.tolist() for _ in range(3 * a.steps_per_epoch)]
    first, second = (sorted(sum(batches[k * a.steps_per_epoch : (k + 1) * a.steps_per_epoch], [])) for k in (0, 1))
    assert first == second == list(range(len(a.data)))
    assert batches[0] != batches[a.steps_per_epoch]  # each pass in another order
    b = xor_session(batch_size=24)
    b.set_progress(step=a.steps_per_epoch + 2, epoch=1, position=48)  # two batches into the second pass
    assert b.step().batch.tolist() == batches[a.steps_per_epoch + 2]
    assert (b.step_count, b.epoch_count, b.position) == (a.steps_per_epoch + 3, 1, 72)


@pytest.mark.parametrize(
    "progress, message",
    [
        ((-1, 0, 0), "step must be a non-negative integer"),
        ((0, 1.0, 0), "epoch must be a non-negative integer"),
        ((0, 0, True), "position must be a non-negative integer"),
        ((0, 0, 10_000), "position 10000 is past the end of the pass over"),
    ],
)
def test_bad_progress_is_refused_and_changes_nothing(progress, message):
    s = xor_session(batch_size=16)
    s.run(3)
    with pytest.raises(SessionError, match=message):
        s.set_progress(*progress)
    assert (s.step_count, s.position) == (3, 48)


@needs_torch
def test_switching_backend_mid_training_keeps_weights_and_optimizer_state():
    spec = presets.load("spiral")  # Adam: the state matters
    train, _ = resolve_split(dict(spec.data))
    straight = Session(spec, train, batch_size=40)
    straight.run(10)
    switched = Session(spec, train, batch_size=40)
    switched.run(4)
    switched.set_backend("torch")
    assert switched.backend.name == "torch"
    switched.run(3)
    switched.set_backend("numpy")
    switched.run(3)
    for key, value in straight.params_numpy().items():
        np.testing.assert_allclose(switched.params_numpy()[key], value, rtol=1e-10, atol=1e-13)
    assert switched.optimizer.steps == 10


@needs_torch
def test_switching_backend_mid_step_drops_only_the_partial_step():
    s = mazur_session()
    s.forward_layer()
    s.set_backend("torch")
    assert not s.mid_step and s.step_count == 0
    assert s.step().loss == pytest.approx(0.298371109, abs=1e-9)


def test_cuda_is_refused_clearly_when_absent():
    if torch is not None and torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    missing = "CUDA is not available" if torch is not None else "needs PyTorch, which is not installed"
    with pytest.raises(BackendError, match=missing):
        mazur_session(backend="torch", device="cuda")
    with pytest.raises(BackendError, match="CPU only"):
        mazur_session(device="cuda")


@pytest.mark.cuda
@pytest.mark.skipif(torch is None or not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_numpy():
    spec = presets.load("spiral")
    train, _ = resolve_split(dict(spec.data))
    a, b = Session(spec, train, batch_size=32), Session(spec, train, batch_size=32, backend="torch", device="cuda")
    a.run(5)
    b.run(5)
    for key, value in a.params_numpy().items():
        np.testing.assert_allclose(b.params_numpy()[key], value, rtol=1e-9, atol=1e-12)


def test_reset_returns_to_the_initial_weights_and_step_zero():
    s = xor_session(batch_size=8)
    first = s.step().loss
    s.run(10)
    s.reset()
    assert s.step_count == 0 and s.epoch_count == 0
    assert s.step().loss == first


def test_changing_the_learning_rate_keeps_adam_state_and_changing_the_rule_resets_it():
    spec = presets.load("spiral")
    train, _ = resolve_split(dict(spec.data))
    s = Session(spec, train)
    s.run(3)
    s.set_optimizer(OptimizerSpec("adam", lr=0.001))
    assert s.optimizer.steps == 3 and s.spec.optimizer.lr == 0.001
    s.set_optimizer(OptimizerSpec("sgd", lr=0.1))
    assert s.optimizer.steps == 0


def test_bad_settings_are_refused_with_the_value_named():
    with pytest.raises(SessionError, match="batch size must be a positive integer, got 0"):
        mazur_session(batch_size=0)
    with pytest.raises(BackendError, match="unknown backend 'jax'"):
        mazur_session(backend="jax")
    with pytest.raises(BackendError, match="unknown dtype 'float16'"):
        mazur_session(dtype="float16")


def test_data_that_does_not_fit_the_network_is_refused():
    from bpstudio.core.errors import DataError

    with pytest.raises(DataError, match="3 input columns but the network's input layer has 2 units"):
        Session(spec_io.from_dict(MAZUR), Dataset(np.zeros((2, 3)), np.zeros((2, 2))))
    with pytest.raises(DataError, match="1 target columns but the output layer has 2 units"):
        Session(spec_io.from_dict(MAZUR), Dataset(np.zeros((2, 2)), np.zeros((2, 1))))


def test_predict_and_evaluate_leave_the_step_alone():
    s = mazur_session()
    s.forward_layer()
    out = s.predict(np.array([[0.05, 0.10]]))
    assert out[0] == pytest.approx([0.75136507, 0.772928465], abs=5e-9)
    assert s.evaluate(MAZUR_DATA) == pytest.approx(0.298371109, abs=1e-9)
    assert s.mid_step and s.next_phase == Phase("forward", "o")
