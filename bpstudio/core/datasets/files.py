"""Reading and writing data sets as .npz archives and .csv tables.

Every problem is a :class:`DataError` with one line that names the file and what is wrong, so a person
can fix the file without reading a traceback. Writing uses ``repr`` precision and an atomic rename, so
saving then loading gives back bit-identical arrays.

CSV layout: a header row, then one row per sample. Columns named ``x...`` are inputs and ``y...`` are
float targets (either case), each in file order; any other column is refused rather than silently
dropped. A single target column named ``label`` (or ``y_label``) holds integer class labels instead.
Whole-number ``y`` values stay float targets: labels are declared, never guessed.
"""

from __future__ import annotations

import csv
import io
import math
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from bpstudio.core.data import Dataset
from bpstudio.core.errors import DataError
from bpstudio.core.io.fileio import write_atomic
from bpstudio.core.limits import (
    MAX_CSV_BYTES,
    MAX_DATA_FILE_BYTES,
    MAX_DATA_VALUES,
    MAX_SAMPLES,
    MAX_UNITS,
    brief,
    quoted,
)

LABEL_COLUMNS = ("label", "y_label")
SUFFIXES = (".csv", ".npz")

PathLike = str | os.PathLike[str]


def _fail(path: PathLike, problem: str) -> DataError:
    return DataError(f"data file '{path}': {problem}")


def _require_file(path: PathLike) -> Path:
    p = Path(path)
    try:
        if not p.exists():
            raise DataError(f"data file '{path}' not found")
        if not p.is_file():
            raise _fail(path, "is not a file")
    except OSError as e:  # a name too long for the file system, a folder that cannot be searched
        raise _fail(path, f"cannot be opened ({e.strerror or e})") from None
    return p


def _first_bad_row(a: np.ndarray) -> int | None:
    """The 1-based row of the first non-finite value in ``a``, or None when all are finite."""
    bad = np.flatnonzero(~np.isfinite(a.reshape(len(a), -1)).all(axis=1))
    return int(bad[0]) + 1 if bad.size else None


# --- .npz ---------------------------------------------------------------------------------------------


def load_npz(path: PathLike, inputs_only: bool = False) -> Dataset:
    """A data set from an .npz archive holding ``X`` (N, inputs) and ``Y`` (N, outputs) or (N,) labels.
    With ``inputs_only`` (inputs to predict from) ``Y`` may be absent: every label is then 0.

    The sizes its arrays claim (in the zip directory and in each array's header) are checked against
    :mod:`bpstudio.core.limits` before any array is read, so a damaged or hostile archive cannot make it
    allocate gigabytes."""
    p = _require_file(path)
    _check_npz_sizes(path, p)
    try:
        archive = np.load(p, allow_pickle=False)
    except PermissionError as e:
        raise _fail(path, f"cannot be read ({e.strerror})") from e
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        raise _fail(path, "is not an .npz archive") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise _fail(path, "is a single .npy array, not an .npz archive holding X and Y")
    with archive:
        present = sorted(archive.files)
        missing = [key for key in (("X",) if inputs_only else ("X", "Y")) if key not in present]
        if missing:
            listed = ", ".join(present) if present else "none"
            raise _fail(path, f"missing array {' and '.join(missing)} (arrays present: {listed})")
        X = _read_array(path, archive, "X")
        Y = _read_array(path, archive, "Y") if "Y" in present else _no_targets(X)
    return _checked_arrays(path, p.name, X, Y)


def _no_targets(X: np.ndarray) -> np.ndarray:
    """Labels 0 for inputs read without targets (any loss takes them; predictions never read them)."""
    return np.zeros(X.shape[0] if X.ndim else 0, dtype=np.int64)


def _check_npz_sizes(path: PathLike, p: Path) -> None:
    """Refuse an archive whose X or Y would inflate beyond :data:`MAX_DATA_FILE_BYTES` or whose header claims
    more samples or numbers than a data set may hold, reading only the zip directory and the array headers."""
    try:
        with zipfile.ZipFile(p) as archive:
            for info in archive.infolist():
                key = info.filename.removesuffix(".npy")
                if key not in ("X", "Y"):
                    continue
                if info.file_size > MAX_DATA_FILE_BYTES:
                    raise _fail(
                        path,
                        f"array {key} inflates to {info.file_size / 2**20:,.0f} MiB; "
                        f"the most read is {MAX_DATA_FILE_BYTES // 2**20} MiB",
                    )
                with archive.open(info) as stream:
                    _check_npy_header(path, key, stream, info.file_size)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as e:
        if isinstance(e, DataError):
            raise
        return  # not a readable archive: np.load below says so in its own words


def _check_npy_header(path: PathLike, key: str, stream: Any, stored: int) -> None:
    version = np.lib.format.read_magic(stream)
    read_header = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    if version not in read_header:
        return
    shape, _, dtype = read_header[version](stream, max_header_size=10_000)
    count = math.prod(shape)
    if shape and shape[0] > MAX_SAMPLES:
        raise _fail(path, f"array {key} claims {shape[0]:,} rows; a data set holds at most {MAX_SAMPLES:,} samples")
    if count > MAX_DATA_VALUES:
        raise _fail(path, f"array {key} claims {count:,} numbers; the most read is {MAX_DATA_VALUES:,}")
    if dtype.hasobject:
        return  # refused when read (no pickles)
    if count * dtype.itemsize > stored:
        raise _fail(path, f"array {key} is damaged: its header claims shape {shape} but the file holds less")


def _read_array(path: PathLike, archive: Any, key: str) -> np.ndarray:
    try:
        return np.asarray(archive[key])
    except ValueError:  # object arrays need pickle, which is refused for safety
        raise _fail(path, f"array {key} holds Python objects, not numbers") from None
    except (OSError, EOFError, zipfile.BadZipFile) as e:
        raise _fail(path, f"array {key} is damaged and cannot be read ({e})") from None


def _checked_arrays(path: PathLike, name: str, X: np.ndarray, Y: np.ndarray) -> Dataset:
    """Check shapes, dtypes and finiteness with messages that name the file, then build the Dataset."""
    for key, a in (("X", X), ("Y", Y)):
        if not np.issubdtype(a.dtype, np.number) or np.issubdtype(a.dtype, np.complexfloating):
            raise _fail(path, f"array {key} must hold real numbers, got dtype {a.dtype}")
    if X.ndim != 2:
        raise _fail(path, f"array X must be 2-D (samples × inputs), got shape {X.shape}")
    if Y.ndim not in (1, 2):
        raise _fail(path, f"array Y must be 2-D (samples × outputs) or 1-D class labels, got shape {Y.shape}")
    if X.shape[0] != Y.shape[0]:
        raise _fail(path, f"X has {X.shape[0]} rows but Y has {Y.shape[0]}")
    if X.shape[0] == 0:
        raise _fail(path, "holds no samples (X and Y have 0 rows)")
    for key, a in (("X", X), ("Y", Y)):
        row = _first_bad_row(a) if np.issubdtype(a.dtype, np.floating) else None
        if row is not None:
            raise _fail(path, f"array {key} has a NaN or infinite value in row {row}")
    if Y.ndim == 1 and np.issubdtype(Y.dtype, np.floating):
        fractional = np.flatnonzero(Y != np.round(Y))
        if fractional.size:
            row = int(fractional[0])
            raise _fail(
                path,
                f"a 1-D Y holds class labels, but row {row + 1} has {brief(float(Y[row]))}; "
                "store float targets as shape (N, 1)",
            )
    if Y.ndim == 1 and Y.size and Y.min() < 0:
        row = int(np.argmin(Y))
        raise _fail(path, f"class labels must be 0 or more, but row {row + 1} has {Y[row]}")
    if Y.ndim == 1 and Y.size and Y.max() >= MAX_UNITS:
        row = int(np.argmax(Y))
        raise _fail(
            path, f"row {row + 1} has class label {Y[row]}; labels go up to {MAX_UNITS - 1:,} (one output unit each)"
        )
    try:
        return Dataset(X, Y, name)
    except DataError as e:
        raise _fail(path, str(e)) from e


# --- .csv ---------------------------------------------------------------------------------------------


def _parse_number(path: PathLike, line: int, column: str, text: str) -> float:
    text = text.strip()
    if not text:
        raise _fail(path, f"line {line}, column {quoted(column)} is empty")
    try:
        value = float(text)
    except ValueError:
        raise _fail(path, f"line {line}, column {quoted(column)}: {brief(text)} is not a number") from None
    if not math.isfinite(value):
        raise _fail(
            path, f"line {line}, column {quoted(column)} holds {brief(text)}; every value must be a finite number"
        )
    return value


def _parse_label(path: PathLike, line: int, column: str, text: str) -> int:
    value = _parse_number(path, line, column, text)
    if value != round(value) or value < 0:
        raise _fail(
            path,
            f"line {line}, column {quoted(column)}: {brief(text.strip())} is not a class label "
            "(a whole number 0 or more)",
        )
    if value >= MAX_UNITS:
        raise _fail(
            path,
            f"line {line}, column {quoted(column)}: class label {brief(text.strip())} is too large; labels go up to "
            f"{MAX_UNITS - 1:,} (one output unit each)",
        )
    return int(value)


def _split_header(path: PathLike, header: list[str], inputs_only: bool = False) -> tuple[list[int], list[int], bool]:
    """Input and target column positions, and whether the target is a label column."""
    names = [name.strip() for name in header]
    seen: set[str] = set()
    for name in names:
        if name and name in seen:
            raise _fail(path, f"column {quoted(name)} appears more than once in the header")
        seen.add(name)
    labels = [i for i, name in enumerate(names) if name.lower() in LABEL_COLUMNS]
    inputs = [i for i, name in enumerate(names) if name.lower().startswith("x")]
    targets = [i for i, name in enumerate(names) if name.lower().startswith("y") and i not in labels]
    unexpected = [
        f"{quoted(name)}" if name else f"(unnamed column {i + 1})"
        for i, name in enumerate(names)
        if i not in inputs + targets + labels
    ]
    if unexpected:
        raise _fail(
            path,
            f"unexpected column {', '.join(unexpected)}; input columns must start with 'x', "
            "target columns with 'y', and class labels go in one column named 'label'",
        )
    if not inputs:
        raise _fail(path, "no input columns (their names must start with 'x', e.g. x1, x2)")
    if labels and (targets or len(labels) > 1):
        others = ", ".join(names[i] for i in sorted(labels + targets))
        raise _fail(path, f"a label column must be the only target column, but the header has {others}")
    if not labels and not targets and not inputs_only:
        raise _fail(
            path,
            "no target columns (their names must start with 'y', e.g. y1, "
            "or one column named 'label' for class labels)",
        )
    return inputs, labels or targets, bool(labels)


def _looks_numeric(cells: list[str]) -> bool:
    try:
        [float(cell) for cell in cells]
    except ValueError:
        return False
    return True


def _other_separator(header: list[str]) -> str | None:
    """'semicolon' or 'tab' when the header is one cell holding those where commas belong (as spreadsheets
    set to a language with a decimal comma, or tab-separated exports, write it), else None."""
    if len(header) != 1:
        return None
    counts = {"semicolon": header[0].count(";"), "tab": header[0].count("\t")}
    name = max(counts, key=lambda n: counts[n])
    return name if counts[name] else None


def load_csv(path: PathLike, inputs_only: bool = False) -> Dataset:
    """A data set from a CSV table with a header naming x... input and y... (or label) target columns (with
    ``inputs_only``, inputs to predict from, the target columns may be left out: every label is then 0)."""
    p = _require_file(path)
    try:
        size = p.stat().st_size
        if size > MAX_CSV_BYTES:
            raise _fail(
                path,
                f"is {size / 2**20:,.0f} MiB; a .csv file may have {MAX_CSV_BYTES // 2**20} MiB (use .npz for more)",
            )
        with open(p, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            rows = [(reader.line_num, row) for row in reader if any(cell.strip() for cell in row)]
    except UnicodeDecodeError:
        raise _fail(path, "is not UTF-8 text") from None
    except csv.Error as e:
        raise _fail(path, f"is not valid CSV ({e})") from e
    except OSError as e:
        raise _fail(path, f"cannot be read ({e.strerror})") from e
    if not rows:
        raise _fail(path, "is empty; expected a header line such as 'x1,x2,y1' and then data rows")
    header_line, header = rows[0]
    separator = _other_separator(header)
    if separator is not None:
        raise _fail(
            path,
            f"looks {separator}-separated; bpstudio reads comma-separated CSV, e.g. a header 'x1,x2,y1' and rows "
            "such as '0.5,1.5,1' (save it with ',' between values and '.' as the decimal point)",
        )
    if _looks_numeric(header):
        raise _fail(
            path,
            f"line {header_line} holds numbers, not a header; the first line must name the "
            "columns (x1, x2, ..., then y1, ... or label)",
        )
    inputs, targets, is_label = _split_header(path, header, inputs_only)
    is_label = is_label or not targets
    names = [name.strip() for name in header]
    if len(rows) == 1:
        raise _fail(path, "has a header but no data rows")
    if len(rows) - 1 > MAX_SAMPLES:
        raise _fail(path, f"has {len(rows) - 1:,} data rows; a data set holds at most {MAX_SAMPLES:,} samples")
    X = np.empty((len(rows) - 1, len(inputs)))
    Y = np.zeros(len(rows) - 1, dtype=np.int64) if is_label else np.empty((len(rows) - 1, len(targets)))
    for r, (line, cells) in enumerate(rows[1:]):
        if len(cells) != len(header):
            raise _fail(path, f"line {line} has {len(cells)} cells but the header has {len(header)}")
        X[r] = [_parse_number(path, line, names[i], cells[i]) for i in inputs]
        if is_label and targets:
            Y[r] = _parse_label(path, line, names[targets[0]], cells[targets[0]])
        elif not is_label:
            Y[r] = [_parse_number(path, line, names[i], cells[i]) for i in targets]
    return _checked_arrays(path, p.name, X, Y)


# --- any supported file -------------------------------------------------------------------------------


def load_file(path: PathLike, inputs_only: bool = False) -> Dataset:
    """Load ``path`` by its suffix: .npz or .csv (``inputs_only``: the targets may be left out)."""
    suffix = Path(path).suffix.lower()
    if suffix == ".npz":
        return load_npz(path, inputs_only)
    if suffix == ".csv":
        return load_csv(path, inputs_only)
    got = f"suffix '{suffix}'" if suffix else "no suffix"
    raise _fail(path, f"unsupported file type ({got}); supported: {', '.join(SUFFIXES)}")


# --- writing ------------------------------------------------------------------------------------------


def save_npz(dataset: Dataset, path: PathLike) -> None:
    """Write ``dataset`` as an .npz archive with arrays X and Y (exactly at ``path``, no suffix added)."""
    buffer = io.BytesIO()
    np.savez(buffer, X=dataset.X, Y=dataset.Y)
    write_atomic(path, buffer.getvalue())


def save_csv(dataset: Dataset, path: PathLike) -> None:
    """Write ``dataset`` as CSV: x1.. then y1.. (or one 'label' column), numbers at ``repr`` precision."""
    inputs = [f"x{i + 1}" for i in range(dataset.n_inputs)]
    targets = ["label"] if dataset.is_classification else [f"y{i + 1}" for i in range(dataset.Y.shape[1])]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(inputs + targets)
    for x, y in zip(dataset.X, dataset.Y):
        ys = [str(int(y))] if dataset.is_classification else [repr(float(v)) for v in y]
        writer.writerow([repr(float(v)) for v in x] + ys)
    write_atomic(path, buffer.getvalue().encode("utf-8"))
