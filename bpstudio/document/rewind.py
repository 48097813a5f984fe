"""Rewind and branch: the document's :class:`~bpstudio.core.record.timeline.Timeline`.

The document records a state after every step it runs itself, after every edit, when training stops,
and (through the worker) at its reports while training, about ten a second: at each one for a small network,
less often for a big one, so that keeping states costs about ``TRAINING_BYTES_PER_REPORT`` per report
whatever the network's size (a 2-1000-1000-1 net's state with Adam's buffers is 24 MB: one every few
seconds). The memory a fast run takes stays bounded by the timeline's bound, not by its speed, and a long one's
levels off: beyond ``MAX_STATES`` states the timeline keeps its span at a coarser grain.

Going to a recorded step installs it as an undoable "Go to step k" and runs step k once more from the kept
state before it (:mod:`bpstudio.core.record.replay`), so the canvas and the chain-rule panel show the step's
values and gradients, not only its weights. Training or editing from there starts a branch from step k; the old
continuation stays in the branch list until discarded. Each branch keeps the plot history it had at its last
step, so going to one of its steps or switching to it shows its own curves."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bpstudio.core.errors import BpstudioError
from bpstudio.core.record.history import TrainingHistory
from bpstudio.core.record.replay import replay, replay_limit, replay_start
from bpstudio.core.record.timeline import Timeline
from bpstudio.core.run_state import RunState
from bpstudio.core.trace import StepTrace
from bpstudio.document.run_commands import JumpCommand, Mark

if TYPE_CHECKING:
    from bpstudio.document.document import Document

MEMORY_BOUND = 256 * 2**20  # the app's timeline: 256 MiB of states in memory, then files (2 GiB), then thinning
MAX_STATES = 5000  # ... and beyond this many states, thinning: a long run's memory levels off (an XOR state: ~0.5 kB)
TRAINING_BYTES_PER_REPORT = 2**20  # while training, states are kept at about this many bytes per report


class Rewinder:
    def __init__(self, document: Document):
        self.document = document
        self.timeline = Timeline(memory_bound=MEMORY_BOUND, max_states=MAX_STATES)
        self._last_bytes = 0  # the size of the state kept last
        self._earned = 0  # bytes the training reports since then have earned
        self._heads: dict[int, TrainingHistory] = {}  # each branch's plot history at its last step, once left

    def record(self, state: RunState | None = None) -> None:
        """Keep the state the document is in now (call with the document's lock held or on its thread);
        ``state``: that state, when the caller has captured it already."""
        with self.document.lock:
            if state is None:
                state = self.document.session.state()
            self._last_bytes = self.timeline.record(state)
        self._earned = 0

    def record_while_training(self) -> bool:
        """Called at each of the training worker's reports: keep the state now if the reports since the last
        kept one have earned its size (each earns ``TRAINING_BYTES_PER_REPORT``). True if it was kept.
        Capturing a state copies every weight and optimizer buffer, so a big network's are kept less often."""
        self._earned += TRAINING_BYTES_PER_REPORT
        if self._earned < self._last_bytes:
            return False
        self.record()
        return True

    def restart(self) -> None:
        """A different network was opened: the timeline starts again from its state now."""
        self.timeline.clear()
        self._heads.clear()
        self.record()

    def leaving(self) -> None:
        """The document is about to install another state: if it is at its branch's last step, keep the plot
        history it has there, for going back to the branch later."""
        if self.timeline.at_head():
            self._heads[self.timeline.current] = self.document.mark().history

    def go_to(self, step: int) -> bool:
        """Make a recorded step of the current branch the document's state, as one undoable edit."""
        doc = self.document
        if doc.training:
            doc.refused.emit("pause training to go back in the timeline")
            return False
        return self._go(self.timeline.current, step, f"Go to step {step}")

    def switch(self, branch: int) -> bool:
        """Continue on another branch: go to its last step (one undoable edit)."""
        doc = self.document
        if doc.training:
            doc.refused.emit("pause training to switch branches")
            return False
        try:
            steps = self.timeline.steps(branch)
        except BpstudioError as exc:
            doc.refused.emit(str(exc))
            return False
        return self._go(branch, steps[-1], f"Switch to branch {branch}") if steps else False

    def _go(self, branch: int, step: int, text: str) -> bool:
        """Install kept step ``step`` of ``branch`` with that branch's plots up to it and, recomputed, the
        step's values; one undo entry named ``text``."""
        doc = self.document
        before, before_mark = doc.snapshot(), doc.mark()
        self.leaving()
        try:
            state = self.timeline.state(step, branch)
            trace = self._replayed(step, branch)
            history = self._heads.get(branch, doc.history).snapshot()  # (the branch's own curves)
            history.truncate(step)
            doc.install(state, True, Mark(history, branch))
            if trace is not None:
                doc.record_step(trace)  # (the same values as before, unless thinned out of the plot)
                doc.trace = trace.to_numpy()
        except BpstudioError as exc:
            with doc.lock:
                doc.session.restore(before)  # (a replay may have moved it)
            doc.refused.emit(str(exc))
            return False
        doc.undo_stack.push(JumpCommand(doc, text, before, doc.snapshot(), before_mark, doc.mark()))
        doc.params_changed.emit()
        doc.step_changed.emit()
        return True

    def _replayed(self, step: int, branch: int) -> StepTrace | None:
        """Step ``step``'s trace, recomputed from the kept state before it on the document's session (which is
        left after that step); None when none is kept near enough (and the document says so)."""
        doc = self.document
        limit = replay_limit(doc.spec)
        start = replay_start(self.timeline, step, branch, limit)
        if start is None:
            earlier = [s for s in self.timeline.steps(branch) if s < step]
            if earlier:
                doc.refused.emit(
                    f"step {step}'s weights are shown without its values: the nearest kept step before it is "
                    f"{earlier[-1]}, {step - earlier[-1]} steps back (at most {limit} are run again)"
                )
            return None
        with doc.lock:
            return replay(doc.session, start, step)

    def discard(self, branch: int) -> bool:
        """Forget a branch (and those grown from it); not the current one."""
        try:
            self.timeline.discard(branch)
        except BpstudioError as exc:
            self.document.refused.emit(str(exc))
            return False
        self._heads = {b: h for b, h in self._heads.items() if b in self.timeline.branches}
        return True
