"""The Training panel's "Stop when" box: Play stops by itself at a target loss, after a number of epochs or on a
plateau (core's :class:`~bpstudio.core.stopping.StopRule`; the window says why in the status bar).

A view: :meth:`StopControls.show_rule` shows the document's rule (saved with the session), :meth:`StopControls.read`
gives the rule a person set (or why it cannot be used); ``changed`` is called when they tick a condition or finish an
entry.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QCheckBox, QGridLayout, QGroupBox, QLabel, QLineEdit, QSpinBox, QWidget

from bpstudio.core.errors import BpstudioError
from bpstudio.core.stopping import PLATEAU_FRACTION, StopRule
from bpstudio.gui.inspectors.matrix_editor import parse_entry
from bpstudio.gui.qt_utils import format_number, signals_blocked

MAX_COUNT = 1_000_000


def _count(value: int, suffix: str, tip: str) -> QSpinBox:
    box = QSpinBox()
    box.setRange(1, MAX_COUNT)
    box.setValue(value)
    box.setSuffix(suffix)
    box.setKeyboardTracking(False)  # typing "200" asks once, not for "2", "20" then "200"
    box.setToolTip(tip)
    return box


class StopControls(QGroupBox):
    """Three conditions, each ticked on or off, with its number beside it."""

    def __init__(self, changed: Callable[[], None], parent: QWidget | None = None) -> None:
        super().__init__("Stop when", parent)
        self.setToolTip("Play stops by itself at the first condition ticked that is met; the status bar says which")
        self.at_loss = QCheckBox("Loss ≤")
        self.at_loss.setToolTip(
            "Stop at the first step whose training loss (on the batch it trained on) is this or less"
        )
        self.target = QLineEdit("0.01")
        self.target.setToolTip(self.at_loss.toolTip())
        self.after_epochs = QCheckBox("Epochs")
        self.epochs = _count(100, "", "Stop after this many passes over the training data, counted from Play")
        self.after_epochs.setToolTip(self.epochs.toolTip())
        self.on_plateau = QCheckBox("Plateau, steps")
        plateau_tip = (
            "Stop once the best loss so far has fallen by no more than the fraction below over this many steps "
            "(counted from Play)"
        )
        self.plateau = _count(200, "", plateau_tip)
        self.on_plateau.setToolTip(plateau_tip)
        self.fraction = QLineEdit(format_number(PLATEAU_FRACTION))
        self.fraction.setToolTip(
            f"A fall of the best loss by more than this fraction of it counts as progress "
            f"(default {format_number(PLATEAU_FRACTION)}: 1 %)"
        )
        grid = QGridLayout(self)
        grid.addWidget(self.at_loss, 0, 0)
        grid.addWidget(self.target, 0, 1)
        grid.addWidget(self.after_epochs, 1, 0)
        grid.addWidget(self.epochs, 1, 1)
        grid.addWidget(self.on_plateau, 2, 0)
        grid.addWidget(self.plateau, 2, 1)
        fall = QLabel("  fall under")
        fall.setToolTip(self.fraction.toolTip())
        grid.addWidget(fall, 3, 0)
        grid.addWidget(self.fraction, 3, 1)
        grid.setColumnStretch(1, 1)
        for box in (self.at_loss, self.after_epochs, self.on_plateau):
            box.toggled.connect(changed)
        for edit in (self.target, self.fraction):
            edit.editingFinished.connect(changed)
        for spin in (self.epochs, self.plateau):
            spin.valueChanged.connect(changed)
        self.inputs: tuple[QWidget, ...] = (self.at_loss, self.target, self.after_epochs, self.epochs)
        self.inputs += (self.on_plateau, self.plateau, self.fraction)

    def show_rule(self, rule: StopRule) -> None:
        """Tick the conditions ``rule`` sets, with its numbers; a condition it does not set keeps its entry. Emits
        nothing."""
        with signals_blocked(*self.inputs):
            self.at_loss.setChecked(rule.target_loss is not None)
            if rule.target_loss is not None:
                self.target.setText(format_number(rule.target_loss))
            self.after_epochs.setChecked(rule.epochs is not None)
            if rule.epochs is not None:
                self.epochs.setValue(rule.epochs)
            self.on_plateau.setChecked(rule.plateau_steps is not None)
            if rule.plateau_steps is not None:
                self.plateau.setValue(rule.plateau_steps)
                self.fraction.setText(format_number(rule.plateau_fraction))

    def read(self) -> tuple[StopRule | None, str]:
        """The rule ticked, or (None, why not). An entry beside a condition not ticked is not read."""
        target: float | None = None
        if self.at_loss.isChecked():
            target, why = parse_entry(self.target.text())
            if target is None:
                return None, f"target loss: {why}"
        fraction = PLATEAU_FRACTION
        if self.on_plateau.isChecked():
            value, why = parse_entry(self.fraction.text())
            if value is None:
                return None, f"plateau fraction: {why}"
            fraction = value
        try:
            rule = StopRule(
                target_loss=target,
                epochs=self.epochs.value() if self.after_epochs.isChecked() else None,
                plateau_steps=self.plateau.value() if self.on_plateau.isChecked() else None,
                plateau_fraction=fraction,
            )
        except BpstudioError as exc:
            return None, str(exc)
        return rule, ""
