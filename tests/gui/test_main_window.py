"""The assembled window, driven as a person drives it: menu actions, shortcut keys, clicks and drags on the
canvas, typing into cells and fields. What is shown is checked against Mazur's published numbers
("A Step by Step Backpropagation Example") or against a headless core Session running the same network."""

import re

import numpy as np
import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QEvent, QPoint, QPointF, QSettings, Qt
from PySide6.QtGui import QDrag, QDragEnterEvent, QDragMoveEvent, QDropEvent, QHelpEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (
    QApplication,
    QMessageBox,
    QToolTip,
)

from bpstudio.core import presets
from bpstudio.core.datasets import resolve_split
from bpstudio.core.history import TrainingHistory
from bpstudio.core.init import initial_params
from bpstudio.core.session import Session
from bpstudio.gui.main_window import PRESENTATION_SCALE, MainWindow
from tests.gui import driving
from tests.gui.driving import menu

LEFT, NOMOD = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
CTRL, SHIFT = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier

# Mazur's published values for his 2-2-2 example (first sample, first step)
OUT_H = (0.593269992, 0.596884378)
OUT_O = (0.75136507, 0.772928465)
NET_O1 = 1.105905967
LOSS = 0.298371109
DW5, DW1 = 0.082167041, 0.000438568
W5_AFTER, W1_AFTER = 0.35891648, 0.149780716
O_WEIGHT_AFTER = [[0.35891648, 0.408666186], [0.511301270, 0.561370121]]


# --- the window and how a person reaches it -----------------------------------------------------------

class Dialogs:
    """Stands in for QMessageBox (a modal box would hang offscreen): records what was shown."""

    def __init__(self):
        self.shown: list[tuple[str, str, str]] = []
        self.answer = QMessageBox.StandardButton.Discard

    def warning(self, parent, title, text, *args):
        self.shown.append(("warning", title, text))
        return QMessageBox.StandardButton.Ok

    def question(self, parent, title, text, *args):
        self.shown.append(("question", title, text))
        return self.answer


@pytest.fixture
def dialogs(monkeypatch):
    d = Dialogs()
    for name in ("warning", "critical", "information"):
        monkeypatch.setattr(QMessageBox, name, staticmethod(d.warning))
    monkeypatch.setattr(QMessageBox, "question", staticmethod(d.question))
    return d


@pytest.fixture
def window(qtbot, tmp_path, dialogs):
    w = MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    w.activateWindow()
    qtbot.waitActive(w)
    settle(qtbot)
    yield w
    w.training.stop()
    w.document.undo_stack.setClean()


def settle(qtbot):
    qtbot.wait(5)  # the canvas redraws on the next turn of the event loop


def press(qtbot, w, key, modifiers=NOMOD):
    """A key press as a person makes it: it goes to the focused widget (else the window)."""
    target = QApplication.focusWidget()
    if target is None or target.window() is not w:
        target = w
    QTest.keyClick(target, key, modifiers)
    settle(qtbot)


def open_example(qtbot, w, name):
    menu(w, "File", "Examples", name).trigger()
    settle(qtbot)


def enabled(w):
    a = w.actions
    return a.forward.isEnabled(), a.backward.isEnabled(), a.update.isEnabled()


def history_texts(w):
    model = w.undo_view.model()
    return [model.index(r, 0).data() for r in range(model.rowCount())]


# --- the canvas -----------------------------------------------------------------------------------------

def blocks(w):
    return w.canvas.canvas.blocks


def neuron_point(w, layer, unit):
    b = blocks(w)[layer]
    return b.pos() + b.geometry.neuron_center(unit)


def header_point(w, layer):
    b = blocks(w)[layer]
    return b.pos() + b.geometry.header.center() + QPointF(0, 10)


def port_point(w, layer, port):
    b = blocks(w)[layer]
    return b.pos() + getattr(b.geometry, port)


def edges(w):
    return {(e.key, e.index): e for e in w.canvas.canvas.weight_edges()}


def edge_point(w, key, index, t=0.5):
    e = edges(w)[(key, index)]
    return e.p1 + (e.p2 - e.p1) * t


def at(w, scene_point):
    return w.canvas.mapFromScene(scene_point)


def click(qtbot, w, scene_point):
    QTest.mouseClick(w.canvas.viewport(), LEFT, NOMOD, at(w, scene_point))
    settle(qtbot)


def drag(qtbot, w, start, end, steps=6):
    vp = w.canvas.viewport()
    a, b = at(w, start), at(w, end)
    QTest.mousePress(vp, LEFT, NOMOD, a)
    for k in range(1, steps + 1):
        QTest.mouseMove(vp, a + (b - a) * k / steps)
    QTest.mouseRelease(vp, LEFT, NOMOD, b)
    settle(qtbot)


def tooltip(w, scene_point):
    vp, pos = w.canvas.viewport(), at(w, scene_point)
    QApplication.sendEvent(vp, QHelpEvent(QEvent.Type.ToolTip, pos, vp.mapToGlobal(pos)))
    return QToolTip.text()


def tip_number(tip, name):
    """The number a tooltip shows on the row called ``name`` (e.g. "out", "gradient ∂E/∂w")."""
    found = re.search(re.escape(name) + r"</td><td><b>([-+.e0-9]+)</b>", tip)
    assert found, f"no '{name}' row in {tip!r}"
    return float(found.group(1))


def shown(value):
    """A published number as a 9-significant-digit display may show it."""
    return pytest.approx(value, rel=1e-8, abs=1e-9)


def neuron_text(w, layer, unit):
    return w.canvas.canvas.overlays[layer].texts[unit]


def drop_from_palette(qtbot, w, monkeypatch, layer_type, scene_point):
    """Drag a palette button onto the canvas (QDrag.exec would run its own loop: the drop is delivered here)."""
    carried = []
    monkeypatch.setattr(QDrag, "exec", lambda drag, *_: carried.append(drag.mimeData()))
    button = w.palette.buttons[layer_type]
    QTest.mousePress(button, LEFT, NOMOD, QPoint(5, 5))
    QTest.mouseMove(button, QPoint(40, 30))
    QTest.mouseRelease(button, LEFT, NOMOD, QPoint(40, 30))
    assert len(carried) == 1
    vp, pos, copy, mime = w.canvas.viewport(), at(w, scene_point), Qt.DropAction.CopyAction, carried[0]
    for event in (QDragEnterEvent(pos, copy, mime, LEFT, NOMOD), QDragMoveEvent(pos, copy, mime, LEFT, NOMOD),
                  QDropEvent(QPointF(pos), copy, mime, LEFT, NOMOD)):
        QApplication.sendEvent(vp, event)
        assert event.isAccepted()
    settle(qtbot)


def topology(w):
    return {layer.id: layer.inputs for layer in w.document.spec.layers}


# --- the inspector ---------------------------------------------------------------------------------------

def cell(editor, row, col, role=Qt.ItemDataRole.DisplayRole):
    return editor.view.model().index(row, col).data(role)


def cells(editor):
    m = editor.view.model()
    return [[cell(editor, r, c) for c in range(m.columnCount())] for r in range(m.rowCount())]


def type_into_cell(qtbot, editor, row, col, text):
    driving.type_into_cell(qtbot, editor, row, col, text)
    settle(qtbot)


def type_into_field(qtbot, field, text):
    field.setFocus()
    field.selectAll()
    qtbot.keyClicks(field, text)
    qtbot.keyClick(field, Qt.Key.Key_Return)
    settle(qtbot)


# --- references -------------------------------------------------------------------------------------------

def headless(name, steps=0, **options):
    """A core Session on the preset's training data, ``steps`` steps run: what the window must agree with."""
    spec = presets.load(name)
    session = Session(spec, resolve_split(spec.data)[0], **options)
    traces = [session.step().to_numpy() for _ in range(steps)]
    return session, traces


def same_params(a, b, tol=1e-12):
    assert set(a) == set(b)
    for key in a:
        np.testing.assert_allclose(a[key], b[key], rtol=0, atol=tol, err_msg=key)


# === 1. Mazur, phase by phase ===============================================================================

def test_mazur_step_by_step_shows_the_published_numbers(qtbot, window):
    w = window
    open_example(qtbot, w, "mazur")
    assert w.windowTitle().startswith("Mazur 2-2-2") and "*" not in w.windowTitle()
    assert "step 1 · next: forward h" in w.actions.phase_label.text()
    assert enabled(w) == (True, False, False)
    assert edges(w)[("o.weight", (0, 0))].label == "0.4"            # at rest the lines carry the weights

    w.actions.forward.trigger()                                       # forward h (the action)
    settle(qtbot)
    assert neuron_text(w, "h", 0) == ("0.5933", "net 0.3775") and neuron_text(w, "h", 1)[0] == "0.5969"
    assert tip_number(tooltip(w, neuron_point(w, "h", 0)), "out") == shown(OUT_H[0])
    assert tip_number(tooltip(w, neuron_point(w, "h", 1)), "out") == shown(OUT_H[1])
    assert neuron_text(w, "o", 0)[0] == ""                            # o's forward has not run yet
    assert blocks(w)["o"].state.phase_label == "forward →"
    press(qtbot, w, Qt.Key.Key_F)                                     # forward o (the F key)
    assert neuron_text(w, "o", 0) == ("0.7514", "net 1.106") and neuron_text(w, "o", 1)[0] == "0.7729"
    tip = tooltip(w, neuron_point(w, "o", 0))
    assert tip_number(tip, "out") == shown(OUT_O[0])
    assert tip_number(tip, "net") == shown(NET_O1)
    assert enabled(w) == (True, False, False)                         # the loss is the forward pass's last phase
    QTest.mouseClick(w.stepping_toolbar.widgetForAction(w.actions.forward), LEFT)  # the loss (toolbar button)
    settle(qtbot)
    assert f"loss {LOSS:.9g}" in w.actions.phase_label.text() and "next: backward o" in w.actions.phase_label.text()
    assert blocks(w)["o"]._loss_text == "loss 0.2984"
    assert enabled(w) == (False, True, False)

    # the inspector before any backward: o's weights, no gradient yet
    click(qtbot, w, header_point(w, "o"))
    editor = w.inspector.weight_editor
    assert w.inspector.title.text() == "o" and cells(editor) == [["0.4", "0.45"], ["0.5", "0.55"]]
    assert "gradient" not in cell(editor, 0, 0, Qt.ItemDataRole.ToolTipRole)

    press(qtbot, w, Qt.Key.Key_B)                                     # backward o
    lines = edges(w)
    assert lines[("o.weight", (0, 0))].label == "0.0822" and lines[("h.weight", (0, 0))].label == "0.15"
    assert tip_number(tooltip(w, edge_point(w, "o.weight", (0, 0))), "gradient ∂E/∂w") == shown(DW5)
    assert enabled(w) == (False, True, False)
    assert cells(editor) == [["0.4", "0.45"], ["0.5", "0.55"]]       # still the weights, now with gradients
    assert float(cell(editor, 0, 0, Qt.ItemDataRole.ToolTipRole).split("gradient dL/dweight = ")[1]) == \
        pytest.approx(DW5, abs=1e-9)
    w.actions.backward.trigger()                                      # backward h
    settle(qtbot)
    assert edges(w)[("h.weight", (0, 0))].label == "0.000439"
    assert tip_number(tooltip(w, edge_point(w, "h.weight", (0, 0), 0.3)), "gradient ∂E/∂w") == \
        shown(DW1)
    assert enabled(w) == (False, False, True) and "next: update" in w.actions.phase_label.text()

    # the chain rule: w1 is explained at first; a click on w5's line explains w5
    assert w.explanation.target() == ("h.weight", (0, 0))
    assert f"= {DW1:.9g}" in w.explanation.text() and "matches" in w.explanation.text()
    click(qtbot, w, edge_point(w, "o.weight", (0, 0), 0.5))
    assert w.explanation.target() == ("o.weight", (0, 0))
    assert f"= {DW5:.8g}" in w.explanation.text() and "matches" in w.explanation.text()

    press(qtbot, w, Qt.Key.Key_U)                                     # apply the update
    params = w.document.params()
    np.testing.assert_allclose(params["o.weight"], O_WEIGHT_AFTER, atol=1e-9)
    assert params["h.weight"][0, 0] == pytest.approx(W1_AFTER, abs=1e-9)
    assert enabled(w) == (True, False, False) and "step 2 · next: forward h" in w.actions.phase_label.text()
    assert cell(editor, 0, 0) == "0.3589"
    assert cell(editor, 0, 0, Qt.ItemDataRole.ToolTipRole).startswith("o.weight[0, 0] = 0.358916")
    assert tip_number(tooltip(w, edge_point(w, "o.weight", (0, 0), 0.5)), "weight") == shown(W5_AFTER)
    assert [w.document.undo_stack.text(i) for i in range(w.document.undo_stack.count())] == ["Train 1 step"]

    press(qtbot, w, Qt.Key.Key_S)                                     # a whole second step
    # (Mazur's post reports 0.291027924 here, from rounded intermediate values; the exact figure is 0.29102777)
    _, traces = headless("mazur", 2)
    assert f"step 3 · next: forward h · loss {traces[1].loss:.9g}" in w.actions.phase_label.text()
    assert traces[1].loss == pytest.approx(0.291027774, abs=1e-9)
    assert w.document.undo_stack.text(0) == "Train 2 steps"           # consecutive steps merge


# === 2. building a topology with the mouse ===================================================================

def test_mouse_gestures_build_a_network_and_undo_redo_walks_through_them(qtbot, window, monkeypatch):
    w = window
    w.actions.new.trigger()                                           # New opens the XOR network
    settle(qtbot)
    start = {"x": (), "h": ("x",), "y": ("h",)}
    assert topology(w) == start and w.document.undo_stack.count() == 0

    QTest.mouseClick(w.palette.buttons["dense"], LEFT)                # click: a dense layer after the output
    settle(qtbot)
    one = {**start, "h1": ("y",)}
    assert topology(w) == one and w.inspector.title.text() == "h1"
    assert "h1" in blocks(w)

    below = blocks(w)["y"].pos() + QPointF(0, 260)
    press(qtbot, w, Qt.Key.Key_0, CTRL)                               # fit the view first
    drop_from_palette(qtbot, w, monkeypatch, "concat", below)         # drag Concat onto an empty spot
    two = {**one, "cat1": ("y",)}
    assert topology(w) == two
    assert w.document.spec.layer("cat1").position == pytest.approx((below.x(), below.y()), abs=2)

    press(qtbot, w, Qt.Key.Key_0, CTRL)
    drag(qtbot, w, port_point(w, "h", "out_port"), port_point(w, "cat1", "in_port"))  # connect h → cat1
    three = {**two, "cat1": ("y", "h")}
    assert topology(w) == three
    assert ("h", "cat1") in w.canvas.canvas.arrows or ("h", "cat1") in w.canvas.canvas.unit_edges
    assert history_texts(w) == ["<opened>", "Add dense layer", "Add concat layer", "Connect h → cat1"]
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


def test_a_layer_added_from_the_palette_is_selected_on_the_canvas(qtbot, window):
    w = window
    QTest.mouseClick(w.palette.buttons["dense"], LEFT)
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
    combo.setCurrentIndex(combo.findText("relu"))                     # bce needs a sigmoid output: refused
    settle(qtbot)
    assert "sigmoid" in w.canvas.banner.text() and w.canvas.banner.isVisible()
    assert w.document.spec.layer("y").activation == "sigmoid" and w.document.undo_stack.count() == 0
    assert combo.currentText() == "sigmoid"


# === 3. editing a weight in the inspector ====================================================================

def test_typing_a_weight_changes_canvas_inspector_and_document_and_undo_restores_it(qtbot, window):
    w = window
    open_example(qtbot, w, "mazur")
    click(qtbot, w, header_point(w, "o"))
    editor = w.inspector.weight_editor
    type_into_cell(qtbot, editor, 0, 0, "0.7")
    assert cell(editor, 0, 0) == "0.7"
    assert edges(w)[("o.weight", (0, 0))].label == "0.7"
    assert w.document.params()["o.weight"][0, 0] == 0.7
    assert w.document.session.params_numpy()["o.weight"][0, 0] == 0.7
    assert history_texts(w)[-1] == "Set o.weight[0, 0] = 0.7 (was 0.4)"
    # the forward pass uses it: o.net[0] = 0.7 · out_h1 + 0.45 · out_h2 + 0.6
    for _ in range(2):
        press(qtbot, w, Qt.Key.Key_F)
    expected = 0.7 * OUT_H[0] + 0.45 * OUT_H[1] + 0.6
    assert tip_number(tooltip(w, neuron_point(w, "o", 0)), "net") == shown(expected)

    press(qtbot, w, Qt.Key.Key_Z, CTRL)
    assert cell(editor, 0, 0) == "0.4" and edges(w)[("o.weight", (0, 0))].label == "0.4"
    assert w.document.params()["o.weight"][0, 0] == 0.4 and w.document.undo_stack.index() == 0

    for text, reason in (("abc", "'abc' is not a number"), ("nan", "'nan' is not a finite number")):
        type_into_cell(qtbot, editor, 0, 1, text)
        assert editor.error.isVisible() and reason in editor.error.text() and "keeps 0.45" in editor.error.text()
        assert cell(editor, 0, 1) == "0.45" and edges(w)[("o.weight", (0, 1))].label == "0.45"
        assert w.document.params()["o.weight"][0, 1] == 0.45
        assert w.document.undo_stack.count() == 1 and w.document.undo_stack.index() == 0


# === 4. training ==============================================================================================

def test_play_trains_the_plots_follow_and_undo_takes_the_run_back(qtbot, window):
    w = window
    doc = w.document
    start = {k: v.copy() for k, v in doc.params().items()}
    same_params(start, initial_params(presets.load("xor")))
    press(qtbot, w, Qt.Key.Key_P)                                 # Play
    assert w.training.running and w.actions.play.isChecked() and not w.actions.forward.isEnabled()
    qtbot.waitUntil(lambda: len(doc.history) >= 300 and "training · step" in w.actions.phase_label.text(),
                    timeout=10000)
    press(qtbot, w, Qt.Key.Key_P)                                 # Pause
    assert not w.training.running and w.training.worker is None and not w.actions.play.isChecked()
    n = doc.session.step_count
    assert n >= 300 and len(doc.history) == n
    assert f"step {n + 1} · next: forward h" in w.actions.phase_label.text()

    # the run is exactly the core's: the same weights, and the plot history of its per-step losses and
    # gradient norms (past the history's capacity, neighbouring steps merge the same way in both)
    session, traces = headless("xor", n)
    same_params(doc.params(), session.params_numpy())
    expected = TrainingHistory(("h", "y"))
    for t in traces:
        expected.record(t.step, t.loss, t.grad_norms())
    np.testing.assert_array_equal(doc.history.steps(), expected.steps())
    np.testing.assert_allclose(doc.history.losses(), expected.losses(), rtol=0, atol=1e-12)
    assert doc.history.losses()[-1] < 0.5 * doc.history.losses()[0]  # the loss fell on XOR

    # the plots received the history's points
    points = len(expected.steps())
    curve = w.loss_plot.train_curve
    qtbot.waitUntil(lambda: curve.xData is not None and len(curve.xData) == points, timeout=3000)
    xs, ys = curve.xData, curve.yData                                # (all points: pyqtgraph draws fewer)
    np.testing.assert_array_equal(xs, expected.steps())
    np.testing.assert_allclose(ys, expected.losses(), atol=1e-12)
    assert set(w.gradient_plot.curves) == {"h", "y"}                 # one curve per dense layer
    qtbot.waitUntil(lambda: all(c.xData is not None and len(c.xData) == points
                                for c in w.gradient_plot.curves.values()), timeout=3000)  # (they redraw in turn)
    for lid, curve in w.gradient_plot.curves.items():
        gx, gy = curve.xData, curve.yData                            # (drawn on a log axis)
        np.testing.assert_array_equal(gx, expected.steps())
        np.testing.assert_allclose(gy, expected.grad_norms(lid), rtol=1e-9)

    texts = history_texts(w)
    assert texts[-1] == f"Train {n} steps"
    press(qtbot, w, Qt.Key.Key_Z, CTRL)
    same_params(doc.params(), start, tol=0)
    assert doc.session.step_count == 0 and "step 1 · next: forward h" in w.actions.phase_label.text()
    press(qtbot, w, Qt.Key.Key_Z, CTRL | SHIFT)
    assert doc.session.step_count == n


def test_redo_of_a_step_restores_the_weights_after_it(qtbot, window):
    w = window
    open_example(qtbot, w, "mazur")
    press(qtbot, w, Qt.Key.Key_S)
    np.testing.assert_allclose(w.document.params()["o.weight"], O_WEIGHT_AFTER, atol=1e-9)
    press(qtbot, w, Qt.Key.Key_Z, CTRL)
    assert w.document.params()["o.weight"][0, 0] == 0.4
    press(qtbot, w, Qt.Key.Key_Z, CTRL | SHIFT)
    assert w.document.session.step_count == 1
    np.testing.assert_allclose(w.document.params()["o.weight"], O_WEIGHT_AFTER, atol=1e-9)


def test_redo_of_a_training_run_restores_the_trained_weights(qtbot, window):
    w = window
    doc = w.document
    w.actions.play.trigger()
    qtbot.waitUntil(lambda: doc.session.step_count >= 50, timeout=5000)
    w.actions.play.trigger()
    trained = {k: v.copy() for k, v in doc.session.params_numpy().items()}
    same_params(trained, headless("xor", doc.session.step_count)[0].params_numpy())
    press(qtbot, w, Qt.Key.Key_Z, CTRL)
    press(qtbot, w, Qt.Key.Key_Z, CTRL | SHIFT)
    same_params(doc.params(), trained)


def test_undoing_training_takes_its_points_off_the_plots(qtbot, window):
    w = window
    for _ in range(3):
        press(qtbot, w, Qt.Key.Key_S)
    assert len(w.document.history) == 3
    press(qtbot, w, Qt.Key.Key_Z, CTRL)
    assert w.document.session.step_count == 0
    plot = w.loss_plot
    qtbot.waitUntil(lambda: plot._drawn_version == w.document.history.version, timeout=3000)
    xs = plot.train_curve.xData
    assert xs is None or len(xs) == 0


# === 5. settings that change while training ==================================================================

def test_learning_rate_and_batch_size_change_while_training(qtbot, window):
    w = window
    doc, panel = w.document, w.training_panel
    w.actions.play.trigger()
    qtbot.waitUntil(lambda: doc.session.step_count > 20, timeout=5000)

    type_into_field(qtbot, panel.fields["lr"], "0.1")
    assert w.training.running
    assert doc.session.optimizer.spec.lr == 0.1 and doc.spec.optimizer.lr == 0.1
    assert panel.fields["lr"].text() == "0.1" and not panel.error.isVisible()
    assert "Set optimizer settings: sgd lr 0.5 → sgd lr 0.1" in history_texts(w)

    QTest.mouseClick(panel.full_batch, LEFT)                          # full batch off: the spin box's 32
    settle(qtbot)
    assert doc.session.batch_size == 32 and panel.batch.isEnabled()
    panel.batch.setFocus()
    panel.batch.lineEdit().selectAll()
    qtbot.keyClicks(panel.batch, "16")
    qtbot.keyClick(panel.batch, Qt.Key.Key_Return)
    settle(qtbot)
    assert doc.session.batch_size == 16 and w.training.running

    now = doc.session.step_count
    qtbot.waitUntil(lambda: doc.session.step_count > now + 20, timeout=5000)  # it goes on training
    w.actions.play.trigger()
    assert not w.training.running and w.training.worker is None
    assert doc.session.steps_per_epoch == -(-len(doc.train_data) // 16)


# === 6. backends ===============================================================================================

def choose_backend(qtbot, w, text):
    combo = w.training_panel.backend
    combo.setCurrentIndex(combo.findText(text))
    settle(qtbot)


def test_switching_backends_keeps_the_weights_and_torch_steps_like_numpy(qtbot, window):
    pytest.importorskip("torch")
    w = window
    doc = w.document
    for _ in range(3):
        press(qtbot, w, Qt.Key.Key_S)
    before = {k: v.copy() for k, v in doc.params().items()}
    choose_backend(qtbot, w, "PyTorch CPU")
    assert doc.backend_choice == ("torch", "cpu", "float64")
    same_params(doc.params(), before)
    choose_backend(qtbot, w, "NumPy")
    assert doc.backend_choice == ("numpy", "cpu", "float64")
    same_params(doc.params(), before)

    open_example(qtbot, w, "mazur")
    choose_backend(qtbot, w, "PyTorch CPU")
    assert doc.backend_choice[0] == "torch" and w.training_panel.backend.currentText() == "PyTorch CPU"
    press(qtbot, w, Qt.Key.Key_S)
    assert doc.trace.loss == pytest.approx(LOSS, abs=1e-9)
    assert f"loss {LOSS:.9g}" in w.actions.phase_label.text()
    session, traces = headless("mazur", 1)                            # NumPy, headless
    assert doc.trace.loss == pytest.approx(traces[0].loss, abs=1e-12)
    same_params(doc.params(), session.params_numpy())

    import torch
    cuda = w.training_panel.backend.model().item(w.training_panel.backend.findText("PyTorch CUDA"))
    if not torch.cuda.is_available():
        assert not cuda.isEnabled() and "CUDA" in cuda.toolTip()


# === 10. gradient check =========================================================================================

def test_gradient_check_lists_every_parameter_as_passing(qtbot, window):
    w = window
    press(qtbot, w, Qt.Key.Key_S)
    press(qtbot, w, Qt.Key.Key_G, CTRL)
    dialog = w.gradcheck_dialog
    assert dialog.isVisible()
    table = dialog.table
    keys = [table.item(r, 0).text() for r in range(table.rowCount())]
    assert keys == list(w.document.spec.param_shapes())
    assert [table.item(r, table.columnCount() - 1).text() for r in range(table.rowCount())] == ["pass"] * len(keys)
    assert "Every gradient matches" in dialog.summary.text()
    dialog.close()


# === 12. presentation mode =======================================================================================

def test_presentation_mode_enlarges_the_font_and_toggling_back_restores_it(qtbot, window):
    w = window
    base = QApplication.font().pointSizeF()
    press(qtbot, w, Qt.Key.Key_F5)
    assert w.actions.presentation.isChecked()
    assert QApplication.font().pointSizeF() == pytest.approx(base * PRESENTATION_SCALE)
    qtbot.wait(20)                                                    # the canvas re-fits the whole network
    view = w.canvas
    shown = view.mapToScene(view.viewport().rect()).boundingRect()
    assert all(shown.contains(b.sceneBoundingRect()) for b in view.canvas.blocks.values())
    assert w.actions.phase_label.font().pointSizeF() == pytest.approx(base * PRESENTATION_SCALE)
    menu(w, "View", "Presentation mode").trigger()
    assert not w.actions.presentation.isChecked()
    assert QApplication.font().pointSizeF() == pytest.approx(base)


@pytest.mark.xfail(strict=True, reason="BUG: the default dock layout makes the window at least ~1215 px wide, wider "
                                       "than a 1024×768 projector")
def test_the_window_fits_a_1024_by_768_projector(window):
    hint = window.minimumSizeHint()
    assert hint.width() <= 1024 and hint.height() <= 768
