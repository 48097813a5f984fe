"""The timeline panel: a slider over the run's recorded steps, its branches, and what the states take.

Dragging the slider and letting go asks to go to that step (``go_requested``); the branch list switches
to another continuation (``branch_requested``) and "Discard" forgets one (``discard_requested``). The
panel only shows a :class:`~bpstudio.core.record.timeline.Timeline`; the document does the going.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QSlider, QVBoxLayout, QWidget

from bpstudio.core.record.timeline import Timeline
from bpstudio.gui.qt_utils import signals_blocked


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n / 2**10:.0f} KiB"


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
        self.branches.setToolTip("The run's continuations: pick one to go on from its last step")
        self.discard = QPushButton("Discard")
        self.discard.setToolTip("Forget the branch chosen in the list (not the one you are on)")
        self.memory = QLabel()
        self.memory.setWordWrap(True)
        self.memory.setStyleSheet("color: #6c757d;")
        row = QHBoxLayout()
        row.addWidget(QLabel("Branch"))
        row.addWidget(self.branches, 1)
        row.addWidget(self.discard)
        layout = QVBoxLayout(self)
        layout.addWidget(self.position)
        layout.addWidget(self.slider)
        layout.addLayout(row)
        layout.addWidget(self.memory)
        layout.addStretch(1)
        self.slider.valueChanged.connect(self._on_slid)
        self.slider.sliderReleased.connect(self._on_released)
        self.branches.activated.connect(lambda _i: self._on_branch_picked())
        self.discard.clicked.connect(self._on_discard)
        self._current_step = 0
        self._current_branch = 0

    def show_timeline(self, timeline: Timeline, step: int, enabled: bool = True) -> None:
        """Show ``timeline`` with the document at ``step``; ``enabled`` False while training runs."""
        self.steps = timeline.steps()
        self._current_step, self._current_branch = step, timeline.current
        with signals_blocked(self.slider, self.branches):
            self.slider.setRange(0, max(0, len(self.steps) - 1))
            if self.steps:
                self.slider.setValue(min(range(len(self.steps)), key=lambda i: abs(self.steps[i] - step)))
            self.branches.clear()
            for branch in timeline.branches.values():
                steps = timeline.steps(branch.id)
                span = f"steps {steps[0]}–{steps[-1]}" if steps else "no steps"
                origin = "" if branch.parent is None else f", from step {branch.fork_step} of branch {branch.parent}"
                self.branches.addItem(f"branch {branch.id}: {span}{origin}", branch.id)
                if branch.id == timeline.current:
                    self.branches.setCurrentIndex(self.branches.count() - 1)
        for widget in (self.slider, self.branches):
            widget.setEnabled(enabled and len(self.steps) > 0)
        self.discard.setEnabled(enabled and len(timeline.branches) > 1)
        self._show_position(step)
        spill = f", {_size(timeline.disk_used)} on disk" if timeline.disk_used else ""
        self.memory.setText(
            f"{len(self.steps)} states kept on this branch · {_size(timeline.memory_used)} in "
            f"memory{spill} (bound {_size(timeline.memory_bound)}, then disk, then thinning)"
        )

    def _show_position(self, step: int) -> None:
        last = self.steps[-1] if self.steps else 0
        self.position.setText(f"<b>step {step}</b> of {last} · branch {self._current_branch}")

    def _on_slid(self, index: int) -> None:
        if self.steps:
            self._show_position(self.steps[index])

    def _on_released(self) -> None:
        if self.steps and self.steps[self.slider.value()] != self._current_step:
            self.go_requested.emit(self.steps[self.slider.value()])

    def _on_branch_picked(self) -> None:
        branch = self.branches.currentData()
        if branch is not None and branch != self._current_branch:
            self.branch_requested.emit(int(branch))

    def _on_discard(self) -> None:
        branch = self.branches.currentData()
        if branch is not None:
            self.discard_requested.emit(int(branch))
