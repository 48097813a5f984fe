"""One run state: Session.state() captures it, Session.from_state() and Session.restore() bring it back; undo
snapshots, the timeline, session files and forked copies all go through them."""

import dataclasses

import numpy as np
import pytest

from bpstudio.core.datasets import resolve_split
from bpstudio.core.errors import SessionError
from bpstudio.core.io import presets, session_io
from bpstudio.core.record.timeline import Timeline
from bpstudio.core.run_state import RunState
from bpstudio.core.session import Session
from bpstudio.core.spec import OptimizerSpec
from bpstudio.core.tools.landscape import fork_session


def spiral_run(steps=7):
    """Spiral with Adam and batches of 16, part way through a pass over the data."""
    spec = dataclasses.replace(presets.load("spiral"), optimizer=OptimizerSpec("adam", lr=0.01))
    session = Session(spec, resolve_split(dict(spec.data))[0], batch_size=16)
    session.run(steps)
    return session


def same_run(a, b, steps=5):
    """``a`` and ``b`` train on bit for bit alike for ``steps`` steps (same batches, same updates)."""
    for _ in range(steps):
        ta, tb = a.step(), b.step()
        assert ta.loss == tb.loss
    for key, value in a.params_numpy().items():
        np.testing.assert_array_equal(b.params_numpy()[key], value)
    assert (a.step_count, a.epoch_count, a.position) == (b.step_count, b.epoch_count, b.position)


def test_a_session_from_a_state_trains_on_exactly_as_the_original():
    original = spiral_run()
    state = original.state()
    assert state.progress == (7, original.epoch_count, original.position) and 0 < state.position
    assert state.optimizer_state["steps"] == 7 and state.optimizer_state["buffers"]
    copy = Session.from_state(state, original.data, batch_size=16)
    same_run(original, copy)


def test_a_state_is_a_copy_that_later_training_does_not_change():
    session = spiral_run()
    state = session.state()
    weights = {k: v.copy() for k, v in session.params_numpy().items()}
    session.run(3)
    again = Session.from_state(state, session.data, batch_size=16)
    for key, value in weights.items():
        np.testing.assert_array_equal(again.params_numpy()[key], value)
    assert again.step_count == 7


def test_restore_goes_back_and_the_same_steps_follow():
    session = spiral_run()
    state = session.state()
    session.run(4)
    after_four = session.params_numpy()
    session.restore(state)
    assert (session.step_count, session.position) == (state.step, state.position)
    session.run(4)
    for key, value in after_four.items():
        np.testing.assert_array_equal(session.params_numpy()[key], value)


def test_restoring_the_state_a_session_is_in_keeps_its_step_in_progress():
    session = spiral_run()
    session.advance()  # the first layer's forward pass of step 8
    phase = session.next_phase
    session.restore(session.state())
    assert session.mid_step and session.next_phase == phase


def test_the_state_is_what_session_files_timelines_and_forks_hold(tmp_path):
    session = spiral_run()
    state = session.state()
    path = tmp_path / "run.json"
    session_io.save(session_io.capture(session), path)
    reopened, _, notes = session_io.restore(session_io.load(path), session.data)
    timeline = Timeline(memory_bound=1, spill_dir=tmp_path / "spill")  # (spilled to a file at once)
    timeline.record(state)
    from_timeline = Session.from_state(timeline.state(state.step), session.data, batch_size=16)
    assert notes == []
    for other in (reopened, from_timeline, fork_session(session)):
        same_run(Session.from_state(state, session.data, batch_size=16), other)


def test_a_state_of_another_network_is_refused_by_name():
    session = spiral_run()
    xor = presets.load("xor")
    with pytest.raises(SessionError, match="optimizer state|parameter"):
        session.restore(RunState(xor, 0, 0, 0, {"steps": 1, "buffers": {"nope.weight": {"m": np.zeros(2)}}}))
