"""A learning rate far too large, in the window: instead of a flat loss and a blank gradient plot reading "—",
the window says which layer saturated (or where values stopped being numbers) and what to do, on the gradient
plot's readout, the canvas banner and the status bar. Each message is checked against the step's own arrays."""

import numpy as np
import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt

from tests.gui.driving import click_canvas, open_example, press, settle, type_into_field

SATURATED_H = "layer h: all 4 tanh units are saturated at ±1, so its gradients are exactly 0"
ADVICE = "lower the learning rate and Reset"


def test_a_huge_learning_rate_is_explained_not_left_blank(qtbot, window):
    w = window
    doc = w.document
    readout = w.gradient_plot.ratio_label
    assert readout.text() == "first/last layer gradient: —"  # (no step yet)
    type_into_field(qtbot, w.training_panel.fields["lr"], "1e6")
    assert doc.spec.optimizer.lr == 1e6
    click_canvas(qtbot, w)  # (the keys go to the window, not the field)
    press(qtbot, w, Qt.Key.Key_S)  # Full step: the update throws every tanh unit against ±1
    press(qtbot, w, Qt.Key.Key_S)
    settle(qtbot)
    h = doc.trace.layers["h"]
    assert (1 - np.abs(h.out) <= 1e-6).all() and not np.any(h.grads["weight"])  # what the window must say
    assert readout.text() == "layer h saturated: gradients 0 (+1 more)"  # in a few words, where "—" was
    assert readout.toolTip().startswith(SATURATED_H) and readout.toolTip().endswith(ADVICE)  # all of it on hover
    assert "layer y: its only sigmoid unit is saturated" in readout.toolTip()
    assert w.canvas.banner.isVisible() and SATURATED_H in w.canvas.banner.text()
    assert SATURATED_H in w.statusBar().currentMessage()

    press(qtbot, w, Qt.Key.Key_P)  # Play: it stays stuck, and the readout keeps saying why
    start = doc.session.step_count
    qtbot.waitUntil(lambda: doc.session.step_count >= start + 5, timeout=10000)
    press(qtbot, w, Qt.Key.Key_P)
    settle(qtbot)
    assert not w.training.running and readout.text().startswith("layer h saturated")
    assert w.canvas.banner.isVisible() and SATURATED_H in w.canvas.banner.text()  # (again, for the last step)

    type_into_field(qtbot, w.training_panel.fields["lr"], "0.5")
    click_canvas(qtbot, w)
    press(qtbot, w, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)  # Reset
    settle(qtbot)
    assert readout.text() == "first/last layer gradient: —" and ADVICE not in w.statusBar().currentMessage()
    press(qtbot, w, Qt.Key.Key_S)
    settle(qtbot)
    assert readout.text().startswith("first/last layer gradient: ") and "saturated" not in readout.text()


def test_weights_that_would_stop_being_numbers_are_refused_naming_the_layer(qtbot, window):
    w = window
    doc = w.document
    open_example(qtbot, w, "spiral")
    type_into_field(qtbot, w.training_panel.fields["lr"], "1e308")  # Adam's steps are ~lr: inf weights
    before = {k: v.copy() for k, v in doc.params().items()}
    click_canvas(qtbot, w)
    with np.errstate(all="ignore"):
        press(qtbot, w, Qt.Key.Key_S)
    settle(qtbot)
    said = "update not applied: layer h1: the update would make its weights inf"
    assert w.canvas.banner.isVisible() and said in w.canvas.banner.text()
    assert said in w.statusBar().currentMessage()
    assert doc.session.step_count == 0
    for key, value in before.items():  # nothing changed, so everything still works: lower it and go on
        np.testing.assert_array_equal(doc.params()[key], value)
    type_into_field(qtbot, w.training_panel.fields["lr"], "0.01")
    click_canvas(qtbot, w)
    press(qtbot, w, Qt.Key.Key_S)
    settle(qtbot)
    assert doc.session.step_count == 1 and all(np.isfinite(v).all() for v in doc.params().values())


def test_training_that_stops_being_numbers_leaves_a_usable_window_naming_the_layer(qtbot, window, dialogs, tmp_path):
    """Spiral, lr 1e200, Play: the worker stops at the step whose values overflow. The window is usable at once
    (Play unchecked, Step, Reset and Undo enabled, Save works), the weights are the last finite ones, and the
    readout, banner and status bar name the layer and what became inf — for the step shown, the refused one."""
    w = window
    doc, a = w.document, w.window_actions
    open_example(qtbot, w, "spiral")
    click_canvas(qtbot, w)
    press(qtbot, w, Qt.Key.Key_S)  # one ordinary step, so there is a step to undo
    type_into_field(qtbot, w.training_panel.fields["lr"], "1e200")
    click_canvas(qtbot, w)
    press(qtbot, w, Qt.Key.Key_P)
    qtbot.waitUntil(lambda: not w.training.running, timeout=20000)
    settle(qtbot)

    refused = doc.trace  # the step shown is the refused one: the first after the last one applied
    assert refused.step == doc.session.step_count + 1 and refused.params_after is None
    with np.errstate(all="ignore"):  # what the window must say, from the refused step's own arrays
        h2 = np.maximum(refused.layers["h1"].pre, 0) @ doc.params()["h2.weight"].T + doc.params()["h2.bias"]
    assert np.isfinite(refused.layers["h1"].pre).all() and np.isinf(h2).any()
    said = "layer h2: its weighted sums became inf (too large for a float) in the forward pass"
    assert not a.play.isChecked() and a.play.text() == "&Play"
    assert all(action.isEnabled() for action in (a.step, a.reset, a.undo, a.save))
    assert w.canvas.banner.isVisible() and said in w.canvas.banner.text()
    assert said in w.statusBar().currentMessage()
    assert w.gradient_plot.ratio_label.text().startswith("layer h2: weighted sums became inf")
    assert all(np.isfinite(v).all() for v in doc.params().values())  # the last finite weights

    dialogs.save_path = str(tmp_path / "after.json")
    a.save.trigger()
    settle(qtbot)
    assert dialogs.shown == [] and "NaN" not in (tmp_path / "after.json").read_text()
    step = doc.session.step_count
    a.undo.trigger()
    settle(qtbot)
    assert doc.session.step_count < step
    a.reset.trigger()
    settle(qtbot)
    assert doc.session.step_count == 0 and dialogs.shown == []
    type_into_field(qtbot, w.training_panel.fields["lr"], "0.01")
    click_canvas(qtbot, w)
    press(qtbot, w, Qt.Key.Key_S)
    assert doc.session.step_count == 1 and "became inf" not in w.gradient_plot.ratio_label.text()
