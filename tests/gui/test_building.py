"""Building a topology with the mouse in the assembled window: palette clicks and drops, port-to-port drags,
refused connections with the reason on the canvas, and undo/redo walking through the edits."""

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

from tests.gui.canvas_points import (
    blocks,
    click,
    drag,
    drop_from_palette,
    header_point,
    port_point,
    topology,
)
from tests.gui.driving import CTRL, LEFT, SHIFT, history_texts, open_example, press, settle

# === 2. building a topology with the mouse ===================================================================


def test_mouse_gestures_build_a_network_and_undo_redo_walks_through_them(qtbot, window, monkeypatch):
    w = window
    open_example(qtbot, w, "xor")
    start = {"x": (), "h": ("x",), "y": ("h",)}
    assert topology(w) == start and w.document.undo_stack.count() == 0

    QTest.mouseClick(w.layer_palette.buttons["dense"], LEFT)  # click, nothing selected: a layer before the output
    settle(qtbot)
    one = {**start, "h1": ("h",), "y": ("h1",)}
    assert topology(w) == one and w.inspector.title.text() == "h1"
    assert "h1" in blocks(w)

    press(qtbot, w, Qt.Key.Key_0, CTRL)  # fit the view first
    right = blocks(w)["y"].pos() + QPointF(260, 0)
    drop_from_palette(qtbot, w, monkeypatch, "concat", right)  # drag Concat onto an empty spot right of y
    two = {**one, "cat1": ("y",)}  # (fed by the nearest block to its left)
    assert topology(w) == two
    assert w.document.spec.layer("cat1").position == pytest.approx((right.x(), right.y()), abs=2)

    press(qtbot, w, Qt.Key.Key_0, CTRL)
    drag(qtbot, w, port_point(w, "h", "out_port"), port_point(w, "cat1", "in_port"))  # connect h → cat1
    three = {**two, "cat1": ("y", "h")}
    assert topology(w) == three
    assert ("h", "cat1") in w.canvas.canvas.arrows or ("h", "cat1") in w.canvas.canvas.unit_edges
    assert history_texts(w) == [
        "<opened>",
        "Add dense layer between 'h' and 'y'",
        "Add concat layer after 'y'",
        "Connect h → cat1",
    ]
    assert w.windowTitle().startswith("XOR 2-4-1 *")

    for expected in (two, one, start):
        press(qtbot, w, Qt.Key.Key_Z, CTRL)
        assert topology(w) == expected and set(blocks(w)) == set(expected)
    assert w.document.undo_stack.index() == 0 and "*" not in w.windowTitle()
    for expected in (one, two, three):
        press(qtbot, w, Qt.Key.Key_Z, CTRL | SHIFT)
        assert topology(w) == expected and set(blocks(w)) == set(expected)
    assert w.document.undo_stack.index() == 3


def test_invalid_connections_are_refused_with_the_reason_on_the_canvas(qtbot, window, monkeypatch):
    w = window
    press(qtbot, w, Qt.Key.Key_0, CTRL)
    drop_from_palette(qtbot, w, monkeypatch, "add", header_point(w, "h"))  # dropped on h: an add fed by h
    assert topology(w)["add1"] == ("h",) and w.document.spec.widths["add1"] == 4
    before, count = w.document.spec, w.document.undo_stack.count()
    assert not w.canvas.banner.isVisible()

    press(qtbot, w, Qt.Key.Key_0, CTRL)
    drag(qtbot, w, port_point(w, "y", "out_port"), port_point(w, "h", "in_port"))  # y → h closes a loop
    assert w.canvas.banner.isVisible() and "cycle" in w.canvas.banner.text()
    assert w.document.spec == before and w.document.undo_stack.count() == count
    assert "cycle" in w.statusBar().currentMessage()

    drag(qtbot, w, port_point(w, "y", "out_port"), port_point(w, "add1", "in_port"))  # width 1 into a width-4 add
    assert "equal width" in w.canvas.banner.text() and "'y' has width 1" in w.canvas.banner.text()
    assert w.document.spec == before and w.document.undo_stack.count() == count
    assert topology(w)["add1"] == ("h",) and set(blocks(w)) == {"x", "h", "y", "add1"}


def test_a_connection_that_replaces_an_input_says_which_layers_it_cut_off(qtbot, window):
    """A student wants a skip connection x → y past h: y is a dense layer and takes one input, so x replaces h
    and h stops being run. The drag is carried out (it may be what was meant), and the canvas and the history
    say what it did; Undo puts h back."""
    w = window
    open_example(qtbot, w, "xor")
    press(qtbot, w, Qt.Key.Key_0, CTRL)
    drag(qtbot, w, port_point(w, "x", "out_port"), port_point(w, "y", "in_port"))
    assert topology(w)["y"] == ("x",)
    assert history_texts(w)[-1] == "Connect x → y in place of h → y"
    said = w.canvas.banner.text()
    assert w.canvas.banner.isVisible() and "'y' takes one input: 'x' replaces 'h'" in said
    assert "'h' no longer reaches the output and is not run" in said and "Add or Concat layer" in said
    assert said.removeprefix("⚠  ") == w.statusBar().currentMessage()
    press(qtbot, w, Qt.Key.Key_Z, CTRL)
    assert topology(w)["y"] == ("h",)


def test_a_layer_added_from_the_palette_is_selected_on_the_canvas(qtbot, window):
    w = window
    QTest.mouseClick(w.layer_palette.buttons["dense"], LEFT)
    settle(qtbot)
    assert w.inspector.title.text() == "h1"
    assert w.canvas.selected_layers() == ["h1"]
    visible = w.canvas.mapToScene(w.canvas.viewport().rect()).boundingRect()
    assert visible.contains(blocks(w)["h1"].sceneBoundingRect())


def test_space_drag_on_the_canvas_pans_without_starting_training(qtbot, window):
    w = window
    w.canvas.setFocus()
    QTest.keyPress(w.canvas.viewport(), Qt.Key.Key_Space)
    try:
        assert not w.training.running and w.canvas._space
    finally:
        QTest.keyRelease(w.canvas.viewport(), Qt.Key.Key_Space)
        w.training.stop()


def test_a_refused_inspector_edit_shows_the_value_that_stayed(qtbot, window):
    w = window
    click(qtbot, w, header_point(w, "y"))
    assert w.inspector.title.text() == "y" and w.inspector.activation.currentText() == "sigmoid"
    combo = w.inspector.activation
    combo.setCurrentIndex(combo.findText("relu"))  # bce needs a sigmoid output: refused
    settle(qtbot)
    assert "sigmoid" in w.canvas.banner.text() and w.canvas.banner.isVisible()
    assert w.document.spec.layer("y").activation == "sigmoid" and w.document.undo_stack.count() == 0
    assert combo.currentText() == "sigmoid"
