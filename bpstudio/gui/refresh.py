"""How often the window redraws while training.

Every redraw costs the GUI thread CPU time, and with Python's one interpreter lock that time is taken
from the training worker. The pacer measures the GUI thread's own CPU use between timer ticks and
stretches or shortens the tick so that it stays near :data:`CPU_BUDGET`: a small net on a fast machine
redraws 10 times a second, a deep net on a slow one or a big window on a projector less often, and
training keeps most of the machine either way (bench/bench_gui.py measures the result).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QCoreApplication, QEvent
from PySide6.QtWidgets import QGraphicsView, QWidget

MIN_INTERVAL_MS = 100  # the fastest tick (one view redraws per tick, in turn)
MAX_INTERVAL_MS = 400  # the slowest: each view (four turns: loss, gradients, pictures, canvas) redraws every 1.6 s
CPU_BUDGET = 0.08  # the share of one core the GUI thread aims to use while training
SMOOTHING = 0.5  # how far each tick moves toward the interval the last one called for


class RefreshPacer:
    """The tick interval that keeps the GUI thread's CPU use near the budget."""

    def __init__(self, wall: Callable[[], float] = time.perf_counter, cpu: Callable[[], float] = time.thread_time):
        self._wall_clock, self._cpu_clock = wall, cpu
        self.interval_ms = MIN_INTERVAL_MS
        self.reset()

    def reset(self) -> None:
        """Start measuring afresh, at the fastest tick (call when training starts, on the GUI thread)."""
        self.interval_ms = MIN_INTERVAL_MS
        self._wall, self._cpu = self._wall_clock(), self._cpu_clock()

    def next_interval(self) -> int:
        """Call on each tick, on the GUI thread: the interval until the next one, in ms."""
        wall, cpu = self._wall_clock(), self._cpu_clock()
        elapsed, used = wall - self._wall, cpu - self._cpu
        self._wall, self._cpu = wall, cpu
        if elapsed <= 0:
            return self.interval_ms
        wanted = self.interval_ms * (used / elapsed) / CPU_BUDGET
        interval = (1 - SMOOTHING) * self.interval_ms + SMOOTHING * wanted
        self.interval_ms = round(min(MAX_INTERVAL_MS, max(MIN_INTERVAL_MS, interval)))
        return self.interval_ms


def paint_now(viewport: QWidget) -> None:
    """Paint ``viewport`` at once with all that changed in it. A graphics view's scene does part of its work
    after the event that changed it — Qt's queued processing of changed items and layouts, pyqtgraph's
    auto-range just before a paint — and each part asks for another paint: done first, here, the view
    paints once, inside the GUI thread's turn, instead of a second time after it while the worker runs
    (then sharing the interpreter with it)."""
    view = viewport.parentWidget()
    scene = view.scene() if isinstance(view, QGraphicsView) else None
    prepare = getattr(scene, "prepareForPaint", None)  # (pyqtgraph's scenes)
    if prepare is not None:
        prepare()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)
    for queued in (scene, view):  # (only theirs: other queued calls, such as the worker's, wait their turn)
        if queued is not None:
            QCoreApplication.sendPostedEvents(queued, QEvent.Type.MetaCall)
    viewport.repaint()
