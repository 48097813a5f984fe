"""Work off the GUI thread: :class:`BackgroundTask` runs a function in a thread of its own and reports its
progress and its result (or the reason it failed) as signals, which arrive on the GUI thread. Anything that
would take the GUI thread more than a moment (importing PyTorch, a sweep, a loss landscape) runs in one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QThread, Signal, Slot

from bpstudio.core.errors import BpstudioError

Work = Callable[[Callable[[int, int], bool]], Any]  # work(progress) -> result

_RUNNING: set[BackgroundTask] = set()  # tasks outlive a window closed under them (they work on copies)


class BackgroundTask(QThread):
    """Runs ``work(progress)`` off the GUI thread; ``progress(done, total)`` reports and returns False once
    :meth:`cancel` was called. Ends with ``succeeded(result)`` (None when cancelled) or ``failed(message)``.
    It has no Qt parent and is kept until it ends, so closing the window that started it is safe."""

    progressed = Signal(int, int)
    succeeded = Signal(object)
    failed = Signal(str)

    def __init__(self, work: Work):
        super().__init__()
        self._work = work
        self._cancelled = threading.Event()

    def start_work(self) -> None:
        _RUNNING.add(self)
        self.finished.connect(self._forget)  # (queued to the GUI thread, where this object lives)
        self.start()

    @Slot()
    def _forget(self) -> None:
        self.wait()  # the thread is ending: let it end before the last reference can go
        _RUNNING.discard(self)

    def cancel(self) -> None:
        self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def _progress(self, done: int, total: int) -> bool:
        self.progressed.emit(done, total)
        return not self._cancelled.is_set()

    def run(self) -> None:
        try:
            result = self._work(self._progress)
        except BpstudioError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:
            self.failed.emit(f"internal error: {type(exc).__name__}: {exc}")
        else:
            self.succeeded.emit(None if self._cancelled.is_set() else result)
