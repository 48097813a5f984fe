"""Inside the layers: per-layer histograms over training steps, and the share of dead or saturated units.

What is recorded for each computed layer (:data:`QUANTITIES`): ``"pre"``, the pre-activation z
(batch × units); ``"activation"``, the layer's output; ``"weight"``, its weight matrix after the step;
``"gradient"``, the step's weight gradient ∂L/∂W. A norm layer's weight is its scale γ (one per unit; its z is
γ·x̂ + β). Add, concat, features and dropout layers (and norm layers without γ) have no weights, so only the first
two.

Binning. Weights, pre-activations and activations: ``bins`` equal bins (a power of two) over a range fitted
to the histogram's own values:
[0, R], [−R, 0] or [−R, R] (all values ≥ 0, all ≤ 0, or both signs), R the smallest power of two above the
largest |value| (at least 2^MIN_EXP). Bin widths are then powers of two and 0 is always an edge, so any
histogram re-bins exactly onto a wider range of this kind: each of its bins lies inside one wider bin
(:func:`rebin`). :meth:`LayerStats.heatmap` puts a quantity's snapshots on the range covering them all;
no count is split or guessed. Gradients (:data:`LOG_QUANTITIES`) span decades as training goes, so they are
binned by sign and log|value| on one global grid, edges at 2^(i/PER_OCTAVE) for whole i: per sign
``bins``/2 − 1 bins up to the first edge above the largest |value|, and one bin from 0 to the lowest edge
(:func:`log_histogram`); merging them onto a higher top only pours low bins into that one. Non-finite values
are not binned but counted apart.

Memory. At most ``capacity`` snapshots are kept, one every ``stride`` records; when they fill up, every
other one goes and the stride doubles, so the kept ones stay evenly spread over the run (TensorBoard keeps
a random sample of steps; this keeps an even one). The latest record is always shown: its histograms are
made when read. The fraction curves hold every record, merged exactly as TrainingHistory merges its points.

Dead and saturated units (:meth:`LayerStats.fractions`):
- relu layers: the share of units that are *dead* in a step, their activation 0 (z ≤ 0) for every sample
  of the batch, so no gradient reaches their weights. Measured per batch: on a small batch a live unit can
  look dead for a step. leaky_relu, elu, gelu and softplus never have a zero derivative over a whole range,
  so they are never dead and get no curve.
- sigmoid and tanh layers: the share of the batch's (sample, unit) entries that are *saturated*: |z| beyond
  the point where the derivative is below ``saturation`` (1 %) of its maximum, found from the engine's own
  derivatives (:func:`saturation_threshold`: sigmoid 5.99, tanh 2.99 at 1 %).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from bpstudio.core import activations
from bpstudio.core.checks import is_count, is_whole
from bpstudio.core.errors import SessionError
from bpstudio.core.normalization import NORM_TYPES
from bpstudio.core.record.history_series import Series
from bpstudio.core.record.strided import StridedSlots
from bpstudio.core.session import Session
from bpstudio.core.spec import LayerSpec, NetworkSpec
from bpstudio.core.trace import StepTrace

QUANTITIES = ("pre", "activation", "weight", "gradient")
DEFAULT_BINS = 64
DEFAULT_CAPACITY = 128
SATURATION = 0.01  # a derivative below this share of its maximum counts as saturated
MIN_EXP = -60  # the narrowest range is [−2^MIN_EXP, 2^MIN_EXP] (all values 0, or nearly)
LOG_QUANTITIES = ("gradient",)
PER_OCTAVE = 2  # log-binned quantities: bins per doubling of |value|
FRACTION_KINDS = {"relu": "dead", "sigmoid": "saturated", "tanh": "saturated"}
Progress = Callable[[int, int], bool]  # (done, total) -> go on?


def saturation_threshold(activation: str, ratio: float = SATURATION) -> float:
    """The |z| beyond which the activation's derivative is below ``ratio`` × its maximum (at z = 0), by
    bisection on the engine's derivative (sigmoid and tanh: even, largest at 0, falling with |z|)."""
    if activation not in ("sigmoid", "tanh"):
        raise SessionError(f"saturation is defined for sigmoid and tanh, not {activation!r}")
    if not 0.0 < ratio < 1.0:
        raise SessionError(f"saturation ratio must be between 0 and 1, got {ratio!r}")
    forward, backward = activations.FUNCTIONS[activation]

    def slope(z: float) -> float:
        a = np.array([z])
        return float(backward(a, forward(a), np.ones(1))[0])

    target, lo, hi = ratio * slope(0.0), 0.0, 64.0
    while hi - lo > 1e-12:
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if slope(mid) > target else (lo, mid)
    return 0.5 * (lo + hi)


def histogram(values: Any, bins: int = DEFAULT_BINS) -> tuple[float, float, np.ndarray, int]:
    """(lo, hi, counts, non-finite count) of ``values`` on the module's binning; no values: NaN range."""
    v = np.ravel(np.asarray(values, dtype=np.float64))
    finite = v[np.isfinite(v)]
    counts = np.zeros(bins, dtype=np.int64)
    if finite.size == 0:
        return math.nan, math.nan, counts, int(v.size)
    low, high = float(finite.min()), float(finite.max())
    largest = max(abs(low), abs(high))
    exponent = max(math.frexp(largest)[1] if largest > 0 else MIN_EXP, MIN_EXP)  # 2^exponent > every |value|
    size = math.ldexp(1.0, exponent)
    lo, hi = (-size if low < 0 else 0.0), (size if high > 0 or low >= 0 else 0.0)
    index = np.floor((finite - lo) * (bins / (hi - lo))).astype(np.int64)
    counts += np.bincount(np.clip(index, 0, bins - 1), minlength=bins)
    return lo, hi, counts, int(v.size - finite.size)


def log_histogram(values: Any, bins: int = DEFAULT_BINS) -> tuple[float, float, np.ndarray, int]:
    """(−top, top, counts, non-finite count) of ``values`` binned by sign and log|value| (module docstring):
    counts[:bins//2] are the negative values, most negative first, counts[bins//2:] zero and the positive."""
    v = np.ravel(np.asarray(values, dtype=np.float64))
    finite = v[np.isfinite(v)]
    half = bins // 2
    counts = np.zeros(bins, dtype=np.int64)
    if finite.size == 0:
        return math.nan, math.nan, counts, int(v.size)
    size = np.abs(finite)
    largest = float(size.max())
    top = max(math.floor(PER_OCTAVE * math.log2(largest)) + 1 if largest > 0 else 0, PER_OCTAVE * MIN_EXP)
    with np.errstate(divide="ignore"):
        at = np.floor(PER_OCTAVE * np.log2(size))  # e_at ≤ |v| < e_(at+1); −inf for 0
    k = np.clip(at - (top - half), 0, half - 1).astype(np.int64)  # 0: below the lowest edge
    counts += np.bincount(np.where(finite < 0, half - 1 - k, half + k), minlength=bins)
    edge = 2.0 ** (top / PER_OCTAVE)
    return -edge, edge, counts, int(v.size - finite.size)


def _log_top(edge: float) -> int:
    return round(PER_OCTAVE * math.log2(edge))


def log_rebin(counts: np.ndarray, top: float, new_top: float) -> np.ndarray:
    """Log-binned counts whose largest edge is ``top`` moved onto the grid ending at ``new_top`` ≥ ``top``."""
    half = counts.shape[-1] // 2
    if not math.isfinite(top):
        return np.zeros(counts.shape[-1], dtype=np.int64)
    target = np.maximum(np.arange(half) - (_log_top(new_top) - _log_top(top)), 0)
    negative = np.bincount(target, weights=counts[:half][::-1], minlength=half)[::-1]
    positive = np.bincount(target, weights=counts[half:], minlength=half)
    return np.concatenate([negative, positive]).astype(np.int64)


def log_edges(top: float, bins: int) -> np.ndarray:
    """The ``bins`` + 1 edges of log binning up to ``top``: −top … −lowest, 0, lowest … top."""
    half = bins // 2
    edges = 2.0 ** ((_log_top(top) - half + 1 + np.arange(half)) / PER_OCTAVE)
    return np.concatenate([-edges[::-1], [0.0], edges])


def common_range(los: np.ndarray, his: np.ndarray) -> tuple[float, float]:
    """The range of the binning's kind that covers every given one (NaN ranges, i.e. empty, are skipped)."""
    ok = np.isfinite(los)
    if not ok.any():
        return math.nan, math.nan
    size = float(max(np.max(np.abs(los[ok])), np.max(his[ok])))
    return (-size if (los[ok] < 0).any() else 0.0), (size if (his[ok] > 0).any() else 0.0)


def rebin(counts: np.ndarray, lo: float, hi: float, new_lo: float, new_hi: float) -> np.ndarray:
    """Counts over [lo, hi] moved onto the same number of bins over the wider [new_lo, new_hi]; exact for
    ranges of this module's kind, since each old bin then lies inside one new bin."""
    bins = counts.shape[-1]
    if not math.isfinite(lo):
        return np.zeros(bins, dtype=np.int64)
    left = lo + np.arange(bins) * ((hi - lo) / bins)
    index = np.clip(np.floor((left - new_lo) * (bins / (new_hi - new_lo))).astype(np.int64), 0, bins - 1)
    return np.bincount(index, weights=counts, minlength=bins).astype(np.int64)


@dataclass(frozen=True)
class Heatmap:
    """One quantity of one layer over the run: ``counts[i]`` is the histogram at ``steps[i]`` over the bins
    between ``edges`` (len bins + 1); ``nonfinite[i]`` the values that were NaN or infinite."""

    steps: np.ndarray
    edges: np.ndarray
    counts: np.ndarray
    nonfinite: np.ndarray
    scale: str = "linear"  # or "symlog": the edges grow by 2^(1/PER_OCTAVE) away from 0

    def shares(self) -> np.ndarray:
        """Each histogram as shares of its finite values (rows sum to 1; an empty row stays 0)."""
        totals = self.counts.sum(axis=1, keepdims=True)
        return np.divide(self.counts, totals, out=np.zeros(self.counts.shape), where=totals > 0)


def _weighted(layer: LayerSpec) -> bool:
    """Whether the layer has a weight to histogram: a dense layer's matrix, a norm layer's γ."""
    return layer.type == "dense" or layer.type in NORM_TYPES and layer.affine


class LayerStats:
    """Histograms and dead/saturated fractions of a network's layers over a run; ``version`` goes up on
    every change. One thread may record while others read a :meth:`snapshot` (taken whole)."""

    def __init__(
        self,
        spec: NetworkSpec,
        bins: int = DEFAULT_BINS,
        capacity: int = DEFAULT_CAPACITY,
        saturation: float = SATURATION,
    ):
        if not is_count(bins, 2) or bins & (bins - 1):
            raise SessionError(f"histogram bins must be a power of two ≥ 2, got {bins!r}")
        if not is_count(capacity, 2):
            raise SessionError(f"histogram capacity must be an integer ≥ 2, got {capacity!r}")
        self.bins: int = int(bins)
        self.capacity: int = int(capacity)
        layers = [spec.layer(lid) for lid in spec.active_order() if lid != spec.input_id]
        self.layer_ids: tuple[str, ...] = tuple(layer.id for layer in layers)
        self.scales: frozenset[str] = frozenset(l.id for l in layers if l.type in NORM_TYPES)  # weight: γ
        self.tracks: tuple[tuple[str, str], ...] = tuple(
            (layer.id, q) for layer in layers for q in QUANTITIES if _weighted(layer) or q in QUANTITIES[:2]
        )
        self.fraction_kinds: dict[str, str] = {
            layer.id: FRACTION_KINDS[layer.activation] for layer in layers if layer.activation in FRACTION_KINDS
        }
        self.thresholds: dict[str, float] = {
            lid: saturation_threshold(spec.layer(lid).activation, saturation)
            for lid, kind in self.fraction_kinds.items()
            if kind == "saturated"
        }
        self.version: int = 0
        self._lock: threading.RLock = threading.RLock()
        self.clear()

    def clear(self) -> None:
        """Forget every record."""
        with self._lock:
            n, k = self.capacity, len(self.tracks)
            self.records = 0
            self._slots = StridedSlots(n)  # a snapshot every `stride` records
            self._counts = np.zeros((n, k, self.bins), dtype=np.int64)
            self._ranges = np.full((n, k, 2), math.nan)
            self._nonfinite = np.zeros((n, k), dtype=np.int64)
            self._fractions = Series(len(self.fraction_kinds), n)
            self._latest: tuple[int, StepTrace, Mapping[str, Any] | None] | None = None
            self._latest_hist: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
            self.version += 1

    def snapshot(self) -> LayerStats:
        """A copy that stays as it is, safe to take while another thread records."""
        with self._lock:
            other = LayerStats.__new__(LayerStats)
            other.__dict__.update(self.__dict__)
            other._slots, other._counts = self._slots.copy(), self._counts.copy()
            other._ranges, other._nonfinite = self._ranges.copy(), self._nonfinite.copy()
            other._fractions = self._fractions.copy()
            other._lock = threading.RLock()
            return other

    # --- recording ------------------------------------------------------------------------------

    def record(self, step: int, trace: StepTrace, params: Mapping[str, Any] | None = None) -> None:
        """Add the step ``step`` whose trace is ``trace``; ``params`` are the weights to histogram (default:
        the trace's weights after its update, else before). A step not after the last means the run was
        rewound: records from ``step`` on are dropped first. Keeps a reference to ``trace`` (the latest
        one only), which must not be written into afterwards."""
        if not is_whole(step):
            raise SessionError(f"step must be an integer, got {step!r}")
        step = int(step)
        with self._lock:
            last = self._last_step()
            if last is not None and step <= last:
                self.truncate(step - 1)
            self._fractions.add(step, self._unit_fractions(trace))
            if self.records % self._slots.stride == 0:
                at = self._slots.fill(step)
                self._ranges[at], self._counts[at], self._nonfinite[at] = self._histograms(trace, params)
                if self._slots.full:
                    self._thin()
            self.records += 1
            self._latest, self._latest_hist = (step, trace, params), None
            self.version += 1

    def truncate(self, step: int) -> None:
        """Forget the records after ``step`` (training undone)."""
        with self._lock:
            kept = self._slots.truncate(step)
            self.records = kept * self._slots.stride  # the next record starts a snapshot
            self._fractions.truncate(step)
            if self._latest is not None and self._latest[0] > step:
                self._latest, self._latest_hist = None, None
            self.version += 1

    @property
    def stride(self) -> int:
        """Records per kept snapshot."""
        return self._slots.stride

    def _thin(self) -> None:
        """Keep the snapshots of records 0, 2·stride, 4·stride…; later ones come every 2·stride records."""
        taken = self._slots.halve(0)
        kept = self._slots.used
        for a in (self._counts, self._ranges, self._nonfinite):
            a[:kept] = a[taken]

    def _last_step(self) -> int | None:
        return (
            None
            if self._latest is None and not self._slots.used
            else (self._latest[0] if self._latest is not None else int(self._slots.steps[self._slots.used - 1]))
        )

    def _values(self, trace: StepTrace, params: Mapping[str, Any] | None, lid: str, quantity: str) -> Any:
        rec = trace.layers.get(lid)
        if quantity == "weight":
            source = params if params is not None else (trace.params_after or trace.params_before)
            value = source.get(f"{lid}.weight")
        elif rec is None:
            return None
        else:
            value = rec.pre if quantity == "pre" else rec.out if quantity == "activation" else rec.grads.get("weight")
        return None if value is None else trace.numpy(value)

    def _histograms(
        self, trace: StepTrace, params: Mapping[str, Any] | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        ranges = np.full((len(self.tracks), 2), math.nan)
        counts = np.zeros((len(self.tracks), self.bins), dtype=np.int64)
        nonfinite = np.zeros(len(self.tracks), dtype=np.int64)
        for i, (lid, quantity) in enumerate(self.tracks):
            values = self._values(trace, params, lid, quantity)
            if values is not None:
                binned = log_histogram if quantity in LOG_QUANTITIES else histogram
                lo, hi, counts[i], nonfinite[i] = binned(values, self.bins)
                ranges[i] = lo, hi
        return ranges, counts, nonfinite

    def _unit_fractions(self, trace: StepTrace) -> list[float]:
        out = []
        for lid, kind in self.fraction_kinds.items():
            rec = trace.layers.get(lid)
            if rec is None:
                out.append(math.nan)
                continue
            z = np.asarray(trace.numpy(rec.pre))
            if kind == "dead":  # relu(z) = 0 for every sample of the batch
                out.append(float(np.mean(np.all(z <= 0, axis=0))))
            else:
                out.append(float(np.mean(np.abs(z) > self.thresholds[lid])))
        return out

    # --- reading --------------------------------------------------------------------------------

    def __len__(self) -> int:
        """Records made (not snapshots kept)."""
        return self._fractions.records

    def quantities(self, layer_id: str) -> tuple[str, ...]:
        """The quantities recorded for the layer."""
        found = tuple(q for lid, q in self.tracks if lid == layer_id)
        if not found:
            raise SessionError(f"no histograms for layer '{layer_id}'; recorded layers: {', '.join(self.layer_ids)}")
        return found

    def heatmap(self, layer_id: str, quantity: str) -> Heatmap:
        """The quantity's histograms at the kept snapshots and the latest record, on one common range."""
        if quantity not in self.quantities(layer_id):
            raise SessionError(
                f"layer '{layer_id}' has no {quantity!r} histograms; it has {', '.join(self.quantities(layer_id))}"
            )
        track = self.tracks.index((layer_id, quantity))
        with self._lock:
            kept = self._slots.used
            steps, ranges = self._slots.used_steps(), self._ranges[:kept, track]
            counts, nonfinite = self._counts[:kept, track], self._nonfinite[:kept, track]
            latest = self._latest
            if latest is not None and (not kept or latest[0] > steps[-1]):
                if self._latest_hist is None:
                    self._latest_hist = self._histograms(latest[1], latest[2])
                steps = np.append(steps, latest[0])
                ranges = np.vstack([ranges, self._latest_hist[0][track]])
                counts = np.vstack([counts, self._latest_hist[1][track]])
                nonfinite = np.append(nonfinite, self._latest_hist[2][track])
        if quantity in LOG_QUANTITIES:
            known = ranges[np.isfinite(ranges[:, 1]), 1]
            top = float(known.max()) if known.size else 1.0
            rows = [log_rebin(c, r[1], top) for c, r in zip(counts, ranges)]
            edges, scale = log_edges(top, self.bins), "symlog"
        else:
            lo, hi = common_range(ranges[:, 0], ranges[:, 1])
            lo, hi = (lo, hi) if math.isfinite(lo) else (-1.0, 1.0)
            rows = [rebin(c, r[0], r[1], lo, hi) for c, r in zip(counts, ranges)]
            edges, scale = np.linspace(lo, hi, self.bins + 1), "linear"
        matrix = np.array(rows, dtype=np.int64).reshape(len(steps), self.bins)
        return Heatmap(steps.copy(), edges, matrix, nonfinite.copy(), scale)

    def fraction_steps(self) -> np.ndarray:
        """The steps of the fraction curves' points (a point averages ``stride`` records)."""
        return self._fractions.step_array()

    def fractions(self, layer_id: str) -> np.ndarray:
        """The layer's dead (relu) or saturated (sigmoid, tanh) share per point; see the module docstring."""
        if layer_id not in self.fraction_kinds:
            raise SessionError(
                f"layer '{layer_id}' has no dead or saturated units to count (only relu, sigmoid and tanh layers do)"
            )
        return self._fractions.means(list(self.fraction_kinds).index(layer_id))

    def latest_fractions(self) -> dict[str, float]:
        """Each counted layer's share at the latest point (NaN before any record)."""
        return {
            lid: float(f[-1]) if len(f) else math.nan
            for lid, f in ((lid, self.fractions(lid)) for lid in self.fraction_kinds)
        }

    def memory_bytes(self) -> int:
        """Bytes held by the stored snapshots and curves (fixed by bins and capacity)."""
        arrays = (
            self._slots.steps,
            self._counts,
            self._ranges,
            self._nonfinite,
            self._fractions.slots.steps,
            self._fractions.sums,
            self._fractions.counts,
        )
        return sum(a.nbytes for a in arrays)


def record_run(session: Session, steps: int, stats: LayerStats, progress: Progress | None = None) -> bool:
    """Train ``session`` (a copy, not the live one) for ``steps`` steps, recording each into ``stats``.
    ``progress(done, steps)`` is called after each; if it returns False the run stops. True if all ran."""
    if not is_count(steps, 1):
        raise SessionError(f"steps must be a positive integer, got {steps!r}")
    for done in range(1, int(steps) + 1):
        trace = session.step()
        stats.record(trace.step, trace)
        if progress is not None and not progress(done, int(steps)):
            return False
    return True
