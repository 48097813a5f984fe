"""Training in a worker thread.

The worker runs the document's session in short chunks, holding the document's lock only while a chunk
runs, so edits of the learning rate or loss from the window go in between chunks. Each step goes into
the document's plot history as it is trained; at most every
``REPORT_INTERVAL`` seconds the worker reports on ``progressed`` what else the window draws: the last
trace as NumPy copies, a snapshot of the history for the plots (so the GUI thread never waits on the
history while the worker writes it), the decision surface and the pictures inside the neurons.

What a report costs must not grow with the network faster than a step does: a big network's reports carry
no copies of its weight matrices (a light trace, and only at a watchable pace), its evaluations (surface,
neuron maps, accuracy) are spaced so they take at most ``EVAL_SHARE`` of the time, and the timeline keeps
its states less often (``Rewinder.record_while_training``). Stopping ends the loop after the step in progress:
the last report then carries that step's whole trace and the window computes the surface itself.
"""

from __future__ import annotations

import math
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QThread, Signal

from bpstudio.core.errors import BpstudioError, DivergedError
from bpstudio.core.record.history import TrainingHistory
from bpstudio.core.stopping import StopWatch
from bpstudio.core.tools.evaluate import data_surface, held_out_record, train_accuracy
from bpstudio.core.tools.neuron_maps import NeuronMaps, neuron_maps
from bpstudio.core.trace import StepTrace

if TYPE_CHECKING:
    from bpstudio.core.data import Dataset
    from bpstudio.core.session import Session

REPORT_INTERVAL = 0.1  # seconds between reports to the window (the views redraw at most 10 times a second)
EVAL_INTERVAL = 0.25  # seconds between test-loss / accuracy / decision-surface / neuron-map evaluations ...
EVAL_SHARE = 0.05  # ... or more, so that they take at most this share of the time (a 1000-wide net's surface)
CHUNK_SECONDS = 0.008  # how long the worker holds the lock in one go
GUI_TURN_WAIT = 0.05  # the longest the GUI thread waits for the worker to pause for its redraw ...
LONG_STEP = 0.005  # ... unless its steps take longer than this (seconds) or it is in an evaluation that takes
# longer than the wait: then it does not wait
TRACE_LIMIT = 4096  # send the full trace for the canvas only for nets up to this many parameters
PARAM_COPY_LIMIT = 65536  # at a watchable pace, a bigger net's reports leave out parameters with more entries


@dataclass(frozen=True)
class TrainingSource:
    """What the worker needs of the open document, and nothing more: the lock that guards the run, the run
    itself (read at every chunk, under the lock: settings change between chunks) and a way to keep the state
    it is in on the timeline."""

    lock: threading.RLock
    run: Callable[[], TrainingRun]
    record_state: Callable[[], object]


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


def evaluation_gap(cost: float) -> float:
    """Seconds from the start of one evaluation to the next, after one that took ``cost`` seconds:
    ``EVAL_INTERVAL``, or longer for an expensive one, so that evaluating takes at most ``EVAL_SHARE`` of the
    time (a 2-1000-1000-1 net's 60×60 surface is 7 GFLOP: about one evaluation every two seconds)."""
    return max(EVAL_INTERVAL, cost / EVAL_SHARE)


class TrainWorker(QThread):
    progressed = Signal(object)  # Progress
    failed = Signal(str)
    clock = staticmethod(time.perf_counter)  # seconds (tests give it a clock of their own)

    def __init__(
        self,
        source: TrainingSource,
        steps_per_second: float | None = None,
        max_steps: int | None = None,
        stop_watch: StopWatch | None = None,
    ):
        super().__init__()
        self.source = source
        self.steps_per_second = steps_per_second  # None: as fast as it goes
        self.max_steps = max_steps
        self.stop_watch = stop_watch  # the stop conditions set (core's), told every step
        self.stop_reason: str | None = None  # why a stop condition ended the run, in a line
        self._stop = False
        self.steps_done = 0
        self._turn = threading.Condition()  # the GUI thread's turns (see begin_gui_turn)
        self._turn_wanted = self._parked = False
        self.step_seconds = 0.0  # how long a step takes: the median of the last few (one step slowed by another
        self._step_times: deque[float] = deque(maxlen=5)  # program taking the core makes no small net's long)
        self.evaluation_seconds = 0.0  # how long the last evaluation took
        self._evaluating = False

    def stop(self) -> None:
        self._stop = True
        with self._turn:
            self._turn.notify_all()

    # --- turns: the GUI thread draws while the worker waits ----------------------------------------------
    # Both threads need Python's interpreter lock. When both want it, they trade it every switch interval,
    # and each Qt call the GUI thread makes releases it, so a redraw of 5 ms took 30-40 ms and twice the
    # CPU time. Instead the GUI thread asks for a turn: the worker finishes its step, leaves the document's
    # lock and waits until the turn ends; the redraw runs at full speed and the worker loses only that time.
    # A big network's step is different: it spends its time in NumPy's matrix kernels, which let go of the
    # interpreter, so the redraw runs beside it at full speed, and waiting for the step to end (tens of
    # milliseconds, an evaluation hundreds) would only make the window late. Then there is no turn.

    def begin_gui_turn(self, timeout: float = GUI_TURN_WAIT) -> bool:
        """Called on the GUI thread: wait (at most ``timeout`` s) until the worker is parked between steps.
        True if it is; False if it was busy longer, then the redraw shares the interpreter. While the worker's
        steps are long (``LONG_STEP``), or it is in an evaluation that took longer than ``timeout`` the last
        time, it does not wait at all. Either way, call :meth:`end_gui_turn` afterwards."""
        if self.step_seconds > LONG_STEP or (self._evaluating and self.evaluation_seconds > timeout):
            timeout = 0.0  # (a sleeping worker between slow steps is parked: its turn is granted still)
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
            with np.errstate(all="ignore"):  # (a step that overflows is said in words, not in NumPy's warnings)
                self._loop()
        except DivergedError as exc:  # the step that stopped being numbers was not applied: show it, say where
            self._report_stop()
            self.failed.emit(str(exc))
        except BpstudioError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:
            self.failed.emit(f"training stopped by an internal error: {type(exc).__name__}: {exc}")

    def _ending(self) -> bool:
        return self._stop or (self.max_steps is not None and self.steps_done >= self.max_steps)

    def _loop(self) -> None:
        source = self.source
        with source.lock:
            shapes = source.run().session.spec.param_shapes().values()
        small_net = sum(math.prod(shape) for shape in shapes) <= TRACE_LIMIT
        progress = Progress()
        last_report = next_eval = next_step_at = self.clock()  # (evaluate at once: the plots get a point)
        while not self._ending():
            rate = self.steps_per_second
            slow = rate is not None and rate <= 30
            with source.lock:
                run = source.run()
                trace, record = self._chunk(run, rate)
                now = self.clock()
                if self._ending() or now >= next_eval:
                    self._evaluate(run, record, progress, pictures=not self._ending())
                    self.evaluation_seconds = self.clock() - now
                    next_eval = now + evaluation_gap(self.evaluation_seconds)
                else:
                    run.history.record(*record)
                if not self._ending() and (slow or now - last_report >= REPORT_INTERVAL):
                    if small_net:
                        progress.trace = trace.to_numpy()
                    elif slow:  # what the canvas shows at a watchable pace, without the big weight matrices
                        progress.trace = trace.to_numpy(param_limit=PARAM_COPY_LIMIT)
                    progress.history = run.history.snapshot()
                    source.record_state()  # (the timeline's memory grows with time, not with speed)
                    progress.step, progress.epoch = run.session.step_count, run.session.epoch_count
            if progress.step:
                self.progressed.emit(progress)
                progress = Progress()
                last_report = self.clock()
            self._wait_out_gui_turn()
            if rate is not None:
                next_step_at += 1.0 / rate
                pause = next_step_at - self.clock()
                if pause > 0:
                    self._sleep(pause)
                elif pause < -1.0:  # fell far behind (a slow step): don't try to catch up
                    next_step_at = self.clock()
        self._report_stop(progress)

    def _report_stop(self, progress: Progress | None = None) -> None:
        """The last report: the state training stopped in, with the last step's whole trace (after a step that was
        refused, that step's: where its values stopped being numbers)."""
        progress = progress or Progress()
        with self.source.lock:
            run = self.source.run()
            if run.session.trace is not None:
                progress.trace = run.session.trace.to_numpy()
            progress.history = run.history.snapshot()
            progress.step, progress.epoch = run.session.step_count, run.session.epoch_count
        self.progressed.emit(progress)

    def _chunk(self, run: TrainingRun, rate: float | None) -> tuple[StepTrace, tuple[int, float, dict[str, float]]]:
        """Train steps for ``CHUNK_SECONDS`` (one step at a set pace; stopping or a turn wanted end it after the
        step in progress). Each goes into the history but the last, which is
        returned with its record for the caller to add (with its accuracy when it evaluates). A step that stops
        being numbers raises :class:`DivergedError` (the session refused its update; the steps before it are
        recorded)."""
        session, history = run.session, run.history
        chunk_end = self.clock() + CHUNK_SECONDS
        record: tuple[int, float, dict[str, float]] | None = None
        while True:
            began = self.clock()
            try:
                trace = session.step()
            except DivergedError:
                if record is not None:  # (the step before it is kept, so its point is plotted)
                    history.record(*record)
                raise
            took = self.clock() - began
            self.steps_done += 1
            if record is not None:
                history.record(*record)
            norms = trace.grad_norms()
            loss = float(trace.loss)  # type: ignore[arg-type]
            if self.stop_watch is not None and self.stop_reason is None:
                self.stop_reason = self.stop_watch.observe(trace.step, session.epoch_count, loss)
                if self.stop_reason is not None:
                    self.stop()  # (this step is kept and reported like the last step before a Pause)
            record = (trace.step, loss, {k: norms.get(k, math.nan) for k in history.layer_ids})
            if rate is not None or self._ending() or self._turn_wanted or self.clock() >= chunk_end:
                self._step_times.append(took)  # (the chunk's last step: a median per step cost 4% of a small net's)
                self.step_seconds = statistics.median(self._step_times)
                return trace, record

    def _evaluate(
        self, run: TrainingRun, record: tuple[int, float, dict[str, float]], progress: Progress, pictures: bool
    ) -> None:
        """Record the chunk's last step with its accuracy (and the test set's figures); with ``pictures`` the
        report also gets the decision surface and the neuron maps (not once stopping: the window computes
        them for the weights training stopped at, and Pause need not wait for them)."""
        session = run.session
        self._evaluating = True
        try:
            run.history.record(*record, train_accuracy(session, run.train))
            tested = held_out_record(session, run.test)
            if tested is not None:
                run.history.record_test(*tested)
            if pictures and not self._stop:
                progress.surface = data_surface(session, run.train, run.test)
            if pictures and not self._stop:
                progress.neuron_maps = neuron_maps(session, run.train)
        finally:
            self._evaluating = False
