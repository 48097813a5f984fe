"""The canvas's numbers as a person reads them: a neuron's value stays inside its circle however long it is."""

import math

import numpy as np
import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QPointF
from PySide6.QtGui import QFontMetricsF

from bpstudio.core.data import Dataset
from bpstudio.core.session import Session
from bpstudio.core.tools.neuron_maps import neuron_maps
from bpstudio.gui.canvas.style import value_font
from tests.gui.canvas_view import network, shown

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
