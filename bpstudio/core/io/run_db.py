"""The database a watched PyTorch run is recorded in (``RUN_DIR/run.sqlite``): its schema, creating it for the
writer and opening it for readers. The whole schema is documented in docs/watch.md.

One SQLite file per run, in WAL mode: one writer (:mod:`bpstudio.watch`, from a background thread) and any number
of readers, in other processes too, that read while it writes. The writer commits whole recorded steps, each in
one transaction, and writes a step's row in ``steps`` last; a reader that reads every table in one read
transaction up to the largest step in ``steps`` sees whole steps only.

Nothing here imports torch: the reader (:mod:`bpstudio.core.record.watched_run`) is Qt-free and torch-free.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bpstudio.core.errors import BpstudioError
from bpstudio.core.limits import quoted

FILE_NAME = "run.sqlite"
FORMAT = "bpstudio-watch"
VERSION = 1
ACTIVATION_STATS = ("mean", "std", "zero_fraction", "dead_fraction", "saturated_fraction")
PER_PARAMETER = {"grad_norms": "norm", "param_norms": "norm", "update_ratios": "ratio"}  # table -> value column
BUSY_MS = 5000  # how long a connection waits for a lock another one holds

SCHEMA = """
CREATE TABLE run_info(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE parameters(
    position INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, module TEXT NOT NULL, shape TEXT NOT NULL,
    numel INTEGER NOT NULL);
CREATE TABLE modules(position INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, type TEXT NOT NULL, kind TEXT);
CREATE TABLE steps(step INTEGER PRIMARY KEY, loss REAL, seconds REAL);
CREATE TABLE grad_norms(step INTEGER NOT NULL, name TEXT NOT NULL, norm REAL, PRIMARY KEY(step, name));
CREATE TABLE param_norms(step INTEGER NOT NULL, name TEXT NOT NULL, norm REAL, PRIMARY KEY(step, name));
CREATE TABLE update_ratios(step INTEGER NOT NULL, name TEXT NOT NULL, ratio REAL, PRIMARY KEY(step, name));
CREATE TABLE activations(
    step INTEGER NOT NULL, module TEXT NOT NULL, mean REAL, std REAL, zero_fraction REAL, dead_fraction REAL,
    saturated_fraction REAL, PRIMARY KEY(step, module));
"""
TABLES = ("run_info", "parameters", "modules", "steps", *PER_PARAMETER, "activations")


class RunError(BpstudioError):
    """A run folder that cannot be read: missing, holding no run database, or a database that is not one."""


def db_path(run_dir: str | Path) -> Path:
    return Path(run_dir) / FILE_NAME


def named_folder(path: str) -> str:
    """The run folder ``path`` names: the folder of a run database named instead of it (``runs/x/run.sqlite``
    names ``runs/x``), else ``path`` itself."""
    try:
        return str(Path(path).parent) if Path(path).name == FILE_NAME and Path(path).is_file() else path
    except OSError:
        return path


def create(run_dir: str | Path) -> sqlite3.Connection:
    """A new run database in ``run_dir`` (made if missing), schema written, WAL on; refuses to replace a run."""
    folder = Path(run_dir)
    if folder.exists() and not folder.is_dir():
        raise RunError(f"cannot record a run in {quoted(str(folder))}: it is a file, not a folder")
    folder.mkdir(parents=True, exist_ok=True)
    path = db_path(folder)
    if path.exists():
        raise RunError(f"{quoted(str(folder))} already holds a run ({FILE_NAME}); give each run a folder of its own")
    conn = sqlite3.connect(path, timeout=BUSY_MS / 1000, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")  # WAL: a commit is not synced to disk, a crash keeps the file sound
    with transaction(conn):  # (executescript would commit on its own: the statements one by one)
        for statement in SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
    return conn


class transaction:
    """``with transaction(conn):`` — BEGIN … COMMIT (ROLLBACK on an error) on a connection in autocommit mode."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN")
        return self.conn

    def __exit__(self, kind: object, *rest: object) -> None:
        self.conn.execute("COMMIT" if kind is None else "ROLLBACK")


def _no_tables(conn: sqlite3.Connection) -> bool:
    """Whether the database has no tables at all (False where that cannot be read either)."""
    try:
        return conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
    except sqlite3.Error:
        return False


def open_run(run_dir: str | Path) -> sqlite3.Connection:
    """A read-only connection to the run in ``run_dir``, checked to be a run database this version reads; a
    missing folder, a folder without a run or a file that is not one raises :class:`RunError` naming it."""
    folder = Path(run_dir)
    try:
        exists, is_dir = folder.exists(), folder.is_dir()
    except OSError as exc:
        raise RunError(f"cannot open run folder {quoted(str(run_dir))}: {exc.strerror or exc}") from None
    if not exists:
        raise RunError(f"run folder {quoted(str(run_dir))} not found")
    if not is_dir:
        raise RunError(f"{quoted(str(run_dir))} is not a run folder (a folder holding {FILE_NAME})")
    path = db_path(folder)
    if not path.is_file():
        raise RunError(
            f"{quoted(str(run_dir))} holds no {FILE_NAME}: not a run folder (bpstudio.watch.Watcher records one)"
        )
    conn: sqlite3.Connection | None = None
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_MS / 1000)
        conn.isolation_level = None
        info = dict(conn.execute("SELECT key, value FROM run_info").fetchall())
        for table in TABLES:
            conn.execute(f"SELECT * FROM {table} LIMIT 0")
    except sqlite3.Error as exc:
        starting = conn is not None and _no_tables(conn)  # (an empty database: the Watcher creating it this moment)
        if conn is not None:
            conn.close()
        if starting:
            raise RunError(
                f"{quoted(str(path))} holds no run yet (no tables): a Watcher may be creating it; open it again in "
                "a moment"
            ) from None
        raise RunError(f"{quoted(str(path))} is not a readable run database: {exc}") from None
    if info.get("format") != FORMAT:
        raise RunError(f"{quoted(str(path))} is not a bpstudio run database (format {info.get('format')!r})")
    if info.get("version") != str(VERSION):
        raise RunError(
            f"{quoted(str(path))} is a run database of version {info.get('version')!r}; this bpstudio reads {VERSION}"
        )
    return conn
