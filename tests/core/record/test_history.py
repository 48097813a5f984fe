"""The bounded training history: exact merging against raw records, bounded memory, JSON and CSV."""

import copy
import csv
import io
import json
import math
import pickle
import threading
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bpstudio.core.errors import SessionError
from bpstudio.core.record.history import TAIL, TrainingHistory, gradient_health

LAYERS = ("h1", "h2", "out")


# --- an independent reference: means over raw records, chunked by the stride -----------------------


def finite_mean(values):
    kept = [v for v in values if v is not None and math.isfinite(v)]
    return sum(kept) / len(kept) if kept else math.nan


def geometric_mean(values):
    kept = [math.log10(v) for v in values if math.isfinite(v) and v > 0]
    return 10.0 ** (sum(kept) / len(kept)) if kept else math.nan


def expected_stride(n, capacity):
    """The policy: the stride doubles each time `capacity` full points pile up, so it is the smallest
    power of two s with n < capacity · s."""
    s = 1
    while n >= capacity * s:
        s *= 2
    return s


def reference(records, stride):
    """(steps, losses, accuracies, {layer: norms}) with one point per `stride` raw records."""
    chunks = [records[i : i + stride] for i in range(0, len(records), stride)]
    steps = [c[-1][0] for c in chunks]
    losses = [finite_mean([r[1] for r in c]) for c in chunks]
    accs = [finite_mean([r[3] for r in c]) for c in chunks]
    norms = {lid: [geometric_mean([r[2].get(lid, math.nan) for r in c]) for c in chunks] for lid in LAYERS}
    return steps, losses, accs, norms


def record_all(history, records):
    for step, loss, norms, acc in records:
        history.record(step, loss, norms, acc)


def close(actual, expected):
    np.testing.assert_allclose(
        np.asarray(actual, dtype=float), np.asarray(expected, dtype=float), rtol=1e-12, atol=0, equal_nan=True
    )


norm_values = st.one_of(st.floats(1e-12, 1e3), st.sampled_from([math.nan, math.inf, 0.0]))
record_st = st.tuples(
    st.integers(1, 3),  # step increment
    st.one_of(st.floats(0, 10), st.sampled_from([math.nan, math.inf])),
    st.dictionaries(st.sampled_from(LAYERS), norm_values),
    st.one_of(st.none(), st.floats(0, 1)),
)


def build(raw):
    records, step = [], 0
    for inc, loss, norms, acc in raw:
        step += inc
        records.append((step, loss, norms, acc))
    return records


@settings(max_examples=150, deadline=None)
@given(raw=st.lists(record_st, max_size=120), capacity=st.integers(1, 9), columns=st.integers(1, 7))
def test_every_point_is_the_mean_of_its_raw_records(raw, capacity, columns):
    records = build(raw)
    h = TrainingHistory(LAYERS, capacity=capacity)
    record_all(h, records)
    assert len(h) == len(records)
    assert h.stride == expected_stride(len(records), capacity)
    steps, losses, accs, norms = reference(records, h.stride)
    assert len(h.steps()) <= capacity
    assert h.steps().tolist() == steps
    if records:
        assert h.steps()[-1] == records[-1][0]  # the newest step is always shown
    close(h.losses(), losses)
    close(h.accuracies(), accs)
    for lid in LAYERS:
        close(h.grad_norms(lid), norms[lid])
    # the heatmap pools whole points into at most `columns` columns
    m_steps, ids, matrix = h.grad_matrix(max_columns=columns)
    group = -(-len(steps) // columns) if steps else 1
    _, _, _, pooled = reference(records, h.stride * group)
    assert ids == LAYERS and matrix.shape == (3, len(pooled["h1"])) and matrix.shape[1] <= columns
    assert m_steps.tolist() == reference(records, h.stride * group)[0]
    close(matrix, [np.log10(pooled[lid]) for lid in LAYERS])


@settings(max_examples=60, deadline=None)
@given(
    raw=st.lists(st.tuples(st.integers(1, 5), st.floats(0, 5), st.one_of(st.none(), st.floats(0, 1))), max_size=80),
    capacity=st.integers(1, 6),
)
def test_test_evaluations_merge_the_same_way(raw, capacity):
    h = TrainingHistory(LAYERS, capacity=capacity)
    records = build([(inc, loss, {}, acc) for inc, loss, acc in raw])
    for step, loss, _, acc in records:
        h.record_test(step, loss, acc)
    stride = h.to_dict()["test"]["stride"]
    assert stride == expected_stride(len(records), capacity) and len(h) == 0
    steps, losses, accs, _ = reference(records, stride)
    assert h.test_steps().tolist() == steps
    close(h.test_losses(), losses)
    close(h.test_accuracies(), accs)


def test_memory_stays_bounded_over_a_million_steps():
    h = TrainingHistory(["h1"])
    started = time.perf_counter()
    for step in range(10_000):
        h.record(step, float(step), {"h1": 2.0})
    small = len(pickle.dumps(h))
    for step in range(10_000, 1_000_000):
        h.record(step, float(step), {"h1": 2.0})
    print(f"10^6 records in {time.perf_counter() - started:.1f} s")  # informative only
    assert len(h) == 1_000_000 and h.stride == 256
    assert len(h.steps()) <= 4096 and h.steps()[-1] == 999_999
    assert len(pickle.dumps(h)) < 1.5 * small and len(pickle.dumps(h)) < 1_000_000
    # loss = step, so a full point's mean is the middle of its 256 steps
    assert h.losses()[0] == 127.5 and h.losses()[1] == 256 + 127.5
    assert h.grad_norms("h1")[0] == pytest.approx(2.0, rel=1e-12)


def test_nan_and_inf_gradient_norms_before_backward_are_left_out():
    h = TrainingHistory(LAYERS, capacity=5)
    h.record(1, 0.5, {"h1": math.nan, "h2": math.nan, "out": 0.2})  # backward reached only `out`
    assert np.isnan(h.grad_norms("h1")).all() and h.grad_norms("out")[0] == pytest.approx(0.2)
    assert h.first_last_ratio() is None and np.isnan(h.accuracies()).all()
    for step in range(2, 9):
        h.record(step, 0.5, {"h1": 1e-6 if step % 2 else math.inf, "h2": 0.0, "out": 0.1})
    assert h.stride == 2
    norms = h.grad_norms("h1")
    assert math.isnan(norms[0]) and norms[1] == pytest.approx(1e-6)  # (step 3: 1e-6, step 4: inf) -> 1e-6
    assert np.isnan(h.grad_norms("h2")).all()  # a zero norm has no logarithm: no point on a log scale
    _, _, matrix = h.grad_matrix()
    assert np.isnan(matrix[1]).all() and np.isfinite(matrix[2]).all()

    # the ratio leaves out what is not finite (h1's inf steps) and takes the rest, geometrically
    def geometric(norms):
        kept = norms[np.isfinite(norms)]
        return math.exp(np.mean(np.log(kept)))

    assert h.first_last_ratio() == pytest.approx(geometric(h.grad_norms("h1")) / geometric(h.grad_norms("out")))


def test_first_last_ratio_is_steady_over_the_last_steps_and_names_its_health():
    """Each layer's norm is the geometric mean over the last recorded steps: a batch 3× up or down moves it
    little, so the header, the lesson and `bpstudio runs` give one figure."""
    h = TrainingHistory(["h1", "h2", "out"])
    h.record(0, 1.0, {"h1": 1.0, "h2": 1.0, "out": 1.0})  # (more than TAIL steps ago: left out)
    for step in range(1, TAIL + 1):
        h.record(step, 1.0, {"h1": 2.7e-9 * (3.0 if step % 2 else 1 / 3), "h2": 1e-4, "out": 0.1})
    assert h.first_last_ratio() == pytest.approx(2.7e-8, rel=1e-9)
    assert h.latest_grad_norm("h1") == pytest.approx(2.7e-9 / 3) and math.isnan(h.latest_grad_norm("nope"))
    assert [gradient_health(r) for r in (2.7e-8, 1e-2, 1.0, 50.0, 1e4)] == [
        "vanishing",
        "shrinking",
        "healthy",
        "growing",
        "exploding",
    ]
    # a net whose last layer barely gets a gradient has stalled, even with an even ratio
    assert gradient_health(0.6, last_norm=6.6e-9) == "stalled" and gradient_health(0.6, last_norm=1e-3) == "healthy"
    assert TrainingHistory(["only"]).first_last_ratio() is None


def test_a_first_layer_whose_gradient_is_exactly_zero_reads_vanishing_not_unknown():
    h = TrainingHistory(["h1", "out"])
    h.record(1, 1.0, {"h1": 0.0, "out": 0.1})  # (dead units: no gradient reaches the first layer)
    assert h.first_last_ratio() == 0.0 and gradient_health(0.0) == "vanishing"


def test_the_first_record_names_the_layers_when_none_were_given():
    h = TrainingHistory()
    h.record(0, 1.0, {"a": 1.0, "b": 0.5})
    assert h.layer_ids == ("a", "b") and h.first_last_ratio() == 2.0


def test_bad_records_are_refused_and_change_nothing():
    h = TrainingHistory(LAYERS)
    h.record(5, 1.0, {"h1": 1.0}, 0.5)
    before, version = h.to_dict(), h.version
    for call, message in [
        (lambda: h.record(6, 1.0, {"h9": 1.0}), "unknown layer 'h9'"),
        (lambda: h.record(1, "1", {}), "loss must be a number"),  # refused before step 1 could rewind
        (lambda: h.record(1, 1.0, {"h9": 1.0}), "unknown layer 'h9'"),
        (lambda: h.record(6, 1.0, {}, accuracy=95), "accuracy must be a fraction between 0 and 1"),
        (lambda: h.record(True, 1.0, {}), "training step must be an integer"),
        (lambda: h.record_test(2.5, 1.0), "test step must be an integer"),
        (lambda: h.grad_norms("nope"), "no gradient history for layer 'nope'"),
        (lambda: h.to_csv("weights"), "CSV kind must be 'loss' or 'gradients'"),
        (lambda: TrainingHistory(capacity=0), "history capacity must be an integer ≥ 1"),
        (lambda: TrainingHistory(["a", "a"]), "layer id 'a' appears twice"),
        (lambda: TrainingHistory("abc"), "layer ids must be a sequence"),
    ]:
        with pytest.raises(SessionError, match=message):
            call()
    assert h.to_dict() == before and h.version == version


@settings(max_examples=80, deadline=None)
@given(
    raw=st.lists(record_st, min_size=1, max_size=60),
    more=st.lists(record_st, max_size=30),
    capacity=st.integers(1, 7),
    cut=st.floats(0, 1),
)
def test_a_rewound_run_drops_whole_points_after_the_cut_and_goes_on_exactly(raw, more, capacity, cut):
    records = build(raw)
    h = TrainingHistory(LAYERS, capacity=capacity)
    record_all(h, records)
    for step, loss, _, acc in records[::3]:
        h.record_test(step, loss, acc)
    k = records[int(cut * (len(records) - 1))][0]  # undo the training after step k
    h.truncate(k)
    kept = [r for r in records if r[0] <= (h.steps()[-1] if len(h.steps()) else -1)]
    assert len(h) == len(kept) and all(r[0] <= k for r in kept)
    assert len(records) - len(kept) - sum(r[0] > k for r in records) < h.stride  # at most one point lost
    tests, test_stride = records[::3], h.to_dict()["test"]["stride"]
    kept_tests = [r for r in tests if r[0] <= (h.test_steps()[-1] if len(h.test_steps()) else -1)]
    assert h.test_steps().tolist() == reference(kept_tests, test_stride)[0] and all(r[0] <= k for r in kept_tests)
    assert len(tests) - len(kept_tests) - sum(r[0] > k for r in tests) < test_stride
    # stepping again from the cut (or from anywhere before it) replaces what came after
    restart = kept[-1][0] + 1 if kept else 1
    again = [(restart + i, loss, norms, acc) for i, (_, loss, norms, acc) in enumerate(build(more))]
    record_all(h, again)
    steps, losses, _, norms = reference(kept + again, h.stride)
    assert h.steps().tolist() == steps
    close(h.losses(), losses)
    close(h.grad_norms("h1"), norms["h1"])


def test_recording_an_earlier_step_rewinds_both_series():
    h = TrainingHistory(["a", "b"])
    for step in range(10):
        h.record(step, float(step), {"a": 1.0, "b": 2.0})
        h.record_test(step, float(step))
    h.record(4, 40.0, {"a": 3.0, "b": 1.0})  # steps 4..9 were undone, then step 4 ran again
    assert h.steps().tolist() == [0, 1, 2, 3, 4] and h.losses()[-1] == 40.0 and len(h) == 5
    assert h.test_steps().tolist() == [0, 1, 2, 3]
    assert h.first_last_ratio() == pytest.approx(3 ** (1 / 5) / 2 ** (4 / 5))  # (of steps 0–4 as they are now)
    h.record_test(2, 7.0)
    assert h.test_steps().tolist() == [0, 1, 2] and h.test_losses()[-1] == 7.0


def test_version_moves_on_every_change_and_clear_forgets():
    h = TrainingHistory(LAYERS)
    versions = [h.version]
    h.record(0, 1.0, {"h1": 1.0})
    versions.append(h.version)
    h.record_test(0, 1.0)
    versions.append(h.version)
    h.steps(), h.grad_matrix(), h.to_dict()  # reading changes nothing
    versions.append(h.version)
    h.clear(["a", "b"])
    versions.append(h.version)
    assert versions[0] < versions[1] < versions[2] == versions[3] < versions[4]
    assert len(h) == 0 and h.layer_ids == ("a", "b") and h.steps().size == 0 and h.test_steps().size == 0


def filled(capacity=5, n=23):
    h = TrainingHistory(LAYERS, capacity=capacity)
    rng = np.random.default_rng(1)
    for step in range(n):
        h.record(
            step * 2,
            float(rng.random()),
            {"h1": float(rng.random()) * 1e-6, "h2": math.nan, "out": float(rng.random())},
            float(rng.random()),
        )
        if step % 3 == 0:
            h.record_test(step * 2, float(rng.random()), None if step % 2 else 0.75)
    return h


def test_json_round_trip_keeps_every_number_and_the_partial_point():
    h = filled()
    assert h.steps()[-1] == 44 and h.stride == 8  # 23 records: 2 full points of 8, a partial one of 7
    d = json.loads(json.dumps(h.to_dict(), allow_nan=False))
    back = TrainingHistory.from_dict(d)
    assert back.to_dict() == h.to_dict() and len(back) == len(h) and back.layer_ids == LAYERS
    for name in ("steps", "losses", "accuracies", "test_steps", "test_losses", "test_accuracies"):
        np.testing.assert_array_equal(getattr(back, name)(), getattr(h, name)())
    assert back.first_last_ratio() == h.first_last_ratio()
    for target in (h, back):  # both go on merging identically
        for step in range(46, 80):
            target.record(step, 1.0 / step, {"h1": 1e-7, "out": 0.5})
    assert back.to_dict() == h.to_dict()


def test_a_history_written_when_steps_counted_from_0_reads_with_steps_counted_from_1():
    h = filled()
    d = json.loads(json.dumps(h.to_dict()))
    d["version"] = 1
    for series in ("train", "test"):
        d[series]["steps"] = [s - 1 for s in d[series]["steps"]]  # what version 1 wrote for the same run
    back = TrainingHistory.from_dict(d)
    np.testing.assert_array_equal(back.steps(), h.steps())
    np.testing.assert_array_equal(back.test_steps(), h.test_steps())
    np.testing.assert_array_equal(back.losses(), h.losses())
    assert back.to_dict() == h.to_dict()  # and it is written back in today's numbering


@pytest.mark.parametrize(
    "change, field",
    [
        (lambda d: d.update(format="other"), "format"),
        (lambda d: d.update(version=7), "version"),
        (lambda d: d.update(capacity=-1), "capacity"),
        (lambda d: d.update(layer_ids=["a", 3]), "layer_ids"),
        (lambda d: d.update(layer_ids=LAYERS), "layer_ids"),  # a tuple is not JSON
        (lambda d: d["train"].update(stride="8"), "train.stride"),
        (lambda d: d["train"].update(partial_records=8), "train.partial_records"),
        (lambda d: d["train"]["steps"].reverse(), "train.steps"),
        (lambda d: d["train"]["steps"].extend(range(100, 110)), "train.steps"),
        (lambda d: d["train"]["channels"].pop("log10_grad_norm:h2"), "train.channels.log10_grad_norm:h2"),
        (lambda d: d["train"]["channels"]["loss"]["sum"].pop(), "train.channels.loss"),
        (lambda d: d["train"]["channels"]["loss"]["sum"].__setitem__(0, "x"), "train.channels.loss.sum"),
        (lambda d: d["train"]["channels"]["loss"]["count"].__setitem__(0, 9), "train.channels.loss.count"),
        (lambda d: d["test"].pop("channels"), "test.channels"),
        (lambda d: d.update(latest_grad_norms={"h1": 1.0}), "latest_grad_norms"),
        (lambda d: d["latest_grad_norms"].update(h1=[1]), "latest_grad_norms.h1"),
    ],
)
def test_a_bad_session_field_is_named(change, field):
    d = copy.deepcopy(filled().to_dict())
    change(d)
    with pytest.raises(SessionError, match=f"history field '{field}'"):
        TrainingHistory.from_dict(d)


def read_csv(text):
    return list(csv.DictReader(io.StringIO(text)))


def as_float(cell):
    return math.nan if cell == "" else float(cell)


def test_loss_csv_parses_back_to_the_same_numbers():
    h = filled(capacity=64)
    rows = read_csv(h.to_csv("loss"))
    assert list(rows[0]) == ["step", "train_loss", "train_accuracy", "test_loss", "test_accuracy"]
    by_step = {int(r["step"]): r for r in rows}
    assert sorted(by_step) == [int(r["step"]) for r in rows]  # rows in step order
    for step, loss, acc in zip(h.steps(), h.losses(), h.accuracies()):
        assert as_float(by_step[step]["train_loss"]) == loss and as_float(by_step[step]["train_accuracy"]) == acc
    for step, loss, acc in zip(h.test_steps(), h.test_losses(), h.test_accuracies()):
        assert as_float(by_step[step]["test_loss"]) == loss
        assert by_step[step]["test_accuracy"] == ("" if math.isnan(acc) else repr(float(acc)))
    assert (
        by_step[2]["test_loss"] == "" and by_step[6]["test_accuracy"] == "" and by_step[12]["test_accuracy"] == "0.75"
    )


def test_gradient_csv_has_a_column_per_layer_with_empty_cells_for_missing_norms():
    h = filled()
    rows = read_csv(h.to_csv("gradients"))
    assert list(rows[0]) == ["step", *LAYERS] and len(rows) == len(h.steps())
    assert [int(r["step"]) for r in rows] == h.steps().tolist()
    for lid in LAYERS:
        np.testing.assert_array_equal([as_float(r[lid]) for r in rows], h.grad_norms(lid))
    assert all(r["h2"] == "" for r in rows)


def test_a_snapshot_is_a_whole_copy_that_stays_as_it_was():
    h = TrainingHistory(LAYERS, capacity=8)
    for step in range(20):
        h.record(step, 1.0 / (step + 1), {"h1": 0.1, "h2": 0.2, "out": 0.3}, 0.5)
        h.record_test(step, 2.0 / (step + 1))
    snap = h.snapshot()
    assert snap.to_dict() == h.to_dict() and snap.version == h.version and len(snap) == 20
    for step in range(20, 40):
        h.record(step, 0.01, {"out": 1.0})
    h.truncate(25)
    assert len(snap) == 20 and snap.steps()[-1] == 19 and snap.first_last_ratio() == pytest.approx(0.1 / 0.3)
    assert len(h) <= 26 and h.steps()[-1] <= 25 and h.version > snap.version  # (whole points go)
    snap.record(20, 9.0, {"out": 1.0})  # the copy records on its own
    assert h.losses()[-1] != 9.0


def test_snapshots_taken_while_another_thread_records_are_each_consistent():
    h = TrainingHistory(["a", "b"], capacity=64)
    done = threading.Event()

    def writer() -> None:
        for step in range(30_000):
            h.record(step, float(step), {"a": 1.0, "b": 2.0})
            if step % 100 == 0:
                h.record_test(step, float(step))
        done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    seen = 0
    while not done.is_set() or seen == 0:
        snap = h.snapshot()
        steps, losses, norms = snap.steps(), snap.losses(), snap.grad_norms("b")
        assert len(steps) == len(losses) == len(norms) == snap.grad_matrix(1000)[2].shape[1]
        assert len(snap.test_steps()) == len(snap.test_losses())
        assert (np.diff(steps) > 0).all() and len(snap) >= seen
        seen = len(snap)
    thread.join()
    assert len(h) == 30_000


def test_a_history_pickles_and_copies_without_its_lock():
    h = TrainingHistory(LAYERS)
    h.record(0, 0.5, {"out": 0.2})
    for other in (pickle.loads(pickle.dumps(h)), copy.deepcopy(h)):
        assert other.to_dict() == h.to_dict()
        other.record(1, 0.25, {"out": 0.1})
        assert len(other) == 2 and len(h) == 1
