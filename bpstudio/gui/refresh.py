"""How often the window redraws while training.

Every redraw costs the GUI thread CPU time, and with Python's one interpreter lock that time is taken
from the training worker. The pacer measures the GUI thread's own CPU use between timer ticks and
stretches or shortens the tick so that it stays near a budget: training as fast as it goes, a small share
(:data:`FULL_SPEED`: a small net on a fast machine redraws 10 times a second, a deep net on a slow one or a
big window on a projector less often, and training keeps most of the machine); training at a set pace that
leaves the worker idle between steps, a larger share and a faster tick (:data:`PACED`: a class watching
10 steps a second sees the views follow the steps). bench/bench_gui.py measures the result.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QCoreApplication, QEvent, QObject
from PySide6.QtWidgets import QGraphicsView, QWidget

MAX_INTERVAL_MS = 400  # the slowest: each view (four turns: loss, gradients, pictures, canvas) redraws every 1.6 s
SMOOTHING = 0.5  # how far each tick moves toward the interval the last one called for


@dataclass(frozen=True)
class RedrawBudget:
    """The share of one core the GUI thread aims to use while training, and its fastest tick (one view redraws per
    tick, in turn)."""

    share: float
    fastest_ms: int


FULL_SPEED = RedrawBudget(0.05, 100)  # training as fast as it goes: what the GUI thread takes, training loses
PACED = RedrawBudget(0.25, 40)  # a set pace the worker keeps with time to spare: the views follow the steps


class RefreshPacer:
    """The tick interval that keeps the GUI thread's CPU use near the budget (``budget``, set before each tick)."""

    def __init__(self, wall: Callable[[], float] = time.perf_counter, cpu: Callable[[], float] = time.thread_time):
        self._wall_clock, self._cpu_clock = wall, cpu
        self.budget = FULL_SPEED
        self.interval_ms = self.budget.fastest_ms
        self.reset()

    def reset(self) -> None:
        """Start measuring afresh, at the fastest tick (call when training starts, on the GUI thread)."""
        self.interval_ms = self.budget.fastest_ms
        self._wall, self._cpu = self._wall_clock(), self._cpu_clock()

    def next_interval(self) -> int:
        """Call on each tick, on the GUI thread: the interval until the next one, in ms."""
        wall, cpu = self._wall_clock(), self._cpu_clock()
        elapsed, used = wall - self._wall, cpu - self._cpu
        self._wall, self._cpu = wall, cpu
        if elapsed <= 0:
            return self.interval_ms
        wanted = self.interval_ms * (used / elapsed) / self.budget.share
        interval = (1 - SMOOTHING) * self.interval_ms + SMOOTHING * wanted
        self.interval_ms = round(min(MAX_INTERVAL_MS, max(self.budget.fastest_ms, interval)))
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
    _flush(scene, view)
    viewport.repaint()
    _flush(scene, view)  # (what the painting set off: a legend that grew relays its plot out)


def _flush(scene: QObject | None, view: QWidget | None) -> None:
    """Run the queued layouts, and the scene's and view's queued calls (only theirs: other queued calls, such as
    the worker's, wait their turn)."""
    QCoreApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)
    for queued in (scene, view):
        if queued is not None:
            QCoreApplication.sendPostedEvents(queued, QEvent.Type.MetaCall)
