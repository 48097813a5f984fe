"""The topology canvas draws what the spec, the parameters and the trace say: neurons with their values,
weight lines coloured by sign and sized by magnitude, gradients once the backward pass reached them."""

import dataclasses

import numpy as np
import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QPointF
from PySide6.QtWidgets import QToolTip

from bpstudio.core.data import Dataset
from bpstudio.core.datasets import resolve_split
from bpstudio.core.io import presets
from bpstudio.core.session import Phase, Session
from bpstudio.gui.colors import HIGHLIGHT, NEGATIVE, POSITIVE, signed_color
from tests.gui.canvas_view import at, edge_point, edges, network, neuron_point, shown, tooltip


def test_mazur_draws_six_neurons_and_eight_weight_lines_labelled_with_their_weights(view, at_rest):
    assert view.canvas.neuron_count() == 6
    lines = edges(view)
    assert len(view.canvas.weight_edges()) == len(lines) == 8
    assert lines[("h.weight", (0, 0))].label == "0.15" and lines[("o.weight", (1, 1))].label == "0.55"
    # w5 = o.weight[0, 0] runs from h[0] to o[0]: it starts at h[0]'s circle and ends at o[0]'s
    w5 = lines[("o.weight", (0, 0))]
    assert (w5.p1.y(), w5.p2.y()) == pytest.approx((neuron_point(view, "h", 0).y(), neuron_point(view, "o", 0).y()))
    assert w5.p1.x() > neuron_point(view, "h", 0).x() and w5.p2.x() < neuron_point(view, "o", 0).x()
    # the bias is no separate node: it sits under its neuron and in the tooltip
    assert view.canvas.overlays["h"].texts[0] == ("", "b 0.35")
    assert "0.35" in tooltip(view, neuron_point(view, "h", 0)) and "frozen" in QToolTip.text()


def test_line_colour_follows_the_sign_and_thickness_follows_the_magnitude(view, mazur):
    spec, session = mazur
    params = session.params_numpy()
    params["o.weight"] = np.array([[0.4, -0.9], [0.01, 0.55]])
    view.show_network(spec, params)
    lines = edges(view)
    negative, positive, tiny = lines[("o.weight", (0, 1))], lines[("o.weight", (0, 0))], lines[("o.weight", (1, 0))]
    assert negative.color.rgb() == NEGATIVE.rgb() and positive.color.rgb() == POSITIVE.rgb()
    assert negative.width == pytest.approx(5.0)  # the network's largest |w| is 5 px
    assert positive.width == pytest.approx(5 * 0.4 / 0.9, abs=0.13)
    assert lines[("h.weight", (0, 0))].width == pytest.approx(5 * 0.15 / 0.9, abs=0.13)  # one scale per network
    assert tiny.width == pytest.approx(0.5)  # never thinner than 0.5 px
    # and on screen: a point on the negative line (away from crossings and labels) is blue
    image = view.viewport().grab().toImage()
    pixel = image.pixelColor(at(view, edge_point(view, "o.weight", (0, 1), 0.15)))
    assert pixel.blue() > 150 and pixel.red() < 120


def test_after_the_forward_of_h_its_neurons_show_their_values(view, mazur):
    spec, session = mazur
    session.advance()  # forward h
    shown(view, spec, session, session.next_phase)
    h = view.canvas.overlays["h"]
    assert h.texts[0] == ("0.5933", "net 0.3775") and h.texts[1][0] == "0.5969"
    assert view.canvas.overlays["i"].texts[0][0] == "0.05"
    assert view.canvas.overlays["o"].texts[0][0] == ""  # o's forward has not run yet
    text = tooltip(view, neuron_point(view, "h", 0))
    assert "0.593269992" in text and "0.3775" in text and "sample" not in text  # a batch of one
    assert view.canvas.blocks["o"].state.phase_label == "forward →"  # the next phase is o's forward
    assert view.canvas.blocks["o"]._border.color() == HIGHLIGHT
    shown(view, spec, session, Phase("loss"))  # during the loss: the output layer
    assert [b.state.phase_label for b in view.canvas.blocks.values()] == [None, None, "loss"]


def test_after_the_backward_of_o_its_lines_show_gradients(view, mazur):
    spec, session = mazur
    for _ in range(4):  # forward h, forward o, loss, backward o
        session.advance()
    shown(view, spec, session, session.next_phase)
    lines = edges(view)
    w5, w7 = lines[("o.weight", (0, 0))], lines[("o.weight", (1, 0))]
    assert w5.label == "0.0822" and w7.label == "-0.0226" and w7.color.rgb() == NEGATIVE.rgb()
    # thickness now follows |gradient| (w6 = 0.08266763 is the largest), colour its sign
    assert w5.width == pytest.approx(5 * 0.082167041 / 0.082667628, abs=0.13) and w5.color.rgb() == POSITIVE.rgb()
    assert lines[("h.weight", (0, 0))].label == "0.15"  # h's backward has not run: still weights
    assert "0.08216704" in tooltip(view, edge_point(view, "o.weight", (0, 0)))
    assert view.canvas.blocks["h"].state.phase_label == "← backward"
    assert view.canvas.blocks["o"]._loss_text == "loss 0.2984"
    assert view.legend.isVisible() and "gradients" in view.legend.text()
    assert "before its update" not in view.legend.text()  # (mid-step: the neurons and the weights belong together)


def test_after_the_update_the_lines_show_the_new_weights_and_the_tooltip_the_change(view, mazur):
    spec, session = mazur
    session.step()  # ... backward h, update
    shown(view, spec, session, session.next_phase)
    lines = edges(view)
    assert lines[("o.weight", (0, 0))].label == "0.359"  # Mazur's w5+ = 0.35891648
    assert "0.1497807" in tooltip(view, edge_point(view, "h.weight", (0, 0)))  # w1+ = 0.149780716
    assert not any(e.showing_grad for e in view.canvas.unit_edges.values())
    tip = tooltip(view, edge_point(view, "o.weight", (0, 0)))
    assert "0.35891648" in tip and "before the update" in tip and "0.4" in tip and "0.08216704" in tip
    assert "weights" in view.legend.text() and "gradients ∂E/∂w —" not in view.legend.text()
    # the neurons still show the forward pass the update followed (0.5933 under the new weights' 0.359): said
    assert "neurons</b>: the last step's forward pass, from before its update" in view.legend.text()
    session.advance()  # the next step's forward through h: new values from here on
    shown(view, spec, session, session.next_phase)
    assert "before its update" not in view.legend.text()


def test_big_layers_are_blocks_with_a_heat_strip_joined_by_arrows(view):
    spec = presets.load("spiral")
    session = Session(spec, data := resolve_split(spec.data)[0])
    shown(view, spec, session)
    assert set(view.canvas.arrows) == {("x", "h1"), ("h1", "h2"), ("h2", "logits")} and not view.canvas.unit_edges
    assert view.canvas.neuron_count() == 2 + 3
    h1 = view.canvas.blocks["h1"]
    assert h1.heat_caption.startswith("bias")
    session.advance()
    shown(view, spec, session, session.next_phase)
    assert h1.heat_caption.startswith("out, sample 1")
    out = session.trace.to_numpy().layers["h1"].out[0]
    scale = np.abs(out).max()
    image = view.viewport().grab().toImage()
    for unit in (0, 5, 17, 31):
        geo = h1.geometry
        cell = QPointF(geo.heat_rect.left() + (unit % 16 + 0.5) * 11, geo.heat_rect.top() + (unit // 16 + 0.5) * 11)
        want, got = signed_color(float(out[unit]), scale), image.pixelColor(at(view, h1.pos() + cell))
        assert abs(want.red() - got.red()) + abs(want.green() - got.green()) + abs(want.blue() - got.blue()) < 30
    text = tooltip(view, h1.pos() + QPointF(geo.heat_rect.left() + 5.5 * 11, geo.heat_rect.top() + 5))
    assert "h1[5]" in text and f"sample 1 of {len(data)}" in text  # the batch is the whole data set


def test_concat_and_add_link_units_one_to_one(view):
    spec = network(
        [
            {"id": "x", "type": "input", "units": 2},
            {"id": "a", "type": "dense", "inputs": ["x"], "units": 2},
            {"id": "b", "type": "dense", "inputs": ["x"], "units": 3},
            {"id": "c", "type": "concat", "inputs": ["a", "b"]},
            {"id": "s", "type": "add", "inputs": ["a", "x"]},
        ],
        "c",
    )
    view.show_network(spec, {})

    def links(source, target):  # (target unit, source unit) of each line
        item = view.canvas.unit_edges[(source, target)]
        return list(zip(item.rows.tolist(), item.cols.tolist()))

    assert links("b", "c") == [(2, 0), (3, 1), (4, 2)] and links("a", "c") == [(0, 0), (1, 1)]
    assert links("a", "s") == [(0, 0), (1, 1)]
    assert view.canvas.neuron_count() == 2 + 2 + 3 + 5 + 2
    # positions were not given: laid out left to right by depth
    xs = {lid: b.pos().x() for lid, b in view.canvas.blocks.items()}
    assert xs["x"] < xs["a"] == xs["b"] < xs["c"] == xs["s"]
    # x → s skips over the column of a and b: one arrow arching above them instead of lines through them
    assert ("x", "s") in view.canvas.arrows
    top_of_middle = min(view.canvas.blocks[i].sceneBoundingRect().top() for i in ("a", "b"))
    assert view.canvas.arrows[("x", "s")].sceneBoundingRect().top() < top_of_middle


def test_a_deep_network_mid_backward_draws_every_line_as_far_as_the_backward_reached(view):
    spec = network(
        [{"id": "h0", "type": "input", "units": 16}]
        + [
            {"id": f"h{k}", "type": "dense", "inputs": [f"h{k - 1}"], "units": 16, "activation": "sigmoid"}
            for k in range(1, 11)
        ],
        "h10",
    )
    session = Session(spec, Dataset(np.random.default_rng(0).normal(size=(8, 16)), np.zeros((8, 16))))
    for _ in range(15):  # 10 forwards, the loss, 4 backwards
        session.advance()
    view.show_network(spec, session.params_numpy(), session.trace.to_numpy(), session.next_phase)
    assert len(view.canvas.weight_edges()) == 10 * 256
    showing = {e.target for e in view.canvas.unit_edges.values() if e.showing_grad}
    assert showing == {"h7", "h8", "h9", "h10"}
    assert view.canvas.blocks["h6"].state.phase_label == "← backward"
    preset = presets.load("deep_sigmoid")  # (its redraw time: bench/bench_gui.py)
    shown(view, preset, Session(preset, resolve_split(preset.data)[0]))
    assert set(view.canvas.blocks) == set(preset.order)


def test_non_finite_and_stale_values_are_drawn_without_failing(view, mazur):
    spec, session = mazur
    stale = np.zeros((3, 2))  # the wrong shape: the spec's weights are drawn
    view.show_network(spec, {"o.weight": np.array([[np.nan, np.inf], [-np.inf, 0.5]]), "h.weight": stale})
    lines = edges(view)
    assert (lines[("o.weight", (0, 0))].label, lines[("o.weight", (0, 0))].width) == ("nan", 0.5)
    assert (lines[("o.weight", (0, 1))].label, lines[("o.weight", (0, 1))].width) == ("inf", 5.0)
    assert lines[("h.weight", (0, 0))].label == "0.15"
    session.advance()
    wider = dataclasses.replace(
        spec,
        layers=tuple(
            dataclasses.replace(lay, units=3, weight=None, bias=None)
            if lay.id == "h"
            else dataclasses.replace(lay, weight=None)
            if lay.id == "o"
            else lay
            for lay in spec.layers
        ),
    )
    shown(view, wider, session)  # a trace from before h got a third unit
    assert [t for t, _ in view.canvas.overlays["h"].texts] == ["", "", ""]
    assert view.canvas.overlays["i"].texts[0][0] == "0.05"


def test_refusal_banner_shows_the_reason_until_cleared(view, mazur):
    spec, session = mazur
    view.show_refusal("the network already has an input layer ('i')")  # a strip along the top:
    assert view.banner.isVisible() and "already has an input layer" in view.banner.text() and view.banner.y() < 40
    shown(view, spec, session)  # a redraw keeps the reason up
    assert view.banner.isVisible()
    view.banner.clear_message()  # (the window does this on a good edit)
    assert not view.banner.isVisible()
    view.show_network(spec, session.params_numpy(), refused="an add layer needs inputs of equal width")
    assert view.banner.isVisible() and "equal width" in view.banner.text()
