"""Vanishing-gradient sweeps: train a grid of deep MLPs for a few steps each and record, per run, how large
the first layer's weight gradient is against the last layer's.

A :class:`SweepGrid` names depths (hidden layers) × hidden activations × hidden initialisers × residual
off/on, plus any other setting (:data:`SETTINGS`: width, learning rate, optimizer, schedule, dropout, ...) with
one value (fixed) or several (another axis), and the seeds to repeat each configuration with. Each grid point is
a network like the ``deep_sigmoid`` preset: input → h1 → … → hD → out, and with ``residual`` the
``deep_sigmoid_residual`` shape, where ``r_k = h_k + (r_{k-1} or h1)`` feeds the next layer. With ``dropout``
each h_k is followed by a dropout layer d_k (which then stands for h_k in those sums). The output
layer fits the data: one sigmoid unit with BCE for two classes, one unit per class with cross-entropy
for more, identity units with MSE for regression targets.

:func:`run_cell` trains one run and is a pure function of picklable data, so :func:`run_sweep` can hand
the cells to any :class:`concurrent.futures.Executor`: a local process pool by default, a thread pool, or
a Dask cluster through ``distributed.Client(address).get_executor()`` (:func:`dask_executor`).
Results and their aggregation live in :mod:`bpstudio.core.tools.sweep_result`, the extra settings and the text
forms of lists and settings in :mod:`bpstudio.core.tools.sweep_settings`, the network of a grid point in
:mod:`bpstudio.core.tools.sweep_network`; they are re-exported here.
"""

from __future__ import annotations

import concurrent.futures as cf
import math
import os
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import product
from typing import Any

import numpy as np

from bpstudio.core import activations
from bpstudio.core.checks import is_whole
from bpstudio.core.data import Dataset
from bpstudio.core.errors import BpstudioError, DivergedError
from bpstudio.core.spec import INITIALISERS
from bpstudio.core.tools.sweep_network import BLOCK_SETTINGS, build_spec
from bpstudio.core.tools.sweep_result import AXES, METRICS, Aggregate, CellResult, Config, Series, SweepResult
from bpstudio.core.tools.sweep_settings import (
    SETTINGS,
    check_setting_name,
    parse_ints,
    parse_setting,
    parse_settings,
    parse_values,
    setting_value,
)

__all__ = [
    "AXES",
    "BLOCK_SETTINGS",
    "METRICS",
    "SETTINGS",
    "Aggregate",
    "CellResult",
    "Config",
    "Series",
    "SweepCell",
    "SweepGrid",
    "SweepResult",
    "build_spec",
    "close_executor",
    "dask_executor",
    "default_workers",
    "local_executor",
    "parse_ints",
    "parse_setting",
    "parse_settings",
    "parse_values",
    "run_cell",
    "run_sweep",
]

POLL_SECONDS = 0.05  # how often run_sweep looks at the cancel event while waiting for results


# --- the grid -----------------------------------------------------------------------------------------


def _unique(values: Sequence[Any], what: str) -> tuple[Any, ...]:
    values = tuple(values)
    if not values:
        raise BpstudioError(f"the sweep needs at least one {what}")
    repeated = next((v for i, v in enumerate(values) if v in values[:i]), None)
    if repeated is not None:
        raise BpstudioError(f"the sweep lists {what} {_show(repeated)} twice")
    return values


def _show(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def _whole(value: Any, what: str, least: int) -> int:
    if not is_whole(value) or value < least:
        raise BpstudioError(f"{what} must be a whole number ≥ {least}, got {value!r}")
    return value


@dataclass(frozen=True)
class SweepCell:
    """One run to do: a configuration, a seed (for the initial weights and the batch order), the number of
    steps, and the training data itself (so a remote worker needs no files)."""

    config: Config
    seed: int
    steps: int
    data: Dataset = field(repr=False)


@dataclass(frozen=True)
class SweepGrid:
    """depths × activations × inits × residual × (each setting's values), each run once per seed for
    ``steps`` steps on ``data`` (a data source as :func:`bpstudio.core.datasets.resolve` takes it, or a
    :class:`Dataset`). ``settings`` maps a :data:`SETTINGS` name to its value(s). Checked on construction."""

    depths: Sequence[int] = (2, 4, 8, 16)
    activations: Sequence[str] = ("sigmoid", "relu")
    inits: Sequence[str] = ("xavier_uniform", "he_normal")
    residual: Sequence[bool] = (False, True)
    seeds: Sequence[int] = (0, 1, 2)
    steps: int = 50
    data: Any = "xor"
    settings: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        depths = _unique(self.depths, "depth")
        for d in depths:
            _whole(d, "a depth (hidden layers)", 1)
        for a in _unique(self.activations, "activation"):
            if a not in activations.NAMES or a == "softmax":
                known = ", ".join(n for n in activations.NAMES if n != "softmax")
                raise BpstudioError(f"unknown hidden activation {a!r} (known: {known})")
        for i in _unique(self.inits, "initialiser"):
            if i not in INITIALISERS:
                raise BpstudioError(f"unknown initialiser {i!r} (known: {', '.join(INITIALISERS)})")
        for r in _unique(self.residual, "residual choice"):
            if not isinstance(r, bool):
                raise BpstudioError(f"residual choices are True and False, got {r!r}")
        for s in _unique(self.seeds, "seed"):
            _whole(s, "a seed", 0)
        _whole(self.steps, "steps", 1)
        settings: dict[str, tuple[Any, ...]] = {}
        for name, value in self.settings.items():
            check_setting_name(name)
            values = tuple(value) if isinstance(value, (list, tuple)) else (value,)
            settings[name] = _unique([setting_value(name, v) for v in values], f"value of '{name}'")
        object.__setattr__(self, "settings", settings)
        for attr in ("depths", "activations", "inits", "residual", "seeds"):
            object.__setattr__(self, attr, tuple(getattr(self, attr)))

    @property
    def varied(self) -> tuple[str, ...]:
        """The settings with more than one value: extra axes."""
        return tuple(name for name, values in self.settings.items() if len(values) > 1)

    def configs(self) -> list[Config]:
        names = sorted(self.settings)
        combos = list(product(*(self.settings[n] for n in names)))
        return [
            Config(d, a, i, r, tuple(zip(names, combo)))
            for a, i, r, combo, d in product(self.activations, self.inits, self.residual, combos, self.depths)
        ]

    def dataset(self) -> Dataset:
        from bpstudio.core.datasets import resolve_split

        return self.data if isinstance(self.data, Dataset) else resolve_split(self.data)[0]

    def cells(self) -> list[SweepCell]:
        """Every run, configuration by configuration, seeds innermost. Each configuration's network is built
        once here, so a combination that cannot be built is refused before anything runs."""
        data = self.dataset()
        configs = self.configs()
        for config in configs:
            build_spec(config, data, 0)
        return [SweepCell(c, s, self.steps, data) for c in configs for s in self.seeds]

    def __len__(self) -> int:
        return len(self.configs()) * len(self.seeds)


# --- one run ------------------------------------------------------------------------------------------


def run_cell(cell: SweepCell) -> CellResult:
    """Train one run for ``cell.steps`` steps (stopping early if the loss stops being finite) and measure
    the first hidden layer's and the output layer's weight-gradient norms at the first step and on average."""
    from bpstudio.core.session import Session

    started = time.perf_counter()
    spec = build_spec(cell.config, cell.data, cell.seed)
    session = Session(spec, cell.data, batch_size=dict(cell.config.settings).get("batch_size"))
    firsts: list[float] = []
    lasts: list[float] = []
    loss_start = math.nan
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # a diverging run is recorded, not warned
        for _ in range(cell.steps):
            try:
                trace = session.step()
            except DivergedError:  # (its update was refused: the run ends at the step before)
                break
            loss = math.nan if trace.loss is None else float(trace.loss)
            if not firsts:
                loss_start = loss
            if not math.isfinite(loss):
                break
            firsts.append(trace.grad_norm("h1"))
            lasts.append(trace.grad_norm("out"))
        final = float(session.evaluate(cell.data)) if len(firsts) == cell.steps else math.nan

    def mean(values: list[float]) -> float:
        return math.fsum(values) / len(values) if values else math.nan

    return CellResult(
        cell.config,
        cell.seed,
        len(firsts),
        loss_start,
        final,
        firsts[0] if firsts else math.nan,
        lasts[0] if lasts else math.nan,
        mean(firsts),
        mean(lasts),
        time.perf_counter() - started,
    )


# --- executors ----------------------------------------------------------------------------------------


def default_workers(cells: int | None = None) -> int:
    """The CPUs this process may use (at most ``cells``): one worker per core."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cpus, cells if cells is not None else cpus))


def local_executor(workers: int | None = None) -> cf.ProcessPoolExecutor:
    """A process pool of ``workers`` (default: one per CPU). Workers come from a fork server where there is
    one (not forked from a process whose other threads, such as Qt's, may hold locks), else are spawned;
    either way a script that starts a sweep must do so under ``if __name__ == "__main__":``."""
    if workers is not None:
        _whole(workers, "workers", 1)
    import multiprocessing  # (here, not at the top: the command line's parser needs this module, not a pool)

    if "forkserver" not in multiprocessing.get_all_start_methods():
        return cf.ProcessPoolExecutor(workers or default_workers(), mp_context=multiprocessing.get_context("spawn"))
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])  # imported once by the server, not again by every worker
    return cf.ProcessPoolExecutor(workers or default_workers(), mp_context=context)


_CLIENTS: weakref.WeakKeyDictionary[cf.Executor, Any] = weakref.WeakKeyDictionary()


def dask_executor(address: str, timeout: float = 10.0) -> cf.Executor:
    """``distributed.Client(address).get_executor()``: the standard Executor interface onto a Dask cluster.
    Release it with :func:`close_executor` (which also closes the client)."""
    try:
        import distributed
    except ImportError:
        raise BpstudioError(
            "running a sweep on a Dask cluster needs dask.distributed (pip install distributed)"
        ) from None
    if not isinstance(address, str) or not address.strip():
        raise BpstudioError(f"a Dask scheduler address looks like tcp://host:8786, got {address!r}")
    try:
        client = distributed.Client(address, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as exc:
        raise BpstudioError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
    executor = client.get_executor()
    _CLIENTS[executor] = client
    return executor


def close_executor(executor: cf.Executor) -> None:
    """Shut ``executor`` down (waiting for what runs) and close its Dask client if it has one."""
    executor.shutdown(wait=True)
    client = _CLIENTS.pop(executor, None)
    if client is not None:
        client.close()


# --- the sweep ----------------------------------------------------------------------------------------

Progress = Callable[[int, int], None]


def run_sweep(
    grid: SweepGrid,
    executor: cf.Executor | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    workers: int | None = None,
) -> SweepResult:
    """Run every cell of ``grid`` on ``executor`` (default: :func:`local_executor` with ``workers``, shut
    down at the end) and gather the results in grid order.

    ``progress(done, total)`` is called from this thread as runs finish. When ``cancel`` is set, runs not yet
    started are cancelled and those already running finish (on Dask, cancelling may stop those too); the
    result then holds the finished ones and says ``cancelled``. A run that raises cancels the rest and the
    error propagates.
    """
    started = time.perf_counter()
    cells = grid.cells()
    total = len(cells)
    owned = executor is None
    pool = local_executor(workers if workers is not None else default_workers(total)) if owned else executor
    assert pool is not None
    pending: dict[cf.Future[CellResult], int] = {}
    finished: dict[int, CellResult] = {}
    cancelled = False
    try:
        for index, cell in enumerate(cells):
            if cancel is not None and cancel.is_set():
                break
            pending[pool.submit(run_cell, cell)] = index
        while pending:
            done, _ = cf.wait(pending, timeout=POLL_SECONDS, return_when=cf.FIRST_COMPLETED)
            for future in done:
                index = pending.pop(future)
                if not future.cancelled():
                    finished[index] = future.result()
                    if progress is not None:
                        progress(len(finished), total)
            if cancel is not None and cancel.is_set() and not cancelled:
                for future in [f for f in pending if f.cancel()]:
                    del pending[future]
                cancelled = True
        cancelled = cancelled or len(finished) < total
    except BaseException as exc:
        for future in pending:
            future.cancel()
        from concurrent.futures.process import BrokenProcessPool

        if isinstance(exc, BrokenProcessPool):
            raise BpstudioError(
                "a worker process of the sweep stopped unexpectedly (out of memory, or a script "
                'that starts a sweep outside an `if __name__ == "__main__":` block)'
            ) from exc
        raise
    finally:
        if owned:
            pool.shutdown(wait=True, cancel_futures=True)
    return SweepResult(
        tuple(finished[i] for i in sorted(finished)),
        total,
        tuple(sorted(grid.settings)),
        tuple(sorted(grid.varied)),
        cancelled,
        time.perf_counter() - started,
    )
