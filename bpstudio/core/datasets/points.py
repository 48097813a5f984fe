"""Single points added to or removed from the data, as a person does by clicking the data plot.

Data shaped by hand is written out as a data source in the inline form (``{"X": …, "Y": …}``), so the network
file keeps exactly the points in use. A held-out test set is written beside them as ``"test": {"X", "Y"}``:
re-splitting by a test fraction would shuffle every point into a new part, while an added point should join
the training data and leave the test set as it was.

Where a click lands is a point of the plotted plane; :func:`plane` gives each sample's place there (its two
inputs, or its one input and its target) and :func:`clicked_point` turns a place back into inputs and a target.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from bpstudio.core.checks import is_real, is_whole
from bpstudio.core.data import Dataset
from bpstudio.core.errors import DataError

TRAIN, TEST = "train", "test"

CLASS, VALUE, HEIGHT = "class", "value", "height"  # what a click's target is (see click_kind)


def click_kind(data: Dataset) -> str:
    """How a click on the plot of ``data`` makes a point, or a DataError saying why it cannot:

    - ``"class"``: labelled data with 1 or 2 inputs; the point gets the class picked beside the plot;
    - ``"value"``: 2 inputs and one target column; the point gets the target value picked beside the plot;
    - ``"height"``: 1 input and one target column; the plot shows the target upwards, so the click's
      height is the target.
    """
    if data.n_inputs not in (1, 2):
        raise DataError(f"clicked points need data with 1 or 2 inputs (the plot's axes); this data has {data.n_inputs}")
    if data.is_classification:
        return CLASS
    if data.Y.shape[1] != 1:
        raise DataError(
            f"clicked points need class labels or one target column; this data has {data.Y.shape[1]} target columns"
        )
    return VALUE if data.n_inputs == 2 else HEIGHT


def plane(data: Dataset) -> np.ndarray:
    """Each sample's place in the plotted plane, (N, 2): its two inputs, or its one input and its target
    (the class label for labelled data)."""
    if data.n_inputs == 2:
        return data.X
    height = data.Y if data.is_classification else data.Y[:, 0]
    return np.column_stack([data.X[:, 0], height.astype(np.float64)])


def clicked_point(data: Dataset, position: Sequence[float], choice: float | None) -> tuple[list[float], Any]:
    """The inputs and target of a point clicked at ``position`` (x, y) of the plot of ``data``; ``choice``
    is the class or target value picked beside the plot (unused when the click's height is the target)."""
    kind = click_kind(data)
    x, y = (float(v) for v in position)
    if not (math.isfinite(x) and math.isfinite(y)):
        raise DataError(f"a point needs finite coordinates, got ({x}, {y})")
    inputs = [x, y] if data.n_inputs == 2 else [x]
    if kind == CLASS:
        if not is_whole(choice) or choice < 0:
            raise DataError(f"a point's class must be a whole number ≥ 0, got {choice!r}")
        return inputs, int(choice)
    if kind == VALUE:
        if not is_real(choice) or not math.isfinite(choice):
            raise DataError(f"a point's target must be a finite number, got {choice!r}")
        return inputs, [float(choice)]
    return inputs, [y]


def inline_source(train: Dataset, test: Dataset | None) -> dict[str, Any]:
    """The data as an inline data source: the training points, and the test points under ``"test"``."""
    source: dict[str, Any] = {"X": train.X.tolist(), "Y": train.Y.tolist()}
    if test is not None:
        source["test"] = {"X": test.X.tolist(), "Y": test.Y.tolist()}
    return source


def with_point(
    train: Dataset, test: Dataset | None, inputs: Sequence[float], target: Any
) -> tuple[Dataset, Dataset | None]:
    """The data with one more training point (``target``: a class label, or a row of target values)."""
    x = np.asarray(inputs, dtype=np.float64).reshape(1, -1)
    if x.shape[1] != train.n_inputs:
        raise DataError(f"a point needs {train.n_inputs} inputs to join this data, got {x.shape[1]}")
    y = np.asarray(target)
    if train.is_classification:
        if y.ndim != 0 or not np.issubdtype(y.dtype, np.integer):
            raise DataError(f"a point joining this data needs a class label (a whole number), got {y.tolist()!r}")
    elif y.shape != (train.Y.shape[1],) or not np.issubdtype(y.dtype, np.number):
        raise DataError(f"a point joining this data needs {train.Y.shape[1]} target value(s), got {y.tolist()!r}")
    y = y.reshape((1,) + train.Y.shape[1:])
    return Dataset(np.vstack([train.X, x]), np.concatenate([train.Y, y.astype(train.Y.dtype)]), "inline"), test


def without_point(train: Dataset, test: Dataset | None, part: str, index: int) -> tuple[Dataset, Dataset | None]:
    """The data without sample ``index`` of ``part`` ("train" or "test"); the last training point stays."""
    data = {TRAIN: train, TEST: test}.get(part)
    if data is None:
        raise DataError(f"there is no {part} data to remove a point from")
    if not 0 <= index < len(data):
        raise DataError(f"the {part} data has no point {index} (it has {len(data)})")
    if part == TRAIN and len(train) == 1:
        raise DataError("the last training point cannot be removed: training needs at least one")
    keep = np.delete(np.arange(len(data)), index)
    rest = data.subset(keep, "inline") if len(keep) else None
    return (rest, test) if part == TRAIN else (train, rest)  # type: ignore[return-value]


def nearest_point(
    train: Dataset,
    test: Dataset | None,
    position: Sequence[float],
    per_pixel: Sequence[float],
    within: float,
) -> tuple[str, int] | None:
    """The sample drawn nearest to ``position`` in the plotted plane, as (part, index), if it lies within
    ``within`` pixels; ``per_pixel`` is the plane's (x, y) size of a pixel, so "near" is what the eye sees
    whatever the axes' scales. Pass ``test=None`` to consider training points only."""
    scale = np.asarray(per_pixel, dtype=np.float64)
    if scale.shape != (2,) or not np.all(scale > 0):
        raise DataError(f"a pixel's size must be two positive numbers, got {list(per_pixel)!r}")
    best: tuple[float, str, int] | None = None
    for part, data in ((TRAIN, train), (TEST, test)):
        if data is None:
            continue
        # distance in pixels: sqrt(Σ ((p − q) / pixel size)²)
        distances = np.hypot(*((plane(data) - np.asarray(position, dtype=np.float64)) / scale).T)
        index = int(np.argmin(distances))
        if distances[index] <= within and (best is None or distances[index] < best[0]):
            best = (float(distances[index]), part, index)
    return None if best is None else (best[1], best[2])


def held_out_share(source: Mapping[str, Any] | None) -> float:
    """The share of the points a source holds out for testing: its test fraction, or for inline data with
    its test points written out, their count over all the points."""
    if not isinstance(source, Mapping):
        return 0.0
    test = source.get("test")
    if isinstance(test, Mapping) and "X" in source:
        n_test, n_train = len(test.get("X") or []), len(source.get("X") or [])
        return n_test / (n_test + n_train) if n_test + n_train else 0.0
    fraction = source.get("test_fraction", 0.0)
    return float(fraction) if is_real(fraction) else 0.0


def merged(source: Mapping[str, Any]) -> dict[str, Any]:
    """An inline source with its written-out test points put back among the others (to be split afresh by a
    test fraction); any other source as it is."""
    result = dict(source)
    test = result.pop("test", None)
    if isinstance(test, Mapping) and "X" in result:
        result["X"] = list(result["X"]) + list(test.get("X", []))
        result["Y"] = list(result["Y"]) + list(test.get("Y", []))
    return result
