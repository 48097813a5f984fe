"""Rewind and branch: the states a run passed through, to go back to any of them and train on from there.

The timeline holds :class:`~bpstudio.core.run_state.RunState` values: everything a session needs to
continue from a step (not the step's trace, which is recomputed exactly by running step k again from the
state after step k − 1).

The :class:`Timeline` keeps states within a memory bound the caller chooses. Over the bound, the oldest
states in memory move to files in a spill folder (when one is allowed, up to a disk bound); beyond that,
states are thinned: of two neighbours the later-recorded one goes, so the timeline keeps its full span
at a coarser grain. States form branches: going back to step k and recording a different step k + 1
starts a new branch from k, and the old continuation stays until discarded.
"""

from __future__ import annotations

import itertools
import json
import shutil
import tempfile
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from bpstudio.core.errors import SessionError
from bpstudio.core.run_state import RunState

DEFAULT_MEMORY_BOUND = 256 * 2**20  # bytes of states kept in memory
DEFAULT_DISK_BOUND = 2 * 2**30  # bytes of states spilled to files


@dataclass
class _Slot:
    """A recorded state: in memory, or in a file of the spill folder."""

    step: int
    state: RunState | None
    file: Path | None = None
    nbytes: int = 0


@dataclass
class Branch:
    """States recorded after ``fork_step`` of branch ``parent`` (None: the run's first branch)."""

    id: int
    parent: int | None
    fork_step: int
    slots: dict[int, _Slot] = field(default_factory=dict)

    @property
    def last_step(self) -> int:
        return max(self.slots, default=self.fork_step)


class Timeline:
    """States by branch and step, within ``memory_bound`` bytes in memory and ``disk_bound`` on disk.

    ``spill_dir``: where spilled states go (default: a new temporary folder, removed by :meth:`close`);
    ``spill=False`` keeps everything in memory and thins instead. Thread-safe: the training worker may
    record while the window reads."""

    def __init__(
        self,
        memory_bound: int = DEFAULT_MEMORY_BOUND,
        disk_bound: int = DEFAULT_DISK_BOUND,
        spill: bool = True,
        spill_dir: str | Path | None = None,
    ):
        if memory_bound <= 0 or disk_bound < 0:
            raise SessionError(f"timeline bounds must be positive, got memory {memory_bound}, disk {disk_bound}")
        self.memory_bound, self.disk_bound, self.spill = memory_bound, disk_bound if spill else 0, spill
        self._spill_dir = Path(spill_dir) if spill_dir is not None else None
        self._own_dir = False
        self._lock = threading.RLock()
        self._ids = itertools.count()
        self.branches: dict[int, Branch] = {}
        self.current = self._new_branch(None, -1).id
        self.cursor: int | None = None  # the step the run is at, when it went back to a recorded one
        self.memory_used = self.disk_used = 0

    # --- reading ----------------------------------------------------------------------------------

    def steps(self, branch: int | None = None) -> list[int]:
        """The steps that can be gone back to on ``branch`` (default: the current one), its ancestors'
        steps up to where it forked included."""
        with self._lock:
            return sorted(self._visible(self.current if branch is None else branch))

    def state(self, step: int, branch: int | None = None) -> RunState:
        """The state after ``step`` on ``branch``; SessionError if it was never recorded or thinned out."""
        with self._lock:
            slot = self._visible(self.current if branch is None else branch).get(step)
            if slot is None:
                raise SessionError(f"step {step} is not in the timeline (it has {self._describe()})")
            return slot.state if slot.state is not None else _read(slot)

    def nearest(self, step: int) -> int:
        """The recorded step of the current branch closest to ``step`` (at or before it if any)."""
        steps = self.steps()
        if not steps:
            raise SessionError("the timeline is empty: nothing has been recorded yet")
        before = [s for s in steps if s <= step]
        return before[-1] if before else steps[0]

    # --- recording and branching ------------------------------------------------------------------

    def record(self, state: RunState) -> None:
        """Add a state. One for a step the branch already has a state for or passed (the run went back, by
        :meth:`go_to`, an undo or a reset: :meth:`set_position`) starts a new branch from the step the run went
        back to (else from the step before); the old continuation stays. A state for the branch's last step
        itself, while the run is there (an edit there), replaces it."""
        with self._lock:
            branch = self.branches[self.current]
            visible = self._visible(self.current)
            last = max(visible, default=-1)
            there = self.cursor is None or self.cursor >= last  # the run is at the branch's last kept step
            if not there or (state.step <= last and not (state.step == last and there)):  # not what follows it
                cursor = self.cursor
                fork = cursor if cursor is not None and cursor <= state.step else state.step - 1
                branch = self._new_branch(self.current, fork)
                self.current = branch.id
            old = branch.slots.get(state.step)
            if old is not None:
                self._free(old)
            slot = _Slot(state.step, state, nbytes=state.nbytes)
            branch.slots[state.step] = slot
            self.memory_used += slot.nbytes
            self.cursor = None
            self._keep_within_bounds()

    def go_to(self, step: int) -> RunState:
        """Go back (or forward) to a recorded step of the current branch: the state to install."""
        with self._lock:
            state = self.state(step)
            self.cursor = step
            return state

    def set_position(self, step: int, branch: int | None = None) -> None:
        """The run is now at ``step`` (kept or not: an undo or a reset put it there) on ``branch`` (default: the
        current one; a branch discarded since leaves the current one as it is). What it records next
        branches off there if the branch has gone further."""
        with self._lock:
            if branch is not None and branch in self.branches:
                self.current = branch
            self.cursor = step

    def at_head(self) -> bool:
        """Whether the run is at the last kept step of its branch (not gone back)."""
        with self._lock:
            return self.cursor is None or self.cursor >= max(self._visible(self.current), default=-1)

    def switch(self, branch: int) -> None:
        with self._lock:
            if branch not in self.branches:
                raise SessionError(f"no branch {branch} (branches: {', '.join(map(str, self.branches))})")
            self.current, self.cursor = branch, None

    def discardable(self) -> list[int]:
        """The branches :meth:`discard` takes: all but the current one and those it grew from."""
        with self._lock:
            line = self._ancestry(self.current)
            return [b for b in self.branches if b not in line]

    def discard(self, branch: int) -> None:
        """Forget a branch and the branches grown from it (not the current one nor its ancestors)."""
        with self._lock:
            line = self._ancestry(self.current)
            if branch in line:
                raise SessionError(f"branch {branch} is the current one or leads to it: switch away first")
            for gone in [b for b in self.branches if branch in self._ancestry(b)]:
                for slot in self.branches.pop(gone).slots.values():
                    self._free(slot)

    def clear(self) -> None:
        """Forget everything (a new network was opened)."""
        with self._lock:
            for branch in self.branches.values():
                for slot in branch.slots.values():
                    self._free(slot)
            self.branches.clear()
            self._ids = itertools.count()
            self.current, self.cursor = self._new_branch(None, -1).id, None

    def close(self) -> None:
        """Remove the spill folder this timeline made (its files are gone with it)."""
        with self._lock:
            if self._own_dir and self._spill_dir is not None:
                shutil.rmtree(self._spill_dir, ignore_errors=True)
                self._spill_dir, self._own_dir = None, False

    # --- inside ------------------------------------------------------------------------------------

    def _new_branch(self, parent: int | None, fork_step: int) -> Branch:
        branch = Branch(next(self._ids), parent, fork_step)
        self.branches[branch.id] = branch
        return branch

    def _ancestry(self, branch: int) -> list[int]:
        line = [branch]
        while (parent := self.branches[line[-1]].parent) is not None:
            line.append(parent)
        return line

    def _visible(self, branch: int) -> dict[int, _Slot]:
        if branch not in self.branches:
            raise SessionError(f"no branch {branch}")
        seen: dict[int, _Slot] = {}
        limit = None
        for b in self._ancestry(branch):  # own states first, then each ancestor's up to the fork
            for step, slot in self.branches[b].slots.items():
                if (limit is None or step <= limit) and step not in seen:
                    seen[step] = slot
            limit = self.branches[b].fork_step if limit is None else min(limit, self.branches[b].fork_step)
        return seen

    def _keep_within_bounds(self) -> None:
        """Spill the oldest in-memory states; when the disk is full too, thin the oldest pairs."""
        while self.memory_used > self.memory_bound:
            in_memory = sorted(
                (s for b in self.branches.values() for s in b.slots.values() if s.state is not None),
                key=lambda s: s.step,
            )
            if len(in_memory) <= 1:
                return  # one state over the bound: kept (a bound smaller than one state keeps the latest)
            oldest = in_memory[0]
            if self.spill and self.disk_used + oldest.nbytes <= self.disk_bound:
                self._write(oldest)
            else:
                self._thin()

    def _thin(self) -> None:
        """Drop every other state of the branch with the most states (its first and last stay)."""
        branch = max(self.branches.values(), key=lambda b: len(b.slots))
        steps = sorted(branch.slots)
        for step in steps[1:-1:2]:
            self._free(branch.slots.pop(step))

    def _write(self, slot: _Slot) -> None:
        if self._spill_dir is None:
            self._spill_dir, self._own_dir = Path(tempfile.mkdtemp(prefix="bpstudio-timeline-")), True
        self._spill_dir.mkdir(parents=True, exist_ok=True)
        assert slot.state is not None
        path = self._spill_dir / f"state-{id(slot):x}-{slot.step}.npz"
        _save(slot.state, path)
        slot.file, slot.state = path, None
        self.memory_used -= slot.nbytes
        self.disk_used += slot.nbytes

    def _free(self, slot: _Slot) -> None:
        if slot.state is not None:
            self.memory_used -= slot.nbytes
        elif slot.file is not None:
            slot.file.unlink(missing_ok=True)
            self.disk_used -= slot.nbytes
        slot.state, slot.file = None, None

    def _describe(self) -> str:
        steps = self.steps()
        return f"steps {steps[0]}–{steps[-1]}, {len(steps)} kept" if steps else "no steps yet"


def _save(state: RunState, path: Path) -> None:
    """The state as one .npz: the network without its values as JSON text, the values as arrays (a million
    weights written out as JSON numbers took a second; as an array, milliseconds)."""
    from bpstudio.core.io import spec_io

    arrays: dict[str, Any] = {
        f"opt|{key}|{name}": np.asarray(a, dtype=np.float64)
        for key, slot in state.optimizer_state.get("buffers", {}).items()
        for name, a in slot.items()
    }
    layers = []
    for layer in state.spec.layers:
        for name in ("weight", "bias"):
            value = getattr(layer, name)
            if value is not None:
                arrays[f"param|{layer.id}.{name}"] = value
        layers.append(replace(layer, weight=None, bias=None))
    meta = np.array(spec_io.dumps(replace(state.spec, layers=tuple(layers))))
    np.savez(
        path,
        meta=meta,
        counters=np.array([state.step, state.epoch, state.position, int(state.optimizer_state.get("steps", 0))]),
        optimizer_counters=np.array(json.dumps(state.optimizer_state.get("counters", {}))),
        **arrays,
    )


def _read(slot: _Slot) -> RunState:
    from bpstudio.core.io import spec_io

    assert slot.file is not None
    with np.load(slot.file) as saved:
        step, epoch, position, opt_steps = (int(v) for v in saved["counters"])
        buffers: dict[str, dict[str, np.ndarray]] = {}
        params: dict[str, np.ndarray] = {}
        for name in saved.files:
            if name.startswith("opt|"):
                _, key, buffer = name.split("|")
                buffers.setdefault(key, {})[buffer] = saved[name]
            elif name.startswith("param|"):
                params[name.split("|", 1)[1]] = saved[name]
        spec = spec_io.loads(str(saved["meta"])).with_params(params)
        counters = json.loads(str(saved["optimizer_counters"])) if "optimizer_counters" in saved.files else {}
    return RunState(spec, step, epoch, position, {"steps": opt_steps, "buffers": buffers, "counters": counters})
