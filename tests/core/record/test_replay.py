"""A kept step's values come back exactly: its trace is recomputed from the nearest kept state before it."""

import numpy as np
import pytest

from bpstudio.core.datasets import resolve_split
from bpstudio.core.errors import SessionError
from bpstudio.core.io import presets, spec_io
from bpstudio.core.record.replay import MAX_REPLAY_STEPS, REPLAY_BUDGET, replay, replay_limit, replay_start
from bpstudio.core.record.timeline import Timeline
from bpstudio.core.session import Session
from tests.helpers import wide_net_file


def session_of(name="spiral", batch_size=16):
    spec = presets.load(name)
    return Session(spec, resolve_split(spec.data)[0], batch_size=batch_size)


def test_a_steps_trace_is_recomputed_exactly_from_a_state_kept_steps_before_it():
    original, timeline = session_of(), Timeline(spill=False)
    timeline.record(original.state())
    traces = {}
    for _ in range(60):
        trace = original.step()
        traces[trace.step] = trace.to_numpy()
        if original.step_count % 25 == 0:
            timeline.record(original.state())
    assert timeline.steps() == [0, 25, 50]
    start = replay_start(timeline, 50)
    assert start is not None and start.step == 25
    again = replay(session_of(), start, 50)
    reference = traces[50]
    assert again.step == 50 and again.loss == reference.loss
    np.testing.assert_array_equal(again.batch, reference.batch)
    for layer_id, layer in reference.layers.items():
        np.testing.assert_array_equal(again.layers[layer_id].pre, layer.pre)
        np.testing.assert_array_equal(again.layers[layer_id].grads["weight"], layer.grads["weight"])
    for key, value in reference.params_after.items():
        np.testing.assert_array_equal(again.params_after[key], value)


def test_no_replay_for_step_0_beyond_the_limit_or_from_a_later_state():
    session, timeline = session_of(), Timeline(spill=False)
    timeline.record(session.state())
    for _ in range(30):
        session.step()
    timeline.record(session.state())
    assert replay_start(timeline, 0) is None  # step 0 is the start: no step ran to reach it
    assert replay_start(timeline, 30, limit=10) is None  # 30 steps from the nearest kept state
    assert replay_start(timeline, 30).step == 0
    with pytest.raises(SessionError, match="cannot recompute step 3"):
        replay(session_of(), timeline.state(30), 3)


def test_a_big_network_runs_fewer_steps_again(tmp_path):
    big = spec_io.load(wide_net_file(tmp_path))  # 2-300-300-1: 900 + 90,300 + 301 parameters
    assert replay_limit(presets.load("xor")) == MAX_REPLAY_STEPS
    assert replay_limit(big) == REPLAY_BUDGET // 91_501 < MAX_REPLAY_STEPS
