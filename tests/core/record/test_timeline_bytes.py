"""What the timeline counts is what it holds: the bytes its memory bound counts against Python's own count of the
memory allocated (tracemalloc), in memory and with most states spilled; the bytes its disk bound counts against
the blocks its files take. And recording costs the same work however many states are held."""

import gc
import sys
import tracemalloc

import numpy as np
import pytest

from bpstudio.core.datasets import resolve_split
from bpstudio.core.io import presets
from bpstudio.core.record.timeline import Timeline
from bpstudio.core.session import Session


def session_of(name):
    spec = presets.load(name)
    session = Session(spec, resolve_split(spec.data)[0], batch_size=4)
    session.step()  # (the optimizer's buffers exist from here on)
    return session


def held_while_recording(session, timeline_of, states):
    """Python's count of the bytes allocated and still held after a timeline (``timeline_of()``) recorded
    ``states`` states of ``session``, and the timeline. The session's own memory stays the same size."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        timeline = timeline_of()
        for _ in range(states):
            session.step()
            timeline.record(session.state())
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - before, timeline
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("name", ["xor", "spiral"])  # (a tiny net: overheads dominate; Adam's buffers: values do)
def test_the_memory_counted_is_the_memory_held(name):
    real, timeline = held_while_recording(session_of(name), lambda: Timeline(spill=False), 600)
    assert len(timeline.steps()) == 600
    assert 0.8 <= real / timeline.memory_used <= 1.25


@pytest.mark.parametrize("name", ["xor", "spiral"])
def test_with_most_states_spilled_memory_and_disk_are_counted_as_held(name, tmp_path):
    session = session_of(name)
    bound = Timeline().held_bytes(session.state(), in_memory=10, spilled=590)  # room for 10 of 600 in memory
    real, timeline = held_while_recording(session, lambda: Timeline(memory_bound=bound, spill_dir=tmp_path), 600)
    files = list(tmp_path.iterdir())
    assert len(timeline.steps()) == 600 and len(files) >= 580
    assert timeline.memory_used <= bound
    assert 0.8 <= real / timeline.memory_used <= 1.25
    assert timeline.disk_used == sum(file.stat().st_blocks * 512 for file in files)


def test_a_spilled_state_takes_its_values_bytes_on_disk_not_text(tmp_path):
    session = session_of("spiral")
    timeline = Timeline(memory_bound=Timeline().held_bytes(session.state(), in_memory=1, spilled=9), spill_dir=tmp_path)
    for _ in range(10):
        session.step()
        timeline.record(session.state())
    values = sum(np.size(v) for v in session.params_numpy().values())
    values += sum(np.size(a) for slot in session.optimizer_state()["buffers"].values() for a in slot.values())
    values += len(session.optimizer_state()["counters"])  # (the schedule's position, the clipping tallies)
    sizes = [file.stat().st_size for file in tmp_path.iterdir()]
    assert len(sizes) == 9 and all(8 * values <= size <= 8 * values + 128 for size in sizes)


def lines_run(call):
    """How many lines of Python ``call()`` runs (a count of work that does not depend on the clock)."""
    count = 0

    def tracer(frame, event, arg):
        nonlocal count
        if event == "line":
            count += 1
        return tracer

    sys.settrace(tracer)
    try:
        call()
    finally:
        sys.settrace(None)
    return count


@pytest.fixture(scope="module")
def xor_states():
    session = session_of("xor")
    states = [session.state()]
    for _ in range(10_200):
        session.step()
        states.append(session.state())
    return states


# (spill, where the first hundred are measured, the memory bound): all in memory; or spilling one state at each
# record from ~5,000 states on (an XOR state's values are smaller than the slot that stays in memory)
@pytest.mark.parametrize(
    ("spill", "first", "in_memory", "spilled"), [(False, 100, 11_000, 0), (True, 6000, 50, 10_300)]
)
def test_recording_does_the_same_work_with_few_states_held_or_ten_thousand(
    xor_states, tmp_path, spill, first, in_memory, spilled
):
    states = xor_states
    timeline = Timeline(Timeline().held_bytes(states[0], in_memory, spilled), spill=spill, spill_dir=tmp_path)

    def record_next_hundred(start):
        return lines_run(lambda: [timeline.record(state) for state in states[start : start + 100]])

    for state in states[:first]:
        timeline.record(state)
    assert (timeline.disk_used > 0) == spill  # (spilling already where the first hundred are measured)
    with_few = record_next_hundred(first)
    for state in states[first + 100 : 10_100]:
        timeline.record(state)
    with_ten_thousand = record_next_hundred(10_100)
    assert len(timeline.steps()) == 10_200  # (nothing thinned)
    assert with_ten_thousand <= 1.1 * with_few  # (a scan of the states held would be 2× or 100× the work)
