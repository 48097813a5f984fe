"""New, Open, Save, Save As, recent files and the unsaved-changes prompt."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from bpstudio.core.errors import BpstudioError
from bpstudio.core.io import run_db
from bpstudio.core.limits import one_line
from bpstudio.document import Document
from bpstudio.gui.backend_loader import BackendLoader

FILE_FILTER = "bpstudio sessions and networks (*.json);;All files (*)"
# what File ▸ Open reads: an ONNX model opens as a new, untitled network (the importer of `bpstudio import`)
OPEN_FILTER = (
    "Sessions, networks and ONNX models (*.json *.onnx);;bpstudio sessions and networks (*.json);;"
    "ONNX models (*.onnx);;All files (*)"
)
MAX_RECENT = 8


class FileManager:
    """The file commands of one window. It gets what it uses: the document, a way to stop training (the steps
    trained so far count as unsaved changes), the widget its dialogs belong to, the settings that keep the
    recent files, where to say that the recent files or the status changed, and the backend loader (a file
    saved on PyTorch opens on NumPy at once and switches once PyTorch has loaded in the background)."""

    def __init__(
        self,
        document: Document,
        stop_training: Callable[[], None],
        dialog_parent: QWidget,
        settings: QSettings,
        recent_changed: Callable[[], None],
        show_status: Callable[[str], None],
        engines: BackendLoader,
        watch_run: Callable[[str], None] = lambda folder: None,
    ):
        self.document = document
        self.stop_training = stop_training
        self.dialog_parent = dialog_parent
        self.settings = settings
        self.recent_changed = recent_changed
        self.show_status = show_status
        self.engines = engines
        self.watch_run = watch_run  # shows a watched PyTorch run's folder (raises BpstudioError if it holds none)

    # --- recent files -----------------------------------------------------------------------------------

    def recent(self) -> list[str]:
        value = self.settings.value("recent_files", [])
        if isinstance(value, str):  # QSettings gives a bare string for a one-entry list on some backends
            value = [value]
        return [str(v) for v in value] if isinstance(value, (list, tuple)) else []

    def _remember_opened(self, path: str) -> None:
        """Put what ``path`` opened among the recent files: a run's folder, or the file the document holds."""
        run = run_db.named_folder(path)
        self._remember(run if _is_folder(run) else self.document.path or path)

    def _remember(self, path: str) -> None:
        files = [path] + [p for p in self.recent() if p != path]
        self.settings.setValue("recent_files", files[:MAX_RECENT])
        self.recent_changed()

    # --- commands ---------------------------------------------------------------------------------------

    def maybe_save(self, why: str = "") -> bool:
        """Ask about unsaved changes (``why`` says what is about to replace them); False means the user
        cancelled what they were doing."""
        if not self.document.dirty:
            return True
        answer = QMessageBox.question(
            self.dialog_parent,
            "Unsaved changes",
            f"{why + ' ' if why else ''}Save the changes to {self.display_name()} first?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save,
        )
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

    def display_name(self) -> str:
        path = self.document.path
        return Path(path).name if path else (self.document.spec.name or "untitled")

    def new(self) -> None:
        """An input and an output layer to build on (File ▸ Examples opens a finished network)."""
        self.stop_training()  # first: the steps trained so far count as unsaved changes
        if not self.maybe_save():
            return
        self.document.new_network()

    def open_example(self, name: str) -> bool:
        """Open the shipped example ``name``; False if the person cancelled (at the unsaved-changes prompt)."""
        self.stop_training()  # first: the steps trained so far count as unsaved changes
        if not self.maybe_save():
            return False
        self.document.load_preset(name)
        return True

    def choose_and_open(self) -> None:
        self.stop_training()
        if not self.maybe_save():
            return
        start = str(Path(self.document.path).parent) if self.document.path else ""
        path, _ = QFileDialog.getOpenFileName(self.dialog_parent, "Open session, network or model", start, OPEN_FILTER)
        if path:
            self.open(path, ask=False)

    def choose_run_and_open(self) -> None:
        """File ▸ Open run…: a folder a ``bpstudio.watch.Watcher`` records into (it holds run.sqlite)."""
        self.stop_training()
        if not self.maybe_save("A watched run takes the network's place."):
            return
        start = str(Path(self.document.path).parent) if self.document.path else ""
        folder = QFileDialog.getExistingDirectory(self.dialog_parent, "Open a watched run's folder", start)
        if folder:
            self.open(folder, ask=False)

    def open(self, path: str, ask: bool = True) -> bool:
        """Open a file, or show a watched run when ``path`` is a folder."""
        self.stop_training()
        if ask and not self.maybe_save():
            return False
        problem = self._try_open(path)
        if problem is not None:
            title = "Cannot open run" if _is_folder(run_db.named_folder(path)) else "Cannot open file"
            QMessageBox.warning(self.dialog_parent, title, problem)
            return False
        self._remember_opened(path)
        return True

    def _try_open(self, path: str) -> str | None:
        """Open ``path``; what went wrong, in one line, or None. The open document stays as it was on failure
        (it changes only once the whole file has been read). A failure core did not foresee is said too, with
        its traceback on stderr for a bug report, rather than leaving the window as if nothing was asked."""
        try:
            run = run_db.named_folder(path)  # (runs/x/run.sqlite opens the run in runs/x)
            if _is_folder(run):
                self.watch_run(run)
                return None
            self._open_file(path)
        except BpstudioError as exc:
            return one_line(str(exc))
        except Exception as exc:  # shown to the person, not lost in a Qt slot
            traceback.print_exc()
            return one_line(f"{path}: cannot be opened ({type(exc).__name__}: {str(exc)[:200]})")
        return None

    def _open_file(self, path: str) -> None:
        deferred = self.document.open_file(path, self.engines.is_ready)
        if deferred is not None:  # saved on an engine still to load: NumPy meanwhile
            self.engines.request(*deferred, as_saved=True)

    def open_at_start(self, path: str) -> bool:
        """Open the file named on the command line; a failure is said on the canvas and on stderr, not in
        a dialog (the window is not up yet, and a --smoke check must not wait for a click)."""
        problem = self._try_open(path)
        if problem is not None:
            message = f"cannot open {problem if problem.startswith(path) else f'{path}: {problem}'}"
            print(f"bpstudio: {message}", file=sys.stderr)
            self.document.refused.emit(message)
            return False
        self._remember_opened(path)
        return True

    def save(self) -> bool:
        if self.document.path is None:
            return self.save_as()
        return self.save_to(self.document.path)

    def save_as(self) -> bool:
        suggested = self.document.path or f"{(self.document.spec.name or 'session').split(':')[0]}.json"
        path, _ = QFileDialog.getSaveFileName(self.dialog_parent, "Save session", suggested, FILE_FILTER)
        return bool(path) and self.save_to(path)

    def save_to(self, path: str) -> bool:
        """Save the session; a failure (disk full, no permission) leaves the old file and says why."""
        if not path.endswith(".json"):
            path += ".json"
        try:
            self.document.save(path)
        except (OSError, BpstudioError) as exc:
            QMessageBox.warning(self.dialog_parent, "Cannot save", f"{path}: {exc}")
            return False
        self._remember(self.document.path or path)
        self.show_status(f"Saved {path}")
        return True


def _is_folder(path: str) -> bool:
    """A folder is a watched run's (or not a run at all, which opening it says)."""
    try:
        return Path(path).is_dir()
    except OSError:
        return False
