"""Switching the engine without freezing the window.

The first use of PyTorch imports it, which takes seconds (six on a cold start) — on the GUI thread the window
froze that long, even while training went on. :class:`BackendLoader` makes a backend ready in a
:class:`~bpstudio.gui.background_task.BackgroundTask` (importing torch, starting CUDA) and only then asks for the
switch, which is quick once the backend is loaded. Meanwhile ``loading_changed`` says which request waits, for
a visible busy state (:func:`loading_text`); the engine in use keeps working (training goes on with it).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from bpstudio.core import backends
from bpstudio.gui.background_task import BackgroundTask

Choice = tuple[str, str, str]  # backend name, device, dtype
NAMES = {"numpy": "NumPy", "torch": "PyTorch"}

_READY: set[tuple[str, str]] = {("numpy", "cpu")}  # (backend, device) pairs made once in this process


def loading_text(name: str, device: str) -> str:
    what = NAMES.get(name, name) + (" with CUDA" if device == "cuda" else "")
    return f"Loading {what}… (the first time takes a few seconds; the current engine goes on meanwhile)"


def _make_ready(choice: Choice) -> Callable[[Callable[[int, int], bool]], None]:
    def work(progress: Callable[[int, int], bool]) -> None:
        backends.get_backend(*choice)  # imports the backend's module (and torch), starts the device

    return work


class BackendLoader(QObject):
    """Carries out backend requests: at once when the backend was made ready before, else after making it
    ready off the GUI thread. The newest request wins; one for a ready backend (back to NumPy) ends the wait."""

    loading_changed = Signal(object)  # the request waiting for its backend (a Choice), or None
    failed = Signal(str)  # a requested backend could not be made ready: why

    def __init__(self, apply: Callable[..., None], parent: QObject | None = None):
        super().__init__(parent)
        self.apply = apply  # apply(name, device, dtype, as_saved=...): the document's set_backend
        self.pending: Choice | None = None  # the request waiting for its backend
        self._as_saved = False  # the pending request restores the engine a file was saved with
        self._tasks: dict[tuple[str, str], BackgroundTask] = {}  # (backend, device) being made ready

    @staticmethod
    def is_ready(name: str, device: str) -> bool:
        return (name, device) in _READY

    def request(self, name: str, device: str, dtype: str, as_saved: bool = False) -> None:
        """Switch to the backend now if it is ready, else once it is. ``as_saved``: the engine a file just
        opened was saved with (the switch is no unsaved change)."""
        choice = (name, device, dtype)
        if self.is_ready(name, device):
            self._set_pending(None)
            self.apply(*choice, as_saved=as_saved)
            return
        self._as_saved = as_saved
        self._set_pending(choice)
        if (name, device) not in self._tasks:
            task = BackgroundTask(_make_ready(choice))
            task.succeeded.connect(lambda _result: self._on_ready(name, device))
            task.failed.connect(lambda message: self._on_failed(name, device, message))
            self._tasks[(name, device)] = task
            task.start_work()

    def _set_pending(self, choice: Choice | None) -> None:
        self.pending = choice
        self.loading_changed.emit(choice)

    def _on_ready(self, name: str, device: str) -> None:
        self._tasks.pop((name, device), None)
        _READY.add((name, device))
        choice = self.pending
        if choice is not None and choice[:2] == (name, device):
            self._set_pending(None)
            self.apply(*choice, as_saved=self._as_saved)

    def _on_failed(self, name: str, device: str, message: str) -> None:
        self._tasks.pop((name, device), None)
        choice = self.pending
        if choice is not None and choice[:2] == (name, device):
            self._set_pending(None)
            self.failed.emit(f"Not changed — {message}")
