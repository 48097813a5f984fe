"""Activation statistics at the cost of a few tensor operations per step, whatever the number of modules.

Each watched module's forward hook copies the first samples of its output (up to :data:`SAMPLED` entries, as
float32 or float64) into a row of a buffer on the output's device, zero-padded to the row's length; a ReLU also
puts each unit's largest output over the whole batch in a row (the units whose largest output is 0 are dead),
a sigmoid or tanh its inputs hard-shrunk by the saturation threshold (the entries that are not 0 are saturated).
At the step, one sum, one L2 norm and one L2 norm of the signs per buffer give every row's sum, sum of squares
and count of entries that are not 0 — padding adds nothing to any of them.

A Python-level tensor operation costs microseconds whatever its size, so the hooks do one copy (a ReLU one more
reduction) per call: where a module's rows are and how its output is sampled is worked out once per output shape
(:class:`Plan`), and the row views are kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from bpstudio.watch.sample import Watched

SAMPLED = 4096  # an activation's statistics are taken over its first samples, up to this many entries
FIRST_ROWS = 8  # rows a new buffer has; it doubles when full


def first_samples(y: torch.Tensor) -> torch.Tensor:
    """The first entries of ``y`` along its first (batch) dimension, as many whole samples as fit in
    :data:`SAMPLED` entries (at least one sample), flattened: a view of ``y`` when ``y`` is contiguous."""
    if y.dim() == 0:
        return y.reshape(1)
    return y.narrow(0, 0, sample_count(y)).reshape(-1)


def sample_count(y: torch.Tensor) -> int:
    """How many whole samples of ``y`` (at least 1) fit in :data:`SAMPLED` entries, at most all of them."""
    return min(y.shape[0], max(1, SAMPLED * y.shape[0] // y.numel()))


@dataclass(frozen=True)
class Plan:
    """How one module's outputs of one shape, precision and device go into its rows: its output's first ``count``
    samples are copied into ``out`` (a view of its row shaped like them; ``count`` None: the whole output; 0: a
    sample is larger than the row, which takes the first :data:`SAMPLED` entries of the output), its extra
    figures into ``extra`` (a view of its extra row, or None; ``whole_extra``: it holds all of them in the
    output's precision on its device, so a reduction can write into it directly), and ``watched`` says where they
    sit for the step."""

    shape: torch.Size
    dtype: torch.dtype
    device: torch.device
    generation: int
    count: int | None
    out: torch.Tensor
    extra: torch.Tensor | None
    whole_extra: bool
    watched: Watched


class Buffers:
    """The rows the hooks fill, one buffer per (device, precision): rows keep their place from step to step, so
    a module's figures are found at the same (buffer, row) every time."""

    def __init__(self) -> None:
        self.buffers: list[torch.Tensor] = []
        self.signs: list[torch.Tensor] = []  # room for each buffer's signs (no allocation per step)
        self.used: list[int] = []  # rows handed out per buffer
        self.generation = 0  # counts the times a buffer grew: views of rows taken before are stale then
        self._index: dict[tuple[torch.device, torch.dtype], int] = {}
        self._rows: dict[tuple[str, str], tuple[int, int]] = {}
        self._in_use: list[tuple[torch.Tensor, torch.Tensor]] = []  # per buffer, its used rows and their signs

    def plan(self, name: str, kind: str | None, y: torch.Tensor, extra: torch.Tensor | None) -> Plan:
        """Where ``name``'s output ``y`` (and its ``extra`` figures, 1-D) go from now on; zeroes its rows."""
        b, r = self._row((name, "out"), y)
        eb, er = self._row((name, "extra"), extra) if extra is not None else (-1, -1)
        out = self.buffers[b][r]  # (both rows handed out first: a buffer that grows leaves old views stale)
        out.zero_()
        if not y.dim():
            count, entries, shaped = None, 1, out.narrow(0, 0, 1).view(())
        elif y.numel() // y.shape[0] > SAMPLED:  # one sample is more than the row holds: its first entries
            count, entries, shaped = 0, SAMPLED, out
        else:
            count = sample_count(y)
            entries = y.numel() // y.shape[0] * count
            shaped = out.narrow(0, 0, entries).view((count, *y.shape[1:]))
            count = None if count == y.shape[0] else count
        extra_view, watched = None, Watched(name, b, r, entries)
        if extra is not None:
            size = min(extra.numel(), SAMPLED)
            if eb == b:
                row = self.buffers[eb][er]
                row.zero_()
                extra_view = row.narrow(0, 0, size)
                watched = Watched(name, b, r, entries, er, size, kind)
        whole_extra = (
            extra_view is not None
            and extra is not None
            and extra.numel() <= SAMPLED
            and (extra_view.dtype, extra_view.device) == (y.dtype, y.device)
        )
        return Plan(y.shape, y.dtype, y.device, self.generation, count, shaped, extra_view, whole_extra, watched)

    def reductions(self) -> list[torch.Tensor]:
        """Per buffer, its rows' sums, L2 norms and L2 norms of their signs, one after the other (1-D)."""
        out = []
        for rows, signs in self._in_use:
            out += [rows.sum(dim=1), torch.linalg.vector_norm(rows, dim=1)]
            out.append(torch.linalg.vector_norm(torch.sign(rows, out=signs), dim=1))
        return out

    def _row(self, key: tuple[str, str], values: torch.Tensor) -> tuple[int, int]:
        where = self._rows.get(key)
        if where is None:
            where = self._rows[key] = self._new_row(values)
        return where

    def _new_row(self, values: torch.Tensor) -> tuple[int, int]:
        dtype = torch.float64 if values.dtype == torch.float64 else torch.float32
        key = (values.device, dtype)
        b = self._index.get(key)
        if b is None:
            b = self._index[key] = len(self.buffers)
            self.buffers.append(torch.zeros(FIRST_ROWS, SAMPLED, dtype=dtype, device=values.device))
            self.signs.append(torch.empty_like(self.buffers[b]))
            self.used.append(0)
        if self.used[b] == self.buffers[b].shape[0]:
            grown = torch.zeros(2 * self.used[b], SAMPLED, dtype=dtype, device=values.device)
            grown[: self.used[b]] = self.buffers[b]
            self.buffers[b], self.signs[b] = grown, torch.empty_like(grown)
            self.generation += 1
        self.used[b] += 1
        self._in_use = [(buf[:used], signs[:used]) for buf, signs, used in zip(self.buffers, self.signs, self.used)]
        return b, self.used[b] - 1
