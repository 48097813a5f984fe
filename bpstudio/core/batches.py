"""Which samples each training step uses: passes over the data, each in a shuffled order.

Pass k's order is drawn from a generator seeded with the run's seed and k alone, so the batches after
any point of a run follow from (passes done, position in the pass): a session saved mid-pass, or a run
undone and trained again, gets the same batches as the original.
"""

from __future__ import annotations

import numpy as np

from bpstudio.core.checks import is_count
from bpstudio.core.errors import SessionError


def check_batch_size(batch_size: int | None) -> int | None:
    if batch_size is None:
        return None
    if not is_count(batch_size, 1):
        raise SessionError(f"batch size must be a positive integer, got {batch_size!r}")
    return int(batch_size)


class BatchOrder:
    """The passes over ``n_samples`` samples in batches of ``batch_size`` (None: the whole set, in order)."""

    def __init__(self, seed: int, n_samples: int, batch_size: int | None = None):
        self.seed, self.n_samples = seed, n_samples
        self.batch_size = check_batch_size(batch_size)
        self.epoch = 0  # whole passes done
        self.position = 0  # samples of the current pass used so far
        self._order: np.ndarray | None = None  # the current pass's order, drawn when it is first needed

    @property
    def steps_per_epoch(self) -> int:
        return 1 if self.batch_size is None else -(-self.n_samples // self.batch_size)

    def next(self) -> np.ndarray | None:
        """The next batch's sample indices (None: the whole set, in order); :meth:`consume` moves on."""
        if self.batch_size is None or self.batch_size >= self.n_samples:
            return None
        if self._order is None:
            self._order = np.random.default_rng([self.seed, self.epoch]).permutation(self.n_samples)
        return self._order[self.position : self.position + self.batch_size]

    def consume(self, batch: np.ndarray | None) -> None:
        """A step trained on ``batch`` (as :meth:`next` gave it); a finished pass starts the next."""
        self.position += self.n_samples if batch is None else len(batch)
        if self.position >= self.n_samples:
            self.restart(self.epoch + 1)

    def restart(self, epoch: int = 0, position: int = 0) -> None:
        """Continue ``position`` samples into pass number ``epoch`` (checked)."""
        for name, value in (("epoch", epoch), ("position", position)):
            if not is_count(value):
                raise SessionError(f"{name} must be a non-negative integer, got {value!r}")
        if position >= max(self.n_samples, 1):
            raise SessionError(f"position {position} is past the end of the pass over {self.n_samples} samples")
        self.epoch, self.position, self._order = int(epoch), int(position), None

    def resize(self, batch_size: int | None = None, n_samples: int | None = None) -> None:
        """Other batches (or other data): the current pass starts again from its beginning."""
        self.batch_size = check_batch_size(batch_size)
        if n_samples is not None:
            self.n_samples = n_samples
        self.restart(self.epoch)
