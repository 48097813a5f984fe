"""File ▸ New as a student meets it: an input and an output layer to build on (after asking about unsaved
changes), an input that follows the data it is given and an output whose activation and width can change (or
say why not); and the issue's acceptance scenario: from File ▸ New, a network that solves XOR built with a few
mouse gestures and trained in the window until every training point is classified right."""

import numpy as np
import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMessageBox

from bpstudio.core.datasets import resolve_split
from bpstudio.core.session import Session
from tests.gui.canvas_points import blocks, click, drag, drop_from_palette, header_point, port_point, topology
from tests.gui.driving import CTRL, LEFT, history_texts, menu, press, settle, type_into_field

Button = QMessageBox.StandardButton


def choose(qtbot, combo, text):
    """Pick ``text`` in a combo box as a click in its list does."""
    index = combo.findText(text)
    combo.setCurrentIndex(index)
    combo.activated.emit(index)
    settle(qtbot)


def file_new(qtbot, w):
    menu(w, "File", "New").trigger()
    settle(qtbot)


def test_file_new_gives_an_input_and_an_output_layer_after_asking_about_unsaved_changes(qtbot, window, dialogs):
    w, doc = window, window.document
    QTest.mouseClick(w.layer_palette.buttons["dense"], LEFT)  # an unsaved change to the XOR example
    settle(qtbot)
    changed = topology(w)
    dialogs.answer = Button.Cancel
    file_new(qtbot, w)
    assert dialogs.kinds() == ["question"] and "Save the changes" in dialogs.shown[0][2]
    assert topology(w) == changed  # cancelled: nothing lost

    dialogs.answer = Button.Discard
    file_new(qtbot, w)
    assert topology(w) == {"x": (), "y": ("x",)} and set(blocks(w)) == {"x", "y"}
    spec = doc.spec
    assert spec.output == "y" and spec.widths == {"x": 2, "y": 1} and spec.layer("y").activation == "sigmoid"
    assert spec.data["builtin"] == "xor" and doc.train_data.X.shape[1] == 2
    assert w.windowTitle() == "untitled — bpstudio" and doc.undo_stack.count() == 0 and doc.path is None
    assert all(w.canvas.on_screen().contains(b.sceneBoundingRect()) for b in blocks(w).values())


def test_input_and_output_layers_can_be_changed_or_say_why_not(qtbot, window, dialogs):
    w, doc = window, window.document
    file_new(qtbot, w)
    click(qtbot, w, header_point(w, "x"))
    units = w.inspector.units
    type_into_field(qtbot, units, "3")  # the XOR data has two features
    assert "has 2 input columns but the network's input layer has 3 units" in w.canvas.banner.text()
    assert doc.spec.widths["x"] == 2 and units.value() == 2

    w.training_panel.loss.setCurrentText("mse")  # (regression data needs a regression loss: bce says so)
    settle(qtbot)
    w.docks["dataset"].raise_()
    choose(qtbot, w.data_panel.data_set, "sine")  # one feature
    assert doc.spec.data["builtin"] == "sine" and doc.spec.widths["x"] == 1  # the input follows the data
    assert doc.train_data.X.shape[1] == 1 and history_texts(w)[-1] == "Use data: sine"
    click(qtbot, w, header_point(w, "x"))
    assert w.inspector.units.value() == 1
    press(qtbot, w, Qt.Key.Key_Z, CTRL)
    assert doc.spec.data["builtin"] == "xor" and doc.spec.widths["x"] == 2

    w.training_panel.loss.setCurrentText("bce")
    settle(qtbot)
    click(qtbot, w, header_point(w, "y"))
    w.inspector.activation.setCurrentText("relu")  # bce needs outputs between 0 and 1
    settle(qtbot)
    assert "loss 'bce' needs outputs in (0, 1)" in w.canvas.banner.text()
    assert doc.spec.layer("y").activation == "sigmoid" and w.inspector.activation.currentText() == "sigmoid"
    type_into_field(qtbot, w.inspector.units, "2")  # two outputs, one per class
    w.inspector.activation.setCurrentText("softmax")
    settle(qtbot)
    w.training_panel.loss.setCurrentText("cross_entropy")
    settle(qtbot)
    assert doc.spec.widths["y"] == 2 and doc.spec.layer("y").activation == "softmax"
    assert doc.spec.loss == "cross_entropy"


def test_from_file_new_a_few_mouse_gestures_build_a_net_that_learns_xor_completely(qtbot, window, monkeypatch):
    """The acceptance scenario: at most 12 actions, each one a person's."""
    w, doc = window, window.document
    actions = []

    def act(what, do):
        actions.append(what)
        do()

    act("File ▸ New", lambda: file_new(qtbot, w))
    assert topology(w) == {"x": (), "y": ("x",)}
    press(qtbot, w, Qt.Key.Key_0, CTRL)  # (fit: the view as a person sees it; not counted)
    x, y = blocks(w)["x"], blocks(w)["y"]
    below = QPointF((x.pos().x() + y.pos().x()) / 2, w.canvas.canvas.network_rect().bottom() + 250)
    act("drag Dense below, between x and y", lambda: drop_from_palette(qtbot, w, monkeypatch, "dense", below))
    assert topology(w) == {"x": (), "y": ("x",), "h1": ("x",)}  # fed by the block to its left
    act(
        "connect h1 → y",
        lambda: drag(qtbot, w, port_point(w, "h1", "out_port"), port_point(w, "y", "in_port")),
    )
    assert topology(w) == {"x": (), "y": ("h1",), "h1": ("x",)}  # y's input is now the hidden layer
    assert history_texts(w)[1:] == ["Add dense layer after 'x'", "Connect h1 → y in place of x → y"]
    assert not w.canvas.banner.isVisible()  # (x still feeds h1: nothing was cut off, nothing to warn about)

    act("Play", lambda: press(qtbot, w, Qt.Key.Key_P))
    history = doc.history
    qtbot.waitUntil(lambda: len(history.accuracies()) and history.accuracies()[-1] == 1.0, timeout=60_000)
    act("Pause", lambda: press(qtbot, w, Qt.Key.Key_P))
    assert len(actions) <= 12 and not w.training.running

    w.loss_plot.refresh()
    assert w.loss_plot.accuracy_shown and w.loss_plot.train_accuracy_curve.yData[-1] == 1.0  # what the plot says
    # the reference: the trained weights, in a headless session of their own, classify every training point
    spec = doc.current_spec()
    train = resolve_split(spec.data)[0]
    assert np.array_equal(train.X, doc.train_data.X)
    predicted = Session(spec, train).predict(train.X)[:, 0] > 0.5
    assert np.array_equal(predicted, train.Y.astype(bool))
