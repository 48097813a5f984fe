"""The canvas's numbers as a person reads them: a neuron's value stays inside its circle however long it is,
each weight label sits on its own line away from crossings, and after an update a weight shows the digits
it takes to see how it changed."""

import math

import numpy as np
import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QPoint, QPointF
from PySide6.QtGui import QFontMetricsF
from PySide6.QtTest import QTest

from bpstudio.core.data import Dataset
from bpstudio.core.session import Session
from bpstudio.core.tools.neuron_maps import neuron_maps
from bpstudio.gui.canvas.style import value_font
from tests.gui import canvas_points, canvas_view
from tests.gui.canvas_view import at, click, network, shown
from tests.gui.driving import open_example, settle

LONG = -0.000123456


def identity_net(units):
    """2 inputs → ``units`` identity units whose outputs are LONG (zero weights, bias LONG) and 0.5 for unit 0."""
    spec = network(
        [
            {"id": "x", "type": "input", "units": 2},
            {"id": "v", "type": "dense", "inputs": ["x"], "units": units, "init": "zeros"},
        ],
        "v",
    )
    data = Dataset(np.array([[0.05, 0.1], [1.0, -1.0]]), np.zeros((2, units)))
    bias = np.full(units, LONG)
    bias[0] = 0.5
    session = Session(spec, data, params={"v.weight": np.zeros((units, 2)), "v.bias": bias})
    session.advance()  # v's forward: its values are in the trace
    return spec, session


def drawn_text_corners(overlay, k):
    """The four corners of the box the value's glyphs cover, centred in the circle as the canvas draws them,
    measured here from the font it drew them in."""
    text = overlay.texts[k][0]
    box = QFontMetricsF(value_font(overlay.value_px)).tightBoundingRect(text)
    c = overlay.circle(k).center()
    return [QPointF(c.x() + sx * box.width() / 2, c.y() + sy * box.height() / 2) for sx in (-1, 1) for sy in (-1, 1)]


@pytest.mark.parametrize("units", [2, 8, 16])
@pytest.mark.parametrize("with_pictures", [False, True])
def test_long_values_fit_inside_their_circles(view, units, with_pictures):
    spec, session = identity_net(units)
    shown(view, spec, session, session.next_phase)
    if with_pictures:  # over a picture the value sits on a pill, which must fit too
        view.show_neuron_maps(neuron_maps(session, session.data))
    overlay = view.canvas.overlays["v"]
    assert overlay.has_pictures == with_pictures
    for k in range(units):
        text = overlay.texts[k][0]
        assert text and float(text) == pytest.approx(0.5 if k == 0 else LONG, rel=0.2)
        circle = overlay.circle(k)
        radius = circle.width() / 2
        for corner in drawn_text_corners(overlay, k):
            assert math.dist((corner.x(), corner.y()), (circle.center().x(), circle.center().y())) < radius
        rect = overlay.value_rect(k)  # (the pill, over a picture)
        for corner in (rect.topLeft(), rect.topRight(), rect.bottomLeft(), rect.bottomRight()):
            assert math.dist((corner.x(), corner.y()), (circle.center().x(), circle.center().y())) < radius
    assert overlay.texts[0][0] == "0.5"  # a short value keeps its usual look


def test_mazur_weights_show_the_digits_their_update_changed(qtbot, window):
    w = window
    open_example(qtbot, w, "mazur")
    before = {key: e.label for key, e in canvas_points.edges(w).items()}
    assert before[("o.weight", (0, 0))] == "0.4" and before[("h.weight", (0, 0))] == "0.15"  # w5, w1
    w.window_actions.step.trigger()  # one whole step with Mazur's learning rate 0.5
    settle(qtbot)
    after = {key: e.label for key, e in canvas_points.edges(w).items()}
    params = w.document.params()
    for key in after:
        value = float(params[key[0]][key[1]])
        label = after[key]
        digits = len(label.lstrip("-0.").replace(".", ""))  # significant digits shown
        assert label != before[key]
        assert label == f"{value:.{digits}g}"  # the updated weight, to the digits shown
    assert float(after[("o.weight", (0, 0))]) == pytest.approx(0.35891648, abs=5e-4)
    assert after[("h.weight", (0, 0))] == "0.1498"  # w1: 0.15 → 0.149780716


def segment_points(edge, n=400):
    t = np.linspace(0.0, 1.0, n)
    return [
        QPointF(edge.p1.x() + (edge.p2.x() - edge.p1.x()) * s, edge.p1.y() + (edge.p2.y() - edge.p1.y()) * s) for s in t
    ]


@pytest.mark.parametrize("name", ["mazur", "xor"])
def test_each_weight_label_sits_on_its_own_line_with_no_other_line_through_it(qtbot, window, name):
    w = window
    open_example(qtbot, w, name)
    for item in w.canvas.canvas.unit_edges.values():
        if not item.labels:
            continue
        views = [item.edge_view(i) for i in range(len(item.lines))]
        rects = [item.label_rect(i) for i in range(len(item.lines))]
        for i, rect in enumerate(rects):
            inner = rect.adjusted(1, 1, -1, -1)
            assert any(inner.contains(p) for p in segment_points(views[i]))  # on its own line
            for j, other in enumerate(views):
                if j != i:
                    assert not any(inner.contains(p) for p in segment_points(other)), (
                        name,
                        views[i].label,
                        other.label,
                    )
            assert not any(rect.intersects(r) for r in rects[:i])  # labels never overlap


def test_where_lines_are_many_the_hovered_and_the_picked_line_show_their_value(qtbot, view):
    spec = network(
        [
            {"id": "x", "type": "input", "units": 4},
            {"id": "h", "type": "dense", "inputs": ["x"], "units": 4},
        ],
        "h",
    )
    session = Session(spec, Dataset(np.zeros((2, 4)), np.zeros((2, 4))))
    shown(view, spec, session)
    item = view.canvas.unit_edges[("x", "h")]
    weight = session.params_numpy()["h.weight"]
    assert item.labels == [] and all(e.label == "" for e in view.canvas.weight_edges())  # 16 lines: no labels
    assert "point at one" in view.legend.text()
    line = canvas_view.edges(view)[("h.weight", (1, 2))]
    QTest.mouseMove(view.viewport(), at(view, line.p1 + (line.p2 - line.p1) * 0.2))
    settle()
    assert (
        item.labels == [f"{weight[1, 2]:.3g}"] and canvas_view.edges(view)[("h.weight", (1, 2))].label == item.labels[0]
    )
    i = next(k for k in range(len(item.lines)) if item.edge_view(k).index == (1, 2))
    assert any(item.label_rect(i).contains(p) for p in segment_points(line))  # on its own line
    QTest.mouseMove(view.viewport(), QPoint(4, 4))  # away from every line
    settle()
    assert item.labels == []
    click(view, line.p1 + (line.p2 - line.p1) * 0.2)  # picked: it keeps its label
    QTest.mouseMove(view.viewport(), QPoint(4, 4))
    settle()
    assert item.labels == [f"{weight[1, 2]:.3g}"]
