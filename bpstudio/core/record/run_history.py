"""A watched PyTorch run fed into a :class:`~bpstudio.core.record.history.TrainingHistory`, so the app's loss and
gradient plots show it exactly as they show bpstudio's own networks (the same curves, heatmap, first/last ratio
and health word), and the history stays bounded however long the run grows.

:class:`RunHistory` owns the :class:`~bpstudio.core.record.watched_run.WatchedRun` it reads and records into its
history only the steps loaded since the last :meth:`RunHistory.refresh`: a long run is not fed again from its
first step each time it grows. A layer is a module that holds parameters (:attr:`WatchedRun.layers`), its curve
the norm :meth:`WatchedRun.layer_grad_norms` gives; the model's own parameters (the module named "") are called
:data:`MODEL_LAYER`.
"""

from __future__ import annotations

from pathlib import Path

from bpstudio.core.record.history import DEFAULT_CAPACITY, TrainingHistory
from bpstudio.core.record.watched_run import WatchedRun

MODEL_LAYER = "(model)"  # the history's name for parameters the model holds itself, outside any submodule
READ_ROWS = 40_000  # about how many database rows one read takes in: a long run is read in parts of this size


def layer_id(layer: str) -> str:
    """The history's name of a watched layer ("" is the model itself)."""
    return layer or MODEL_LAYER


class RunHistory:
    """The run in ``run_dir`` and a history following it; raises RunError as WatchedRun does. :meth:`close`
    when done. Each read takes in at most about ``read_rows`` database rows (at least one step), so a long run
    is read over several calls of :meth:`refresh` (:attr:`caught_up` says when it has all there was)."""

    def __init__(self, run_dir: str | Path, capacity: int = DEFAULT_CAPACITY, read_rows: int | None = None):
        self.run = WatchedRun(run_dir, limit=0)
        self.read_rows = READ_ROWS if read_rows is None else read_rows
        self.run.refresh(self._steps_per_read())
        self.capacity = capacity
        self._layers: tuple[str, ...] = ()
        self.history = TrainingHistory((), capacity)
        self._fed = 0  # steps of the run recorded into the history
        self._feed()

    def close(self) -> None:
        self.run.close()

    @property
    def layer_ids(self) -> tuple[str, ...]:
        return self.history.layer_ids

    @property
    def finished(self) -> bool:
        """The run ended (its watcher was closed) and every step of it is read."""
        return self.run.info.finished and self.run.caught_up

    @property
    def caught_up(self) -> bool:
        """The last read reached the last step recorded then."""
        return self.run.caught_up

    def refresh(self) -> int:
        """Load the steps recorded since the last call (at most one read's worth) and record them into the
        history; how many."""
        new = self.run.refresh(self._steps_per_read())
        self._feed()
        return new

    def _steps_per_read(self) -> int:
        """Steps in one read: a step has a row per parameter with a gradient and per watched module, and one of
        its own (the parameter norms and update ratios of every twentieth step add little)."""
        per_step = 1 + len(self.run.info.parameters) + len(self.run.modules)
        return max(1, self.read_rows // per_step)

    def _feed(self) -> None:
        run = self.run
        if run.layers != self._layers:  # the first forward pass named the order: start the curves again
            self._layers = run.layers
            self.history.clear([layer_id(layer) for layer in self._layers])
            self._fed = 0
        count = len(run)
        if count == self._fed:
            return
        steps, losses = run.steps[self._fed :], run.losses()[self._fed :]
        ids = self.history.layer_ids
        norms = [run.layer_grad_norms(layer)[self._fed :] for layer in self._layers]
        for i, step in enumerate(steps):
            grads = {lid: float(column[i]) for lid, column in zip(ids, norms, strict=True)}
            self.history.record(int(step), float(losses[i]), grads)
        self._fed = count
