"""Activation statistics at the cost of a few tensor operations per step, whatever the number of modules.

Each watched module's forward hook copies the first samples of its output (up to :data:`SAMPLED` entries, as
float32 or float64) into a row of a buffer on the output's device, zero-padded to the row's length; a ReLU also
puts each unit's largest output over the whole batch in a row (the units whose largest output is 0 are dead),
a sigmoid or tanh its inputs hard-shrunk by the saturation threshold (the entries that are not 0 are saturated).
At the step, one sum, one L2 norm and one L2 norm of the signs per buffer give every row's sum, sum of squares
and count of entries that are not 0 — padding adds nothing to any of them.
"""

from __future__ import annotations

import torch

SAMPLED = 4096  # an activation's statistics are taken over its first samples, up to this many entries
FIRST_ROWS = 8  # rows a new buffer has; it doubles when full


def first_samples(y: torch.Tensor) -> torch.Tensor:
    """The first entries of ``y`` along its first (batch) dimension, as many whole samples as fit in
    :data:`SAMPLED` entries (at least one sample), flattened: a view of ``y`` when ``y`` is contiguous."""
    if y.dim() == 0:
        return y.reshape(1)
    count = max(1, SAMPLED * y.shape[0] // y.numel())
    return (y.narrow(0, 0, count) if count < y.shape[0] else y).reshape(-1)


class Buffers:
    """The rows the hooks fill, one buffer per (device, precision): rows keep their place from step to step, so
    a module's figures are found at the same (buffer, row) every time."""

    def __init__(self) -> None:
        self.buffers: list[torch.Tensor] = []
        self.signs: list[torch.Tensor] = []  # room for each buffer's signs (no allocation per step)
        self.used: list[int] = []  # rows handed out per buffer
        self.lengths: list[list[int]] = []  # per buffer and row, how many leading entries the last put wrote
        self._index: dict[tuple[torch.device, torch.dtype], int] = {}
        self._rows: dict[tuple[str, str], tuple[int, int]] = {}

    def put(self, key: tuple[str, str], values: torch.Tensor) -> tuple[int, int, int]:
        """Copy the first :data:`SAMPLED` of ``values`` (1-D) into ``key``'s row: (buffer, row, entries written)."""
        n = values.numel()
        if n > SAMPLED:
            values, n = values.narrow(0, 0, SAMPLED), SAMPLED
        where = self._rows.get(key)
        if where is None:
            where = self._rows[key] = self._new_row(values)
        b, r = where
        before, row = self.lengths[b][r], self.buffers[b][r]
        (row if n == SAMPLED else row.narrow(0, 0, n)).copy_(values)
        if before > n:
            row.narrow(0, n, before - n).zero_()
        self.lengths[b][r] = n
        return b, r, n

    def reductions(self) -> list[torch.Tensor]:
        """Per buffer, its rows' sums, L2 norms and L2 norms of their signs, one after the other (1-D)."""
        out = []
        for buffer, signs, used in zip(self.buffers, self.signs, self.used):
            rows = buffer[:used]
            out += [rows.sum(dim=1), torch.linalg.vector_norm(rows, dim=1)]
            out.append(torch.linalg.vector_norm(torch.sign(rows, out=signs[:used]), dim=1))
        return out

    def _new_row(self, values: torch.Tensor) -> tuple[int, int]:
        dtype = torch.float64 if values.dtype == torch.float64 else torch.float32
        key = (values.device, dtype)
        b = self._index.get(key)
        if b is None:
            b = self._index[key] = len(self.buffers)
            self.buffers.append(torch.zeros(FIRST_ROWS, SAMPLED, dtype=dtype, device=values.device))
            self.signs.append(torch.empty_like(self.buffers[b]))
            self.used.append(0)
            self.lengths.append([])
        if self.used[b] == self.buffers[b].shape[0]:
            grown = torch.zeros(2 * self.used[b], SAMPLED, dtype=dtype, device=values.device)
            grown[: self.used[b]] = self.buffers[b]
            self.buffers[b], self.signs[b] = grown, torch.empty_like(grown)
        self.used[b] += 1
        self.lengths[b].append(0)
        return b, self.used[b] - 1
