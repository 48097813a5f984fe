"""Typing wins over single-letter shortcuts.

The stepping actions have one-letter shortcuts (F, B, U, S, E, P) that work from anywhere in the window. While
a person types into a field, a spin box or a table, a letter of what they type must go there: typing "1e400"
into the weight matrix once ran an Epoch ("e"). Qt asks the focused widget first (a ShortcutOverride event);
this filter answers "mine" for printable keys without Ctrl/Alt/Meta whenever the focus is on something that
takes text. A key typed on a table's header goes to the table's current cell, which starts editing it.

Line edits (and the line edit inside a spin box) already claim their keys, the canvas's in-place editors among
them (a layer's name, a weight or bias): they are plain line edits on the canvas's viewport, not widgets inside
the graphics scene, whose keys the view would receive and not claim. Tables and their headers do not claim them,
so the guard watches those, each one installed on (:meth:`TypingGuard.watch`): an application-wide filter
would run Python for every event of the GUI thread, which competes with the training thread for the
interpreter lock.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QAbstractSpinBox,
    QComboBox,
    QHeaderView,
    QLineEdit,
    QPlainTextEdit,
    QTextEdit,
    QWidget,
)

COMMAND_MODIFIERS = (
    Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier | Qt.KeyboardModifier.MetaModifier
)


def takes_text(widget: QWidget) -> bool:
    """Whether typing into ``widget`` means text for it (an editor, an editable box, a table or its header)."""
    if isinstance(widget, (QLineEdit, QAbstractSpinBox, QAbstractItemView)):
        return True
    if isinstance(widget, (QTextEdit, QPlainTextEdit)):
        return not widget.isReadOnly()
    return isinstance(widget, QComboBox) and widget.isEditable()


def is_typing(event: QKeyEvent) -> bool:
    return bool(event.text()) and event.text().isprintable() and not (event.modifiers() & COMMAND_MODIFIERS)


class TypingGuard(QObject):
    """An event filter for the widgets that take text but do not claim their keys themselves."""

    def watch(self, root: QWidget) -> int:
        """Filter the tables (and their headers) inside ``root``; how many."""
        views = root.findChildren(QAbstractItemView)
        for view in views:
            view.installEventFilter(self)
        return len(views)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind not in (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress) or not isinstance(watched, QWidget):
            return False
        assert isinstance(event, QKeyEvent)
        if not is_typing(event) or not takes_text(watched):
            return False
        if kind == QEvent.Type.ShortcutOverride:
            event.accept()  # the focused widget takes this key: no shortcut fires
            return True
        table = watched.parent() if isinstance(watched, QHeaderView) else None
        if isinstance(table, QAbstractItemView) and table.model() is not None and table.model().rowCount() > 0:
            if not table.currentIndex().isValid():
                table.setCurrentIndex(table.model().index(0, 0))
            table.setFocus()  # the key (and what follows it) goes to the current cell, which starts editing
            QCoreApplication.sendEvent(table, QKeyEvent(event.type(), event.key(), event.modifiers(), event.text()))
            return True
        return False
