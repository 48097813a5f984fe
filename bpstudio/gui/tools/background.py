"""Work on a copy of the document's session off the GUI thread, with a progress bar and Cancel.

:class:`~bpstudio.gui.background_task.BackgroundTask` runs the work; :class:`CopyTaskControls` is what a
tool dialog that starts such work has around it (a start button, Cancel, the progress bar and a status line)
and how it starts, follows and ends a task.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QProgressBar, QPushButton

from bpstudio.core.errors import BpstudioError
from bpstudio.core.session import Session
from bpstudio.core.tools.landscape import fork_session
from bpstudio.gui.background_task import BackgroundTask, Work


def close_buttons(dialog: QDialog) -> QDialogButtonBox:
    """A Close button for the bottom of a tool dialog (closing cancels its task, see :class:`CopyTaskControls`)."""
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
    buttons.rejected.connect(dialog.reject)
    return buttons


class CopyTaskControls:
    """Mixed into a tool ``QDialog`` (listed before it) that runs one :class:`BackgroundTask` at a time on a
    copy of ``window_.document``'s session: it owns ``task``, the start button, ``cancel_button``,
    ``progress`` and ``status``. Closing the dialog cancels the task."""

    window_: Any
    task: BackgroundTask | None
    cancel_button: QPushButton
    progress: QProgressBar
    status: QLabel
    _start_button: QPushButton

    def _build_task_controls(self, start_text: str, status_text: str = "") -> QPushButton:
        """Make the controls (the dialog lays them out); the start button, which the dialog connects."""
        self.task = None
        self._start_button = QPushButton(start_text)
        self.cancel_button = QPushButton("Cancel")
        for button in (self._start_button, self.cancel_button):  # Return in a field only sets its value
            button.setAutoDefault(False)
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.progress = QProgressBar()
        self.status = QLabel(status_text)
        self.status.setWordWrap(True)
        return self._start_button

    def _copy_for_task(self, doing: str) -> Session | None:
        """A copy of the document's session to work on (the live one is only read, under its lock). None if a
        task is still running, or, with the reason in the status line ("Cannot ``doing``: …"), if the session
        cannot be copied."""
        if self.task is not None:
            return None
        doc = self.window_.document
        try:
            with doc.lock:
                return fork_session(doc.session)
        except BpstudioError as exc:
            self.status.setText(f"Cannot {doing}: {exc}")
            return None

    def _start_task(
        self, work: Work, failed: Callable[[str], None], succeeded: Callable[[Any], None] | None = None
    ) -> None:
        """Run ``work`` as :attr:`task`: progress on the bar, Cancel enabled until it ends."""
        self.task = BackgroundTask(work)
        self.task.progressed.connect(self._on_task_progress)
        if succeeded is not None:
            self.task.succeeded.connect(succeeded)
        self.task.failed.connect(failed)
        self.task.finished.connect(self._on_task_finished)
        self._start_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setValue(0)
        self.task.start_work()

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()

    def done(self, result: int) -> None:  # closed (Escape, the title bar): no point finishing the work
        self.cancel()
        super().done(result)  # type: ignore[misc]  # (QDialog.done, after this mixin in the bases)

    def _on_task_progress(self, done: int, total: int) -> None:
        self.progress.setMaximum(total)
        self.progress.setValue(done)

    def _on_task_finished(self) -> None:
        task, self.task = self.task, None
        if task is not None:
            task.wait()
        self._start_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self._task_ended()

    def _task_ended(self) -> None:
        """Called when a task has ended (succeeded, failed or cancelled) and the controls are reset."""
