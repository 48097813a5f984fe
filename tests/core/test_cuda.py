"""The PyTorch backend on a CUDA device gives the NumPy engine's numbers: traces, gradients, training with every
optimizer and layer type, running statistics, evaluation, moving between devices mid-run and run states. Skipped
where PyTorch sees no CUDA device (CI has none)."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from bpstudio.core.datasets import resolve_split
from bpstudio.core.errors import DivergedError
from bpstudio.core.io import presets
from bpstudio.core.session import Session
from bpstudio.core.spec import OptimizerSpec
from tests.core.random_nets import nets
from tests.core.test_backends_agree import TOLERANCE, full_record
from tests.helpers import optional_torch

torch = optional_torch()
pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(torch is None or not torch.cuda.is_available(), reason="needs a CUDA device"),
]
SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TIGHT = dict(rtol=1e-9, atol=1e-10)


def preset_sessions(name, backends, batch_size=32):
    spec = presets.load(name)
    train, _ = resolve_split(dict(spec.data))
    return [Session(spec, train, batch_size=batch_size, **kw) for kw in backends], train


def assert_same_state(a, b, **tol):
    for key, value in a.params_numpy().items():
        np.testing.assert_allclose(b.params_numpy()[key], value, **(tol or TIGHT), err_msg=key)
    for key, value in a.running_numpy().items():
        np.testing.assert_allclose(b.running_numpy()[key], value, **(tol or TIGHT), err_msg=key)


def outcome(session):
    """The step's loss, or the message of the error that refused it."""
    try:
        return session.step().loss
    except DivergedError as e:
        return str(e)


def test_the_session_lives_on_the_gpu():
    (s,), _ = preset_sessions("spiral", [dict(backend="torch", device="cuda")])
    assert all(p.is_cuda for p in s.params.values())
    trace = s.step()
    assert next(iter(trace.grads.values())).is_cuda and np.isfinite(trace.loss)


@SETTINGS
@given(nets(dropout=True, norm=True))
def test_random_dags_on_the_gpu_match_numpy_float64(case):
    spec, data = case
    ours = full_record(Session(spec, data, backend="numpy"))
    theirs = full_record(Session(spec, data, backend="torch", device="cuda"))
    assert ours.keys() == theirs.keys()
    for key in ours:
        np.testing.assert_allclose(ours[key], theirs[key], **TIGHT, err_msg=key)


@SETTINGS
@given(nets(max_layers=3))
def test_random_dags_on_the_gpu_match_numpy_float32(case):
    """float32 on the GPU (no TF32 shortcuts) within float32 rounding of the float64 reference."""
    spec, data = case
    theirs = full_record(Session(spec, data, backend="torch", device="cuda", dtype="float32"))
    ref = full_record(Session(spec, data, backend="numpy", dtype="float64"))
    for key in ref:
        np.testing.assert_allclose(theirs[key], ref[key], **TOLERANCE["float32"], err_msg=key)


@pytest.mark.parametrize("name", presets.names())
def test_every_preset_trains_the_same_on_the_gpu(name):
    (a, b), train = preset_sessions(name, [dict(), dict(backend="torch", device="cuda")])
    for _ in range(6):  # (the exploding preset diverges: at the same step on both, with the same message)
        la, lb = outcome(a), outcome(b)
        assert type(la) is type(lb)
        assert la == lb if isinstance(la, str) else lb == pytest.approx(la, rel=1e-9, abs=1e-12)
    assert_same_state(a, b)
    np.testing.assert_allclose(b.predict(train.X), a.predict(train.X), **TIGHT)


@pytest.mark.parametrize("rule", ["momentum", "adam", "rmsprop", "adamw"])
def test_every_optimizer_steps_the_same_on_the_gpu(rule):
    (a, b), _ = preset_sessions("spiral", [dict(), dict(backend="torch", device="cuda")])
    for s in (a, b):
        s.set_optimizer(OptimizerSpec(rule, lr=0.01))
        s.run(8)
    assert_same_state(a, b)


def test_moving_between_cpu_gpu_and_numpy_mid_run_changes_nothing():
    (straight, moved), _ = preset_sessions("deep_sigmoid_batchnorm", [dict(), dict()])
    straight.set_optimizer(OptimizerSpec("adam", lr=0.01))
    moved.set_optimizer(OptimizerSpec("adam", lr=0.01))
    straight.run(12)
    moved.run(3)
    moved.set_backend("torch", device="cuda")
    moved.run(3)
    moved.set_backend("torch", device="cpu")
    moved.run(3)
    moved.set_backend("torch", device="cuda", dtype="float64")
    moved.run(1)
    moved.forward_layer()  # a partial step is dropped by the move, not half-applied
    moved.set_backend("numpy")
    moved.run(2)
    assert moved.step_count == straight.step_count == 12 and moved.optimizer.steps == 12
    assert_same_state(straight, moved)


def test_a_run_state_taken_on_the_gpu_continues_on_the_cpu():
    (gpu, cpu), train = preset_sessions("deep_sigmoid_batchnorm", [dict(backend="torch", device="cuda"), dict()])
    gpu.run(5)
    state = gpu.state()
    resumed = Session.from_state(state, train, batch_size=32)
    cpu.run(5)
    assert_same_state(cpu, resumed)
    gpu.run(4)
    resumed.run(4)
    assert_same_state(resumed, gpu)


def test_phase_by_phase_on_the_gpu_gives_the_mazur_numbers():
    """The forward, loss, backward and update phases one at a time, as the app steps them, on the GPU."""
    spec = presets.load("mazur")
    train, _ = resolve_split(dict(spec.data))
    gpu, ref = Session(spec, train, backend="torch", device="cuda"), Session(spec, train)
    kinds = []
    while gpu.next_phase.kind != "update":
        kinds.append(gpu.advance().kind)
    assert kinds == ["forward", "forward", "loss", "backward", "backward"]
    assert gpu.trace.loss == pytest.approx(0.298371109, abs=1e-9)
    expected = ref.forward_backward()
    for key, g in ref.gradients().items():
        np.testing.assert_allclose(gpu.gradients()[key], g, **TIGHT, err_msg=key)
    for lid, layer in expected.layers.items():
        np.testing.assert_allclose(gpu.trace.numpy(gpu.trace.layers[lid].out), expected.numpy(layer.out), **TIGHT)
    gpu.apply_update()
    ref.apply_update()
    assert_same_state(ref, gpu)
