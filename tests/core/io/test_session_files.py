"""Session files and the session's in-place edits (weights, data, loss), as the app uses them."""

import json
import subprocess
import sys

import numpy as np
import pytest

from bpstudio.core.datasets import make_toy, resolve_split
from bpstudio.core.errors import DataError, SessionError, SpecError
from bpstudio.core.io import presets, session_io
from bpstudio.core.session import Session
from bpstudio.core.spec import OptimizerSpec
from tests.helpers import HAS_TORCH


def trained(name="xor", steps=5, optimizer=None):
    spec = presets.load(name)
    if optimizer is not None:
        import dataclasses

        spec = dataclasses.replace(spec, optimizer=optimizer)
    session = Session(spec, resolve_split(spec.data)[0], batch_size=16)
    session.run(steps)
    return session


def saved_from(session, history=None):
    b = session.backend
    return session_io.SavedSession(session.state(), b.name, b.device, b.dtype, session.batch_size, history)


def test_a_saved_session_continues_exactly_where_it_stopped(tmp_path):
    adam = OptimizerSpec("adam", lr=0.01)
    original = trained(optimizer=adam)
    path = tmp_path / "run.json"
    session_io.save(saved_from(original, {"anything": [1, 2]}), path)
    back = session_io.load(path)
    assert (back.state.step, back.batch_size, back.history) == (5, 16, {"anything": [1, 2]})
    resumed = Session(back.spec, original.data, batch_size=back.batch_size, params=None)
    resumed.load_optimizer_state(back.state.optimizer_state)
    for key, value in original.params_numpy().items():
        np.testing.assert_array_equal(resumed.params_numpy()[key], value)
    # the same update from the same state: Adam's moments and step count came back bit for bit
    x, y = original.data.X[:16], original.data
    one = Session(original.to_spec(), y.subset(np.arange(16)), params=original.params_numpy())
    one.load_optimizer_state(original.optimizer_state())
    two = Session(back.spec, y.subset(np.arange(16)))
    two.load_optimizer_state(back.state.optimizer_state)
    one.step(), two.step()
    for key, value in one.params_numpy().items():
        np.testing.assert_array_equal(two.params_numpy()[key], value)
    assert x.shape == (16, 2)


def test_a_session_saved_mid_pass_trains_on_with_the_same_batches(tmp_path):
    original = trained(steps=7)  # 7 batches of 16: part way through a pass over the data
    assert 0 < original.position < len(original.data)
    path = tmp_path / "run.json"
    session_io.save(saved_from(original), path)
    back = session_io.load(path)
    assert (back.state.step, back.state.epoch, back.state.position) == (7, original.epoch_count, original.position)
    resumed = Session(back.spec, original.data, batch_size=back.batch_size)
    resumed.set_progress(back.state.step, back.state.epoch, back.state.position)
    resumed.load_optimizer_state(back.state.optimizer_state)
    for _ in range(2 * original.steps_per_epoch):  # on into the next passes
        a, b = original.step(), resumed.step()
        np.testing.assert_array_equal(a.batch, b.batch)
    for key, value in original.params_numpy().items():
        np.testing.assert_array_equal(resumed.params_numpy()[key], value)


def test_a_network_file_opens_as_a_session_at_step_zero():
    saved = session_io.load(presets.path("mazur"))
    assert saved.state.step == 0 and saved.state.optimizer_state == {"steps": 0, "buffers": {}}
    assert saved.spec.layer("h").weight[0, 0] == 0.15


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d.update(format="other"), "not a bpstudio session or network file"),
        (lambda d: d.update(version=7), "version 7 is not supported"),
        (lambda d: d["training"].update(batch_size=0), "'training.batch_size' must be a positive integer"),
        (lambda d: d["training"].update(backend="jax"), "'training.backend' must be one of"),
        (lambda d: d["training"].update(step=-1), "'training.step' must be a non-negative integer"),
        (lambda d: d["training"].update(position=1.5), "'training.position' must be a non-negative integer"),
        (lambda d: d.update(extra=1), "unknown field(s): extra"),
        (lambda d: d["optimizer_state"]["buffers"].update({"nope.weight": {"m": [1.0]}}), "not a parameter"),
        (lambda d: d["optimizer_state"]["buffers"]["h.weight"].update(m=[[1.0]]), "has shape (1, 1), expected (4, 2)"),
        (lambda d: d["optimizer_state"]["buffers"]["h.weight"].update(m=[["x"] * 2] * 4), "must be a number"),
        (lambda d: d.pop("network"), "'network' entry is missing"),
    ],
)
def test_bad_session_files_are_refused_naming_the_problem(tmp_path, change, message):
    raw = session_io.to_dict(saved_from(trained(optimizer=OptimizerSpec("adam", lr=0.01))))
    change(raw)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(raw))
    with pytest.raises((SessionError, SpecError)) as info:
        session_io.load(path)
    assert message in str(info.value) and "bad.json" in str(info.value)


def test_a_failed_save_leaves_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "keep.json"
    session_io.save(saved_from(trained(steps=1)), path)
    before = path.read_text()
    monkeypatch.setattr(session_io, "dumps", lambda saved: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError):
        session_io.save(saved_from(trained(steps=3)), path)
    assert path.read_text() == before and list(tmp_path.iterdir()) == [path]


def test_set_params_replaces_values_keeps_optimizer_state_and_drops_the_partial_step():
    session = trained(optimizer=OptimizerSpec("momentum", lr=0.1))
    state = session.optimizer_state()
    session.advance()
    session.set_params({"h.weight": np.full((4, 2), 0.5)})
    assert session.trace is None and not session.mid_step
    np.testing.assert_array_equal(session.params_numpy()["h.weight"], np.full((4, 2), 0.5))
    np.testing.assert_array_equal(
        session.optimizer_state()["buffers"]["h.weight"]["momentum"], state["buffers"]["h.weight"]["momentum"]
    )


@pytest.mark.parametrize(
    "params, message",
    [
        ({"h.weight": np.zeros((2, 2))}, "has shape (2, 2), expected (4, 2)"),
        ({"q.weight": np.zeros((4, 2))}, "no parameter 'q.weight'"),
        ({"h.weight": np.array([[0, 1], [2, np.nan], [0, 0], [0, 0]])}, "entry [1, 1] is not a finite number"),
    ],
)
def test_set_params_refuses_bad_values_and_changes_nothing(params, message):
    session = trained()
    before = session.params_numpy()
    with pytest.raises(SessionError) as info:
        session.set_params(params)
    assert message in str(info.value)
    for key, value in before.items():
        np.testing.assert_array_equal(session.params_numpy()[key], value)


def test_set_data_and_set_loss_keep_the_weights():
    session = trained()
    weights = session.params_numpy()
    session.set_data(make_toy("circles", n=40))
    assert len(session.data) == 40
    session.set_loss("mse")
    assert session.spec.loss == "mse"
    for key, value in weights.items():
        np.testing.assert_array_equal(session.params_numpy()[key], value)
    trace = session.forward_backward().to_numpy()
    out, targets = trace.layers["y"].out, trace.targets.reshape(trace.layers["y"].out.shape)
    assert trace.loss == pytest.approx(np.mean((out - targets) ** 2), rel=1e-12)  # now trained on mse
    with pytest.raises(DataError):
        session.set_data(make_toy("sine", n=10))  # one input column, the network takes two
    with pytest.raises(SpecError, match="cross_entropy"):
        session.set_loss("cross_entropy")  # one output unit


def test_backend_menu_answers_without_importing_torch():
    code = (
        "import sys; from bpstudio.core.backends import available; r = available(); "
        "print('torch' in sys.modules, r['numpy/cpu'], r['torch/cpu'] is None, bool(r['torch/cuda']) or True)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[:3] == ["False", "None", str(HAS_TORCH)]  # (without torch, the menu says why it is missing)


def test_bce_refuses_targets_outside_zero_to_one():
    spec = presets.load("xor")
    with pytest.raises(DataError, match="bce targets must be probabilities between 0 and 1"):
        Session(spec, make_toy("plane", n=20))


def test_a_saved_session_with_batchnorm_reopens_predicting_what_it_did(tmp_path):
    """The running statistics travel in the session file: reopened, the network's evaluation (which normalizes by
    them) gives the same outputs, and training on moves them as the original run does."""
    from bpstudio.core.edit.topology import add_layer

    spec, bn = add_layer(presets.load("xor"), "batchnorm", source="h", before="y")
    data = resolve_split(spec.data)[0]
    original = Session(spec, data, batch_size=16)
    original.run(7)
    running = original.running_numpy()
    assert not np.array_equal(running[f"{bn}.running_mean"], np.zeros(4))
    path = tmp_path / "bn.json"
    session_io.save(saved_from(original), path)
    reopened, _, notes = session_io.restore(session_io.load(path), data)
    assert notes == []
    for key, value in running.items():
        np.testing.assert_array_equal(reopened.running_numpy()[key], value)
    np.testing.assert_array_equal(reopened.predict(data.X), original.predict(data.X))
    assert reopened.evaluate(data) == original.evaluate(data)
    original.step(), reopened.step()
    np.testing.assert_array_equal(
        reopened.running_numpy()[f"{bn}.running_var"], original.running_numpy()[f"{bn}.running_var"]
    )
