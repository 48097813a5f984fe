"""The watcher's background writer: recorded steps arrive on a queue as plain Python numbers and are written to
the run database by a thread of their own, so the training loop never waits on the disk.

Every :data:`COMMIT_EVERY` seconds the thread wakes, writes the steps that queued up meanwhile in one transaction
and commits: a reader tailing the database sees whole steps, a fraction of a second late, and a
commit (which rewrites a page of every table) is paid once per batch, not once per step. Closing the watcher
writes what is queued at once.
"""

from __future__ import annotations

import math
import queue
import sqlite3
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from bpstudio.core.io import run_db
from bpstudio.watch.sample import Sample, rows_of

COMMIT_EVERY = 0.2  # seconds: a reader tailing the run sees new steps this often; fewer commits cost less


def _real(value: float | None) -> float | None:
    """A value as SQLite keeps it: NaN becomes NULL (SQLite has no NaN), ±inf stays."""
    return None if value is None or math.isnan(value) else value


class Writer:
    """Creates the run database in ``run_dir`` (with its run information and parameter list) and writes the
    :class:`Sample` objects given to :meth:`put` from a background thread, until :meth:`close`."""

    def __init__(self, run_dir: str | Path, info: Mapping[str, str], parameters: Sequence[tuple[str, str, str, int]]):
        self.path = run_db.db_path(run_dir)
        self._conn = run_db.create(run_dir)
        self.params = [name for name, _, _, _ in parameters]
        started = datetime.now(UTC).isoformat(timespec="seconds")
        rows = {"format": run_db.FORMAT, "version": str(run_db.VERSION), "started": started, "finished": "0", **info}
        with run_db.transaction(self._conn) as c:
            c.executemany("INSERT INTO run_info VALUES (?, ?)", rows.items())
            c.executemany("INSERT INTO parameters VALUES (?, ?, ?, ?, ?)", [(i, *p) for i, p in enumerate(parameters)])
        self._modules = 0
        self._queue: queue.SimpleQueue[Sample | threading.Event | None] = queue.SimpleQueue()
        self._wake = threading.Event()
        self.error: BaseException | None = None  # what stopped the writer, if something did
        self._thread = threading.Thread(target=self._run, name="bpstudio-watch-writer", daemon=True)
        self._thread.start()

    def put(self, sample: Sample) -> None:
        self._queue.put(sample)

    def flush(self) -> None:
        """Wait until every step put so far is written and committed (readers see it)."""
        done = threading.Event()
        self._queue.put(done)
        self._wake.set()
        while self._thread.is_alive() and not done.wait(0.05):  # (a writer that died waits for nothing)
            pass

    def close(self, stopped_by: str = "") -> None:
        """Write what is queued, mark the run finished (and, when an exception ended the loop, which one) and
        close the database (waits for the thread)."""
        self._queue.put(None)
        self._wake.set()
        self._thread.join()
        if self.error is None:
            try:
                ended = datetime.now(UTC).isoformat(timespec="seconds")
                with run_db.transaction(self._conn) as c:
                    c.execute("UPDATE run_info SET value = '1' WHERE key = 'finished'")
                    c.execute("INSERT OR REPLACE INTO run_info VALUES ('ended', ?)", (ended,))
                    if stopped_by:
                        c.execute("INSERT OR REPLACE INTO run_info VALUES ('stopped_by', ?)", (stopped_by,))
            except sqlite3.Error as exc:
                self.error = exc
        self._conn.close()

    def _run(self) -> None:
        done = False
        while not done:
            self._wake.wait(COMMIT_EVERY)  # (not woken by each step: the loop keeps the interpreter to itself)
            self._wake.clear()
            batch = []
            while True:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            done = None in batch
            samples = [s for s in batch if isinstance(s, Sample)]
            if samples and self.error is None:
                try:
                    with run_db.transaction(self._conn):
                        for sample in samples:
                            self._write(sample)
                except Exception as exc:  # (a full disk, or a bug: either way recording stops, the loop goes on)
                    self.error = exc
            for item in batch:
                if isinstance(item, threading.Event):
                    item.set()

    def _write(self, s: Sample) -> None:
        c, rows = self._conn, rows_of(s, self.params)
        if s.new_modules:
            modules = [(self._modules + i, m.name, m.type, m.kind) for i, m in enumerate(s.new_modules)]
            c.executemany("INSERT INTO modules VALUES (?, ?, ?, ?)", modules)
            self._modules += len(modules)
        for table, pairs in (
            ("grad_norms", rows.grad_norms),
            ("param_norms", rows.param_norms),
            ("update_ratios", rows.update_ratios),
        ):
            c.executemany(f"INSERT INTO {table} VALUES (?, ?, ?)", [(s.step, k, _real(v)) for k, v in pairs])
        c.executemany(
            "INSERT INTO activations VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(s.step, name, *(_real(v) for v in stats)) for name, *stats in rows.activations],
        )
        c.execute("INSERT INTO steps VALUES (?, ?, ?)", (s.step, _real(rows.loss), s.seconds))
