"""Train and test numbers are computed in different modes where the network has a dropout layer: the loss plot names
the test points "test (eval mode)" and says why in its tooltip, the data plot's background and the neuron pictures
say they are in evaluation mode. A network without such a layer shows none of it."""

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from tests.gui.canvas_points import neuron_point
from tests.gui.driving import open_example, press, settle
from tests.gui.test_dropout_layer import add_dropout_after_h


def legend(w):
    return [label.text for _, label in w.loss_plot.legend.items]


def step(qtbot, w, n):
    for _ in range(n):
        press(qtbot, w, Qt.Key.Key_S)  # Step ▸ Full step
    w.loss_plot.refresh()
    settle(qtbot)


def test_with_dropout_the_test_loss_and_the_surface_say_evaluation_mode(qtbot, window):
    w = window
    open_example(qtbot, w, "dropout")
    step(qtbot, w, 3)
    history = w.document.history
    assert len(history.test_steps()) == 3  # (test points to label)
    assert legend(w) == ["train", "test (eval mode)"]
    tip = w.loss_plot.view.toolTip()
    assert "each step's loss on its batch, in training mode (dropout drops units)" in tip
    assert "the loss over the test set, and both accuracies, in evaluation mode (dropout passes every unit on)" in tip
    assert w.data_panel.plot.legend.text().endswith("<br>background: P(class 1) · eval mode: dropout off")

    open_example(qtbot, w, "xor")  # no dropout: train and test are computed alike, and nothing says otherwise
    step(qtbot, w, 2)
    assert legend(w) == ["train", "test"] and w.loss_plot.view.toolTip() == ""
    assert w.data_panel.plot.legend.text().endswith("<br>background: P(class 1)")


def test_a_neuron_picture_says_it_is_evaluation_mode_and_its_circle_the_steps_training_mode(qtbot, window):
    w = window
    add_dropout_after_h(qtbot, w)
    step(qtbot, w, 1)
    view = w.canvas
    QTest.mouseMove(view.viewport(), view.mapFromScene(neuron_point(w, "h", 1)))
    settle(qtbot)
    assert view.preview.shown_for == ("h", 1)
    assert view.preview.note().splitlines() == [
        "its output over the input plane (eval mode: dropout off)",
        "colours: tanh's range",
        "○ sample 1 (the circle shows its value from this step's forward pass, in training mode)",
    ]
    press(qtbot, w, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undo the step
    press(qtbot, w, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # and the dropout layer
    settle(qtbot)
    assert all(layer.type != "dropout" for layer in w.document.spec.layers)
    step(qtbot, w, 1)
    QTest.mouseMove(view.viewport(), view.mapFromScene(neuron_point(w, "h", 2)))
    settle(qtbot)
    assert view.preview.shown_for == ("h", 2)
    assert view.preview.note().splitlines()[0] == "its output over the input plane"
    assert "mode" not in view.preview.note()
