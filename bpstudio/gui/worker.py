"""Training in a worker thread.

The worker runs the document's session in short chunks, holding the document's lock only while a chunk
runs, so edits of the learning rate or loss from the window go in between chunks. Each step goes into
the document's plot history as it is trained; at most every
``REPORT_INTERVAL`` seconds the worker reports on ``progressed`` what else the window draws: the last
trace as NumPy copies, a snapshot of the history for the plots (so the GUI thread never waits on the
history while the worker writes it), the decision surface and the pictures inside the neurons.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QThread, Signal

from bpstudio.core.errors import BpstudioError
from bpstudio.core.record.history import TrainingHistory
from bpstudio.core.tools.evaluate import data_surface, held_out_record, train_accuracy
from bpstudio.core.tools.neuron_maps import NeuronMaps, neuron_maps
from bpstudio.core.trace import StepTrace

if TYPE_CHECKING:
    from bpstudio.core.data import Dataset
    from bpstudio.core.session import Session

REPORT_INTERVAL = 0.1  # seconds between reports to the window (the views redraw at most 10 times a second)
EVAL_INTERVAL = 0.25  # seconds between test-loss / accuracy / decision-surface / neuron-map evaluations
CHUNK_SECONDS = 0.008  # how long the worker holds the lock in one go
GUI_TURN_WAIT = 0.05  # the longest the GUI thread waits for the worker to pause for its redraw
TRACE_LIMIT = 4096  # send the full trace for the canvas only for nets up to this many parameters


@dataclass(frozen=True)
class TrainingSource:
    """What the worker needs of the open document, and nothing more: the lock that guards the run, the run
    itself (read at every chunk, under the lock: settings change between chunks) and a way to keep the state
    it is in on the timeline."""

    lock: threading.RLock
    run: Callable[[], TrainingRun]
    record_state: Callable[[], None]


@dataclass(frozen=True)
class TrainingRun:
    """The session being trained, the plot history its steps go into and its data."""

    session: Session
    history: TrainingHistory
    train: Dataset
    test: Dataset | None


@dataclass
class Progress:
    """What the worker sends: the latest state to draw (its steps are in the document's history)."""

    trace: StepTrace | None = None
    history: TrainingHistory | None = None  # a snapshot of the document's, for the plots
    surface: Any = None
    neuron_maps: NeuronMaps | None = None  # each small layer's units over the input plane (2-D inputs)
    step: int = 0
    epoch: int = 0


class TrainWorker(QThread):
    progressed = Signal(object)  # Progress
    failed = Signal(str)

    def __init__(self, source: TrainingSource, steps_per_second: float | None = None, max_steps: int | None = None):
        super().__init__()
        self.source = source
        self.steps_per_second = steps_per_second  # None: as fast as it goes
        self.max_steps = max_steps
        self._stop = False
        self.steps_done = 0
        self._turn = threading.Condition()  # the GUI thread's turns (see begin_gui_turn)
        self._turn_wanted = self._parked = False

    def stop(self) -> None:
        self._stop = True
        with self._turn:
            self._turn.notify_all()

    # --- turns: the GUI thread draws while the worker waits ----------------------------------------------
    # Both threads need Python's interpreter lock. When both want it, they trade it every switch interval,
    # and each Qt call the GUI thread makes releases it, so a redraw of 5 ms took 30-40 ms and twice the
    # CPU time. Instead the GUI thread asks for a turn: the worker finishes its step, leaves the document's
    # lock and waits until the turn ends; the redraw runs at full speed and the worker loses only that time.

    def begin_gui_turn(self, timeout: float = GUI_TURN_WAIT) -> bool:
        """Called on the GUI thread: wait (at most ``timeout`` s) until the worker is parked between steps.
        True if it is; False if it was busy longer (a slow step), then the redraw shares the interpreter.
        Either way, call :meth:`end_gui_turn` afterwards."""
        with self._turn:
            self._turn_wanted = True
            parked = self._turn.wait_for(lambda: self._parked or self._stop or self.isFinished(), timeout)
            if not parked:
                self._turn_wanted = False
            return parked and self._parked

    def end_gui_turn(self) -> None:
        with self._turn:
            self._turn_wanted = False
            self._turn.notify_all()

    def _sleep(self, seconds: float) -> None:
        """Wait between slow steps (woken early by stop); meanwhile the GUI thread's turns need no wait."""
        with self._turn:
            self._parked = True
            self._turn.notify_all()
            self._turn.wait_for(lambda: self._stop, seconds)
            self._turn.wait_for(lambda: not self._turn_wanted or self._stop)
            self._parked = False

    def _wait_out_gui_turn(self) -> None:
        if not self._turn_wanted:  # (read without the lock: a turn asked for just now waits one step)
            return
        with self._turn:
            if not self._turn_wanted:
                return
            self._parked = True
            self._turn.notify_all()
            self._turn.wait_for(lambda: not self._turn_wanted or self._stop)
            self._parked = False

    def set_speed(self, steps_per_second: float | None) -> None:
        self.steps_per_second = steps_per_second

    def run(self) -> None:
        try:
            self._loop()
        except BpstudioError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:
            self.failed.emit(f"training stopped by an internal error: {type(exc).__name__}: {exc}")

    def _loop(self) -> None:
        source = self.source
        with source.lock:
            shapes = source.run().session.spec.param_shapes().values()
        small_net = sum(math.prod(shape) for shape in shapes) <= TRACE_LIMIT
        progress = Progress()
        last_report = last_eval = time.perf_counter()
        last_eval -= EVAL_INTERVAL  # evaluate at once, so the plots start with a point
        next_step_at = time.perf_counter()
        while not self._stop and (self.max_steps is None or self.steps_done < self.max_steps):
            rate = self.steps_per_second
            with source.lock:
                run = source.run()
                session, history = run.session, run.history
                layer_ids = history.layer_ids
                chunk_end = time.perf_counter() + CHUNK_SECONDS
                record: tuple[int, float, dict[str, float]] | None = None
                while True:
                    trace = session.step()
                    self.steps_done += 1
                    if record is not None:
                        history.record(*record)
                    norms = trace.grad_norms()
                    loss = float(trace.loss)  # type: ignore[arg-type]
                    record = (trace.step, loss, {k: norms.get(k, math.nan) for k in layer_ids})
                    if not math.isfinite(loss):
                        self._stop = True
                        self.failed.emit(
                            f"the loss became {loss} at step {trace.step + 1}: lower the learning rate, then Reset"
                        )
                        break
                    if rate is not None or self._stop or self._turn_wanted or time.perf_counter() >= chunk_end:
                        break
                    if self.max_steps is not None and self.steps_done >= self.max_steps:
                        break
                now = time.perf_counter()
                slow = rate is not None and rate <= 30
                if now - last_eval >= EVAL_INTERVAL or self._stop:
                    # the chunk's last step, with its accuracy
                    history.record(*record, train_accuracy(session, run.train))
                    tested = held_out_record(session, run.test)
                    if tested is not None:
                        history.record_test(*tested)
                    progress.surface = data_surface(session, run.train)
                    progress.neuron_maps = neuron_maps(session, run.train)
                    last_eval = now
                else:
                    history.record(*record)
                if slow or now - last_report >= REPORT_INTERVAL or self._stop:
                    if slow or small_net:
                        progress.trace = trace.to_numpy()
                    progress.history = history.snapshot()
                    source.record_state()  # (so the timeline's memory grows with time, not with speed)
                    progress.step, progress.epoch = session.step_count, session.epoch_count
            if progress.step:
                self.progressed.emit(progress)
                progress = Progress()
                last_report = time.perf_counter()
            self._wait_out_gui_turn()
            if rate is not None:
                next_step_at += 1.0 / rate
                pause = next_step_at - time.perf_counter()
                if pause > 0:
                    self._sleep(pause)
                elif pause < -1.0:  # fell far behind (a slow step): don't try to catch up
                    next_step_at = time.perf_counter()
        with source.lock:
            session = source.run().session
            progress.step, progress.epoch = session.step_count, session.epoch_count
        self.progressed.emit(progress)
