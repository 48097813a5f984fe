"""Play/pause: starts and stops the training worker and turns its reports into plot points.

The controller owns at most one :class:`TrainWorker`. Its steps go straight into the document's plot
history; its reports (the latest trace and decision surface) arrive on the GUI thread as plain data, and
the canvas and plots redraw from the window's timer, never per step.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from PySide6.QtCore import QCoreApplication, QObject, Signal

from bpstudio.core.record.history import TrainingHistory
from bpstudio.core.stopping import StopRule
from bpstudio.document import Document
from bpstudio.gui.refresh import FULL_SPEED, PACED, RedrawBudget
from bpstudio.gui.worker import Progress, TrainingRun, TrainingSource, TrainWorker

# the speed control's choices: label -> steps per second (None: as fast as the machine goes)
SPEEDS: dict[str, float | None] = {
    "1 step/s": 1,
    "2 steps/s": 2,
    "5 steps/s": 5,
    "10 steps/s": 10,
    "30 steps/s": 30,
    "100 steps/s": 100,
    "1000 steps/s": 1000,
    "max": None,
}
# A pace a class can follow: the curves move visibly and a lesson (the deep sigmoid net's gap) unfolds over a
# minute instead of being over in seconds. Every example opens at it; "max" is one click away.
DEFAULT_SPEED = "100 steps/s"
# While the worker runs, the GUI thread must get the GIL back quickly each time a Qt call released it;
# at Python's default 5 ms a repaint that releases it twenty times waits 100 ms (bench/bench_gui.py).
TRAINING_SWITCH_INTERVAL = 0.001
SPARE_TIME = 0.5  # a set pace whose steps take at most this share of the time leaves the GUI thread a larger budget


class TrainingController(QObject):
    running_changed = Signal(bool)
    progressed = Signal(object)  # the latest Progress, after the document recorded it
    failed = Signal(str)
    stopped = Signal(str)  # a stop condition ended the run: why, in a line (after running_changed(False))

    def __init__(self, document: Document, parent: QObject | None = None):
        super().__init__(parent)
        self.document = document
        self.worker: TrainWorker | None = None
        self.speed: float | None = SPEEDS[DEFAULT_SPEED]
        self.latest: Progress | None = None
        self.latest_history: TrainingHistory | None = None  # the newest snapshot of the history

    @property
    def running(self) -> bool:
        return self.worker is not None

    def set_speed(self, steps_per_second: float | None) -> None:
        self.speed = steps_per_second
        if self.worker is not None:
            self.worker.set_speed(steps_per_second)

    def redraw_budget(self) -> RedrawBudget:
        """How much of a core the window may take for its redraws now: a small share while the worker trains as
        fast as it goes (or cannot keep its pace), a larger one while a set pace leaves it idle between steps."""
        worker = self.worker
        if worker is None or self.speed is None or worker.step_seconds * self.speed > SPARE_TIME:
            return FULL_SPEED
        return PACED

    @property
    def stop_rule(self) -> StopRule:
        """The conditions Play trains under (the document's; epochs and plateaus count from Play)."""
        return self.document.stop_rule

    def set_stop_rule(self, rule: StopRule) -> None:
        """The conditions Play stops at; a run in progress takes them at once (its epochs and plateau window then
        count from here)."""
        self.document.set_stop_rule(rule)
        worker = self.worker
        if worker is not None:
            with self.document.lock:
                worker.stop_watch = rule.watch(self.document.session.epoch_count) if rule.active else None

    def start(self, max_steps: int | None = None) -> None:
        if self.worker is not None:
            return
        doc = self.document
        with doc.lock:
            doc.session.abort_step()  # a half-done step restarts, so whole steps are trained
            watch = self.stop_rule.watch(doc.session.epoch_count) if self.stop_rule.active else None
        self.latest_history = None
        doc.set_training(True)
        source = TrainingSource(
            doc.lock,
            lambda: TrainingRun(doc.session, doc.history, doc.train_data, doc.test_data),
            doc.rewind.record_while_training,
        )
        worker = TrainWorker(source, self.speed, max_steps, watch)
        worker.progressed.connect(self._on_progress)
        worker.failed.connect(self.failed)
        worker.finished.connect(self._on_finished)
        self.worker = worker
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(TRAINING_SWITCH_INTERVAL)
        worker.start()
        self.running_changed.emit(True)

    def stop(self) -> None:
        """Stop and wait for the worker (it finishes its current chunk, a few milliseconds)."""
        worker = self.worker
        if worker is None:
            return
        worker.stop()
        worker.wait()
        self._on_finished()

    @contextmanager
    def gui_turn(self) -> Iterator[None]:
        """Run the block while the worker waits between steps (see TrainWorker.begin_gui_turn)."""
        worker = self.worker
        if worker is None:
            yield
            return
        worker.begin_gui_turn()
        try:
            yield
        finally:
            worker.end_gui_turn()

    def toggle(self) -> None:
        if self.running:
            self.stop()
        else:
            self.start()

    def _on_progress(self, progress: Progress) -> None:
        if progress.history is not None:
            self.latest_history = progress.history
        if progress.trace is not None:
            self.document.trace = progress.trace
        waiting = self.latest  # a report the window has not drawn yet: keep what this one does not replace
        if waiting is not None:
            if progress.surface is None:
                progress.surface = waiting.surface
            if progress.neuron_maps is None:
                progress.neuron_maps = waiting.neuron_maps
        self.latest = progress
        self.progressed.emit(progress)

    def _on_finished(self) -> None:
        worker = self.worker
        if worker is None:
            return
        self.worker = None
        worker.wait()
        sys.setswitchinterval(self._switch_interval)
        # reports queued before the thread ended are still waiting: take them now so none is lost
        QCoreApplication.sendPostedEvents(self)
        worker.deleteLater()
        self.document.set_training(False)
        self.running_changed.emit(False)
        if worker.stop_reason is not None:
            self.stopped.emit(worker.stop_reason)
