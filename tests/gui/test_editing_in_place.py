"""Editing a weight or a bias on the canvas itself: a click picks the line or neuron (the chain rule follows it),
a double-click or Enter opens an editor over it with the exact value, Enter asks for the edit through the same
undoable command as the inspector's matrix, Escape cancels, bad text is refused with the reason and the value
stays, and while the editor has the keyboard no one-letter shortcut runs."""

import numpy as np
import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from tests.gui.canvas_points import at, click, edge_point, edges, neuron_point, neuron_text
from tests.gui.driving import CTRL, LEFT, NOMOD, history_texts, open_example, press, settle


def double_click(qtbot, w, scene_point):
    QTest.mouseDClick(w.canvas.viewport(), LEFT, NOMOD, at(w, scene_point))
    settle(qtbot)


def editor(w):
    return w.canvas.value_editor


def type_in_editor(qtbot, w, text, key=Qt.Key.Key_Return):
    field = editor(w).field
    assert field.hasFocus()
    field.selectAll()
    QTest.keyClick(field, Qt.Key.Key_Delete)
    QTest.keyClicks(field, text)
    QTest.keyClick(field, key)
    settle(qtbot)


@pytest.fixture
def mazur_window(qtbot, window):
    open_example(qtbot, window, "mazur")
    return window


def test_double_clicking_a_line_edits_its_weight_in_place_and_undo_restores_it(qtbot, mazur_window):
    w, doc = mazur_window, mazur_window.document
    before = {k: v.copy() for k, v in doc.params().items()}
    old = float(before["o.weight"][0, 1])
    double_click(qtbot, w, edge_point(w, "o.weight", (0, 1), 0.5))
    assert editor(w).isVisible() and editor(w).caption.text() == "o.weight[0, 1] ="
    assert float(editor(w).field.text()) == old  # the exact value, to type over
    assert w.explanation.target() == ("o.weight", (0, 1))  # the double-click picked it too
    assert edges(w)[("o.weight", (0, 1))].label == "0.45"

    type_in_editor(qtbot, w, "-1.25")
    assert not editor(w).isVisible() and w.canvas.hasFocus()
    assert doc.params()["o.weight"][0, 1] == -1.25
    assert edges(w)[("o.weight", (0, 1))].label == "-1.25"
    changed = doc.params()
    for key in before:  # nothing else moved
        expected = before[key].copy()
        if key == "o.weight":
            expected[0, 1] = -1.25
        np.testing.assert_array_equal(changed[key], expected, err_msg=key)
    assert history_texts(w)[-1] == "Set o.weight[0, 1] = -1.25 (was 0.45)"

    press(qtbot, w, Qt.Key.Key_Z, CTRL)
    assert doc.params()["o.weight"][0, 1] == old and edges(w)[("o.weight", (0, 1))].label == "0.45"
    assert doc.undo_stack.index() == 0


def test_a_click_picks_a_neuron_and_enter_edits_its_bias_escape_cancels(qtbot, mazur_window):
    w, doc = mazur_window, mazur_window.document
    bias = float(doc.params()["h.bias"][1])
    click(qtbot, w, neuron_point(w, "h", 1))
    assert not editor(w).isVisible()  # a click only picks (and selects the layer)
    assert w.explanation.target() == ("h.bias", (1,)) and w.canvas.canvas.overlays["h"].picked == 1
    press(qtbot, w, Qt.Key.Key_Return)
    assert editor(w).isVisible() and editor(w).caption.text() == "h.bias[1] ="
    assert float(editor(w).field.text()) == bias
    type_in_editor(qtbot, w, "7", key=Qt.Key.Key_Escape)
    assert not editor(w).isVisible() and w.canvas.hasFocus()
    assert doc.params()["h.bias"][1] == bias and doc.undo_stack.count() == 0

    press(qtbot, w, Qt.Key.Key_Return)  # again, and this time Enter
    type_in_editor(qtbot, w, "0.5")
    assert doc.params()["h.bias"][1] == 0.5 and doc.params()["h.bias"][0] == doc.origin.layer("h").bias[0]
    assert history_texts(w)[-1] == f"Set h.bias[1] = 0.5 (was {bias:g})"
    press(qtbot, w, Qt.Key.Key_Z, CTRL)
    assert doc.params()["h.bias"][1] == bias


@pytest.mark.parametrize(
    "text, reason",
    [
        ("abc", "'abc' is not a number"),
        ("1e400", "'1e400' is not a finite number"),
        ("nan", "'nan' is not a finite number"),
        ("", "an empty entry is not a number"),
    ],
)
def test_a_bad_entry_is_refused_with_the_reason_and_the_value_stays(qtbot, mazur_window, text, reason):
    w, doc = mazur_window, mazur_window.document
    double_click(qtbot, w, edge_point(w, "o.weight", (1, 0), 0.6))
    type_in_editor(qtbot, w, text)
    banner = w.canvas.banner
    assert banner.isVisible() and reason in banner.text() and "the weight o.weight[1, 0] keeps 0.5" in banner.text()
    assert doc.params()["o.weight"][1, 0] == 0.5 and doc.undo_stack.count() == 0
    assert edges(w)[("o.weight", (1, 0))].label == "0.5"
    assert editor(w).isVisible() and editor(w).field.hasFocus()  # still editing: the person can fix it
    QTest.keyClick(editor(w).field, Qt.Key.Key_Escape)
    settle(qtbot)
    assert not editor(w).isVisible() and doc.undo_stack.count() == 0


def test_while_the_editor_has_the_keyboard_no_one_letter_shortcut_runs(qtbot, mazur_window):
    w, doc = mazur_window, mazur_window.document
    double_click(qtbot, w, neuron_point(w, "o", 0))
    field = editor(w).field
    assert QApplication.focusWidget() is field
    for letter in "1e400psbuf":  # Epoch, Play, Step, Backward, Update, Forward as shortcuts
        qtbot.keyClick(QApplication.focusWidget(), letter)
    settle(qtbot)
    assert field.text() == "1e400psbuf" and editor(w).isVisible()
    assert doc.session.step_count == 0 and doc.trace is None and not w.training.running
    QTest.keyClick(field, Qt.Key.Key_Z, CTRL)  # Ctrl+Z undoes typing in the field, not the network
    settle(qtbot)
    assert doc.undo_stack.count() == 0


def test_neurons_without_a_bias_say_so_instead_of_opening_an_editor(qtbot, mazur_window):
    w, doc = mazur_window, mazur_window.document
    double_click(qtbot, w, neuron_point(w, "i", 0))
    assert not editor(w).isVisible()
    assert "'i' is the input layer" in w.canvas.banner.text() and "no bias" in w.canvas.banner.text()
    assert neuron_text(w, "i", 0) is not None and doc.undo_stack.count() == 0
