"""Bounded stores that stay spread over a whole run: at most ``capacity`` slots, each standing for ``stride``
consecutive records, with the step of each slot's record in ``steps``. When the slots fill up, the store halves
them and the stride doubles, so a run of 10^6 steps costs the memory of its capacity.

:class:`StridedSlots` is the bookkeeping both of bpstudio's such stores share; what halving does to the slots'
content is each store's own: the plot history merges neighbouring points (their sums add, so every point stays
the exact mean of its records, :mod:`~bpstudio.core.record.history_series`), the layer statistics keep every
other histogram snapshot (:mod:`~bpstudio.core.record.layer_stats`).
"""

from __future__ import annotations

import numpy as np


class StridedSlots:
    """``used`` slots of ``capacity`` hold records; each stands for ``stride`` records, the last at ``steps[i]``."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.stride = 1
        self.used = 0
        self.steps = np.zeros(capacity, dtype=np.int64)

    @property
    def full(self) -> bool:
        return self.used == self.capacity

    def used_steps(self) -> np.ndarray:
        return self.steps[: self.used]

    def fill(self, step: int) -> int:
        """Take the next slot for the record at ``step``; its index."""
        index = self.used
        self.steps[index] = step
        self.used += 1
        return index

    def halve(self, first: int) -> slice:
        """Keep every other slot from ``first`` (0 or 1) at the front and double the stride; the slots kept, as
        a slice for the store to apply to its own arrays (``a[: kept] = a[taken]``)."""
        taken = slice(first, self.capacity if first == 0 else 2 * (self.capacity // 2), 2)
        kept = len(range(*taken.indices(self.capacity)))
        self.steps[:kept] = self.steps[taken]
        self.used, self.stride = kept, self.stride * 2
        return taken

    def truncate(self, step: int) -> int:
        """Forget the slots whose step is after ``step``; how many are left."""
        self.used = int(np.searchsorted(self.steps[: self.used], step, side="right"))
        return self.used

    def copy(self) -> StridedSlots:
        other = StridedSlots.__new__(StridedSlots)
        other.capacity, other.stride, other.used, other.steps = self.capacity, self.stride, self.used, self.steps.copy()
        return other
