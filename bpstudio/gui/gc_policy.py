"""Python's cyclic garbage collection, moved to the GUI thread.

A cyclic collection runs in whichever thread happens to allocate when a threshold is crossed. When it frees
a Qt object there (a closed window's widgets still held in a reference cycle), Qt's destructor takes a Qt
lock and then waits for the interpreter lock, while the GUI thread, deleting widgets of its own, holds the
interpreter lock and waits for that Qt lock: a deadlock, seen when the compare tool imported torch in its
worker thread. So while the app runs, automatic collection is off and a timer on the GUI thread collects,
generation by generation, as the automatic collector would have (reference counting frees everything else
at once, as always).
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

CHECK_INTERVAL_MS = 500


class GuiThreadCollector(QObject):
    """Turns automatic collection off until :meth:`uninstall`; collects on the GUI thread's timer instead."""

    def __init__(self, parent: QObject | None = None, interval_ms: int = CHECK_INTERVAL_MS):
        super().__init__(parent)
        self._thresholds = gc.get_threshold()
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.collect_due)
        self._timer.start(interval_ms)

    def collect_due(self) -> int:
        """Collect the generations whose counts passed their thresholds; the number of objects freed."""
        counts = gc.get_count()
        oldest = -1
        for generation, (count, threshold) in enumerate(zip(counts, self._thresholds)):
            if count <= threshold:
                break
            oldest = generation
        return gc.collect(oldest) if oldest >= 0 else 0

    def uninstall(self) -> None:
        self._timer.stop()
        gc.collect()
        if self._was_enabled:
            gc.enable()
