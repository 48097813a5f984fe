"""Rewind and branch: the timeline keeps a run's states within its bounds, gives back any kept step exactly,
and going back then training on starts a branch while the old continuation stays."""

import json

import numpy as np
import pytest

from bpstudio.core.datasets import resolve_split
from bpstudio.core.errors import SessionError
from bpstudio.core.io import presets, spec_io
from bpstudio.core.record.timeline import Timeline
from bpstudio.core.run_state import RunState
from bpstudio.core.session import Session


def state_of(session):
    return RunState(
        session.to_spec(), session.step_count, session.epoch_count, session.position, session.optimizer_state()
    )


def run(name="xor", steps=10, timeline=None, batch_size=16, session=None):
    spec = presets.load(name)
    session = session or Session(spec, resolve_split(spec.data)[0], batch_size=batch_size)
    timeline = timeline if timeline is not None else Timeline()
    if session.step_count == 0:
        timeline.record(state_of(session))
    for _ in range(steps):
        session.step()
        timeline.record(state_of(session))
    return session, timeline


def resume(state, data, batch_size=16):
    session = Session(state.spec, data, batch_size=batch_size)
    session.set_progress(state.step, state.epoch, state.position)
    session.load_optimizer_state(state.optimizer_state)
    return session


def same(a, b):
    for key, value in a.params_numpy().items():
        np.testing.assert_array_equal(b.params_numpy()[key], value)


def test_a_kept_state_resumes_the_run_exactly():
    session, timeline = run(steps=12)
    assert timeline.steps() == list(range(13))
    again = resume(timeline.state(5), session.data)
    for _ in range(7):
        again.step()
    same(session, again)  # the same batches and updates as the original


def test_going_back_and_training_on_starts_a_branch_and_keeps_the_old_continuation():
    session, timeline = run(steps=10)
    first = timeline.current
    old_tail = timeline.state(10)
    back = resume(timeline.go_to(4), session.data)
    back.set_params({k: v * 0.5 for k, v in back.params_numpy().items()})  # train on differently
    for _ in range(3):
        back.step()
        timeline.record(state_of(back))
    assert timeline.current != first and timeline.steps() == list(range(8))
    assert timeline.steps(first) == list(range(11))  # the old continuation is still there
    assert timeline.state(10, first) == old_tail
    np.testing.assert_array_equal(
        timeline.state(3).spec.layer("h").weight, timeline.state(3, first).spec.layer("h").weight
    )
    timeline.switch(first)
    assert timeline.steps()[-1] == 10
    with pytest.raises(SessionError, match="current one or leads to it"):
        timeline.discard(first)
    branch = [b for b in timeline.branches if b != first][0]
    timeline.discard(branch)
    assert list(timeline.branches) == [first]


def test_a_branch_starts_where_the_run_went_back_to_even_when_states_are_kept_sparsely():
    session, timeline = run(steps=0)
    for _ in range(40):
        session.step()
        if session.step_count % 10 == 0:  # kept every 10 steps, as while training
            timeline.record(state_of(session))
    back = resume(timeline.go_to(10), session.data)
    for _ in range(15):  # the first state kept after going back is step 20's
        back.step()
        if back.step_count % 10 == 0:
            timeline.record(state_of(back))
    branch = timeline.branches[timeline.current]
    assert (branch.parent, branch.fork_step) == (0, 10) and timeline.steps() == [0, 10, 20]


def test_a_run_put_back_by_undo_branches_from_there_even_at_steps_the_branch_never_reached():
    session, timeline = run(steps=5)
    timeline.set_position(2)  # an undo took the run back to step 2 (not necessarily a kept one)
    back = resume(timeline.state(2), session.data)
    for _ in range(6):  # on to step 8: past the old last step 5, still another continuation
        back.step()
        timeline.record(state_of(back))
    assert timeline.current == 1 and timeline.branches[1].fork_step == 2
    assert timeline.steps() == list(range(9)) and timeline.steps(0) == list(range(6))


def test_an_edit_at_the_last_step_replaces_it_rather_than_branching():
    session, timeline = run(steps=3)
    session.set_params({k: v + 1 for k, v in session.params_numpy().items()})
    timeline.record(state_of(session))
    assert len(timeline.branches) == 1 and timeline.steps() == [0, 1, 2, 3]
    np.testing.assert_array_equal(timeline.state(3).spec.layer("h").weight, session.params_numpy()["h.weight"])


def test_over_the_memory_bound_old_states_go_to_disk_and_come_back_the_same(tmp_path):
    _, probe = run(steps=1)
    one = probe.state(1).nbytes
    session, timeline = run(steps=30, timeline=Timeline(memory_bound=5 * one, spill_dir=tmp_path))
    assert timeline.memory_used <= 5 * one and timeline.disk_used > 0 and len(list(tmp_path.iterdir())) >= 20
    assert timeline.steps() == list(range(31))
    spilled = timeline.state(2)
    again = resume(spilled, session.data)
    for _ in range(28):
        again.step()
    same(session, again)
    timeline.clear()
    assert timeline.disk_used == 0 and not list(tmp_path.iterdir())


def test_a_spilled_state_keeps_its_values_as_arrays_and_comes_back_whole(tmp_path):
    spec = presets.load("spiral")  # (Adam: optimizer buffers too)
    session = Session(spec, resolve_split(spec.data)[0], batch_size=16)
    timeline, recorded = Timeline(memory_bound=1, spill_dir=tmp_path), []  # only the latest stays in memory
    for _ in range(4):
        session.step()
        recorded.append(state_of(session))
        timeline.record(recorded[-1])
    slot = timeline.branches[timeline.current].slots[2]
    assert slot.state is None and slot.file is not None  # on disk
    with np.load(slot.file) as saved:
        meta = json.loads(str(saved["meta"]))
        assert all("weight" not in layer for layer in meta["layers"])  # the values are arrays, not JSON text
        assert saved["param|h1.weight"].shape == (32, 2)
    back, original = timeline.state(2), recorded[1]
    assert spec_io.to_dict(back.spec) == spec_io.to_dict(original.spec)  # (weights, layout, data, optimizer)
    assert back.progress == original.progress and back.optimizer_state["steps"] == original.optimizer_state["steps"]
    for key, slot_buffers in original.optimizer_state["buffers"].items():
        for name, value in slot_buffers.items():
            np.testing.assert_array_equal(back.optimizer_state["buffers"][key][name], value)


def test_without_disk_the_timeline_thins_and_keeps_its_span():
    _, probe = run(steps=1)
    one = probe.state(1).nbytes
    _, timeline = run(steps=64, timeline=Timeline(memory_bound=10 * one, spill=False))
    steps = timeline.steps()
    assert timeline.memory_used <= 10 * one and len(steps) <= 10
    assert steps[0] == 0 and steps[-1] == 64  # first and last stay
    assert timeline.nearest(33) <= 33 and timeline.nearest(33) in steps
    with pytest.raises(SessionError, match="not in the timeline"):
        timeline.state(next(s for s in range(65) if s not in steps))


def test_a_spill_folder_it_made_is_removed_on_close():
    _, probe = run(steps=1)
    _, timeline = run(steps=10, timeline=Timeline(memory_bound=2 * probe.state(1).nbytes))
    folder = timeline._spill_dir
    assert folder is not None and folder.exists()
    timeline.close()
    assert not folder.exists()


def test_bad_bounds_and_unknown_branches_are_refused():
    with pytest.raises(SessionError, match="bounds must be positive"):
        Timeline(memory_bound=0)
    with pytest.raises(SessionError, match="no branch 7"):
        Timeline().switch(7)
    with pytest.raises(SessionError, match="empty"):
        Timeline().nearest(3)
