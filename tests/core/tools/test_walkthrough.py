"""The guided walk through Mazur's example: his published figures appear where his text introduces
them, the numbers come from the engine (another network gives other numbers, checked against a scalar
re-derivation), and running the walk's actions is exactly one training step."""

import dataclasses
import math
import re

import numpy as np
import pytest

from bpstudio.core.data import Dataset
from bpstudio.core.datasets import resolve_split
from bpstudio.core.errors import SessionError, SpecError
from bpstudio.core.io import presets, spec_io
from bpstudio.core.session import Session
from bpstudio.core.tools.walkthrough import mazur_walkthrough, run_through
from tests.helpers import MAZUR, MAZUR_DATA

# Mazur's figures, and the title of the step where his text introduces each
PUBLISHED = {
    "0.3775": "Net input of h1",
    "0.593269992": "Output of h1",
    "1.105905967": "Net input of o1",
    "0.75136507": "Output of o1",
    "0.298371109": "The total error",
    "0.74136507": "Backward: ∂E/∂out_o1",
    "0.186815602": "Through the sigmoid: ∂out_o1/∂net_o1",
    "0.082167041": "The chain rule for w5",
    "0.35891648": "The new w5",
    "0.000438568": "The chain rule for w1",
    "0.149780716": "The update: the new w1",
    # and on the way (Mazur prints these too)
    "0.596884378": "The second hidden neuron, h2",
    "0.772928465": "The second output, o2",
    "0.274811083": "The total error",
    "0.023560026": "The total error",
    "0.055399425": "∂E/∂out_h1: two paths",
    "0.036350306": "∂E/∂out_h1: two paths",
    "0.241300709": "The chain rule for w1",
    "0.408666186": "The new w5",
    "0.561370121": "The new w5",
}


def sig(z):
    return 1 / (1 + math.exp(-z))


def walk(spec=None, data=MAZUR_DATA):
    spec = spec or spec_io.from_dict(MAZUR)
    steps = mazur_walkthrough(spec, data)
    session = Session(spec, data if data is not None else resolve_split(spec.data)[0])
    return steps, session, run_through(session, steps)


def numbers(text):
    return set(re.findall(r"-?\d+\.\d+", text))


def test_the_walk_follows_mazurs_order():
    steps = mazur_walkthrough()
    assert 12 <= len(steps) <= 16
    assert [s.action for s in steps if s.action] == ["forward", "forward", "loss", "backward", "backward", "update"]
    titles = [s.title for s in steps]
    assert (
        titles.index("Output of h1")
        < titles.index("Net input of o1")
        < titles.index("The total error")
        < titles.index("The chain rule for w5")
        < titles.index("The new w5")
        < titles.index("∂E/∂out_h1: two paths")
        < titles.index("The chain rule for w1")
    )
    by_title = {s.title: s for s in steps}
    assert by_title["Net input of h1"].highlight == ("neuron", "h", 0)
    assert by_title["The chain rule for w5"].highlight == ("edge", "o.weight", (0, 0))
    assert by_title["The chain rule for w1"].highlight == ("edge", "h.weight", (0, 0))
    assert by_title["The total error"].highlight == ("loss",)


def test_every_published_figure_appears_first_where_mazur_introduces_it():
    steps, _, texts = walk(presets.load("mazur"), None)
    titles = [s.title for s in steps]
    for figure, title in PUBLISHED.items():
        first = next((k for k, text in enumerate(texts) if figure in numbers(text)), None)
        assert first is not None, f"{figure} never appears"
        assert titles[first] == title, f"{figure} first appears at '{titles[first]}', not '{title}'"


def test_formulas_are_written_out_with_their_operands():
    steps, _, texts = walk()
    text = dict(zip((s.title for s in steps), texts))
    assert "net_h1 = w1·i1 + w2·i2 + b1\n= 0.15·0.05 + 0.2·0.1 + 0.35 = 0.3775" in text["Net input of h1"]
    assert "= 0.74136507 · 0.186815602 · 0.593269992 = 0.082167041" in text["The chain rule for w5"]
    assert "w5⁺ = w5 − η·∂E/∂w5 = 0.4 − 0.5·0.082167041 = 0.35891648" in text["The new w5"]
    assert "= 0.036350306 · 0.241300709 · 0.05 = 0.000438568" in text["The chain rule for w1"]
    assert "0.055399425 − 0.019049118 = 0.036350306" in text["∂E/∂out_h1: two paths"]
    assert "w1⁺ = w1 − η·∂E/∂w1 = 0.15 − 0.5·0.000438568 = 0.149780716" in text["The update: the new w1"]


def test_the_numbers_come_from_the_engine_not_from_the_text():
    """Other weights, inputs and learning rate: the texts follow, matching a scalar re-derivation."""
    spec = spec_io.from_dict(MAZUR)
    spec = spec.with_params(
        {"h.weight": np.array([[0.3, -0.1], [0.2, 0.4]]), "o.weight": np.array([[-0.7, 0.45], [0.5, 0.9]])}
    )
    spec = dataclasses.replace(spec, optimizer=dataclasses.replace(spec.optimizer, lr=0.1))
    data = Dataset(np.array([[0.6, -0.2]]), np.array([[0.3, 0.8]]), "other")
    steps, _, texts = walk(spec, data)
    text = dict(zip((s.title for s in steps), texts))
    i1, i2, t1, t2 = 0.6, -0.2, 0.3, 0.8
    w1, w2, w3, w4, w5, w6, w7, w8 = 0.3, -0.1, 0.2, 0.4, -0.7, 0.45, 0.5, 0.9
    net_h1 = w1 * i1 + w2 * i2 + 0.35
    h1, h2 = sig(net_h1), sig(w3 * i1 + w4 * i2 + 0.35)
    o1, o2 = sig(w5 * h1 + w6 * h2 + 0.6), sig(w7 * h1 + w8 * h2 + 0.6)
    d1, d2 = (o1 - t1) * o1 * (1 - o1), (o2 - t2) * o2 * (1 - o2)
    g5, g1 = d1 * h1, (d1 * w5 + d2 * w7) * h1 * (1 - h1) * i1
    loss = 0.5 * (t1 - o1) ** 2 + 0.5 * (t2 - o2) ** 2

    def shown(title, value):
        found = [float(n) for n in numbers(text[title])]
        assert any(abs(n - value) <= 1e-9 * max(1, abs(value)) for n in found), (title, value, found)

    shown("Net input of h1", net_h1)
    shown("Output of h1", h1)
    shown("The total error", loss)
    shown("The chain rule for w5", g5)
    shown("The new w5", w5 - 0.1 * g5)
    shown("The chain rule for w1", g1)
    shown("The update: the new w1", w1 - 0.1 * g1)
    assert "0.3775" not in text["Net input of h1"] and "0.082167041" not in text["The chain rule for w5"]
    assert f"= 0.3·0.6 + (-0.1)·(-0.2) + 0.35 = {net_h1:.9f}".rstrip("0") in text["Net input of h1"]


def test_running_the_walk_is_exactly_one_training_step():
    _, walked, _ = walk()
    stepped = Session(spec_io.from_dict(MAZUR), MAZUR_DATA)
    trace = stepped.step()
    assert walked.step_count == 1 and not walked.mid_step and walked.next_phase == stepped.next_phase
    for key, value in stepped.params_numpy().items():
        np.testing.assert_array_equal(walked.params_numpy()[key], value)
    assert walked.trace.loss == trace.loss


def test_the_closing_step_reports_the_loss_after_the_update():
    steps, _, texts = walk()
    after = Session(spec_io.from_dict(MAZUR), MAZUR_DATA)
    after.step()
    loss = after.evaluate(MAZUR_DATA)
    assert steps[-1].title == "After the first update"
    assert any(abs(float(n) - loss) < 1e-9 for n in numbers(texts[-1]))
    assert "0.298371109" in texts[-1]


def test_mazurs_ten_thousand_steps():
    """The figure Mazur reports after 10,000 rounds (the error of the 10,000th step's forward pass)."""
    session = Session(spec_io.from_dict(MAZUR), MAZUR_DATA)
    assert session.run(10_000).loss == pytest.approx(0.0000351085, abs=5e-11)


def test_refusals():
    steps = mazur_walkthrough()
    with pytest.raises(SessionError, match="earlier steps"):
        steps[1].text(None, {}, None)
    session = Session(spec_io.from_dict(MAZUR), MAZUR_DATA)
    session.advance()
    with pytest.raises(SessionError, match="beginning of a step"):
        run_through(session, steps)
    with pytest.raises(SpecError, match="Mazur"):
        mazur_walkthrough(presets.load("xor"))
    two = Dataset(np.array([[0.05, 0.1], [0.2, 0.3]]), np.array([[0.01, 0.99], [0.5, 0.5]]), "two")
    with pytest.raises(SpecError, match="one training sample"):
        mazur_walkthrough(spec_io.from_dict(MAZUR), two)


def mazur_by_hand(through_new_output_weights=False, decimals=None):
    """E_total after one step of Mazur's example, worked out with scalars: the hidden weights' gradients go
    through the old w5…w8 (his text), or through the new w5⁺…w8⁺; the new weights rounded to ``decimals``."""
    i1, i2, t1, t2, b1, b2, lr = 0.05, 0.1, 0.01, 0.99, 0.35, 0.6, 0.5
    w = [0.15, 0.2, 0.25, 0.3, 0.4, 0.45, 0.5, 0.55]

    def forward(w):
        h1, h2 = sig(w[0] * i1 + w[1] * i2 + b1), sig(w[2] * i1 + w[3] * i2 + b1)
        o1, o2 = sig(w[4] * h1 + w[5] * h2 + b2), sig(w[6] * h1 + w[7] * h2 + b2)
        return h1, h2, o1, o2, 0.5 * (t1 - o1) ** 2 + 0.5 * (t2 - o2) ** 2

    h1, h2, o1, o2, _ = forward(w)
    d1, d2 = (o1 - t1) * o1 * (1 - o1), (o2 - t2) * o2 * (1 - o2)
    out = [w[4] - lr * d1 * h1, w[5] - lr * d1 * h2, w[6] - lr * d2 * h1, w[7] - lr * d2 * h2]
    w5, w6, w7, w8 = out if through_new_output_weights else w[4:]
    e1, e2 = (d1 * w5 + d2 * w7) * h1 * (1 - h1), (d1 * w6 + d2 * w8) * h2 * (1 - h2)
    new = [w[0] - lr * e1 * i1, w[1] - lr * e1 * i2, w[2] - lr * e2 * i1, w[3] - lr * e2 * i2, *out]
    return forward([round(v, decimals) for v in new] if decimals else new)[4]


def test_the_closing_step_says_why_mazurs_printed_error_differs_and_that_its_own_is_exact():
    _, _, texts = walk(presets.load("mazur"), None)
    closing = texts[-1]
    exact, his, rounded = mazur_by_hand(), mazur_by_hand(through_new_output_weights=True), mazur_by_hand(decimals=9)
    assert f"{exact:.9f}" == "0.291027774" and f"{his:.9f}" == "0.291027924"  # his printed figure, reproduced
    assert f"{rounded:.9f}" == f"{exact:.9f}"  # rounding the new weights does not explain it
    assert f"E_total = {exact:.9f}  (it was 0.298371109" in closing
    assert f"prints E_total = 0.291027924 here, {his - exact:.8f} more" in closing
    assert f"rounded to 9 decimals give {rounded:.9f}" in closing
    assert "through the new w5⁺…w8⁺ instead of the old w5…w8" in closing
    assert f"in float64: {exact:.9f} is exact to the digits shown" in closing


def test_another_learning_rate_leaves_mazurs_printed_figure_out():
    spec = presets.load("mazur")
    spec = dataclasses.replace(spec, optimizer=dataclasses.replace(spec.optimizer, lr=0.1))
    _, _, texts = walk(spec, None)
    assert "0.291027924" not in texts[-1] and "E_total = " in texts[-1]
