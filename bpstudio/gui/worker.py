"""Training in a worker thread.

The worker runs the document's session in short chunks, holding the document's lock only while a chunk
runs, so edits of the learning rate or loss from the window go in between chunks. It reports plain
data (floats, NumPy copies) on ``progressed`` at most every ``REPORT_INTERVAL`` seconds; the window
turns that into plot points and canvas updates on its own thread.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QThread, Signal

from bpstudio.core.boundary import accuracy, output_curve, output_surface
from bpstudio.core.errors import BpstudioError
from bpstudio.core.trace import StepTrace

if TYPE_CHECKING:
    from bpstudio.gui.document import Document

REPORT_INTERVAL = 0.04      # seconds between reports to the window (25 per second)
EVAL_INTERVAL = 0.25        # seconds between test-loss / accuracy / decision-surface evaluations
CHUNK_SECONDS = 0.008       # how long the worker holds the lock in one go
TRACE_LIMIT = 4096          # send the full trace for the canvas only for nets up to this many parameters


Record = tuple[int, float, dict[str, float], float | None]   # step, loss, grad norms, train accuracy
TestRecord = tuple[int, float, float | None]                   # step, test loss, test accuracy


def train_accuracy(doc: Document) -> float | None:
    """Accuracy on the training data with the current weights (None for regression)."""
    session = doc.session
    return accuracy(session.predict(doc.train_data.X), doc.train_data, session.spec.loss)


def test_record(doc: Document) -> TestRecord | None:
    """The test loss and accuracy with the weights after the last step (None without a test set)."""
    session, test = doc.session, doc.test_data
    if test is None:
        return None
    test_acc = accuracy(session.predict(test.X), test, session.spec.loss)
    return session.step_count - 1, float(session.evaluate(test)), test_acc


def surface(doc: Document) -> Any:
    """What the data plot draws under the points: the output over the input plane for 2-D inputs,
    the output curve for 1-D inputs (a tuple xs, ys), else None."""
    session = doc.session
    if session.spec.widths[session.spec.input_id] == 1:
        return output_curve(session.predict, session.spec, doc.train_data)
    return output_surface(session.predict, session.spec, doc.train_data, resolution=60)


@dataclass
class Progress:
    """What the worker sends: finished steps (step, loss, grad norms) and the latest state to draw."""

    records: list[Record] = field(default_factory=list)
    evaluations: list[TestRecord] = field(default_factory=list)
    trace: StepTrace | None = None
    surface: Any = None
    step: int = 0
    epoch: int = 0


class TrainWorker(QThread):
    progressed = Signal(object)   # Progress
    failed = Signal(str)

    def __init__(self, document: Document, steps_per_second: float | None = None, max_steps: int | None = None):
        super().__init__()
        self.document = document
        self.steps_per_second = steps_per_second  # None: as fast as it goes
        self.max_steps = max_steps
        self._stop = False
        self.steps_done = 0

    def stop(self) -> None:
        self._stop = True

    def set_speed(self, steps_per_second: float | None) -> None:
        self.steps_per_second = steps_per_second

    def run(self) -> None:
        try:
            self._loop()
        except BpstudioError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:  # noqa: BLE001 - a worker must report, never die silently
            self.failed.emit(f"training stopped by an internal error: {type(exc).__name__}: {exc}")

    def _loop(self) -> None:
        doc = self.document
        layer_ids = tuple(doc.history.layer_ids)
        small_net = sum(math.prod(shape) for shape in doc.spec.param_shapes().values()) <= TRACE_LIMIT
        progress = Progress()
        last_report = last_eval = time.perf_counter()
        last_eval -= EVAL_INTERVAL  # evaluate at once, so the plots start with a point
        next_step_at = time.perf_counter()
        while not self._stop and (self.max_steps is None or self.steps_done < self.max_steps):
            rate = self.steps_per_second
            with doc.lock:
                session = doc.session
                chunk_end = time.perf_counter() + CHUNK_SECONDS
                while True:
                    trace = session.step()
                    self.steps_done += 1
                    norms = trace.grad_norms()
                    loss = float(trace.loss)  # type: ignore[arg-type]
                    progress.records.append((trace.step, loss, {k: norms.get(k, math.nan) for k in layer_ids}, None))
                    if not math.isfinite(loss):
                        self._stop = True
                        self.failed.emit(f"the loss became {loss} at step {trace.step + 1}: lower the "
                                         "learning rate, then Reset")
                        break
                    if rate is not None or self._stop or time.perf_counter() >= chunk_end:
                        break
                    if self.max_steps is not None and self.steps_done >= self.max_steps:
                        break
                now = time.perf_counter()
                slow = rate is not None and rate <= 30
                if now - last_eval >= EVAL_INTERVAL or self._stop:
                    step, loss, norms, _ = progress.records[-1]
                    progress.records[-1] = (step, loss, norms, train_accuracy(doc))
                    tested = test_record(doc)
                    if tested is not None:
                        progress.evaluations.append(tested)
                    progress.surface = surface(doc)
                    last_eval = now
                if slow or now - last_report >= REPORT_INTERVAL or self._stop:
                    if slow or small_net:
                        progress.trace = trace.to_numpy()
                    progress.step, progress.epoch = session.step_count, session.epoch_count
            if progress.step:
                self.progressed.emit(progress)
                progress = Progress()
                last_report = time.perf_counter()
            if rate is not None:
                next_step_at += 1.0 / rate
                pause = next_step_at - time.perf_counter()
                while pause > 0 and not self._stop:
                    time.sleep(min(pause, 0.02))
                    pause = next_step_at - time.perf_counter()
                if pause < -1.0:  # fell far behind (a slow step): don't try to catch up
                    next_step_at = time.perf_counter()
        if progress.records:
            with doc.lock:
                progress.step, progress.epoch = doc.session.step_count, doc.session.epoch_count
            self.progressed.emit(progress)
