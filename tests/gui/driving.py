"""Driving widgets as a person would, and reading what they show: shared by the GUI tests."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QPoint, Qt
from PySide6.QtGui import QTextCursor
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QAbstractItemView, QApplication, QLineEdit

from bpstudio.core.io import presets

LEFT, NOMOD = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
CTRL, SHIFT = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier


def settle(qtbot=None):
    """Run what the event loop has queued now (posted events, zero-delay timers such as the canvas's redraw,
    layout requests), a few rounds since each may queue more; no waiting on the clock."""
    for _ in range(3):
        QCoreApplication.sendPostedEvents()
        QCoreApplication.processEvents()


def activate(qtbot, w):
    """Make window ``w`` the active one (key presses go to the active window), then settle."""
    if QApplication.activeWindow() is not w:
        w.activateWindow()
        qtbot.waitActive(w)
    settle(qtbot)


def menu(window, *path):
    """The action at ``path`` in the window's menu bar, e.g. ("File", "Examples", "Mazur 2-2-2")."""
    actions = window.menuBar().actions()
    for name in path:
        action = next(a for a in actions if a.text().replace("&", "") == name)
        actions = action.menu().actions() if action.menu() else []
    return action


def press(qtbot, w, key, modifiers=NOMOD):
    """A key press as a person makes it, in window ``w``: to its focused widget (else the window)."""
    activate(qtbot, w)
    target = QApplication.focusWidget()
    if target is None or target.window() is not w:
        target = w
    QTest.keyClick(target, key, modifiers)
    settle(qtbot)


def open_example(qtbot, w, name):
    """File ▸ Examples ▸ the example ``name`` (its id, e.g. "mazur"; the menu shows its title)."""
    menu(w, "File", "Examples", presets.title(name)).trigger()
    settle(qtbot)


def history_texts(w):
    """The entries of the window's undo history, oldest first."""
    model = w.undo_view.model()
    return [model.index(r, 0).data() for r in range(model.rowCount())]


def type_into_field(qtbot, field, text):
    field.setFocus()
    field.selectAll()
    qtbot.keyClicks(field, text)
    qtbot.keyClick(field, Qt.Key.Key_Return)
    settle(qtbot)


def click_canvas(qtbot, w):
    """Click an empty spot of the canvas: it takes the keyboard focus."""
    QTest.mouseClick(w.canvas.viewport(), LEFT, NOMOD, QPoint(8, w.canvas.viewport().height() - 8))
    settle(qtbot)
    assert w.canvas.hasFocus()


def set_batch_size(qtbot, w, size):
    panel = w.training_panel
    if panel.full_batch.isChecked():
        QTest.mouseClick(panel.full_batch, LEFT)
    panel.batch.setFocus()
    panel.batch.lineEdit().selectAll()
    qtbot.keyClicks(panel.batch, str(size))
    qtbot.keyClick(panel.batch, Qt.Key.Key_Return)
    settle(qtbot)


# --- matrix editors (the inspector's weights) ---------------------------------------------------------------


def cell(editor, row, col, role=Qt.ItemDataRole.DisplayRole):
    return editor.view.model().index(row, col).data(role)


def cells(editor):
    m = editor.view.model()
    return [[cell(editor, r, c) for c in range(m.columnCount())] for r in range(m.rowCount())]


def type_into_cell(qtbot, editor, row, col, text):
    """Open a matrix cell's editor as a double-click would, type, press Enter, wait for the commit."""
    view = editor.view
    index = view.model().index(row, col)
    view.setCurrentIndex(index)
    assert view.edit(index, QAbstractItemView.EditTrigger.DoubleClicked, None)
    line = view.indexWidget(index)
    assert isinstance(line, QLineEdit)
    line.selectAll()
    qtbot.keyClick(line, Qt.Key.Key_Delete)
    qtbot.keyClicks(line, text)
    qtbot.keyClick(line, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: view.state() == QAbstractItemView.State.NoState)


def on_screen(qtbot, widget, size):
    """A widget on its own, as the tests drive it: owned by qtbot, at ``size``, shown and exposed."""
    qtbot.addWidget(widget)
    widget.resize(*size)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def click_link(qtbot, browser, text):
    """Click the link that reads ``text`` in a text browser, where it is drawn (scrolled into view first)."""
    found = browser.document().find(text)
    assert not found.isNull(), f"no {text!r} in {browser.toPlainText()!r}"
    middle = QTextCursor(browser.document())
    middle.setPosition((found.selectionStart() + found.selectionEnd()) // 2)
    bar = browser.verticalScrollBar()
    bar.setValue(bar.value() + browser.cursorRect(middle).center().y() - browser.viewport().height() // 2)
    point = browser.cursorRect(middle).center()
    assert browser.viewport().rect().contains(point)
    QTest.mouseClick(browser.viewport(), LEFT, NOMOD, point)
    settle(qtbot)
