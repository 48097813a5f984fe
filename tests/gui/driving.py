"""Driving widgets as a person would: shared by the GUI tests."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QLineEdit


def menu(window, *path):
    """The action at ``path`` in the window's menu bar, e.g. ("File", "Examples", "mazur")."""
    actions = window.menuBar().actions()
    for name in path:
        action = next(a for a in actions if a.text().replace("&", "") == name)
        actions = action.menu().actions() if action.menu() else []
    return action


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
