"""Rewind and branch: the timeline keeps a run's states within its bounds, gives back any kept step exactly,
and going back then training on starts a branch while the old continuation stays."""

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


def same_state(a, b):
    """Two run states hold the same network, values, progress and optimizer state."""
    buffers = a.optimizer_state["buffers"], b.optimizer_state["buffers"]
    return (
        spec_io.to_dict(a.spec) == spec_io.to_dict(b.spec)
        and a.progress == b.progress
        and a.optimizer_state["steps"] == b.optimizer_state["steps"]
        and buffers[0].keys() == buffers[1].keys()
        and all(
            buffers[0][k].keys() == buffers[1][k].keys()
            and all(np.array_equal(buffers[0][k][n], buffers[1][k][n]) for n in buffers[0][k])
            for k in buffers[0]
        )
    )


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
    assert same_state(timeline.state(10, first), old_tail)
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
    bound = probe.held_bytes(probe.state(1), in_memory=5, spilled=26)  # room for 5 of the 31 in memory
    session, timeline = run(steps=30, timeline=Timeline(memory_bound=bound, spill_dir=tmp_path))
    assert timeline.memory_used <= bound and timeline.disk_used > 0 and len(list(tmp_path.iterdir())) == 26
    assert timeline.disk_used == sum(p.stat().st_blocks * 512 for p in tmp_path.iterdir())  # what the disk holds
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
    session.step()
    bound = Timeline().held_bytes(state_of(session), in_memory=1, spilled=3)  # only the latest stays in memory
    timeline, recorded = Timeline(memory_bound=bound, spill_dir=tmp_path), [state_of(session)]
    timeline.record(recorded[-1])
    for _ in range(3):
        session.step()
        recorded.append(state_of(session))
        timeline.record(recorded[-1])
    files = sorted(tmp_path.iterdir())
    assert len(files) == 3 and timeline.steps() == [1, 2, 3, 4]
    values = sum(np.size(v) for v in session.params_numpy().values())
    values += sum(np.size(a) for slot in recorded[0].optimizer_state["buffers"].values() for a in slot.values())
    values += len(recorded[0].optimizer_state["counters"])  # (the schedule's position, the clipping tallies)
    for file in files:  # one array of every value, as a float64 .npy: no text, nothing but the header besides
        saved = np.load(file, allow_pickle=False)
        assert saved.dtype == np.float64 and saved.shape == (values,)
        assert file.stat().st_size <= 8 * values + 128
    back, original = timeline.state(2), recorded[1]
    assert spec_io.to_dict(back.spec) == spec_io.to_dict(original.spec)  # (weights, layout, data, optimizer)
    assert back.progress == original.progress and back.optimizer_state["steps"] == original.optimizer_state["steps"]
    assert back.optimizer_state["counters"] == original.optimizer_state["counters"]
    for key, slot_buffers in original.optimizer_state["buffers"].items():
        for name, value in slot_buffers.items():
            np.testing.assert_array_equal(back.optimizer_state["buffers"][key][name], value)


def test_without_disk_the_timeline_thins_and_keeps_its_span():
    _, probe = run(steps=1)
    bound = probe.held_bytes(probe.state(1), in_memory=10)
    _, timeline = run(steps=64, timeline=Timeline(memory_bound=bound, spill=False))
    steps = timeline.steps()
    assert timeline.memory_used <= bound and len(steps) <= 10
    assert steps[0] == 0 and steps[-1] == 64  # first and last stay
    assert timeline.nearest(33) <= 33 and timeline.nearest(33) in steps
    with pytest.raises(SessionError, match="not in the timeline"):
        timeline.state(next(s for s in range(65) if s not in steps))


def test_beyond_its_most_states_the_timeline_thins_and_keeps_its_span():
    _, timeline = run(steps=100, timeline=Timeline(max_states=16))
    steps = timeline.steps()
    assert 8 <= len(steps) <= 16 == timeline.max_states and timeline.held == len(steps)
    assert steps[0] == 0 and steps[-1] == 100
    gaps = np.diff(steps)
    assert gaps.max() <= 2 * gaps.min() + 1  # an even grain over the whole span, not a cut-off tail


def test_a_spill_folder_it_made_is_removed_on_close():
    _, probe = run(steps=1)
    _, timeline = run(steps=10, timeline=Timeline(memory_bound=probe.held_bytes(probe.state(1), 2, 9)))
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
