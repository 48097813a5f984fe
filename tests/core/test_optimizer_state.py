"""The schedule's position and the clipping tallies are optimizer state: a run continued from a saved
session, a spilled timeline state or another backend takes the same learning rates and the same steps."""

import numpy as np
import pytest

from bpstudio.core.datasets import xor
from bpstudio.core.errors import SessionError
from bpstudio.core.io import session_io
from bpstudio.core.io.session_io import SavedSession
from bpstudio.core.record.timeline import Timeline
from bpstudio.core.run_state import RunState
from bpstudio.core.session import Session
from tests.helpers import needs_torch, network

OPTIMIZER = {
    "name": "adam",
    "lr": 0.1,
    "clip_norm": 0.05,
    "l1": 0.01,
    "schedule": {"name": "step", "step_size": 2, "gamma": 0.5},
}


def make_session(**settings):
    layers = [
        {"id": "x", "type": "input", "units": 2},
        {"id": "h", "type": "dense", "inputs": ["x"], "units": 4, "activation": "sin"},
        {"id": "y", "type": "dense", "inputs": ["h"], "units": 1, "activation": "sigmoid"},
    ]
    spec = network(layers, "y", "bce", seed=2, optimizer=OPTIMIZER)
    return Session(spec, xor(n=16, seed=3), batch_size=4, **settings)


def continue_from(state, steps=3, **settings):
    session = Session.from_state(state, xor(n=16, seed=3), batch_size=4, **settings)
    figures = [session.step().update for _ in range(steps)]
    return session.params_numpy(), figures


def assert_same_run(a, b, rtol=0.0):
    (params_a, figures_a), (params_b, figures_b) = a, b
    assert [f.lr for f in figures_a] == pytest.approx([f.lr for f in figures_b], rel=rtol)
    assert [f.clip_scale for f in figures_a] == pytest.approx([f.clip_scale for f in figures_b], rel=rtol or 1e-15)
    for key in params_a:
        np.testing.assert_allclose(params_a[key], params_b[key], rtol=rtol, atol=0, err_msg=key)


def test_the_state_holds_the_schedule_position_and_the_clipping_tallies():
    session = make_session()
    lrs = [session.step().update.lr for _ in range(5)]
    assert lrs == [0.1, 0.1, 0.05, 0.05, 0.025]
    counters = session.state().optimizer_state["counters"]
    assert counters["schedule_step"] == 5 and counters["clip_steps"] == 5 and 1 <= counters["clipped"] <= 5
    assert session.optimizer.lr == 0.025


def test_a_saved_session_continues_with_the_same_learning_rates_and_steps():
    session = make_session()
    session.run(5)
    state = session.state()
    reread = session_io.loads(session_io.dumps(SavedSession(state))).state
    assert reread.optimizer_state["counters"] == state.optimizer_state["counters"]
    assert_same_run(continue_from(state), continue_from(reread))
    straight = [session.step().update for _ in range(3)]
    assert [f.lr for f in straight] == [0.025, 0.0125, 0.0125]
    assert_same_run((session.params_numpy(), straight), continue_from(reread))


def test_a_session_file_without_counters_starts_them_at_zero():
    session = make_session()
    session.run(2)
    raw = session_io.to_dict(SavedSession(session.state()))
    del raw["optimizer_state"]["counters"]
    state = session_io.from_dict(raw).state
    assert continue_from(state, steps=1)[1][0].lr == 0.1


def test_a_spilled_timeline_state_keeps_the_counters(tmp_path):
    session = make_session()
    session.step()
    bound = Timeline().held_bytes(session.state(), in_memory=1, spilled=3)
    session = make_session()
    timeline = Timeline(memory_bound=bound, spill_dir=tmp_path)  # only the latest stays in memory
    states = []
    for _ in range(4):
        session.step()
        states.append(session.state())
        timeline.record(states[-1])
    back = timeline.state(2)
    assert back.optimizer_state["counters"] == states[1].optimizer_state["counters"]
    assert_same_run(continue_from(states[1]), continue_from(back))
    timeline.close()


def test_changing_the_schedule_settings_keeps_its_position_and_a_new_kind_starts_afresh():
    import dataclasses

    from bpstudio.core.spec import Schedule

    session = make_session()
    session.run(4)
    opt = session.spec.optimizer
    session.set_optimizer(dataclasses.replace(opt, schedule=Schedule("step", step_size=2, gamma=0.1)))
    assert session.optimizer.counters["schedule_step"] == 4 and session.optimizer.lr == pytest.approx(0.1 * 0.01)
    session.set_optimizer(dataclasses.replace(opt, schedule=Schedule("exponential", gamma=0.5)))
    assert session.optimizer.counters["schedule_step"] == 0 and session.optimizer.lr == 0.1
    assert session.optimizer.counters["clip_steps"] == 4  # the tallies go on


@needs_torch
def test_switching_backend_keeps_the_optimizer_state():
    session = make_session()
    session.run(3)
    state = session.state()
    session.set_backend("torch")
    assert session.optimizer.counters == state.optimizer_state["counters"]
    on_torch = [session.step().update for _ in range(3)]
    assert_same_run((session.params_numpy(), on_torch), continue_from(state), rtol=1e-9)


def test_a_fresh_run_state_has_no_counters_and_reads_as_zero():
    session = make_session()
    session.run(2)
    session.restore(RunState(session.spec, 0, 0, 0))
    assert session.optimizer.counters == {"schedule_step": 0, "clip_steps": 0, "clipped": 0}


@pytest.mark.parametrize(
    ("value", "said"),
    [(10**400, "from 0 to 2**62, got an integer of about 401 digits"), ([0] * 200_000, "got [0, 0")],
)
def test_a_session_file_with_a_counter_out_of_range_is_refused_in_one_short_line(value, said):
    session = make_session()
    session.run(2)
    raw = session_io.to_dict(SavedSession(session.state()))
    raw["optimizer_state"]["counters"]["clip_steps"] = value
    with pytest.raises(SessionError) as refused:
        session_io.from_dict(raw)
    message = str(refused.value)
    assert "'optimizer_state.counters.clip_steps'" in message and said in message
    assert len(message) < 300 and "\n" not in message


def test_counters_too_large_for_a_float_come_back_exact_from_the_timeline(tmp_path):
    session = make_session()
    session.step()
    state = session.state()
    huge = dict(state.optimizer_state, counters={"schedule_step": 2**53 + 1, "clip_steps": 2**62, "clipped": 3})
    big = RunState(state.spec, state.step, state.epoch, state.position, huge)
    bound = Timeline().held_bytes(big, in_memory=1, spilled=1)
    timeline = Timeline(memory_bound=bound, spill_dir=tmp_path)
    timeline.record(big)
    session.step()
    timeline.record(session.state())  # (the first state goes to disk)
    assert len(list(tmp_path.iterdir())) == 1
    assert timeline.state(1).optimizer_state["counters"] == huge["counters"]
    timeline.close()
