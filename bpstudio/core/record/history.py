"""The record of a training run that the plots draw, bounded in memory.

Each series (train, test) keeps at most ``capacity`` points; beyond that, neighbouring points merge
exactly and each point covers more steps (:mod:`bpstudio.core.record.history_series`), so 10^6 steps cost the
memory of 10^4 and the latest step is always on screen.

Losses and accuracies are arithmetic means. Gradient norms are drawn on a log scale, so their points are
geometric means (the channel holds log10 of the norm). Values that are not finite (a norm before its
backward ran, an overflowed loss) and norms ≤ 0 are left out; a point with no values left reads NaN.
"""

from __future__ import annotations

import csv
import io
import math
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from bpstudio.core.checks import is_real, is_whole
from bpstudio.core.errors import SessionError
from bpstudio.core.limits import MAX_HISTORY_CAPACITY, MAX_LAYERS, brief, quoted
from bpstudio.core.normalization import NORM_TYPES
from bpstudio.core.record.history_series import Series, bad_field, decode, encode, mean, read_field, read_int
from bpstudio.core.spec import LayerSpec, NetworkSpec

FORMAT = "bpstudio-history"
VERSION = 2  # 1: steps were counted from 0 (the step after k steps was k); now from 1, as everywhere
DEFAULT_CAPACITY = 4096
VANISHING = 1e-3  # first/last gradient ratios outside [VANISHING, EXPLODING] are a problem
EXPLODING = 1e3
STALLED = 1e-6  # a last-layer gradient norm below this: no layer learns any more, whatever the ratio
_HEALTH = ((VANISHING, "vanishing"), (0.1, "shrinking"), (10.0, "healthy"), (EXPLODING, "growing"))


def plotted_layers(spec: NetworkSpec) -> list[str]:
    """The layers whose weight gradients a history follows: the dense ones in use, first to last, and the norm
    layers among them that have a scale γ (the norm of ∂E/∂γ: how strongly the loss pulls on their scaling)."""
    return [lid for lid in spec.active_order() if (layer := spec.layer(lid)).type == "dense" or _scaled_norm(layer)]


def _scaled_norm(layer: LayerSpec) -> bool:
    return layer.type in NORM_TYPES and layer.affine


TAIL = 100  # recorded steps at the end of a run whose gradient norms the first/last ratio takes


def tail_norm(norms: np.ndarray) -> float:
    """A gradient norm robust to the batches' noise: the geometric mean of the last :data:`TAIL` norms, those of
    exactly 0 or not finite left out (NaN when none is left)."""
    tail = norms[-TAIL:]
    tail = tail[np.isfinite(tail) & (tail > 0)]
    return float(10 ** np.mean(np.log10(tail))) if tail.size else math.nan


def gradient_health(ratio: float, last_norm: float = math.inf) -> str:
    """A word for a first/last-layer gradient ratio: vanishing, shrinking, healthy, growing, exploding; or
    stalled when the last layer's own gradient norm is below :data:`STALLED`."""
    return "stalled" if last_norm < STALLED else next((w for bound, w in _HEALTH if ratio < bound), "exploding")


class TrainingHistory:
    """Loss, accuracy and per-layer gradient norms of a run, plus test evaluations. ``version`` goes up
    on every change, so a plot redraws only when there is something new.

    One thread may record while others read: they read a :meth:`snapshot`, which is taken whole."""

    def __init__(self, layer_ids: Sequence[str] = (), capacity: int = DEFAULT_CAPACITY):
        self.capacity: int = _integer(capacity, "history capacity", 1)
        if self.capacity > MAX_HISTORY_CAPACITY:
            raise SessionError(
                f"history capacity {self.capacity:,} is more than the most kept ({MAX_HISTORY_CAPACITY:,})"
            )
        self.version: int = 0
        self._lock = threading.RLock()  # changes and snapshots are whole
        self.clear(layer_ids)

    @classmethod
    def for_network(cls, spec: NetworkSpec, capacity: int = DEFAULT_CAPACITY) -> TrainingHistory:
        """An empty history following the network's dense layers (those with weights), first to last."""
        return cls(plotted_layers(spec), capacity)

    def snapshot(self) -> TrainingHistory:
        """A copy that stays as it is, safe to take while another thread records into this history."""
        with self._lock:
            other = TrainingHistory.__new__(TrainingHistory)
            other.__dict__.update(self.__dict__)
            other._train, other._test, other._latest = self._train.copy(), self._test.copy(), dict(self._latest)
            other._lock = threading.RLock()
            return other

    def __getstate__(self) -> dict[str, Any]:  # pickled and copied without its lock
        state = self.__dict__.copy()
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()

    def clear(self, layer_ids: Sequence[str] | None = None) -> None:
        """Forget every record; with ``layer_ids``, record those layers from now on."""
        with self._lock:
            ids = self.layer_ids if layer_ids is None else _check_ids(layer_ids)
            self.layer_ids: tuple[str, ...] = ids
            self._train = Series(2 + len(ids), self.capacity)  # loss, accuracy, log10 norm per layer
            self._test = Series(2, self.capacity)
            self._latest: dict[str, float] = {}
            self.version += 1

    def rename_layers(self, renames: Mapping[str, str]) -> None:
        """Follow a rename of layers (``{old id: new id}``): their curves go on under the new names."""
        with self._lock:
            self.layer_ids = _check_ids([renames.get(lid, lid) for lid in self.layer_ids])
            self._latest = {renames.get(lid, lid): v for lid, v in self._latest.items()}
            self.version += 1

    def record(self, step: int, loss: float, grad_norms: Mapping[str, float], accuracy: float | None = None) -> None:
        """Add one training step; layers missing from ``grad_norms`` count as not yet computed. A step not
        after the last means the run was rewound (training undone): records from ``step`` on are dropped."""
        with self._lock:
            step = _integer(step, "training step")
            loss, acc = _real(loss, "loss"), _accuracy(accuracy)
            norms = {str(k): _real(v, f"gradient norm of layer {quoted(k)}") for k, v in grad_norms.items()}
            if not self.layer_ids and not self._train.records and norms:  # the first record names the layers
                self.layer_ids = tuple(norms)
                self._train = Series(2 + len(norms), self.capacity)
            if not set(norms).issubset(self.layer_ids):
                raise SessionError(
                    f"gradient norm for unknown layer {quoted(min(set(norms) - set(self.layer_ids)))}; "
                    f"the history records {', '.join(self.layer_ids) or 'no layers'}"
                )
            if self._train.last_step is not None and step <= self._train.last_step:
                self.truncate(step - 1)
            self._latest = {lid: norms.get(lid, math.nan) for lid in self.layer_ids}
            logs = [math.log10(g) if g > 0 and math.isfinite(g) else math.nan for g in self._latest.values()]
            self._train.add(step, [loss, acc, *logs])
            self.version += 1

    def record_test(self, step: int, loss: float, accuracy: float | None = None) -> None:
        """Add one evaluation on the test set made at training step ``step`` (later ones are forgotten)."""
        with self._lock:
            step, values = _integer(step, "test step"), [_real(loss, "test loss"), _accuracy(accuracy)]
            self._test.truncate(step - 1)
            self._test.add(step, values)
            self.version += 1

    def truncate(self, step: int) -> None:
        """Forget what was recorded after ``step`` (training undone); points straddling it go whole."""
        with self._lock:
            if self._train.truncate(_integer(step, "step")):
                self._latest = {}
            self._test.truncate(step)
            self.version += 1

    def __len__(self) -> int:
        """Training steps recorded (not points stored)."""
        return self._train.records

    @property
    def stride(self) -> int:
        """Training records per stored point."""
        return self._train.slots.stride

    def steps(self) -> np.ndarray:
        return self._train.step_array()

    def losses(self) -> np.ndarray:
        return self._train.means(0)

    def accuracies(self) -> np.ndarray:
        return self._train.means(1)

    def test_steps(self) -> np.ndarray:
        return self._test.step_array()

    def test_losses(self) -> np.ndarray:
        return self._test.means(0)

    def test_accuracies(self) -> np.ndarray:
        return self._test.means(1)

    def grad_norms(self, layer_id: str) -> np.ndarray:
        """The layer's weight-gradient norm per point (geometric mean over the point's steps)."""
        if layer_id not in self.layer_ids:
            raise SessionError(f"no gradient history for layer {quoted(layer_id)}")
        return np.power(10.0, self._train.means(2 + self.layer_ids.index(layer_id)))

    def grad_matrix(self, max_columns: int = 512) -> tuple[np.ndarray, tuple[str, ...], np.ndarray]:
        """Steps, layer ids and log10 gradient norms (layers × columns) for a heatmap; NaN where none.

        Beyond ``max_columns`` points, neighbours are pooled exactly (from their sums); a column's step
        is its last step."""
        _integer(max_columns, "max_columns", 1)
        steps = self.steps()
        sums, counts = self._train.totals(slice(2, None))
        n = len(steps)
        if n > max_columns:
            group = -(-n // max_columns)  # points per column
            starts = np.arange(0, n, group)
            sums = np.add.reduceat(sums, starts, axis=1)
            counts = np.add.reduceat(counts, starts, axis=1)
            steps = steps[np.minimum(starts + group, n) - 1]
        return steps, self.layer_ids, mean(sums, counts)

    def latest_grad_norm(self, layer_id: str) -> float:
        """The layer's gradient norm at the last recorded step (NaN if none)."""
        return self._latest.get(layer_id, math.nan)

    def first_last_ratio(self) -> float | None:
        """The first layer's gradient norm over the last layer's, each :func:`tail_norm` (over the last
        :data:`TAIL` recorded steps: one batch's noise does not move it), as the vanishing-gradients lesson and
        ``bpstudio runs`` give it: ≪ 1 means gradients vanish."""
        with self._lock:
            if len(self.layer_ids) < 2 or not self._latest:
                return None
            first = tail_norm(self.grad_norms(self.layer_ids[0]))
            last = tail_norm(self.grad_norms(self.layer_ids[-1]))
            if math.isnan(first) and self._latest.get(self.layer_ids[0]) == 0.0:
                first = 0.0  # (a norm of exactly 0 has no point on the plots' log scale, but it is a ratio of 0)
        ok = math.isfinite(first) and math.isfinite(last) and last > 0
        return first / last if ok else None

    def tail_grad_norm(self, layer_id: str) -> float:
        """:func:`tail_norm` of the layer's recorded gradient norms."""
        return tail_norm(self.grad_norms(layer_id))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data (non-finite numbers as the strings "nan", "inf", "-inf")."""
        with self._lock:
            return {
                "format": FORMAT,
                "version": VERSION,
                "capacity": self.capacity,
                "layer_ids": list(self.layer_ids),
                "latest_grad_norms": {k: encode(v) for k, v in self._latest.items()},
                "train": self._train.to_dict(self._train_channels()),
                "test": self._test.to_dict(["loss", "accuracy"]),
            }

    @classmethod
    def from_dict(cls, d: Any) -> TrainingHistory:
        """Read what :meth:`to_dict` wrote; a bad field raises SessionError naming it."""
        d = read_field(d, dict, "history")
        if d.get("format") != FORMAT:
            raise bad_field("format", f"expected '{FORMAT}', got {brief(d.get('format'))}")
        version = d.get("version")
        if version not in (1, VERSION) or not is_whole(version):
            raise bad_field("version", f"version {brief(version)} is not supported")
        capacity = read_int(d.get("capacity"), "capacity", 1)
        ids = read_field(d.get("layer_ids"), list, "layer_ids")
        try:
            history = cls(_check_ids(ids), capacity)
        except SessionError as e:
            raise bad_field("layer_ids", str(e)) from None
        history._train = Series.from_dict(d.get("train"), history._train_channels(), capacity, "train")
        history._test = Series.from_dict(d.get("test"), ["loss", "accuracy"], capacity, "test")
        latest = read_field(d.get("latest_grad_norms"), dict, "latest_grad_norms")
        if latest and set(latest) != set(history.layer_ids):
            raise bad_field("latest_grad_norms", "needs one value per layer in 'layer_ids'")
        history._latest = {lid: decode(v, f"latest_grad_norms.{lid}") for lid, v in latest.items()}
        if version == 1:  # its steps counted from 0: step k was then k - 1
            history._train.shift(1)
            history._test.shift(1)
        return history

    def _train_channels(self) -> list[str]:
        return ["loss", "accuracy", *(f"log10_grad_norm:{lid}" for lid in self.layer_ids)]

    def to_csv(self, kind: str) -> str:
        """``"loss"``: step, train_loss, train_accuracy, test_loss, test_accuracy (empty where none);
        ``"gradients"``: step and each layer's weight-gradient norm."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        if kind == "loss":
            rows: dict[int, list[str]] = {}
            for offset, steps, columns in (
                (0, self.steps(), (self.losses(), self.accuracies())),
                (2, self.test_steps(), (self.test_losses(), self.test_accuracies())),
            ):
                for k, step in enumerate(steps):
                    row = rows.setdefault(int(step), [""] * 4)
                    row[offset : offset + 2] = [_cell(c[k]) for c in columns]
            writer.writerow(["step", "train_loss", "train_accuracy", "test_loss", "test_accuracy"])
            writer.writerows([step, *rows[step]] for step in sorted(rows))
        elif kind == "gradients":
            norms = [self.grad_norms(lid) for lid in self.layer_ids]
            writer.writerow(["step", *self.layer_ids])
            writer.writerows([int(s), *(_cell(n[k]) for n in norms)] for k, s in enumerate(self.steps()))
        else:
            raise SessionError(f"CSV kind must be 'loss' or 'gradients', got {brief(kind)}")
        return out.getvalue()


def _check_ids(layer_ids: Sequence[str]) -> tuple[str, ...]:
    ids = (layer_ids,) if isinstance(layer_ids, str) else tuple(layer_ids)
    for lid in ids:
        if not isinstance(lid, str) or not lid or isinstance(layer_ids, str):
            raise SessionError(f"layer ids must be a sequence of non-empty names, got {brief(layer_ids)}")
    if len(ids) > MAX_LAYERS:
        raise SessionError(f"{len(ids):,} layer ids is more than a network may have ({MAX_LAYERS:,})")
    if len(set(ids)) != len(ids):
        seen: set[str] = set()
        twice = next(i for i in ids if i in seen or seen.add(i))  # type: ignore[func-returns-value]
        raise SessionError(f"layer id {brief(twice)} appears twice")
    return ids


def _integer(value: Any, what: str, minimum: int | None = None) -> int:
    if type(value) is int and minimum is None:
        return value
    if not is_whole(value) or (minimum is not None and value < minimum):
        raise SessionError(f"{what} must be an integer{'' if minimum is None else f' ≥ {minimum}'}, got {brief(value)}")
    return int(value)


def _real(value: Any, what: str) -> float:
    if type(value) is float:
        return value
    if not is_real(value):
        raise SessionError(f"{what} must be a number, got {brief(value)}")
    return float(value)


def _accuracy(value: Any) -> float:
    acc = math.nan if value is None else _real(value, "accuracy")
    if not 0.0 <= acc <= 1.0 and math.isfinite(acc):
        raise SessionError(f"accuracy must be a fraction between 0 and 1, got {brief(acc)}")
    return acc


def _cell(value: float) -> str:
    return repr(float(value)) if math.isfinite(value) else ""
