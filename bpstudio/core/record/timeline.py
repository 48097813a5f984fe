"""Rewind and branch: the states a run passed through, to go back to any of them and train on from there.

The timeline holds :class:`~bpstudio.core.run_state.RunState` values: everything a session needs to
continue from a step (not the step's trace, which is recomputed exactly by running step k again from the
state after step k − 1).

The :class:`Timeline` keeps states within a memory bound the caller chooses, counting every byte it holds
(states are packed: :mod:`~bpstudio.core.record.packed_state`). Over the bound, the states recorded longest
ago move to files in a spill folder (when one is allowed, up to a disk bound counted in the blocks the files
take); beyond that, states are thinned: of two neighbours the later-recorded one goes, so the timeline keeps
its full span at a coarser grain. Recording takes the same time however many states are held (but for a
thinning now and then, which halves a branch). States form branches: going back to step k and recording a
different step k + 1 starts a new branch from k, and the old continuation stays until discarded.

The spill folder goes when the timeline is closed, or at the latest when the program exits; one left by a
program killed outright is removed by the next run (:func:`remove_stale_spills`, at the app's start and at a
timeline's first spill).
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import sys
import tempfile
import threading
import weakref
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bpstudio.core.errors import SessionError
from bpstudio.core.io import leftovers
from bpstudio.core.record.packed_state import Skeleton, pack, skeleton_of, unpack
from bpstudio.core.run_state import RunState

DEFAULT_MEMORY_BOUND = 256 * 2**20  # bytes of states kept in memory
DEFAULT_DISK_BOUND = 2 * 2**30  # bytes of states spilled to files
SPILL_PREFIX = "bpstudio-timeline-"  # a spill folder's name: this, the owning process's id, a random part
_UNOWNED_SPILL = re.compile(re.escape(SPILL_PREFIX) + r"[a-z0-9_]{8}")  # an earlier version's, with no owner


@dataclass(eq=False, slots=True)
class _Slot:
    """A recorded state: its values in memory (``values``) or in file number ``file`` of the spill folder,
    ``disk`` bytes there; the rest of it in the shared ``skeleton`` and the counters."""

    step: int
    skeleton: Skeleton
    values: np.ndarray | None
    epoch: int
    position: int
    opt_steps: int
    k: int = 0  # the how-manieth state recorded on its branch (thinning keeps a grid of these)
    file: int | None = None
    disk: int = 0


# What a state holds in memory beyond its values (see packed_state): the slot object, the four counters, its
# entry in its branch's table, and while its values are in memory their array header and its entry in the
# table of states in memory. A table's entry is ~24 bytes plus its index, in a table kept ⅓–⅔ full: ~48.
_TABLE_ENTRY = 48
_BIG = 2**40
SLOT_BYTES = sys.getsizeof(_Slot(_BIG, None, None, _BIG, _BIG, _BIG, _BIG)) + 4 * sys.getsizeof(_BIG) + _TABLE_ENTRY  # type: ignore[arg-type]
IN_MEMORY_BYTES = sys.getsizeof(np.empty(0)) + _TABLE_ENTRY
_BLOCK = 4096  # a file takes whole blocks of the disk


@dataclass
class Branch:
    """States recorded after ``fork_step`` of branch ``parent`` (None: the run's first branch)."""

    id: int
    parent: int | None
    fork_step: int
    slots: dict[int, _Slot] = field(default_factory=dict)
    grain: int = 1  # states kept: every grain-th recorded on the branch (and its latest); thinning doubles it
    recorded: int = 0

    @property
    def last_step(self) -> int:
        """(Its slots are in step order: a branch only ever grows at its end.)"""
        return next(reversed(self.slots), self.fork_step)


class Timeline:
    """States by branch and step, within ``memory_bound`` bytes in memory and ``disk_bound`` on disk.

    ``spill_dir``: where spilled states go (default: a new temporary folder, removed by :meth:`close`);
    ``spill=False`` keeps everything in memory and thins instead. ``max_states``: thin beyond this many
    states (None: only the bounds decide), so that a long run's timeline levels off at a coarser grain rather
    than growing until the bound. Thread-safe: the training worker may record while the window reads."""

    def __init__(
        self,
        memory_bound: int = DEFAULT_MEMORY_BOUND,
        disk_bound: int = DEFAULT_DISK_BOUND,
        spill: bool = True,
        spill_dir: str | Path | None = None,
        max_states: int | None = None,
    ):
        if memory_bound <= 0 or disk_bound < 0:
            raise SessionError(f"timeline bounds must be positive, got memory {memory_bound}, disk {disk_bound}")
        if max_states is not None and max_states < 2:
            raise SessionError(f"a timeline keeps at least 2 states (its first and last), got {max_states}")
        self.max_states = max_states
        self.held = 0  # states kept, in memory and on disk, on every branch
        self.memory_bound, self.disk_bound, self.spill = memory_bound, disk_bound if spill else 0, spill
        self._spill_dir = Path(spill_dir) if spill_dir is not None else None
        self._own_dir: weakref.finalize | None = None  # removes the folder this timeline made, at the latest at exit
        self._lock = threading.RLock()
        self._ids = itertools.count()
        self._files = itertools.count()
        self.branches: dict[int, Branch] = {}
        self._in_memory: dict[_Slot, None] = {}  # the states whose values are in memory, oldest recorded first
        self._skeletons: dict[Skeleton, int] = {}  # each skeleton held and how many states use it
        self._skeleton: Skeleton | None = None  # the latest one, which the next state most likely shares
        self.current = self._new_branch(None, -1).id
        self.cursor: int | None = None  # the step the run is at, when it went back to a recorded one
        self.memory_used = self.disk_used = 0  # bytes held in memory (all of it, not only values) and on disk

    # --- reading ----------------------------------------------------------------------------------

    def steps(self, branch: int | None = None) -> list[int]:
        """The steps that can be gone back to on ``branch`` (default: the current one), its ancestors'
        steps up to where it forked included."""
        with self._lock:
            return sorted(self._visible(self.current if branch is None else branch))

    def state(self, step: int, branch: int | None = None) -> RunState:
        """The state after ``step`` on ``branch``; SessionError if it was never recorded or thinned out."""
        with self._lock:
            slot = self._find(self.current if branch is None else branch, step)
            if slot is None:
                raise SessionError(f"step {step} is not in the timeline (it has {self._describe()})")
            values = slot.values if slot.values is not None else self._read(slot)
            return unpack(slot.skeleton, values, slot.step, slot.epoch, slot.position, slot.opt_steps)

    def nearest(self, step: int) -> int:
        """The recorded step of the current branch closest to ``step`` (at or before it if any)."""
        steps = self.steps()
        if not steps:
            raise SessionError("the timeline is empty: nothing has been recorded yet")
        before = [s for s in steps if s <= step]
        return before[-1] if before else steps[0]

    def held_bytes(self, state: RunState, in_memory: int = 1, spilled: int = 0) -> int:
        """The memory the timeline holds for ``in_memory`` states like ``state`` with their values in memory and
        ``spilled`` more with theirs on disk, the skeleton they share included (what the memory bound counts)."""
        skeleton = skeleton_of(state, self._skeleton)
        values = skeleton.size * np.dtype(np.float64).itemsize
        return skeleton.nbytes + (in_memory + spilled) * SLOT_BYTES + in_memory * (values + IN_MEMORY_BYTES)

    # --- recording and branching ------------------------------------------------------------------

    def record(self, state: RunState) -> int:
        """Add a state; returns the bytes it holds in memory (the skeleton it shares with others aside).

        One for a step the branch already has a state for or passed (the run went back, by :meth:`go_to`, an
        undo or a reset: :meth:`set_position`) starts a new branch from the step the run went back to (else
        from the step before); the old continuation stays. A state for the branch's last step itself, while
        the run is there (an edit there), replaces it."""
        with self._lock:  # (time and work independent of the states held, but for an occasional thinning)
            branch = self.branches[self.current]
            last = self._last_visible(self.current)
            there = self.cursor is None or self.cursor >= last  # the run is at the branch's last kept step
            if not there or (state.step <= last and not (state.step == last and there)):  # not what follows it
                cursor = self.cursor
                fork = cursor if cursor is not None and cursor <= state.step else state.step - 1
                branch = self._new_branch(self.current, fork)
                self.current = branch.id
            old = branch.slots.get(state.step)
            if old is not None:  # (an edit at the last step: it takes that state's place)
                k = old.k
                self._free(old)
            else:
                k, branch.recorded = branch.recorded, branch.recorded + 1
                self._drop_latest_off_grid(branch)
            self._skeleton = skeleton = skeleton_of(state, self._skeleton)
            opt_steps = int(state.optimizer_state.get("steps", 0))
            slot = _Slot(state.step, skeleton, pack(state, skeleton), state.epoch, state.position, opt_steps, k)
            branch.slots[state.step] = slot
            self._hold(slot)
            self.cursor = None
            self._keep_within_bounds()
            return SLOT_BYTES + IN_MEMORY_BYTES + skeleton.size * np.dtype(np.float64).itemsize

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
            return self.cursor is None or self.cursor >= self._last_visible(self.current)

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
            self._skeleton = None
            self._ids = itertools.count()
            self.current, self.cursor = self._new_branch(None, -1).id, None

    def close(self) -> None:
        """Remove the spill folder this timeline made (its files are gone with it)."""
        with self._lock:
            if self._own_dir is not None:
                self._own_dir()  # (rmtree)
                self._spill_dir, self._own_dir = None, None

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

    def _find(self, branch: int, step: int) -> _Slot | None:
        """The slot ``branch`` shows for ``step``: its own, or an ancestor's up to where the line forked."""
        if branch not in self.branches:
            raise SessionError(f"no branch {branch}")
        limit: int | None = None
        at: int | None = branch
        while at is not None:
            b = self.branches[at]
            if limit is None or step <= limit:
                slot = b.slots.get(step)
                if slot is not None:
                    return slot
            limit = b.fork_step if limit is None else min(limit, b.fork_step)
            at = b.parent
        return None

    def _last_visible(self, branch: int) -> int:
        """The last step ``branch`` shows (-1: none): its own last one, or when it has none yet, the last of
        its ancestors' up to where it forked (a branch's own steps all come after its fork)."""
        limit: int | None = None
        at: int | None = branch
        while at is not None:
            b = self.branches[at]
            for step in reversed(b.slots):
                if limit is None or step <= limit:
                    return step
            limit = b.fork_step if limit is None else min(limit, b.fork_step)
            at = b.parent
        return -1

    def _keep_within_bounds(self) -> None:
        """Over ``max_states``, thin the branch with the most states. Over the memory bound, spill the
        oldest-recorded states in memory (the latest stays); when the disk is full too, or what the spilled ones
        still hold in memory is over the bound, thin."""
        while self.max_states is not None and self.held > self.max_states:
            if not self._thin():
                break
        while self.memory_used > self.memory_bound:
            if len(self._in_memory) > 1:
                oldest = next(iter(self._in_memory))
                assert oldest.values is not None
                if self.spill and self.disk_used + _disk_bytes(oldest.values.nbytes) <= self.disk_bound:
                    self._write(oldest)
                    continue
            elif self.memory_used - self._latest_bytes() <= self.memory_bound:
                return  # only the latest state is over the bound: kept (thinning the others would not help)
            if not self._thin():
                return

    def _latest_bytes(self) -> int:
        """What the values of the one state left in memory take (0: none is)."""
        latest = next(iter(self._in_memory), None)
        return 0 if latest is None or latest.values is None else latest.values.nbytes + IN_MEMORY_BYTES

    def _thin(self) -> bool:
        """Halve the branch with the most states: keep every other one of the grid it keeps, and from now on
        record on the coarser grid, so the states stay evenly spread over the run (its first and last stay);
        False if there was none to drop."""
        branch = max(self.branches.values(), key=lambda b: len(b.slots))
        if len(branch.slots) <= 2:
            return False
        branch.grain *= 2
        first, last = next(iter(branch.slots.values())), next(reversed(branch.slots.values()))
        for step, slot in list(branch.slots.items()):
            if slot.k % branch.grain and slot is not first and slot is not last:
                self._free(branch.slots.pop(step))
        return True

    def _drop_latest_off_grid(self, branch: Branch) -> None:
        """A state kept off the branch's grid only because it was the latest goes when another comes."""
        if len(branch.slots) > 1:
            latest = next(reversed(branch.slots.values()))
            if latest.k % branch.grain:
                self._free(branch.slots.pop(latest.step))

    def _hold(self, slot: _Slot) -> None:
        uses = self._skeletons.get(slot.skeleton, 0)
        if not uses:
            self.memory_used += slot.skeleton.nbytes
        self._skeletons[slot.skeleton] = uses + 1
        self.held += 1
        self.memory_used += SLOT_BYTES
        if slot.values is not None:
            self._in_memory[slot] = None
            self.memory_used += slot.values.nbytes + IN_MEMORY_BYTES

    def _free(self, slot: _Slot) -> None:
        if slot.values is not None:
            del self._in_memory[slot]
            self.memory_used -= slot.values.nbytes + IN_MEMORY_BYTES
        elif slot.file is not None:
            self._path(slot.file).unlink(missing_ok=True)
            self.disk_used -= slot.disk
        slot.values, slot.file, slot.disk = None, None, 0
        self.held -= 1
        self.memory_used -= SLOT_BYTES
        uses = self._skeletons.pop(slot.skeleton) - 1
        if uses:
            self._skeletons[slot.skeleton] = uses
        else:
            self.memory_used -= slot.skeleton.nbytes

    def _path(self, file: int) -> Path:
        assert self._spill_dir is not None
        return self._spill_dir / f"{file}.npy"

    def _write(self, slot: _Slot) -> None:
        """Move a state's values to a file of their own: one array, as ``np.save`` writes it."""
        if self._spill_dir is None:
            remove_stale_spills()
            folder = tempfile.mkdtemp(prefix=leftovers.owned_name(SPILL_PREFIX))
            self._spill_dir = Path(folder)
            self._own_dir = weakref.finalize(self, shutil.rmtree, folder, True)
        self._spill_dir.mkdir(parents=True, exist_ok=True)
        assert slot.values is not None
        file = next(self._files)
        path = self._path(file)
        np.save(path, slot.values, allow_pickle=False)
        del self._in_memory[slot]
        self.memory_used -= slot.values.nbytes + IN_MEMORY_BYTES
        slot.values, slot.file, slot.disk = None, file, _on_disk(path)
        self.disk_used += slot.disk

    def _read(self, slot: _Slot) -> np.ndarray:
        assert slot.file is not None
        values: np.ndarray = np.load(self._path(slot.file), allow_pickle=False)
        return values

    def _describe(self) -> str:
        steps = self.steps()
        return f"steps {steps[0]}–{steps[-1]}, {len(steps)} kept" if steps else "no steps yet"


def _disk_bytes(nbytes: int) -> int:
    """What a file of ``nbytes`` values takes on disk (its header and whole blocks), before writing it."""
    return -(-(nbytes + 128) // _BLOCK) * _BLOCK


def _on_disk(path: Path) -> int:
    """What a written file takes on disk: its blocks where the system says, else its size in whole blocks."""
    info = path.stat()
    blocks = getattr(info, "st_blocks", None)
    return int(blocks) * 512 if blocks is not None else _disk_bytes(info.st_size - 128)


def remove_stale_spills(parent: str | os.PathLike[str] | None = None) -> list[Path]:
    """Remove the spill folders of runs that ended without closing their timeline (killed, crashed) from
    ``parent`` (default: the temporary folder); a running program's stay. The ones removed."""
    folder = Path(parent if parent is not None else tempfile.gettempdir())
    return leftovers.remove_stale_folders(folder, SPILL_PREFIX, _UNOWNED_SPILL)
