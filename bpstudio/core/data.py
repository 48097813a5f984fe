"""A data set as the engine sees it: inputs ``X`` (N, d) and targets ``Y``.

``Y`` is either float targets of shape (N, k) (regression, or probabilities) or integer class labels of
shape (N,). :meth:`Dataset.targets_for` turns it into what a given loss and output width need, so one
data set serves a sigmoid/BCE net, a softmax/cross-entropy net and a ½SSE net alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bpstudio.core.errors import DataError


@dataclass(frozen=True, eq=False)
class Dataset:
    X: np.ndarray
    Y: np.ndarray
    name: str = "data"

    def __post_init__(self) -> None:
        X = np.asarray(self.X)
        Y = np.asarray(self.Y)
        if X.ndim != 2:
            raise DataError(f"{self.name}: inputs must be a 2-D array (samples × inputs), got shape {X.shape}")
        if not np.issubdtype(X.dtype, np.number) or np.issubdtype(X.dtype, np.complexfloating):
            raise DataError(f"{self.name}: inputs must be real numbers, got dtype {X.dtype}")
        if Y.ndim not in (1, 2):
            raise DataError(f"{self.name}: targets must be (samples,) labels or (samples × outputs), got {Y.shape}")
        if Y.shape[0] != X.shape[0]:
            raise DataError(f"{self.name}: {X.shape[0]} input rows but {Y.shape[0]} target rows")
        if X.shape[0] == 0:
            raise DataError(f"{self.name}: the data set has no samples")
        X = X.astype(np.float64)
        _require_finite(X, f"{self.name}: inputs")
        if Y.ndim == 1:
            if np.issubdtype(Y.dtype, np.floating):
                _require_finite(Y, f"{self.name}: labels")
                if not np.all(Y == np.round(Y)):
                    raise DataError(f"{self.name}: 1-D targets are class labels and must be whole numbers")
            elif not np.issubdtype(Y.dtype, np.integer):
                raise DataError(f"{self.name}: labels must be integers, got dtype {Y.dtype}")
            Y = Y.astype(np.int64)
            if Y.min() < 0:
                raise DataError(f"{self.name}: class labels must be 0 or more, found {Y.min()}")
        else:
            if not np.issubdtype(Y.dtype, np.number):
                raise DataError(f"{self.name}: targets must be numbers, got dtype {Y.dtype}")
            Y = Y.astype(np.float64)
            _require_finite(Y, f"{self.name}: targets")
        X.setflags(write=False)
        Y.setflags(write=False)
        object.__setattr__(self, "X", X)
        object.__setattr__(self, "Y", Y)

    def __len__(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_inputs(self) -> int:
        return int(self.X.shape[1])

    @property
    def is_classification(self) -> bool:
        return self.Y.ndim == 1

    @property
    def n_classes(self) -> int:
        return int(self.Y.max()) + 1 if self.is_classification else 0

    def subset(self, indices: np.ndarray, name: str | None = None) -> Dataset:
        return Dataset(self.X[indices], self.Y[indices], name or self.name)

    def split(self, test_fraction: float, seed: int = 0) -> tuple[Dataset, Dataset | None]:
        """A shuffled train/test split; a fraction that leaves no test sample gives (all, None)."""
        if not 0.0 <= test_fraction < 1.0:
            raise DataError(f"test fraction must be in [0, 1), got {test_fraction}")
        order = np.random.default_rng(seed).permutation(len(self))
        n_test = int(round(test_fraction * len(self)))
        if n_test == 0:
            return self, None
        if n_test == len(self):
            raise DataError(f"{self.name}: a test fraction of {test_fraction} leaves no training samples")
        return (self.subset(order[n_test:], f"{self.name} (train)"), self.subset(order[:n_test], f"{self.name} (test)"))

    def check_inputs(self, n_inputs: int) -> None:
        if self.n_inputs != n_inputs:
            raise DataError(
                f"{self.name}: has {self.n_inputs} input columns but the network's input layer has {n_inputs} units"
            )

    def targets_for(self, loss: str, out_units: int) -> np.ndarray:
        """Targets shaped for ``loss`` on an output of ``out_units`` (labels, one-hot rows or floats)."""
        if self.is_classification:
            top = int(self.Y.max())
            if loss == "cross_entropy":
                if top >= out_units:
                    raise DataError(
                        f"{self.name}: has class label {top} but the output layer has only "
                        f"{out_units} units (one per class)"
                    )
                return self.Y
            if out_units == 1:
                if top > 1:
                    raise DataError(
                        f"{self.name}: has {top + 1} classes but the output layer has 1 unit; "
                        f"give it {top + 1} units, one per class (with the cross_entropy loss), or train on data "
                        "with 2 classes"
                    )
                return self.Y.astype(np.float64).reshape(-1, 1)
            if top >= out_units:
                raise DataError(f"{self.name}: has class label {top} but the output layer has only {out_units} units")
            rows = np.zeros((len(self.Y), out_units))  # one-hot rows (never an out_units² identity)
            rows[np.arange(len(self.Y)), self.Y] = 1.0
            return rows
        if self.Y.shape[1] != out_units:
            raise DataError(
                f"{self.name}: has {self.Y.shape[1]} target columns but the output layer has {out_units} units"
            )
        if loss == "cross_entropy":
            sums = self.Y.sum(axis=1)
            bad = np.flatnonzero((self.Y < 0).any(axis=1) | (np.abs(sums - 1.0) > 1e-6))
            if bad.size:
                raise DataError(
                    f"{self.name}: cross_entropy targets must be class labels or probability rows "
                    f"(non-negative, summing to 1); row {bad[0] + 1} sums to {sums[bad[0]]:g}"
                )
        if loss == "bce":
            outside = np.argwhere((self.Y < 0) | (self.Y > 1))
            if outside.size:
                row, col = outside[0]
                raise DataError(
                    f"{self.name}: bce targets must be probabilities between 0 and 1; row {row + 1} "
                    f"has {self.Y[row, col]:g} (for regression targets use the mse loss)"
                )
        return self.Y


def _require_finite(a: np.ndarray, what: str) -> None:
    bad = np.argwhere(~np.isfinite(a))
    if bad.size:
        at = tuple(int(i) for i in bad[0])
        row = at[0]
        raise DataError(f"{what} hold a non-finite value ({a[at]}) in row {row + 1}")
