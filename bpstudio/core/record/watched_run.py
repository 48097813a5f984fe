"""A watched PyTorch run (``bpstudio.watch``) read back as NumPy series, while it is being written too.

:class:`WatchedRun` opens a run folder read-only and loads every whole step recorded so far; :meth:`refresh`
loads only the steps recorded since (the writer may still be running, in another process). Every series is
aligned with :attr:`steps`: ``grad_norms(name)[i]`` is the gradient norm of parameter ``name`` at step
``steps[i]``, NaN where nothing was recorded (a parameter without a gradient, a value that was not a number, a
step at which parameter norms and update ratios were not measured; :attr:`broken` tells a gradient norm that was
not a number, which the database keeps as NULL, from one that was not recorded). Returned arrays are read-only
views that a later :meth:`refresh` leaves as they are.

Layers, for the per-layer gradient plot and heatmap: the modules that hold parameters, in the order their forward
passes first ran (:attr:`layers`); a layer's gradient norm is its weight's (the engine's ‖∂E/∂W‖) or, for a
module without a ``weight``, the norm over all its parameters' gradients (:meth:`layer_grad_norms`).
"""

from __future__ import annotations

import json
import math
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bpstudio.core.io import run_db
from bpstudio.core.io.run_db import ACTIVATION_STATS, PER_PARAMETER, RunError
from bpstudio.core.limits import quoted


@dataclass(frozen=True)
class RunInfo:
    """What the run says about itself (the ``run_info`` and ``parameters`` tables)."""

    model_class: str
    started: str
    finished: bool
    every: int
    update_every: int
    activations_every: int
    parameters: tuple[str, ...]  # the model's named_parameters(), in order
    owners: tuple[str, ...]  # the module that holds each parameter ("" for the model itself)
    shapes: tuple[tuple[int, ...], ...]
    stopped_by: str = ""  # the exception that ended the training loop inside ``with Watcher(...)`` ("": none)


@dataclass(frozen=True)
class Module:
    """A watched module: its qualified name, class name and what its activations count ("dead", "saturated" or
    None)."""

    name: str
    type: str
    kind: str | None


class _Columns:
    """Series that grow together, one value per step, NaN until set."""

    def __init__(self) -> None:
        self._data: dict[str, np.ndarray] = {}
        self.length = 0
        self.capacity = 64

    def grow(self, count: int) -> None:
        new = self.length + count
        if new > self.capacity:
            self.capacity = max(2 * self.capacity, new)
            for key, old in self._data.items():
                self._data[key] = np.concatenate([old[: self.length], np.full(self.capacity - self.length, np.nan)])
        self.length = new

    def column(self, key: str) -> np.ndarray:
        if key not in self._data:
            self._data[key] = np.full(self.capacity, np.nan)
        return self._data[key]

    def get(self, key: str) -> np.ndarray:
        view = self._data[key][: self.length] if key in self._data else np.full(self.length, np.nan)
        view.flags.writeable = False
        return view


class WatchedRun:
    """The run in ``run_dir``; a missing folder, a folder without a run or a database that is not one raises
    :class:`~bpstudio.core.io.run_db.RunError` naming it. :meth:`close` it (or use ``with``) when done. It reads
    the steps recorded so far at once, or with ``limit`` at most that many (0: only what the run says about
    itself and its modules; :meth:`refresh` reads on)."""

    def __init__(self, run_dir: str | Path, limit: int | None = None):
        self.path = run_db.db_path(run_dir)
        self._conn = run_db.open_run(run_dir)
        self._count = 0  # steps loaded
        self._series = {table: _Columns() for table in (*PER_PARAMETER, "activations", "steps")}
        self._step_array = np.zeros(64, dtype=np.int64)
        self.modules: tuple[Module, ...] = ()
        self.broken: dict[str, tuple[int, str]] = {}  # parameter -> (first step, "nan"/"inf") its gradient norm broke
        self.info = self._read_info()
        self.caught_up = False  # whether the last read reached the last step recorded then
        self.refresh(limit)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> WatchedRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- reading -------------------------------------------------------------------------------------------

    def refresh(self, limit: int | None = None) -> int:
        """Load the steps recorded since the last call, or the first ``limit`` of them (whole steps only, read in
        one transaction); returns how many, and sets :attr:`caught_up`. A long run read in parts keeps each read
        short (a reader on a GUI thread stays responsive). A database that became unreadable raises RunError."""
        last = int(self.steps[-1]) if len(self.steps) else 0
        try:
            self._conn.execute("BEGIN")
            try:
                self.info = self._read_info()
                self._read_modules()
                new = self._conn.execute(
                    "SELECT step, loss, seconds FROM steps WHERE step > ? ORDER BY step LIMIT ?",
                    (last, -1 if limit is None else limit + 1),  # (one more than asked: are there more?)
                ).fetchall()
                self.caught_up = limit is None or len(new) <= limit
                new = new if limit is None else new[:limit]
                if new:
                    self._append(new, last)
            finally:
                self._conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise RunError(f"cannot read run database {quoted(str(self.path))}: {exc}") from None
        return len(new)

    def _append(self, new: list[tuple[int, float | None, float | None]], last: int) -> None:
        first_index, upto = self._count, new[-1][0]
        steps = np.array([row[0] for row in new], dtype=np.int64)
        for columns in self._series.values():
            columns.grow(len(new))
        if self._count + len(new) > len(self._step_array):
            self._step_array = np.concatenate([self._step_array, np.zeros(len(self._step_array) + len(new), np.int64)])
        self._step_array[first_index : first_index + len(new)] = steps
        self._count += len(new)
        columns = self._series["steps"]
        columns.column("loss")[first_index : first_index + len(new)] = _floats([row[1] for row in new])
        columns.column("seconds")[first_index : first_index + len(new)] = _floats([row[2] for row in new])
        for table, value in PER_PARAMETER.items():
            rows = self._conn.execute(
                f"SELECT step, name, {value} FROM {table} WHERE step > ? AND step <= ?", (last, upto)
            ).fetchall()
            self._fill(self._series[table], steps, first_index, rows)
            if table == "grad_norms":
                for step, name, value in rows:
                    if (value is None or math.isinf(value)) and name not in self.broken:
                        self.broken[name] = (step, "nan" if value is None else str(value))
        stats = ", ".join(ACTIVATION_STATS)
        rows = self._conn.execute(
            f"SELECT step, module, {stats} FROM activations WHERE step > ? AND step <= ?", (last, upto)
        ).fetchall()
        for i, stat in enumerate(ACTIVATION_STATS):
            self._fill(
                self._series["activations"], steps, first_index, [(r[0], f"{r[1]}\0{stat}", r[2 + i]) for r in rows]
            )

    @staticmethod
    def _fill(
        columns: _Columns, steps: np.ndarray, first_index: int, rows: list[tuple[int, str, float | None]]
    ) -> None:
        if not rows:
            return
        by_key: dict[str, tuple[list[int], list[float | None]]] = {}
        for step, key, value in rows:
            entry = by_key.setdefault(key, ([], []))
            entry[0].append(step)
            entry[1].append(value)
        for key, (at, values) in by_key.items():
            index = first_index + np.searchsorted(steps, np.asarray(at, dtype=np.int64))
            columns.column(key)[index] = _floats(values)

    def _read_info(self) -> RunInfo:
        info = dict(self._conn.execute("SELECT key, value FROM run_info").fetchall())
        params = self._conn.execute("SELECT name, module, shape FROM parameters ORDER BY position").fetchall()
        try:
            every = int(info.get("every", 1))
            return RunInfo(
                model_class=str(info.get("model_class", "")),
                started=str(info.get("started", "")),
                finished=info.get("finished") == "1",
                every=every,
                update_every=int(info.get("update_every", every)),
                activations_every=int(info.get("activations_every", every)),  # (older runs: at every record)
                parameters=tuple(str(name) for name, _, _ in params),
                owners=tuple(str(module) for _, module, _ in params),
                shapes=tuple(tuple(int(n) for n in json.loads(shape)) for _, _, shape in params),
                stopped_by=str(info.get("stopped_by", "")),
            )
        except (ValueError, TypeError) as exc:
            raise RunError(f"run database {quoted(str(self.path))} holds a bad run description: {exc}") from None

    def _read_modules(self) -> None:
        rows = self._conn.execute(
            "SELECT name, type, kind FROM modules WHERE position >= ? ORDER BY position", (len(self.modules),)
        ).fetchall()
        self.modules += tuple(Module(str(n), str(t), None if k is None else str(k)) for n, t, k in rows)

    # --- the series ----------------------------------------------------------------------------------------

    @property
    def steps(self) -> np.ndarray:
        """The recorded steps (counted from 1 by the watcher's calls), ascending."""
        view = self._step_array[: self._count]
        view.flags.writeable = False
        return view

    def __len__(self) -> int:
        return self._count

    def losses(self) -> np.ndarray:
        return self._series["steps"].get("loss")

    def seconds(self) -> np.ndarray:
        """Seconds from the watcher's start to each recorded step."""
        return self._series["steps"].get("seconds")

    def grad_norms(self, name: str) -> np.ndarray:
        return self._series["grad_norms"].get(self._parameter(name))

    def param_norms(self, name: str) -> np.ndarray:
        return self._series["param_norms"].get(self._parameter(name))

    def update_ratios(self, name: str) -> np.ndarray:
        return self._series["update_ratios"].get(self._parameter(name))

    def activation(self, module: str, stat: str) -> np.ndarray:
        """One of :data:`~bpstudio.core.io.run_db.ACTIVATION_STATS` of the module's output, per step."""
        if stat not in ACTIVATION_STATS:
            raise RunError(f"no activation statistic {quoted(stat)}; there are {', '.join(ACTIVATION_STATS)}")
        if module not in {m.name for m in self.modules}:
            raise RunError(f"no watched module {quoted(module)} in this run")
        return self._series["activations"].get(f"{module}\0{stat}")

    @property
    def layers(self) -> tuple[str, ...]:
        """The modules holding parameters, first to last: in the order their forward passes first ran (those
        that never ran after them, in the model's order)."""
        owners = set(self.info.owners)
        ran = [m.name for m in self.modules if m.name in owners]
        return tuple(ran + [o for o in dict.fromkeys(self.info.owners) if o not in ran])

    def layer_parameters(self, layer: str) -> tuple[str, ...]:
        return tuple(p for p, owner in zip(self.info.parameters, self.info.owners) if owner == layer)

    def layer_grad_norms(self, layer: str) -> np.ndarray:
        """The layer's weight-gradient norm per step, or the norm over all its parameters' gradients when it
        has no ``weight`` (NaN where one of them is missing)."""
        names = self.layer_parameters(layer)
        if not names:
            raise RunError(f"no layer {quoted(layer)} in this run; layers: {', '.join(self.layers) or 'none'}")
        weight = f"{layer}.weight" if layer else "weight"
        if weight in names:
            return self.grad_norms(weight)
        return np.sqrt(np.sum([self.grad_norms(n) ** 2 for n in names], axis=0))

    def grad_matrix(self) -> tuple[np.ndarray, tuple[str, ...], np.ndarray]:
        """(steps, layers, norms) for a layer × step heatmap: ``norms[i, j]`` is layer i's at ``steps[j]``."""
        layers = self.layers
        rows = [self.layer_grad_norms(layer) for layer in layers]
        return self.steps, layers, np.array(rows).reshape(len(layers), len(self))

    def _parameter(self, name: str) -> str:
        if name not in self.info.parameters:
            raise RunError(f"no parameter {quoted(name)} in this run")
        return name


def _floats(values: list[float | None]) -> np.ndarray:
    """Values from the database as floats, NULL (a NaN when it was written) as NaN."""
    return np.array([math.nan if v is None else v for v in values], dtype=np.float64)
