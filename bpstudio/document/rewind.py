"""Rewind and branch: the document's :class:`~bpstudio.core.record.timeline.Timeline`.

The document records a state after every step it runs itself, after every edit, when training stops,
and (through the worker) at its reports while training, about ten a second: at each one for a small network,
less often for a big one, so that keeping states costs about ``TRAINING_BYTES_PER_REPORT`` per report
whatever the network's size (a 2-1000-1000-1 net's state with Adam's buffers is 24 MB: one every few
seconds). The memory a fast run takes stays bounded by the timeline's bound, not by its speed, and a long one's
levels off: beyond ``MAX_STATES`` states the timeline keeps its span at a coarser grain.

Going to a recorded step installs it as an undoable "Go to step k" and runs step k once more from the state
before it, when that one is kept too, so the canvas shows the step's values and gradients, not only its
weights. Training or editing from there starts a branch; the old continuation stays in the branch list
until discarded."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bpstudio.core.errors import BpstudioError
from bpstudio.core.record.timeline import Timeline
from bpstudio.core.run_state import RunState
from bpstudio.document.run_commands import SnapshotCommand

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
        self.record()

    def go_to(self, step: int) -> bool:
        """Make a recorded step of the current branch the document's state, as one undoable edit."""
        doc = self.document
        if doc.training:
            doc.refused.emit("pause training to go back in the timeline")
            return False
        before = doc.snapshot()
        try:
            state = self.timeline.go_to(step)
            earlier = step - 1 in self.timeline.steps()
            start = self.timeline.state(step - 1) if earlier else state
            doc.install(start, True)
            if earlier:  # step k again, from the state before it: the canvas gets its values and gradients
                with doc.lock:
                    doc.session.step()
                doc.trace = doc.session.trace.to_numpy() if doc.session.trace is not None else None
                doc.record_step(doc.session.trace)
        except BpstudioError as exc:
            doc.refused.emit(str(exc))
            return False
        doc.undo_stack.push(SnapshotCommand(doc, f"Go to step {step}", before, doc.snapshot()))
        doc.params_changed.emit()
        doc.step_changed.emit()
        return True

    def switch(self, branch: int) -> bool:
        """Continue on another branch: go to its last step."""
        try:
            self.timeline.switch(branch)
            steps = self.timeline.steps()
        except BpstudioError as exc:
            self.document.refused.emit(str(exc))
            return False
        return self.go_to(steps[-1]) if steps else True

    def discard(self, branch: int) -> bool:
        try:
            self.timeline.discard(branch)
        except BpstudioError as exc:
            self.document.refused.emit(str(exc))
            return False
        return True
