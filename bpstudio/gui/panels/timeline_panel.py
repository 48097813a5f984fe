"""The timeline panel: a slider over the run's recorded steps, its branches, and what the states take.

Dragging the slider and letting go asks to go to that step (``go_requested``); the branch list switches
to another continuation (``branch_requested``) and "Discard…" lists the branches that can be forgotten (all
but the one in use and those it grew from), without switching to them (``discard_requested``). The
panel only shows a :class:`~bpstudio.core.record.timeline.Timeline`; the document does the going.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QMenu, QPushButton, QSlider, QVBoxLayout, QWidget

from bpstudio.core.record.timeline import Branch, Timeline
from bpstudio.gui.qt_utils import signals_blocked

BRANCHES_TIP = "The run's continuations: pick one to go on from its last step (undoable)"


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n / 2**10:.0f} KiB"


def describe(timeline: Timeline, branch: Branch) -> str:
    """ "branch 1: steps 0–5445, from step 1811 of branch 0": its kept steps and where it grew from."""
    steps = timeline.steps(branch.id)
    span = "no steps" if not steps else f"step {steps[0]}" if len(steps) == 1 else f"steps {steps[0]}–{steps[-1]}"
    origin = "" if branch.parent is None else f", from step {branch.fork_step} of branch {branch.parent}"
    return f"branch {branch.id}: {span}{origin}"


class TimelinePanel(QWidget):
    go_requested = Signal(int)  # a step of the current branch
    branch_requested = Signal(int)  # a branch id
    discard_requested = Signal(int)  # a branch id

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.steps: list[int] = []
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setToolTip(
            "Drag to a step and let go: the network goes back to it. Training or editing "
            "from there starts a branch; the old continuation stays in the list below."
        )
        self.position = QLabel()
        self.branches = QComboBox()
        self.branches.setToolTip(BRANCHES_TIP)
        self.discard = QPushButton("Discard…")
        self.discard.setToolTip(
            "Forget another branch: its kept states go (not the branch you are on, nor those it grew from)"
        )
        self.discard.setMenu(QMenu(self.discard))
        self.memory = QLabel()
        self.memory.setWordWrap(True)
        self.memory.setStyleSheet("color: #6c757d;")
        row = QHBoxLayout()  # (the list gets the panel's whole width: "branch 1: steps 0–5445, from step 1811 of …")
        row.addWidget(QLabel("Branches"))
        row.addStretch(1)
        row.addWidget(self.discard)
        layout = QVBoxLayout(self)
        layout.addWidget(self.position)
        layout.addWidget(self.slider)
        layout.addLayout(row)
        layout.addWidget(self.branches)
        layout.addWidget(self.memory)
        layout.addStretch(1)
        self.slider.valueChanged.connect(self._on_slid)
        self.slider.sliderReleased.connect(self._on_released)
        self.branches.activated.connect(lambda _i: self._on_branch_picked())
        self._current_step = 0
        self._current_branch = 0

    def show_timeline(self, timeline: Timeline, step: int, enabled: bool = True) -> None:
        """Show ``timeline`` with the document at ``step``; ``enabled`` False while training runs."""
        self.steps = timeline.steps()
        self._current_step, self._current_branch = step, timeline.current
        alone = len(self.steps) == 1  # (one kept step: the handle sits at the end, where that step is)
        with signals_blocked(self.slider, self.branches):
            self.slider.setRange(0, 1 if alone else max(0, len(self.steps) - 1))
            if self.steps:
                nearest = min(range(len(self.steps)), key=lambda i: abs(self.steps[i] - step))
                self.slider.setValue(1 if alone else nearest)
            self.branches.clear()
            for branch in timeline.branches.values():
                self.branches.addItem(describe(timeline, branch), branch.id)
                if branch.id == timeline.current:
                    self.branches.setCurrentIndex(self.branches.count() - 1)
                    self.branches.setToolTip(f"{describe(timeline, branch)}\n{BRANCHES_TIP}")
        self.slider.setEnabled(enabled and len(self.steps) > 1)
        self.branches.setEnabled(enabled and len(self.steps) > 0)
        menu = self.discard.menu()
        menu.clear()
        for branch_id in timeline.discardable():
            action = menu.addAction(f"Discard {describe(timeline, timeline.branches[branch_id])}")
            action.triggered.connect(lambda _checked=False, b=branch_id: self.discard_requested.emit(b))
        self.discard.setEnabled(enabled and not menu.isEmpty())
        self._show_position(step)
        spill = f", {_size(timeline.disk_used)} on disk" if timeline.disk_used else ""
        only = (
            f"Only step {self.steps[0]} is kept so far: the run got there before this file was opened. Steps "
            "from here on can be gone back to. "
            if alone and self.steps[0] > 0
            else ""
        )
        self.memory.setText(
            f"{only}{len(self.steps)} state{'s' if len(self.steps) != 1 else ''} kept on this branch · "
            f"{_size(timeline.memory_used)} in memory{spill} (bound {_size(timeline.memory_bound)}, then disk, "
            "then thinning)"
        )

    def _show_position(self, step: int) -> None:
        last = self.steps[-1] if self.steps else 0
        self.position.setText(f"<b>step {step}</b> of {last} · branch {self._current_branch}")

    def _on_slid(self, index: int) -> None:
        if len(self.steps) > 1:
            self._show_position(self.steps[index])

    def _on_released(self) -> None:
        if len(self.steps) > 1 and self.steps[self.slider.value()] != self._current_step:
            self.go_requested.emit(self.steps[self.slider.value()])

    def _on_branch_picked(self) -> None:
        branch = self.branches.currentData()
        if branch is not None and branch != self._current_branch:
            self.branch_requested.emit(int(branch))
