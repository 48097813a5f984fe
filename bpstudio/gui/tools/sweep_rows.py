"""The sweep dialog's rows for the settings a person most often varies: the optimizers (ticked), and one field per
setting in :data:`SETTING_ROWS` (normalization, dropout, learning rate, L1, clipping, RMSprop's alpha, the schedule).

Each field takes what ``bpstudio sweep --set NAME=...`` takes after the ``=``: empty leaves the setting at its
default, one value fixes it, several separated by commas make it an axis. Core reads the values
(:func:`bpstudio.core.tools.sweep.parse_setting`); a row is a name, a label and words, so another setting is one
more entry in the table.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QCheckBox, QGridLayout, QLineEdit, QWidget

from bpstudio.core.errors import BpstudioError
from bpstudio.core.spec import OPTIMIZERS
from bpstudio.core.tools import sweep
from bpstudio.core.tools.sweep_settings import DEFAULT_LR

DEFAULT_OPTIMIZER = "sgd"  # ticked alone, the optimizer is not a setting of the grid (the sweep's default)
# sweep setting -> (label, placeholder: the default, what it is); the form shows them in this order
SETTING_ROWS: dict[str, tuple[str, str, str]] = {
    "norm": (
        "Normalization",
        "none; or batchnorm, layernorm",
        "A normalization layer in every hidden block, before its activation: none, batchnorm or layernorm",
    ),
    "dropout": ("Dropout p", "0: none", "A dropout layer with this p after every hidden layer"),
    "lr": ("Learning rates", f"{DEFAULT_LR:g}", "The learning rate"),
    "l1": ("L1 (λ)", "0", "The L1 penalty λ on the dense weights"),
    "clip_norm": ("Clip norm", "off", "Clip the gradients' total norm to this"),
    "alpha": ("RMSprop α", "0.99", "RMSprop's smoothing constant (used by rmsprop only)"),
    "schedule": (
        "Schedules",
        "constant; or e.g. step:10:0.5",
        "The learning-rate schedule: constant, step:STEP_SIZE[:GAMMA], exponential:GAMMA or cosine:T_MAX[:ETA_MIN]",
    ),
}
MULTIPLE = "Empty: the default. Several values, separated by commas, make it another axis of the grid."


class SettingRows:
    """The optimizer boxes and the setting fields; the dialog lays them out and reads them with :meth:`read`."""

    def __init__(self) -> None:
        self.optimizer_box = QWidget()
        grid = QGridLayout(self.optimizer_box)
        grid.setContentsMargins(0, 0, 0, 0)
        self.optimizer_checks: dict[str, QCheckBox] = {}
        for i, name in enumerate(OPTIMIZERS):
            box = QCheckBox(name)
            box.setChecked(name == DEFAULT_OPTIMIZER)
            box.setToolTip("The update rules to train with; several make another axis of the grid")
            grid.addWidget(box, i // 3, i % 3)
            self.optimizer_checks[name] = box
        self.fields: dict[str, QLineEdit] = {}
        for name, (_, placeholder, what) in SETTING_ROWS.items():
            field = QLineEdit()
            field.setPlaceholderText(placeholder)
            field.setToolTip(f"{what}. {MULTIPLE}")
            self.fields[name] = field
        self.inputs: list[QWidget] = [self.optimizer_box, *self.fields.values()]

    def label(self, name: str) -> str:
        return "Optimizers" if name == "optimizer" else SETTING_ROWS[name][0]

    def read(self) -> dict[str, tuple[Any, ...]]:
        """The settings the rows name, as core reads them; a BpstudioError names the row of a bad entry."""
        settings: dict[str, tuple[Any, ...]] = {}
        ticked = tuple(name for name, box in self.optimizer_checks.items() if box.isChecked())
        if not ticked:
            raise BpstudioError("Optimizers: tick at least one")
        if ticked != (DEFAULT_OPTIMIZER,):
            settings["optimizer"] = ticked
        for name, field in self.fields.items():
            text = field.text().strip()
            if text:
                try:
                    settings[name] = sweep.parse_setting(f"{name}={text}")[1]
                except BpstudioError as exc:
                    raise BpstudioError(f"{self.label(name)}: {exc}") from None
        return settings
