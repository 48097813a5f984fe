"""A features layer in the app: its terms as toggles in the inspector (each an undoable edit that reshapes the next
layer's weights, keeping the trained columns), its units labelled with their terms on the canvas, and the lesson
of the circle_features example as a student sees it."""

import pytest

pytest.importorskip("PySide6")

import numpy as np
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from tests.gui.canvas_points import click, header_point
from tests.gui.driving import CTRL, LEFT, NOMOD, history_texts, open_example, press, settle


def boxes(w):
    """The term toggles as shown: {label: ticked}."""
    return {box.text(): box.isChecked() for box in w.inspector.terms.boxes.values() if box.isVisible()}


def toggle(qtbot, w, label):
    box = next(b for b in w.inspector.terms.boxes.values() if b.text() == label)
    QTest.mouseClick(box, LEFT, NOMOD, QPoint(8, box.height() // 2))  # on its tick box
    settle(qtbot)


def test_toggling_a_term_is_an_undoable_edit_that_keeps_the_trained_weights(qtbot, window):
    w = window
    open_example(qtbot, w, "circle_features")
    for _ in range(5):
        press(qtbot, w, Qt.Key.Key_S)  # Step ▸ Full step
    click(qtbot, w, header_point(w, "feat"))
    assert w.inspector.title.text() == "feat" and w.inspector.width_label.text() == "4 units"
    assert boxes(w) == {
        "x1": True,
        "x2": True,
        "x1²": True,
        "x2²": True,
        "x1·x2": False,
        "sin x1": False,
        "sin x2": False,
    }
    trained = w.document.params()["y.weight"].copy()

    toggle(qtbot, w, "x1·x2")
    spec = w.document.spec
    assert spec.layer("feat").terms == ("x1", "x2", "x1^2", "x2^2", "x1*x2")
    assert boxes(w)["x1·x2"] and w.inspector.width_label.text() == "5 units"
    weight = w.document.params()["y.weight"]
    assert weight.shape == (1, 5)
    np.testing.assert_array_equal(weight[:, :4], trained)
    assert history_texts(w)[-1] == "Switch x1·x2 on in 'feat'"
    labels = [sub for _, sub in w.canvas.canvas.overlays["feat"].texts]
    assert labels == ["x1", "x2", "x1²", "x2²", "x1·x2"]
    lines = w.canvas.canvas.unit_edges[("x", "feat")]
    assert sorted(zip(lines.rows.tolist(), lines.cols.tolist())) == [(0, 0), (1, 1), (2, 0), (3, 1), (4, 0), (4, 1)]

    toggle(qtbot, w, "x1")  # off: its column goes, the others stay
    assert w.document.spec.layer("feat").terms == ("x2", "x1^2", "x2^2", "x1*x2")
    np.testing.assert_array_equal(w.document.params()["y.weight"][:, :3], trained[:, 1:])

    press(qtbot, w, Qt.Key.Key_Z, CTRL)
    press(qtbot, w, Qt.Key.Key_Z, CTRL)
    assert w.document.spec.layer("feat").terms == ("x1", "x2", "x1^2", "x2^2")
    np.testing.assert_array_equal(w.document.params()["y.weight"], trained)
    assert not boxes(w)["x1·x2"] and boxes(w)["x1"]
    assert [sub for _, sub in w.canvas.canvas.overlays["feat"].texts] == ["x1", "x2", "x1²", "x2²"]


def test_switching_off_the_last_term_is_refused_and_the_box_stays_ticked(qtbot, window):
    w = window
    open_example(qtbot, w, "circle_features")
    click(qtbot, w, header_point(w, "feat"))
    for label in ("x1", "x2", "x1²"):
        toggle(qtbot, w, label)
    assert w.document.spec.layer("feat").terms == ("x2^2",)
    before = len(history_texts(w))
    toggle(qtbot, w, "x2²")
    assert w.document.spec.layer("feat").terms == ("x2^2",) and boxes(w)["x2²"]
    assert len(history_texts(w)) == before
    assert "last term of 'feat'" in w.canvas.banner.text() and w.canvas.banner.isVisible()
    assert "last term of 'feat'" in w.statusBar().currentMessage()


def test_a_features_layer_added_from_the_palette_starts_with_the_inputs_columns(qtbot, window):
    w = window
    open_example(qtbot, w, "xor")
    click(qtbot, w, header_point(w, "x"))
    QTest.mouseClick(w.layer_palette.buttons["features"], LEFT)
    settle(qtbot)
    spec = w.document.spec
    assert spec.layer("feat1").terms == ("x1", "x2") and spec.layer("h").inputs == ("feat1",)
    assert w.inspector.title.text() == "feat1" and boxes(w)["x1"] and not boxes(w)["x1²"]
    toggle(qtbot, w, "sin x2")
    assert w.document.spec.layer("feat1").terms == ("x1", "x2", "sin(x2)")
    assert w.document.params()["h.weight"].shape == (4, 3)
