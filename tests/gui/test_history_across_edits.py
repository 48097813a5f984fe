"""What training made survives the edits around it: a setting changed mid-run sits between the steps
before and after it in the undo history, and renaming a layer keeps its gradient curve and optimizer state."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt

from bpstudio.core.spec import OptimizerSpec
from tests.gui.driving import CTRL, SHIFT, click_canvas, history_texts, open_example, press, type_into_field


def test_a_learning_rate_set_while_training_goes_between_the_steps_before_and_after(qtbot, window):
    w, doc = window, window.document
    w.window_actions.play.trigger()
    qtbot.waitUntil(lambda: doc.session.step_count > 20, timeout=5000)
    type_into_field(qtbot, w.training_panel.fields["lr"], "0.1")
    changed_at = next(
        c.after.step for c in map(doc.undo_stack.command, range(doc.undo_stack.count())) if hasattr(c, "steps")
    )
    qtbot.waitUntil(lambda: doc.session.step_count > changed_at + 20, timeout=5000)
    w.window_actions.play.trigger()
    total = doc.session.step_count
    texts = history_texts(w)
    assert texts[-3:] == [
        f"Train {changed_at} steps",
        "Set optimizer settings: sgd lr 0.5 → sgd lr 0.1",
        f"Train {total - changed_at} steps",
    ]

    click_canvas(qtbot, w)  # (in the lr field, Ctrl+Z would undo its typing)
    press(qtbot, w, Qt.Key.Key_Z, CTRL)  # the steps trained at lr 0.1 go; lr 0.1 stays
    assert doc.session.step_count == changed_at and doc.spec.optimizer.lr == 0.1
    press(qtbot, w, Qt.Key.Key_Z, CTRL)  # the setting goes
    assert doc.session.step_count == changed_at and doc.spec.optimizer.lr == 0.5
    assert w.training_panel.fields["lr"].text() == "0.5"
    press(qtbot, w, Qt.Key.Key_Z, CTRL)  # and the steps before it
    assert doc.session.step_count == 0
    for _ in range(3):
        press(qtbot, w, Qt.Key.Key_Z, CTRL | SHIFT)
    assert doc.session.step_count == total and doc.spec.optimizer.lr == 0.1


def test_renaming_a_layer_keeps_its_gradient_curve_and_the_optimizer_state(qtbot, window):
    w, doc = window, window.document
    open_example(qtbot, w, "xor")
    doc.set_optimizer(OptimizerSpec("adam", lr=0.01))
    for _ in range(5):
        press(qtbot, w, Qt.Key.Key_S)
    curve = doc.history.grad_norms("h").copy()
    moments = {k: v.copy() for k, v in doc.session.optimizer_state()["buffers"]["h.weight"].items()}
    w.edits.rename("h", "hidden")  # what the canvas's inline rename asks for
    assert doc.history.layer_ids == ("hidden", "y") and len(doc.history) == 5
    np.testing.assert_array_equal(doc.history.grad_norms("hidden"), curve)
    buffers = doc.session.optimizer_state()["buffers"]
    assert "h.weight" not in buffers
    for name, value in moments.items():
        np.testing.assert_array_equal(buffers["hidden.weight"][name], value)
    qtbot.waitUntil(lambda: set(w.gradient_plot.curves) == {"hidden", "y"}, timeout=3000)
    np.testing.assert_array_equal(w.gradient_plot.curves["hidden"].yData, curve)
    press(qtbot, w, Qt.Key.Key_Z, CTRL)  # undoing the rename gives the old name its curve back
    assert doc.history.layer_ids == ("h", "y") and len(doc.history) == 5
    np.testing.assert_array_equal(doc.history.grad_norms("h"), curve)


def test_clicking_an_entry_in_the_edit_history_goes_back_to_it_and_forward_again(qtbot, window):
    from PySide6.QtTest import QTest

    w, doc = window, window.document
    for _ in range(3):
        w.window_actions.step.trigger()
    type_into_field(qtbot, w.training_panel.fields["lr"], "0.2")
    w.window_actions.step.trigger()
    assert history_texts(w) == [
        "<opened>",
        "Train 3 steps",
        "Set optimizer settings: sgd lr 0.5 → sgd lr 0.2",
        "Train 1 step",
    ]
    w.docks["history"].show()
    w.docks["history"].raise_()
    view = w.undo_view

    def click_row(row):
        rect = view.visualRect(view.model().index(row, 0))
        QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, rect.center())

    click_row(1)  # back to "Train 3 steps": the setting and the last step are undone
    assert (doc.undo_stack.index(), doc.session.step_count, doc.spec.optimizer.lr) == (1, 3, 0.5)
    assert w.training_panel.fields["lr"].text() == "0.5" and len(doc.history) == 3
    click_row(3)  # forward again, through the setting
    assert (doc.undo_stack.index(), doc.session.step_count, doc.spec.optimizer.lr) == (3, 4, 0.2)
    assert w.window_actions.undo.text().endswith("Train 1 step")
