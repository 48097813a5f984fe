"""Per-layer histograms over time and the dead/saturated unit fractions (bpstudio.core.record.layer_stats)."""

import math
import threading

import numpy as np
import pytest

from bpstudio.core.datasets import resolve_split
from bpstudio.core.errors import SessionError
from bpstudio.core.io import presets
from bpstudio.core.record.layer_stats import (
    LayerStats,
    common_range,
    histogram,
    log_edges,
    log_histogram,
    log_rebin,
    rebin,
    record_run,
    saturation_threshold,
)
from bpstudio.core.session import Session


def session_for(name, batch_size=None, **params):
    spec = presets.load(name)
    return spec, Session(spec, resolve_split(spec.data)[0], batch_size=batch_size)


def scaled(spec, session, factor):
    """The session's weights (not biases) times ``factor``, in a new session on the same data."""
    p = {k: v * factor if k.endswith(".weight") else v for k, v in session.params_numpy().items()}
    return Session(spec, session.data, params=p)


def test_thresholds_are_where_the_derivative_falls_to_one_percent_of_its_maximum():
    r = 0.01
    s = math.sqrt(1 - r)  # σ(1−σ) = r/4 and 1 − tanh² = r, solved for z
    assert saturation_threshold("sigmoid") == pytest.approx(math.log((1 + s) / (1 - s)), abs=1e-9)
    assert saturation_threshold("tanh") == pytest.approx(math.atanh(s), abs=1e-9)
    assert saturation_threshold("tanh", 0.1) == pytest.approx(math.atanh(math.sqrt(0.9)), abs=1e-9)
    with pytest.raises(SessionError, match="relu"):
        saturation_threshold("relu")


def test_each_histogram_counts_every_value_in_the_bin_numpy_puts_it_in():
    spec, s = session_for("spiral", batch_size=50)
    stats = LayerStats(spec, bins=32)
    trace = s.step()
    stats.record(0, trace, s.params_numpy())
    sizes = {"pre": (50, 32), "activation": (50, 32), "weight": (32, 2), "gradient": (32, 2)}
    for quantity, shape in sizes.items():
        h = stats.heatmap("h1", quantity)
        assert h.counts.shape == (1, 32) and h.counts.sum() == shape[0] * shape[1]
        values = {
            "pre": trace.layers["h1"].pre,
            "activation": trace.layers["h1"].out,
            "weight": s.params_numpy()["h1.weight"],
            "gradient": trace.layers["h1"].grads["weight"],
        }[quantity]
        assert np.array_equal(h.counts[0], np.histogram(values, bins=h.edges)[0]), quantity
        assert h.edges[-1] > np.max(values) and (h.edges[0] <= np.min(values))
    assert stats.heatmap("h1", "activation").edges[0] == 0.0  # relu outputs: no negative half
    assert stats.heatmap("h1", "gradient").scale == "symlog" and stats.heatmap("h1", "pre").scale == "linear"
    assert stats.quantities("logits") == ("pre", "activation", "weight", "gradient")


def test_rebinning_onto_a_wider_range_is_exact():
    rng = np.random.default_rng(3)
    samples = [rng.normal(0, 0.01, 500), rng.normal(0, 3.0, 500), np.abs(rng.normal(0, 40, 500)), -rng.random(9)]
    made = [histogram(v, 16) for v in samples]
    lo, hi = common_range(np.array([m[0] for m in made]), np.array([m[1] for m in made]))
    assert (lo, hi) == (-128.0, 128.0)
    edges = np.linspace(lo, hi, 17)
    for v, (a, b, counts, bad) in zip(samples, made):
        assert np.array_equal(rebin(counts, a, b, lo, hi), np.histogram(v, bins=edges)[0])
        assert bad == 0


def test_log_binning_merges_exactly_onto_a_higher_top():
    rng = np.random.default_rng(4)
    samples = [rng.normal(0, 1e-6, 300), rng.normal(0, 0.5, 300), np.append(rng.normal(0, 30, 300), 0.0)]
    made = [log_histogram(v, 32) for v in samples]
    top = max(m[1] for m in made)
    largest = max(np.max(np.abs(v)) for v in samples)
    assert top / 2**0.5 <= largest < top and 2 * np.log2(top) == round(2 * np.log2(top))  # the next edge 2^(i/2)
    edges = log_edges(top, 32)
    assert len(edges) == 33 and edges[16] == 0.0 and np.all(np.diff(edges) > 0)
    assert edges[17] == pytest.approx(top / 2**7.5) and edges[-2] == pytest.approx(top / 2**0.5)
    for v, (lo, hi, counts, _bad) in zip(samples, made):
        assert lo == -hi and counts.sum() == len(v)
        merged = log_rebin(counts, hi, top)
        assert np.array_equal(merged, np.histogram(v, bins=edges)[0])
    assert log_rebin(made[0][2], made[0][1], top)[15:17].sum() == 300  # all within the band around 0


def test_non_finite_values_are_counted_apart_and_zeros_have_a_range():
    lo, hi, counts, bad = histogram([np.nan, 1.0, -np.inf, 0.5], 8)
    assert (lo, hi, counts.sum(), bad) == (0.0, 2.0, 2, 2)
    assert counts[4] == 1 and counts[2] == 1  # 1.0 in [1, 1.25), 0.5 in [0.5, 0.75)
    lo, hi, counts, bad = histogram(np.zeros(5), 8)
    assert lo == 0.0 and 0 < hi < 1e-15 and counts[0] == 5


def test_a_relu_layer_with_all_negative_bias_is_dead():
    spec, _ = session_for("spiral")
    spec = spec.replace_layer("h1", bias=np.full(32, -100.0))
    s = Session(spec, resolve_split(spec.data)[0])
    stats = LayerStats(spec)
    record_run(s, 3, stats)
    assert stats.fraction_kinds == {"h1": "dead", "h2": "dead"}
    assert np.array_equal(stats.fractions("h1"), [1.0, 1.0, 1.0])
    with pytest.raises(SessionError, match="logits"):
        stats.fractions("logits")


def test_the_dead_fraction_counts_units_zero_on_every_sample():
    spec, s = session_for("deep_relu_he", batch_size=20)
    stats = LayerStats(spec)
    fractions = {lid: [] for lid, kind in stats.fraction_kinds.items() if kind == "dead"}
    for step in range(6):
        trace = s.step()
        stats.record(step, trace)
        for lid, shares in fractions.items():  # reference: columns of the output that are all zero
            out = trace.layers[lid].out
            shares.append(sum(not out[:, j].any() for j in range(out.shape[1])) / out.shape[1])
    assert set(fractions) == {f"h{i}" for i in range(1, 11)}
    for lid, expected in fractions.items():
        assert np.allclose(stats.fractions(lid), expected)
    assert stats.fraction_kinds.get("out") == "saturated"  # the sigmoid output


def test_deep_sigmoid_saturates_with_large_weights_and_not_with_its_own():
    spec, s = session_for("deep_sigmoid")
    calm, hot = LayerStats(spec), LayerStats(spec)
    calm.record(0, s.step())
    big = scaled(spec, s, 30.0)
    trace = big.step()
    hot.record(0, trace)
    hidden = [f"h{i}" for i in range(1, 11)]
    assert max(calm.latest_fractions()[lid] for lid in hidden) < 0.05
    assert np.mean([hot.latest_fractions()[lid] for lid in hidden]) > 0.6
    limit = saturation_threshold("sigmoid")
    assert hot.latest_fractions()["h5"] == np.mean(np.abs(trace.layers["h5"].pre) > limit)


def test_memory_stays_bounded_over_a_hundred_thousand_records():
    spec, s = session_for("xor", batch_size=4)
    trace = s.step()
    stats = LayerStats(spec, bins=16, capacity=64)
    size = stats.memory_bytes()
    for step in range(100_000):
        stats.record(step, trace)
    assert len(stats) == 100_000 and stats.memory_bytes() == size
    h = stats.heatmap("h", "pre")
    assert len(h.steps) <= 65 and h.steps[-1] == 99_999
    gaps = np.diff(h.steps[:-1])
    assert np.all(gaps == gaps[0]) and gaps[0] == stats.stride  # evenly spread over the whole run
    assert len(stats.fraction_steps()) <= 65 and stats.fraction_steps()[-1] == 99_999
    assert np.all(h.counts.sum(axis=1) == 4 * 4)


def test_a_rewind_drops_later_records_and_a_snapshot_stays_as_it_was():
    spec, s = session_for("xor")
    stats = LayerStats(spec, capacity=4)
    traces = [s.step() for _ in range(10)]
    for step, trace in enumerate(traces):
        stats.record(step, trace)
    frozen = stats.snapshot()
    stats.record(5, traces[0])  # training undone back to step 5, then a new step 5
    assert stats.fraction_steps()[-1] == 5 and stats.heatmap("h", "weight").steps[-1] == 5
    assert len(frozen) == 10 and frozen.heatmap("h", "weight").steps[-1] == 9


def test_reading_while_another_thread_records():
    spec, s = session_for("xor")
    trace = s.step()
    stats = LayerStats(spec, capacity=8)
    failures = []

    def writer():
        try:
            for step in range(3000):
                stats.record(step, trace)
        except Exception as exc:
            failures.append(exc)

    t = threading.Thread(target=writer)
    t.start()
    while t.is_alive():
        snap = stats.snapshot()
        h = snap.heatmap("y", "pre")
        assert len(h.steps) == len(h.counts) and len(snap.fraction_steps()) == len(snap.fractions("h"))
    t.join()
    assert not failures and len(stats) == 3000


def test_bad_settings_are_refused():
    spec, _ = session_for("xor")
    with pytest.raises(SessionError, match="power of two"):
        LayerStats(spec, bins=10)
    with pytest.raises(SessionError, match="capacity"):
        LayerStats(spec, capacity=1)
    with pytest.raises(SessionError, match="no histograms for layer 'zz'"):
        LayerStats(spec).heatmap("zz", "pre")
