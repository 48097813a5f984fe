"""The Training panel's "Regularization and schedule" box: the L1 term, clipping and the learning-rate schedule,
with readouts of the rate in use and of what clipping did.

A view like the rest of the panel: :meth:`UpdateExtras.show_settings` fills the fields, :meth:`read` gives what a
person typed as OptimizerSpec settings (or why it cannot be used), :meth:`show_progress` shows core's readouts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QFormLayout, QGroupBox, QLabel, QLineEdit, QVBoxLayout, QWidget

from bpstudio.core.optim import describe_clipping, describe_rate
from bpstudio.core.spec import SCHEDULES, OptimizerSpec, Schedule
from bpstudio.core.trace import UpdateFigures
from bpstudio.gui.inspectors.matrix_editor import parse_entry
from bpstudio.gui.qt_utils import format_number, signals_blocked

CONSTANT = "constant"
SCHEDULE_CHOICES = (CONSTANT, *SCHEDULES)
# schedule setting -> (label, tooltip)
SCHEDULE_FIELDS = {
    "step_size": ("Step size", "Every this many updates the rate is multiplied by gamma (a whole number ≥ 1)"),
    "gamma": ("Gamma", "The factor the rate is multiplied by (above 0)"),
    "t_max": ("T max", "Updates from the full rate down to eta min (a whole number ≥ 1)"),
    "eta_min": ("Eta min", "The lowest rate of the cosine (≥ 0)"),
}


def _readout() -> QLabel:
    """A line of what the run did, under the fields it belongs to (full width: it wraps rather than clips)."""
    label = QLabel()
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class UpdateExtras(QGroupBox):
    """L1, clipping and schedule fields; ``changed`` is called when a person finishes an entry or picks a
    schedule."""

    def __init__(self, changed: Callable[[], None], parent: QWidget | None = None) -> None:
        super().__init__("Regularization and schedule", parent)
        column = QVBoxLayout(self)  # two forms with a readout under each (in a form, a wrapped line gets clipped)
        clipping, self.form = QFormLayout(), QFormLayout()
        for form in (clipping, self.form):
            form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.l1 = QLineEdit()
        self.l1.setToolTip("L1 penalty λ: adds λ·sign(w) to every dense weight's gradient (0: none)")
        self.clip = QLineEdit()
        self.clip.setPlaceholderText("off")
        self.clip.setToolTip("Clip the gradients' total norm to at most this (empty: no clipping)")
        self.schedule = QComboBox()
        self.schedule.addItems(SCHEDULE_CHOICES)
        self.schedule.setToolTip("How the learning rate changes with the updates (torch's StepLR, ExponentialLR, "
                                 "CosineAnnealingLR)")  # fmt: skip
        self.schedule_fields: dict[str, QLineEdit] = {}
        clipping.addRow("L1 (λ)", self.l1)
        clipping.addRow("Clip norm", self.clip)
        self.clip_readout = _readout()
        self.form.addRow("Schedule", self.schedule)
        for key, (label, tip) in SCHEDULE_FIELDS.items():
            edit = QLineEdit()
            edit.setToolTip(tip)
            edit.editingFinished.connect(changed)
            self.schedule_fields[key] = edit
            self.form.addRow(label, edit)
        self.lr_readout = _readout()
        for part in (clipping, self.clip_readout, self.form, self.lr_readout):
            column.addLayout(part) if isinstance(part, QFormLayout) else column.addWidget(part)
        self.l1.editingFinished.connect(changed)
        self.clip.editingFinished.connect(changed)
        self.schedule.currentTextChanged.connect(self._on_schedule_chosen)
        self._changed = changed
        self.inputs = (self.l1, self.clip, self.schedule, *self.schedule_fields.values())
        self._show_rows(CONSTANT)

    def show_settings(self, opt: OptimizerSpec) -> None:
        with signals_blocked(*self.inputs):
            self.l1.setText(format_number(opt.l1))
            self.clip.setText("" if opt.clip_norm is None else format_number(opt.clip_norm))
            name = CONSTANT if opt.schedule is None else opt.schedule.name
            self.schedule.setCurrentText(name)
            settings = {} if opt.schedule is None else opt.schedule.settings()
            for key, edit in self.schedule_fields.items():
                if key in settings:
                    edit.setText(format_number(settings[key]))
        self._show_rows(name)
        self.clip_readout.setVisible(opt.clip_norm is not None)

    def show_progress(self, opt: OptimizerSpec, counters: Mapping[str, int], last: UpdateFigures | None) -> None:
        """Core's readouts: the rate the next update uses and what clipping has done."""
        self.lr_readout.setText(f"Learning rate now: {describe_rate(opt, counters)}")
        self.clip_readout.setText(describe_clipping(opt, counters, last))

    def read(self) -> tuple[dict[str, Any] | None, str]:
        """The settings as OptimizerSpec keywords (``l1``, ``clip_norm``, ``schedule``), or (None, why not)."""
        l1, why = parse_entry(self.l1.text())
        if l1 is None:
            return None, f"L1: {why}"
        clip: float | None = None
        if self.clip.text().strip():
            clip, why = parse_entry(self.clip.text())
            if clip is None:
                return None, f"clip norm: {why} (leave it empty for no clipping)"
        name = self.schedule.currentText()
        schedule = None
        if name != CONSTANT:
            required, defaults = SCHEDULES[name]
            settings: dict[str, Any] = {}
            for key in (*required, *defaults):
                label = SCHEDULE_FIELDS[key][0].lower()
                value, why = parse_entry(self.schedule_fields[key].text())
                if value is None:
                    return None, f"{label}: {why}"
                if key in ("step_size", "t_max"):
                    if value != int(value):
                        return None, f"{label}: must be a whole number, got {format_number(value)}"
                    value = int(value)
                settings[key] = value
            schedule = Schedule(name, **settings)  # (a SpecError says what is wrong with a value)
        return {"l1": l1, "clip_norm": clip, "schedule": schedule}, ""

    def _on_schedule_chosen(self, name: str) -> None:
        self._show_rows(name)
        if name != CONSTANT:  # fields still empty get the defaults torch's schedulers take, or a start
            starts = {"step_size": 10, "gamma": 0.1 if name == "step" else 0.99, "t_max": 100, "eta_min": 0.0}
            for key, edit in self.schedule_fields.items():
                if not edit.text().strip():
                    with signals_blocked(edit):
                        edit.setText(format_number(starts[key]))
        self._changed()

    def _show_rows(self, name: str) -> None:
        used = () if name == CONSTANT else (*SCHEDULES[name][0], *SCHEDULES[name][1])
        for key, edit in self.schedule_fields.items():
            self.form.setRowVisible(edit, key in used)
