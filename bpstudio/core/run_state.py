"""The state of a run: everything a session needs to continue from a step, captured and restored in one place.

A :class:`RunState` holds the network with its weights and its batchnorm layers' running statistics written in,
the step and epoch counts, the position in the batch order and the optimizer's state. Undo snapshots, the
timeline, session files and forked copies all hold one; :meth:`bpstudio.core.session.Session.state` captures it
and :meth:`~bpstudio.core.session.Session.from_state` / :meth:`~bpstudio.core.session.Session.restore` bring it
back, so a new kind of state is added here and there only (the running statistics travel in the spec's layers).

It does not hold the step's trace: the batch order is deterministic (:mod:`bpstudio.core.batches`), so the
trace of step k is recomputed exactly by running step k again from the state after step k − 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bpstudio.core.spec import NetworkSpec
from bpstudio.core.spec_rules import VALUE_FIELDS


def fresh_optimizer_state() -> dict[str, Any]:
    """The state of an optimizer that has made no step (its ``counters``, absent here, are all 0)."""
    return {"steps": 0, "buffers": {}}


@dataclass(frozen=True)
class RunState:
    """A run after ``step`` steps and ``epoch`` whole passes, ``position`` samples into the next pass.
    ``spec`` carries the weights; the optimizer state's arrays are float64 NumPy."""

    spec: NetworkSpec
    step: int = 0
    epoch: int = 0
    position: int = 0
    optimizer_state: dict[str, Any] = field(default_factory=fresh_optimizer_state)

    @classmethod
    def start_of(cls, spec: NetworkSpec) -> RunState:
        """``spec``'s weights before any step, with a fresh optimizer."""
        return cls(spec)

    @property
    def progress(self) -> tuple[int, int, int]:
        """(step, epoch, position): where the run is in its batch order."""
        return self.step, self.epoch, self.position

    @property
    def nbytes(self) -> int:
        """About how much memory the state's arrays take (the timeline counts what it holds itself)."""
        arrays = [getattr(layer, name) for layer in self.spec.layers for name in VALUE_FIELDS]
        arrays += [a for slot in self.optimizer_state.get("buffers", {}).values() for a in slot.values()]
        return sum(int(np.asarray(a).nbytes) for a in arrays if a is not None) + 512  # (+ the small fields)
