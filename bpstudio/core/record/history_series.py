"""The bounded storage behind :class:`~bpstudio.core.record.history.TrainingHistory`: one series of points.

A series keeps at most ``capacity`` points. A point summarises ``stride`` consecutive records: per
channel the sum of the values and their count, and the step of its last record. When the points fill
up, neighbouring pairs merge (sums and counts add) and the stride doubles, so 10^6 steps cost the memory
of 10^4. Sums, not means, make merging exact: point i is always the mean over records
``i·stride … (i+1)·stride − 1``. The newest records, too few to fill a point, form a partial point
shown last, so the latest step is always on screen.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from bpstudio.core.checks import is_real, is_whole
from bpstudio.core.errors import SessionError
from bpstudio.core.limits import MAX_COUNT, brief, quoted
from bpstudio.core.record.strided import StridedSlots


class Series:
    """Points of ``channels`` values each; full points in arrays, the partial one in Python lists."""

    def __init__(self, channels: int, capacity: int):
        self.slots = StridedSlots(capacity)  # the complete points: each holds exactly `stride` records
        self.records = 0
        self.last_step: int | None = None
        self.sums = np.zeros((channels, capacity))
        self.counts = np.zeros((channels, capacity), dtype=np.int64)
        self._clear_partial()

    def _clear_partial(self) -> None:
        self.p_records, self.p_step = 0, 0
        self.p_sums, self.p_counts = [0.0] * self.sums.shape[0], [0] * self.sums.shape[0]

    def add(self, step: int, values: Sequence[float]) -> None:
        sums, counts = self.p_sums, self.p_counts
        for i, v in enumerate(values):
            if math.isfinite(v):
                sums[i] += v
                counts[i] += 1
        self.p_step = self.last_step = step
        self.p_records += 1
        self.records += 1
        if self.p_records == self.slots.stride:
            self._flush()

    def truncate(self, step: int) -> bool:
        """Forget the records after ``step`` (a point holding any goes whole); True if any were dropped."""
        before = self.records
        if self.p_records and self.p_step > step:
            self._clear_partial()
        if not self.p_records:
            self.slots.truncate(step)
        self.records = self.slots.used * self.slots.stride + self.p_records
        steps = self.step_array()
        self.last_step = int(steps[-1]) if len(steps) else None
        return self.records != before

    def _flush(self) -> None:
        k = self.slots.fill(self.p_step)
        self.sums[:, k], self.counts[:, k] = self.p_sums, self.p_counts
        self._clear_partial()
        if self.slots.full:
            self._compact()

    def _compact(self) -> None:
        """Merge neighbouring pairs and double the stride; an odd point out becomes the partial one."""
        slots = self.slots
        cap, stride, half = slots.capacity, slots.stride, slots.capacity // 2
        if cap % 2:
            self.p_records, self.p_step = stride, int(slots.steps[cap - 1])
            self.p_sums, self.p_counts = self.sums[:, cap - 1].tolist(), self.counts[:, cap - 1].tolist()
        slots.halve(1)  # (a merged point's step is its later half's)
        self.sums[:, :half] = self.sums[:, 0 : 2 * half : 2] + self.sums[:, 1 : 2 * half : 2]
        self.counts[:, :half] = self.counts[:, 0 : 2 * half : 2] + self.counts[:, 1 : 2 * half : 2]

    def shift(self, offset: int) -> None:
        """Renumber every point's step by ``offset`` (reading a file that counted steps differently)."""
        self.slots.steps[: self.slots.used] += offset
        if self.p_records:
            self.p_step += offset
        if self.last_step is not None:
            self.last_step += offset

    def copy(self) -> Series:
        other = Series.__new__(Series)
        other.__dict__.update(self.__dict__)
        other.slots, other.sums, other.counts = self.slots.copy(), self.sums.copy(), self.counts.copy()
        other.p_sums, other.p_counts = list(self.p_sums), list(self.p_counts)
        return other

    def step_array(self) -> np.ndarray:
        done = self.slots.used_steps()
        return np.append(done, np.int64(self.p_step)) if self.p_records else done.copy()

    def totals(self, rows: slice | int = slice(None)) -> tuple[np.ndarray, np.ndarray]:
        """Sums and counts of the chosen channels, one column per point (the partial one last)."""
        used = self.slots.used
        sums, counts = self.sums[rows, :used], self.counts[rows, :used]
        if self.p_records:
            p_sums, p_counts = np.asarray(self.p_sums)[rows], np.asarray(self.p_counts, dtype=np.int64)[rows]
            sums = np.concatenate([sums, np.expand_dims(p_sums, -1)], axis=-1)
            counts = np.concatenate([counts, np.expand_dims(p_counts, -1)], axis=-1)
        return sums, counts

    def means(self, rows: slice | int) -> np.ndarray:
        return mean(*self.totals(rows))

    def to_dict(self, names: Sequence[str]) -> dict[str, Any]:
        sums, counts = self.totals()
        return {
            "stride": self.slots.stride,
            "partial_records": self.p_records,
            "steps": [int(s) for s in self.step_array()],
            "channels": {
                name: {"sum": [encode(v) for v in sums[i]], "count": [int(c) for c in counts[i]]}
                for i, name in enumerate(names)
            },
        }

    @classmethod
    def from_dict(cls, d: Any, names: Sequence[str], capacity: int, where: str) -> Series:
        d = read_field(d, dict, where)
        stride = read_int(d.get("stride"), f"{where}.stride", 1)
        partial = read_int(d.get("partial_records"), f"{where}.partial_records", 0)
        if partial >= stride:
            raise bad_field(f"{where}.partial_records", f"{partial} is not below the stride {stride}")
        steps = [read_int(s, f"{where}.steps", None) for s in read_field(d.get("steps"), list, f"{where}.steps")]
        n, complete = len(steps), len(steps) - (1 if partial else 0)
        if complete < 0 or complete >= capacity:
            raise bad_field(
                f"{where}.steps", f"{n} points do not fit capacity {capacity} with {partial} partial records"
            )
        if any(b <= a for a, b in zip(steps, steps[1:])):
            raise bad_field(f"{where}.steps", "steps must increase")
        channels = read_field(d.get("channels"), dict, f"{where}.channels")
        sums, counts = np.zeros((len(names), n)), np.zeros((len(names), n), dtype=np.int64)
        for i, name in enumerate(names):
            at = f"{where}.channels.{name}"
            channel = read_field(channels.get(name), dict, at)
            sum_i = [decode(v, f"{at}.sum") for v in read_field(channel.get("sum"), list, f"{at}.sum")]
            count_i = [read_int(c, f"{at}.count", 0) for c in read_field(channel.get("count"), list, f"{at}.count")]
            if len(sum_i) != n or len(count_i) != n:
                raise bad_field(at, f"needs {n} sums and counts, got {len(sum_i)} and {len(count_i)}")
            if any(c > (stride if k < complete else partial) for k, c in enumerate(count_i)):
                raise bad_field(f"{at}.count", "a count exceeds the records of its point")
            sums[i], counts[i] = sum_i, count_i
        series = cls(len(names), capacity)
        series.slots.stride, series.slots.used, series.records = stride, complete, complete * stride + partial
        series.last_step = steps[-1] if steps else None
        series.slots.steps[:complete], series.sums[:, :complete], series.counts[:, :complete] = (
            steps[:complete],
            sums[:, :complete],
            counts[:, :complete],
        )
        if partial:
            series.p_records, series.p_step = partial, steps[-1]
            series.p_sums, series.p_counts = sums[:, -1].tolist(), counts[:, -1].tolist()
        return series


def mean(sums: np.ndarray, counts: np.ndarray) -> np.ndarray:
    out = np.full(np.shape(sums), np.nan)
    np.divide(sums, counts, out=out, where=counts > 0)
    return out


def encode(value: float) -> float | str:
    return float(value) if math.isfinite(value) else str(float(value))  # "nan", "inf", "-inf"


def decode(value: Any, where: str) -> float:
    if isinstance(value, str) and value in ("nan", "inf", "-inf"):
        return float(value)
    if not is_real(value):
        raise bad_field(where, f"expected a number, got {brief(value)}")
    try:
        return float(value)
    except OverflowError:
        raise bad_field(where, f"{brief(value)} is too large for a float64") from None


def read_int(value: Any, where: str, minimum: int | None) -> int:
    if not is_whole(value) or (minimum is not None and value < minimum):
        raise bad_field(where, f"expected an integer{'' if minimum is None else f' ≥ {minimum}'}, got {brief(value)}")
    if abs(value) > MAX_COUNT:
        raise bad_field(where, f"{brief(value)} is beyond the largest count kept (2**62)")
    return value


def read_field(value: Any, kind: type, where: str) -> Any:
    if not isinstance(value, kind):
        raise bad_field(where, f"expected {'an object' if kind is dict else 'a list'}, got {type(value).__name__}")
    return value


def bad_field(where: str, message: str) -> SessionError:
    return SessionError(f"history field {quoted(where)}: {message}")
