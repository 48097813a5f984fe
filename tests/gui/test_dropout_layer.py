"""A dropout layer in the app: added from the palette, its p edited in the inspector (an undoable edit), the units
the current step dropped greyed on the canvas (the mask core drew for that step), and the test loss in evaluation
mode."""

import pytest

pytest.importorskip("PySide6")

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from bpstudio.core import dropout
from bpstudio.gui.canvas import style
from tests.gui.canvas_points import click, header_point
from tests.gui.driving import CTRL, LEFT, click_canvas, history_texts, open_example, press, settle, type_into_field


def add_dropout_after_h(qtbot, w):
    open_example(qtbot, w, "xor")
    click(qtbot, w, header_point(w, "h"))
    QTest.mouseClick(w.layer_palette.buttons["dropout"], LEFT)
    settle(qtbot)


def test_a_dropout_layer_from_the_palette_shows_p_and_edits_it_undoably(qtbot, window):
    w = window
    add_dropout_after_h(qtbot, w)
    spec = w.document.spec
    assert spec.layer("drop1").p == 0.5 and spec.layer("y").inputs == ("drop1",)
    assert w.inspector.title.text() == "drop1" and w.inspector.p.isVisible() and w.inspector.p.value() == 0.5
    assert not w.inspector.activation.isVisible() and w.inspector.width_label.text() == "4 units"

    type_into_field(qtbot, w.inspector.p, "0.25")
    assert w.document.spec.layer("drop1").p == 0.25
    assert history_texts(w)[-1] == "Change 'drop1': p 0.25"
    click_canvas(qtbot, w)  # (in the spin box, Ctrl+Z would undo its typing)
    press(qtbot, w, Qt.Key.Key_Z, CTRL)
    assert w.document.spec.layer("drop1").p == 0.5
    click(qtbot, w, header_point(w, "drop1"))
    assert w.inspector.title.text() == "drop1" and w.inspector.p.value() == 0.5


def test_the_canvas_greys_the_units_this_step_dropped(qtbot, window):
    w = window
    add_dropout_after_h(qtbot, w)
    press(qtbot, w, Qt.Key.Key_S)  # Step ▸ Full step
    trace = w.document.trace
    seed = w.document.spec.seed or 0
    drawn = dropout.draw_mask(seed, "drop1", trace.step, (np.shape(trace.x)[0], 4), 0.5)
    np.testing.assert_array_equal(np.asarray(trace.masks["drop1.mask"]), drawn)
    dropped = drawn[0] == 0  # the canvas shows the batch's first sample
    assert 0 < dropped.sum() < 4  # (this step drops some of the four units and keeps the others)
    overlay = w.canvas.canvas.overlays["drop1"]
    subs = [sub for _, sub in overlay.texts]
    assert [s == "dropped" for s in subs] == dropped.tolist()
    grey = [brush.color() == style.DROPPED for brush in overlay._fills]
    assert grey == dropped.tolist()
    shown = [main for main, _ in overlay.texts]
    assert [shown[k] for k in np.flatnonzero(dropped)] == ["0"] * int(dropped.sum())  # (never "-0")
    block = w.canvas.canvas.blocks["drop1"]
    assert block._subtitle[1] == f"p 0.5 · {int(dropped.sum())} dropped"  # under the title
    # the kept units pass h's value on scaled by 1/(1−p): what the overlay shows is core's number
    h = np.asarray(trace.layers["h"].out)[0]
    out = np.asarray(trace.layers["drop1"].out)[0]
    np.testing.assert_allclose(out, np.where(dropped, 0.0, 2 * h), rtol=1e-12)
