"""The Qt side of the document: its plain events as Qt signals, and its command stack mirrored in a QUndoStack.

Widgets connect to :class:`DocumentSignals` rather than to the document's plain events, so a connection ends
when its widget is destroyed, as Qt connections do. :class:`UndoMirror` keeps a QUndoStack in step with the
document's :class:`~bpstudio.document.command_stack.CommandStack`, for what Qt builds on one: the Edit history
view (QUndoView) and the Undo/Redo actions with their "Undo <what>" texts. A click in the view or an action
undoes or redoes through the document's own stack.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from bpstudio.document import CommandStack, Document, Event


class DocumentSignals(QObject):
    """The document's events, re-raised as signals of the same names on the thread that raised them."""

    network_changed = Signal()
    params_changed = Signal()
    step_changed = Signal()
    data_changed = Signal()
    settings_changed = Signal()
    file_changed = Signal()
    training_changed = Signal(bool)
    refused = Signal(str)
    loaded = Signal()

    def __init__(self, document: Document, parent: QObject | None = None):
        super().__init__(parent)
        self.document = document
        events = [(name, event) for name, event in vars(document).items() if isinstance(event, Event)]
        self._forwards = [(event, getattr(self, name).emit) for name, event in events]  # (a signal per event)
        for event, forward in self._forwards:
            event.connect(forward)
        self.destroyed.connect(self._detach)

    def _detach(self) -> None:
        for event, forward in self._forwards:
            event.disconnect(forward)
        self._forwards = []


class _Mirrored(QUndoCommand):
    """One entry of the mirror: undoing or redoing it does so on the document's stack (unless the mirror is
    only catching up with that stack)."""

    def __init__(self, mirror: UndoMirror, text: str):
        super().__init__(text)
        self.mirror = mirror

    def undo(self) -> None:
        if not self.mirror.syncing:
            self.mirror.run(self.mirror.stack.undo)

    def redo(self) -> None:
        if not self.mirror.syncing:
            self.mirror.run(self.mirror.stack.redo)


class UndoMirror(QObject):
    """A QUndoStack (``qt_stack``) whose entries are the document stack's, at its index and clean state."""

    def __init__(self, stack: CommandStack, parent: QObject | None = None):
        super().__init__(parent)
        self.stack = stack
        self.qt_stack = QUndoStack(self)
        self.syncing = False
        self._running = self._pending = False
        self._texts: list[str] = []
        stack.changed.connect(self.sync)
        self.destroyed.connect(lambda: stack.changed.disconnect(self.sync))
        self.sync()

    def run(self, action: Callable[[], None]) -> None:
        """Undo or redo on the document's stack for one of the mirror's own entries. Meanwhile QUndoStack is
        inside that entry, so catching up (which may rebuild the entries) waits until it has returned."""
        self._running = True
        try:
            action()
        finally:
            self._running = False
        if self._pending:
            self._pending = False
            QTimer.singleShot(0, self, self.sync)

    def sync(self) -> None:
        """Catch up with the document's stack: the same entries, index and clean state."""
        if self._running:
            self._pending = True
            return
        stack, qt = self.stack, self.qt_stack
        texts = [stack.text(i) for i in range(stack.count())]
        self.syncing = True
        try:
            if texts != self._texts:
                qt.clear()  # (entries were pushed, merged or dropped: rebuild; pushing runs no command)
                for text in texts:
                    qt.push(_Mirrored(self, text))
                self._texts = texts
            if qt.index() != stack.index():
                qt.setIndex(stack.index())
            if stack.is_clean() and not qt.isClean():
                qt.setClean()
            elif not stack.is_clean() and qt.isClean():
                qt.resetClean()
        finally:
            self.syncing = False
