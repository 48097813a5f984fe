"""The vanishing-gradients lesson told with the numbers of its runs: each stop's text carries the figures of
the run the class watched, computed here independently from the run's own steps."""

import math

import numpy as np
import pytest

from bpstudio.core.datasets import resolve_split
from bpstudio.core.io import presets
from bpstudio.core.record.history import TrainingHistory
from bpstudio.core.session import Session
from bpstudio.core.tools import vanishing_lesson as vl

STEPS = 300


def run(name, steps=STEPS):
    """Train the example with its own settings; its history and each step's (first, last) gradient norms."""
    spec = presets.load(name)
    session = Session(spec, resolve_split(dict(spec.data))[0], batch_size=spec.batch_size)
    history, pairs, losses = TrainingHistory.for_network(spec), [], []
    first, last = history.layer_ids[0], history.layer_ids[-1]
    for _ in range(steps):
        trace = session.step()
        norms = trace.grad_norms()
        history.record(trace.step, float(trace.loss), norms)
        pairs.append((norms[first], norms[last]))
        losses.append(float(trace.loss))
    return spec, history, np.array(pairs), np.array(losses)


def geometric_tail(values):
    tail = [v for v in values[-vl.TAIL :] if v > 0]
    return math.exp(sum(math.log(v) for v in tail) / len(tail))


@pytest.mark.parametrize("name", ["deep_sigmoid", "deep_relu_he", "deep_sigmoid_residual", "deep_sigmoid_batchnorm"])
def test_a_summary_is_the_runs_own_figures(name):
    _, history, pairs, losses = run(name)
    s = vl.summarize(history)
    assert s.steps == STEPS and (s.first_layer, s.last_layer) == ("h1", "out")
    assert s.first_norm == pytest.approx(geometric_tail(pairs[:, 0]), rel=1e-9)
    assert s.last_norm == pytest.approx(geometric_tail(pairs[:, 1]), rel=1e-9)
    assert s.ratio == pytest.approx(s.first_norm / s.last_norm)
    assert s.loss_start == pytest.approx(losses[: vl.HEAD].mean()) and s.loss_end == pytest.approx(losses[-50:].mean())
    assert s.per_layer(11) ** 10 == pytest.approx(s.ratio)


def test_the_lesson_tells_each_run_with_its_numbers():
    runs, texts = {}, []
    stops = vl.lesson()
    current = None
    for stop in stops:
        current = stop.example or current
        spec = presets.load(current)
        if stop.train_steps:
            _, history, _, _ = run(current, stop.train_steps)
            runs[current] = vl.summarize(history)
        texts.append(stop.text_for(spec, runs))
    assert [s.example for s in stops if s.example] == [
        "deep_sigmoid",
        "deep_relu_he",
        "deep_sigmoid_residual",
        "deep_sigmoid_batchnorm",
    ]
    assert "0.25^10 = 9.5e-07" in texts[0]
    sigmoid, relu, residual = runs["deep_sigmoid"], runs["deep_relu_he"], runs["deep_sigmoid_residual"]
    assert f"{sigmoid.first_norm:.2e}" in texts[1] and vl.times(sigmoid.ratio) in texts[1]
    assert sigmoid.ratio < 1e-3 and sigmoid.per_layer(11) < vl.SIGMOID_SLOPE_BOUND  # the lesson's claim holds
    assert "barely moved" in texts[1]
    assert vl.times(relu.ratio) in texts[2] and vl.times(sigmoid.ratio) in texts[2] and "It fell" in texts[2]
    assert vl.times(residual.ratio) in texts[3] and residual.ratio > 1e-2
    batchnorm = runs["deep_sigmoid_batchnorm"]
    assert vl.times(batchnorm.ratio) in texts[4] and vl.times(sigmoid.ratio) in texts[4] and batchnorm.ratio > 1e-2
    for summary in runs.values():
        assert vl.times(summary.ratio) in texts[5]
    assert "The four runs" in texts[5] and "Sigmoid + batchnorm" in texts[5]


@pytest.mark.parametrize(
    ("ratio", "text"),
    [(1e-6, "about 1/1,000,000 (10^-6.0)"), (3.2e-9, "about 1/310,000,000 (10^-8.5)"), (0.037, "about 1/27 (10^-1.4)")],
)
def test_ratios_read_as_fractions(ratio, text):
    assert vl.times(ratio) == text


def test_no_run_no_summary():
    with pytest.raises(Exception, match="no steps"):
        vl.summarize(TrainingHistory(["a", "b"]))


def test_the_lessons_examples_give_each_shared_layer_the_same_colour():
    """The class compares the four runs' curves layer by layer: h3 is one colour in all of them (by position the
    batchnorm and residual nets' extra layers took palette slots, and h3 turned from red to green between stops)."""
    from bpstudio.core.edit.colors import color_slots

    examples = [stop.example for stop in vl.lesson() if stop.example is not None]
    slots = [color_slots(presets.load(name)) for name in examples]
    shared = set.intersection(*(set(s) for s in slots))
    assert {"h1", "h3", "h10", "out"} <= shared
    for layer in sorted(shared):
        assert len({s[layer] for s in slots}) == 1, layer
    for s in slots:  # and within one network, no two plotted layers alike (20 palette slots, 21 curves at most)
        assert len(set(s.values())) >= min(len(s), 20)
