"""Single-letter shortcuts (P, F, B, U, S, E) never fire while a person types into an editor or a table:
typing "1e400" into the weight matrix goes to the cell (where it is refused with its reason), and no Epoch
runs; with the canvas focused, the same letters still step."""

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLineEdit

from tests.gui.driving import click_canvas, press, settle


def inspect_h(qtbot, w):
    w._on_layer_selected("h")
    settle(qtbot)
    view = w.inspector.weight_editor.view
    assert view.model().rowCount() > 0
    return view


@pytest.mark.parametrize("target", ["cell", "header", "lr field"])
def test_typed_letters_go_to_the_focused_widget_not_to_the_shortcuts(qtbot, window, target):
    w, doc = window, window.document
    view = inspect_h(qtbot, w)
    if target == "cell":
        view.setCurrentIndex(view.model().index(0, 0))
        widget = view
    elif target == "header":
        widget = view.horizontalHeader()
    else:
        widget = w.training_panel.fields["lr"]
    widget.setFocus()
    settle(qtbot)
    for letter in "1e400psbuf":  # each key goes where the keyboard focus is, as a person's typing does
        qtbot.keyClick(QApplication.focusWidget(), letter)
    settle(qtbot)
    assert doc.session.step_count == 0 and doc.trace is None  # no Epoch, Full step, Forward…
    assert not w.training.running  # and no Play
    if target in ("cell", "header"):  # the typed text went into the current cell's editor
        editor = QApplication.focusWidget()
        assert isinstance(editor, QLineEdit) and editor.text() == "1e400psbuf" and view.isAncestorOf(editor)
    if target == "lr field":
        assert "1e400psbuf" in w.training_panel.fields["lr"].text()


def test_with_the_canvas_focused_the_letters_still_step(qtbot, window):
    w, doc = window, window.document
    click_canvas(qtbot, w)
    press(qtbot, w, Qt.Key.Key_S)
    assert doc.session.step_count == 1
