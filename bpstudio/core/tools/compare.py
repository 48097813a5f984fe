"""NumPy vs PyTorch side by side: one forward and backward pass on every backend and dtype, compared.

:func:`compare_backends` runs the same batch with the same starting weights through a fresh
:class:`~bpstudio.core.session.Session` per (backend, dtype) pair, stops before the update, and compares
each recorded quantity with the reference pair's (NumPy float64 by default):

``pre`` z, the pre-activation (batch × units); ``out`` a = f(z); ``loss`` the loss L (a scalar, listed
with the output layer); ``grad_pre`` dL/dz (batch × units); ``grad_weight`` dL/dW (units × fan-in);
``grad_bias`` dL/db (units).

**Relative difference.** Elementwise ``|a − b| / max(|a|, |b|, floor)``, the largest over the elements,
with ``floor = near_zero · max|a|`` (``a`` the reference array; never below the smallest normal
float64). A plain ``|a − b| / |a|`` is dominated by entries that are near zero only because of
cancellation in a sum (a backward pass is full of them): in float32 such an entry can differ by 5 % from
float64 while the array as a whole agrees to 1e-7, and an exact zero against 1e-30 would read as 100 %.
Dividing by the larger of the two values makes the measure symmetric and at most 2 (opposite signs);
the floor treats entries below ``near_zero`` (default 1e-3) of the array's largest magnitude as near zero,
measured against that floor rather than against themselves. ``near_zero=0`` gives the plain elementwise
figure. NaN against NaN and equal infinities count as equal; NaN against a number is an infinite
difference. The largest absolute difference is reported beside it, untouched by any of this.

Typical figures: torch float64 agrees with NumPy float64 to about 1e-12 relative (the order of
floating-point additions differs); float32 to 1e-7 … 1e-4, growing with depth.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from bpstudio.core.backends import DTYPES
from bpstudio.core.data import Dataset
from bpstudio.core.errors import BackendError, BpstudioError, DataError
from bpstudio.core.init import initial_params
from bpstudio.core.session import Session
from bpstudio.core.spec import NetworkSpec
from bpstudio.core.trace import StepTrace

BACKEND_NAMES = ("numpy", "torch")
QUANTITIES = ("pre", "out", "loss", "grad_pre", "grad_weight", "grad_bias")  # the order a step computes them
OUTPUTS = ("pre", "out", "loss")
GRADIENTS = ("grad_pre", "grad_weight", "grad_bias")
QUANTITY_LABELS = {
    "pre": "z",
    "out": "a = f(z)",
    "loss": "loss L",
    "grad_pre": "dL/dz",
    "grad_weight": "dL/dW",
    "grad_bias": "dL/db",
}
KINDS = {"all": QUANTITIES, "outputs": OUTPUTS, "gradients": GRADIENTS, **{q: (q,) for q in QUANTITIES}}
LOSS_ROW = "loss L"  # the heatmap row of the loss
NEAR_ZERO = 1e-3

Pair = tuple[str, str]  # (backend, dtype)


class ComparisonCancelled(Exception):
    """The comparison was stopped (by its ``cancelled`` callback) before it finished."""


@dataclass(frozen=True)
class DiffRow:
    """One quantity of one layer on one (backend, dtype) pair against the reference."""

    layer: str
    quantity: str
    backend: str
    dtype: str
    max_abs: float
    max_rel: float
    shape: tuple[int, ...]
    worst_index: tuple[int, ...] = ()  # the element with the largest relative difference

    @property
    def pair(self) -> str:
        return f"{self.backend} {self.dtype}"

    @property
    def label(self) -> str:
        return QUANTITY_LABELS[self.quantity]


@dataclass(frozen=True)
class DiffMatrix:
    """Rows (layers, then the loss) × columns (backend/dtype pairs) of the largest relative difference;
    NaN where a layer has no such quantity (a bias-free layer's dL/db)."""

    rows: tuple[str, ...]
    columns: tuple[str, ...]
    values: np.ndarray


@dataclass(frozen=True)
class BackendComparison:
    """The result of :func:`compare_backends`. ``rows`` are in layer order: layers topologically, within a
    layer the quantities in the order a step computes them (:data:`QUANTITIES`), then the pairs."""

    reference: Pair
    pairs: tuple[Pair, ...]  # the pairs compared with the reference
    skipped: tuple[tuple[str, str, str], ...]  # (backend, dtype, why) of pairs that could not run
    layers: tuple[str, ...]
    rows: tuple[DiffRow, ...]
    losses: dict[Pair, float] = field(default_factory=dict)  # every pair's loss, the reference's included
    samples: int = 0
    near_zero: float = NEAR_ZERO

    def loss_rows(self) -> list[DiffRow]:
        return [r for r in self.rows if r.quantity == "loss"]

    def worst(self) -> DiffRow | None:
        """The row with the largest relative difference (ties: the larger absolute one); None if no rows."""
        return max(self.rows, key=lambda r: (_key(r.max_rel), _key(r.max_abs)), default=None)

    def worst_for(self, backend: str, dtype: str) -> DiffRow | None:
        rows = [r for r in self.rows if (r.backend, r.dtype) == (backend, dtype)]
        return max(rows, key=lambda r: (_key(r.max_rel), _key(r.max_abs)), default=None)

    def matrix(self, quantity_kind: str = "all") -> DiffMatrix:
        """Layers × pairs of the largest relative difference over the quantities of ``quantity_kind``: one
        quantity name, ``"outputs"`` (z, a, loss), ``"gradients"`` (dL/dz, dL/dW, dL/db) or ``"all"``."""
        if quantity_kind not in KINDS:
            raise BpstudioError(f"unknown quantity kind '{quantity_kind}' (known: {', '.join(KINDS)})")
        kinds = KINDS[quantity_kind]
        columns = tuple(f"{b} {d}" for b, d in self.pairs)
        rows = [*self.layers, *([LOSS_ROW] if "loss" in kinds else [])]
        values = np.full((len(rows), len(columns)), np.nan)
        place = {name: i for i, name in enumerate(rows)}
        for r in self.rows:
            if r.quantity not in kinds:
                continue
            i, j = place[LOSS_ROW if r.quantity == "loss" else r.layer], columns.index(r.pair)
            values[i, j] = np.fmax(values[i, j], r.max_rel)
        return DiffMatrix(tuple(rows), columns, values)

    def verdict(self) -> str:
        """One line: the largest difference and where, and how closely float64 agrees."""
        worst = self.worst()
        if worst is None:
            return "nothing compared: " + (
                "; ".join(f"{b} {d}: {why}" for b, d, why in self.skipped)
                or "no other backend/dtype pair was asked for"
            )
        ref = " ".join(self.reference)
        text = (
            f"largest difference: {worst.max_rel:.2e} relative ({worst.max_abs:.2e} absolute) in "
            f"{worst.layer} {worst.label} on {worst.pair} vs {ref}"
        )
        if self.reference[1] == "float64":
            same = [self.worst_for(b, d) for b, d in self.pairs if d == "float64"]
            text += "".join(f"; {r.pair} agrees to {r.max_rel:.1e}" for r in same if r is not None)
        return text

    def to_table(self, order: str = "layer") -> str:
        """Plain text with aligned columns. ``order="layer"`` (the default) keeps :attr:`rows`' order, which
        shows how differences grow along the network; ``order="worst"`` puts the largest relative first."""
        if order not in ("layer", "worst"):
            raise BpstudioError(f"unknown table order '{order}' (known: layer, worst)")
        rows = list(self.rows)
        if order == "worst":
            rows.sort(key=lambda r: (_key(r.max_rel), _key(r.max_abs)), reverse=True)
        header = ["layer", "quantity", "backend", "dtype", "max abs diff", "max rel diff", "shape", "at"]
        body = [
            [
                r.layer,
                r.label,
                r.backend,
                r.dtype,
                f"{r.max_abs:.3e}",
                f"{r.max_rel:.3e}",
                _shape_text(r.shape),
                _index_text(r.worst_index),
            ]
            for r in rows
        ]
        widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
        numeric = {4, 5}
        lines = [
            "  ".join(
                cell.rjust(w) if i in numeric else cell.ljust(w) for i, (cell, w) in enumerate(zip(line, widths))
            ).rstrip()
            for line in [header, *body]
        ]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines) + "\n"

    def to_csv(self) -> str:
        """Every row with full-precision numbers: layer, quantity, backend, dtype, max_abs, max_rel, shape,
        worst_index (a shape as ``225x8``, an index as ``[3, 1]``; empty where nothing differs)."""
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(["layer", "quantity", "backend", "dtype", "max_abs", "max_rel", "shape", "worst_index"])
        for r in self.rows:
            writer.writerow(
                [
                    r.layer,
                    r.quantity,
                    r.backend,
                    r.dtype,
                    repr(r.max_abs),
                    repr(r.max_rel),
                    "x".join(map(str, r.shape)),
                    _index_text(r.worst_index),
                ]
            )
        return text.getvalue()


def difference(a: np.ndarray, b: np.ndarray, near_zero: float = NEAR_ZERO) -> tuple[float, float, tuple[int, ...]]:
    """(largest |a − b|, largest relative difference, index of the latter) of two same-shaped arrays;
    the relative difference is defined in this module's docstring (``a`` is the reference)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise BpstudioError(f"cannot compare arrays of shapes {a.shape} and {b.shape}")
    if a.size == 0:
        return 0.0, 0.0, ()
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(a - b)
        same = (np.isnan(a) & np.isnan(b)) | (np.isinf(a) & (a == b))
        diff = np.where(same, 0.0, np.where(np.isnan(diff), np.inf, diff))
        finite = np.abs(a[np.isfinite(a)])
        floor = max(near_zero * float(finite.max()) if finite.size else 0.0, float(np.finfo(np.float64).tiny))
        denominator = np.fmax(np.fmax(np.abs(a), np.abs(b)), floor)
        rel = np.where(diff == 0, 0.0, np.where(np.isinf(diff), np.inf, diff / denominator))
    at = np.unravel_index(int(np.argmax(rel)), rel.shape)
    where = tuple(int(i) for i in at) if rel[at] > 0 else ()  # (no element stands out when all agree)
    return float(diff.max()), float(rel[at]), where


def compare_backends(
    spec: NetworkSpec,
    data: Dataset,
    params: dict[str, np.ndarray] | None = None,
    batch: Sequence[int] | None = None,
    dtypes: Sequence[str] = ("float64", "float32"),
    reference: Pair = ("numpy", "float64"),
    *,
    backends: Sequence[str] = BACKEND_NAMES,
    near_zero: float = NEAR_ZERO,
    progress: Callable[[int, int, str], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> BackendComparison:
    """One forward and backward pass (no update) of the same batch from the same weights on every
    (backend, dtype) pair of ``backends`` × ``dtypes``, each compared with the ``reference`` pair.

    ``params``: the starting weights (default: the spec's initial weights). ``batch``: sample indices
    (default: all of ``data``). A pair whose backend is not available here (torch not installed) is
    skipped with the reason; an unavailable reference is an error. ``progress(done, total, label)`` is
    called before each run; ``cancelled()`` is asked between runs, and True raises ComparisonCancelled.
    """
    for dtype in (*dtypes, reference[1]):
        if dtype not in DTYPES:
            raise BpstudioError(f"unknown dtype '{dtype}' (known: {', '.join(DTYPES)})")
    for name in (*backends, reference[0]):
        if name not in BACKEND_NAMES:
            raise BpstudioError(f"unknown backend '{name}' (known: {', '.join(BACKEND_NAMES)})")
    if not np.isfinite(near_zero) or near_zero < 0:
        raise BpstudioError(f"near_zero must be a number ≥ 0, got {near_zero}")
    subset = _batch(data, batch)
    start = initial_params(spec) if params is None else params
    wanted = [
        reference,
        *((b, d) for b in dict.fromkeys(backends) for d in dict.fromkeys(dtypes) if (b, d) != reference),
    ]
    traces: dict[Pair, StepTrace] = {}
    skipped: list[tuple[str, str, str]] = []
    for done, (backend, dtype) in enumerate(wanted):
        if cancelled is not None and cancelled():
            raise ComparisonCancelled()
        if progress is not None:
            progress(done, len(wanted), f"{backend} {dtype}")
        try:
            session = Session(spec, subset, backend=backend, dtype=dtype, params=start)
        except (BackendError, ImportError) as exc:
            if (backend, dtype) == reference:
                raise BackendError(f"the reference {backend} {dtype} cannot run: {exc}") from None
            skipped.append((backend, dtype, str(exc)))
            continue
        traces[(backend, dtype)] = session.forward_backward().to_numpy()
    if progress is not None:
        progress(len(wanted), len(wanted), "done")
    pairs = tuple(p for p in wanted[1:] if p in traces)
    ref = traces[reference]
    layers = tuple(lid for lid in spec.order if lid in ref.layers)
    rows = [
        row
        for lid in layers
        for quantity in QUANTITIES
        for row in _rows(lid, quantity, ref, traces, pairs, spec.output, near_zero)
    ]
    losses = {pair: float(t.loss) for pair, t in traces.items() if t.loss is not None}
    return BackendComparison(reference, pairs, tuple(skipped), layers, tuple(rows), losses, len(subset), near_zero)


def _rows(
    layer: str,
    quantity: str,
    ref: StepTrace,
    traces: dict[Pair, StepTrace],
    pairs: Sequence[Pair],
    output: str,
    near_zero: float,
) -> list[DiffRow]:
    want = _quantity(ref, layer, quantity, output)
    if want is None:
        return []
    rows = []
    for backend, dtype in pairs:
        got = _quantity(traces[(backend, dtype)], layer, quantity, output)
        if got is None:
            raise BpstudioError(f"{backend} {dtype} recorded no {QUANTITY_LABELS[quantity]} for layer '{layer}'")
        max_abs, max_rel, at = difference(want, got, near_zero)
        rows.append(DiffRow(layer, quantity, backend, dtype, max_abs, max_rel, np.shape(want), at))
    return rows


def _quantity(trace: StepTrace, layer: str, quantity: str, output: str) -> np.ndarray | None:
    record = trace.layers[layer]
    if quantity == "loss":
        return None if layer != output or trace.loss is None else np.asarray(trace.loss, dtype=np.float64)
    if quantity.startswith("grad_") and quantity != "grad_pre":
        value = record.grads.get(quantity[len("grad_") :])
    else:
        value = getattr(record, quantity)
    return None if value is None else np.asarray(value, dtype=np.float64)


def _batch(data: Dataset, batch: Sequence[int] | None) -> Dataset:
    if batch is None:
        return data
    indices = np.asarray(list(batch))
    if indices.size == 0:
        raise DataError("the batch to compare is empty: give at least one sample")
    if not np.issubdtype(indices.dtype, np.integer) or indices.ndim != 1:
        raise DataError("the batch to compare must be a list of sample numbers")
    outside = indices[(indices < 0) | (indices >= len(data))]
    if outside.size:
        raise DataError(
            f"the batch to compare names sample {int(outside[0])}, but the data has samples 0 … {len(data) - 1}"
        )
    return data.subset(indices)


def _key(value: float) -> float:
    return -1.0 if np.isnan(value) else value


def _shape_text(shape: tuple[int, ...]) -> str:
    return "×".join(map(str, shape)) if shape else "scalar"


def _index_text(index: tuple[int, ...]) -> str:
    return "[" + ", ".join(map(str, index)) + "]" if index else ""
