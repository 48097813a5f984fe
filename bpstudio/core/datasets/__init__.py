"""Where training data comes from: built-in toy sets, .csv/.npz files, or arrays written inline.

:func:`resolve` turns any accepted "data source" into a :class:`Dataset`:

- a path to an existing .csv or .npz file (relative paths against ``base_dir``, else the working folder);
- a built-in name, optionally with options: ``"spirals"``, ``"spirals:classes=3,n=300,noise=0.2,seed=1"``;
- a dict, as found under a network file's top-level ``"data"`` key:
  ``{"builtin": "spirals", "classes": 3}``, ``{"file": "points.csv"}`` or ``{"X": [[...]], "Y": [...]}``.

The dict form and the built-in string form may also carry ``test_fraction`` and ``split_seed``;
:func:`resolve` leaves them alone and :func:`resolve_split` uses them to hold out a test set. Inline data may
instead write its test set out, ``"test": {"X": [[...]], "Y": [...]}`` (points edited by hand keep their
split that way, see :mod:`bpstudio.core.datasets.points`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from bpstudio.core.checks import is_count, is_real
from bpstudio.core.data import Dataset
from bpstudio.core.datasets.files import (
    load_csv,
    load_file,
    load_npz,
    save_csv,
    save_npz,
)
from bpstudio.core.datasets.toy import (
    TOY_SETS,
    blobs,
    circles,
    make_toy,
    moons,
    plane,
    sine,
    spirals,
    toy_options,
    xor,
)
from bpstudio.core.errors import DataError
from bpstudio.core.limits import brief, quoted

__all__ = [
    "TOY_SETS",
    "blobs",
    "circles",
    "load_csv",
    "load_file",
    "load_npz",
    "make_toy",
    "moons",
    "plane",
    "resolve",
    "resolve_split",
    "save_csv",
    "save_npz",
    "sine",
    "spirals",
    "toy_options",
    "xor",
]

SPLIT_OPTIONS = ("test_fraction", "split_seed")
INT_OPTIONS = {"n", "seed", "classes", "features", "split_seed"}
FLOAT_OPTIONS = {"noise", "factor", "test_fraction"}
DATA_SUFFIXES = (".csv", ".npz")


def _accepted_forms() -> str:
    return (
        "a built-in name (" + ", ".join(sorted(TOY_SETS)) + "), optionally with options as in "
        "'spirals:classes=3,n=300'; a .csv or .npz file path; or a dict with 'builtin', 'file', "
        "or 'X' and 'Y'"
    )


# --- the string form ----------------------------------------------------------------------------------


def _parse_value(set_name: str, option: str, text: str) -> Any:
    """Turn an option's text into an int or float by its name; unknown names stay text for make_toy."""
    if option in INT_OPTIONS:
        try:
            return int(text)
        except ValueError:
            raise DataError(f"{set_name}: option {quoted(option)} must be an integer, got {brief(text)}") from None
    if option in FLOAT_OPTIONS:
        try:
            return float(text)
        except ValueError:
            raise DataError(f"{set_name}: option {quoted(option)} must be a number, got {brief(text)}") from None
    return text


def _parse_toy(source: str) -> tuple[str, dict[str, Any]]:
    """Split ``"name:key=value,..."`` into the name and typed options."""
    name, _, rest = source.partition(":")
    name = name.strip()
    if name not in TOY_SETS:
        raise DataError(
            f"data source {brief(source)} is not a built-in data set or an existing file; use {_accepted_forms()}"
        )
    options: dict[str, Any] = {}
    for piece in filter(None, (p.strip() for p in rest.split(","))):
        key, equals, text = piece.partition("=")
        key = key.strip()
        if not equals or not key:
            raise DataError(f"{name}: option {brief(piece)} must be written as name=value")
        if key in options:
            raise DataError(f"{name}: option {quoted(key)} is given twice")
        options[key] = _parse_value(name, key, text.strip())
    return name, options


def _looks_like_path(source: str) -> bool:
    return Path(source).suffix.lower() in DATA_SUFFIXES or "/" in source or "\\" in source or os.sep in source


def _locate(path: str | os.PathLike[str], base_dir: str | os.PathLike[str] | None) -> Path:
    p = Path(path)
    return p if p.is_absolute() or base_dir is None else Path(base_dir) / p


def _from_file(path: str | os.PathLike[str], base_dir: str | os.PathLike[str] | None) -> Dataset:
    where = _locate(path, base_dir)
    try:
        found = where.exists()
    except OSError as exc:  # e.g. a name longer than the file system takes
        raise DataError(f"data file {brief(os.fspath(path))} cannot be opened: {exc.strerror or exc}") from None
    if not found:
        looked = f" (looked for {where})" if where != Path(path) and _shown(where) == f"'{where}'" else ""
        raise DataError(f"data file {_shown(path)} not found{looked}")
    return load_file(where)


def _shown(path: str | os.PathLike[str]) -> str:
    """A path as a message quotes it: whole, unless it is too long to be a real one."""
    text = os.fspath(path)
    return f"'{text}'" if len(text) <= 255 and text.isprintable() else brief(text)


def _exists(path: Path, file: bool = False) -> bool:
    """Whether ``path`` exists (and is a file); a name the file system refuses (too long) is not there."""
    try:
        return path.is_file() if file else path.exists()
    except OSError:
        return False


# --- the dict form ------------------------------------------------------------------------------------


def _inline_array(value: Any, key: str) -> np.ndarray:
    """An inline list (of lists) of numbers as an array; text, booleans and ragged rows are refused."""
    try:
        a = np.array(value)
    except ValueError:
        raise DataError(f"inline data: {key} has rows of different lengths") from None
    if a.dtype.kind not in "iuf":
        raise DataError(f"inline data: {key} must be a list of numbers (or of rows of numbers), got {brief(value)}")
    return a


def _from_dict(source: Mapping[str, Any], base_dir: str | os.PathLike[str] | None) -> Dataset:
    kinds = [key for key in ("builtin", "file", "X") if key in source]
    if "Y" in source and "X" not in source:
        kinds.append("Y")
    if len(kinds) != 1:
        found = f"it has {', '.join(map(repr, kinds))}" if kinds else f"its keys are {', '.join(map(repr, source))}"
        raise DataError(f"data source: a dict needs exactly one of 'builtin', 'file' or 'X' and 'Y', but {found}")
    rest = {key: value for key, value in source.items() if key not in SPLIT_OPTIONS}
    kind = kinds[0]
    if kind == "builtin":
        name = rest.pop("builtin")
        if not isinstance(name, str):
            raise DataError(f"data source: 'builtin' must be a name ({', '.join(sorted(TOY_SETS))}), got {brief(name)}")
        return make_toy(name, **rest)
    allowed = {"file"} if kind == "file" else {"X", "Y", "test"}
    extra = [key for key in rest if key not in allowed]
    if extra:
        known = ", ".join(sorted(allowed) + list(SPLIT_OPTIONS))
        raise DataError(f"data source: unknown key {brief(extra[0])} next to {brief(kind)} (known: {known})")
    if kind == "file":
        if not isinstance(rest["file"], str) or not rest["file"]:
            raise DataError(f"data source: 'file' must be a file path, got {brief(rest['file'])}")
        return _from_file(rest["file"], base_dir)
    if "Y" not in rest or "X" not in rest:
        raise DataError("inline data: needs both 'X' (rows of inputs) and 'Y' (rows of targets or class labels)")
    return Dataset(_inline_array(rest["X"], "X"), _inline_array(rest["Y"], "Y"), "inline")


def _split_options(source: Any) -> dict[str, Any]:
    """The test_fraction / split_seed a source carries (validated), or an empty dict."""
    if isinstance(source, Mapping):
        options = {key: source[key] for key in SPLIT_OPTIONS if key in source}
    elif isinstance(source, str) and ":" in source and source.partition(":")[0].strip() in TOY_SETS:
        options = {k: v for k, v in _parse_toy(source)[1].items() if k in SPLIT_OPTIONS}
    else:
        return {}
    fraction = options.get("test_fraction", 0.0)
    if not is_real(fraction) or not 0 <= fraction < 1:
        raise DataError(f"data source: option 'test_fraction' must be a number in [0, 1), got {brief(fraction)}")
    seed = options.get("split_seed", 0)
    if not is_count(seed):
        raise DataError(f"data source: option 'split_seed' must be an integer ≥ 0, got {brief(seed)}")
    return {"test_fraction": float(fraction), "seed": seed}


# --- public -------------------------------------------------------------------------------------------


def resolve(source: Any, base_dir: str | os.PathLike[str] | None = None) -> Dataset:
    """The data set a source names: a file path, a built-in name with options, a dict, or a Dataset.

    ``test_fraction`` and ``split_seed`` are accepted and ignored here; :func:`resolve_split` reads them.
    """
    if isinstance(source, Dataset):
        return source
    if isinstance(source, os.PathLike):
        return _from_file(source, base_dir)
    if isinstance(source, Mapping):
        return _from_dict(source, base_dir)
    if isinstance(source, str) and source.strip():
        if _exists(_locate(source, base_dir), file=True):
            return load_file(_locate(source, base_dir))
        if _looks_like_path(source) and source.partition(":")[0].strip() not in TOY_SETS:
            return _from_file(source, base_dir)
        name, options = _parse_toy(source)
        return make_toy(name, **{k: v for k, v in options.items() if k not in SPLIT_OPTIONS})
    raise DataError(f"data source {brief(source)} is not usable; give {_accepted_forms()}")


def _written_test(source: Mapping[str, Any], train: Dataset) -> Dataset:
    """Inline data's written-out test set (``"test": {"X", "Y"}``), checked against the training data."""
    test = source["test"]
    if not isinstance(test, Mapping) or set(test) != {"X", "Y"}:
        raise DataError("inline data: 'test' must be an object with exactly 'X' and 'Y' (the test points)")
    if source.get("test_fraction", 0) != 0:
        raise DataError("inline data: give either the test points ('test') or a 'test_fraction', not both")
    data = Dataset(_inline_array(test["X"], "test X"), _inline_array(test["Y"], "test Y"), "inline (test)")
    if data.n_inputs != train.n_inputs:
        raise DataError(f"inline data: the test points have {data.n_inputs} inputs, the others {train.n_inputs}")
    if data.is_classification != train.is_classification or data.Y.shape[1:] != train.Y.shape[1:]:
        raise DataError(
            "inline data: the test points' targets must be of the same kind as the others' "
            "(class labels, or rows of as many target values)"
        )
    return data


def resolve_split(source: Any, base_dir: str | os.PathLike[str] | None = None) -> tuple[Dataset, Dataset | None]:
    """The source's data split into (train, test) by its ``test_fraction`` (default 0: no test set), or
    inline data and its written-out test points."""
    options = _split_options(source)
    dataset = resolve(source, base_dir)
    if isinstance(source, Mapping) and "test" in source and "X" in source:
        return dataset, _written_test(source, dataset)
    if not options or options["test_fraction"] == 0:
        return dataset, None
    return dataset.split(options["test_fraction"], options["seed"])
