"""The inspector's rows for a batchnorm or layernorm layer: eps, momentum (batchnorm), affine, and a batchnorm
layer's running statistics with which statistics each view normalizes by.

A view like the rest of the inspector: :meth:`NormFields.show` fills the widgets (signals blocked) and a typed
value comes out as ``field_requested(name, value)``. Text that is not a number, an eps ≤ 0 or a momentum outside
[0, 1] is refused here, under the fields, naming the field and the value kept (core's checks say what is wrong,
the same ones a file's values meet); the field shows the value in effect again.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QCheckBox, QLabel, QLineEdit, QVBoxLayout, QWidget

from bpstudio.core import normalization
from bpstudio.core.spec import LayerSpec
from bpstudio.gui.inspectors.matrix_editor import parse_entry, refusal_label
from bpstudio.gui.qt_utils import format_number, signals_blocked

SHOWN_UNITS = 16  # the running statistics of at most this many units are listed (the canvas's tooltips give all)
STATS_DIGITS = 4
PROBLEMS: dict[str, Callable[[object], str | None]] = {
    "eps": normalization.eps_problem,
    "momentum": normalization.momentum_problem,
}


def statistics_note(layer: LayerSpec) -> str:
    """Which statistics a norm layer normalizes by, where: what a person needs to read its numbers."""
    if layer.type == "layernorm":
        return "Normalizes each sample over its own units, in training and evaluation alike (no running statistics)."
    return (
        "Training steps (the canvas's values, the gradients) normalize each unit by this batch's mean and "
        "variance; evaluation (test loss, predictions, the decision surface and the neuron pictures) by the "
        f"running statistics below, which each step moves {format_number(float(layer.momentum or 0.0))} of the "
        "way towards its batch's."
    )


def running_table(layer_id: str, running: Mapping[str, np.ndarray]) -> str:
    """The running mean and variance of each unit as a small HTML table ("" when the layer keeps none)."""
    mean = running.get(normalization.running_key(layer_id, "running_mean"))
    var = running.get(normalization.running_key(layer_id, "running_var"))
    if mean is None or var is None:
        return ""
    cell = "<td align='right' style='padding: 0 8px'>{}</td>"
    rows = ["<tr><th></th><th style='padding: 0 8px'>running mean</th><th style='padding: 0 8px'>running var</th></tr>"]
    for k in range(min(len(mean), SHOWN_UNITS)):
        values = (format_number(float(mean[k]), STATS_DIGITS), format_number(float(var[k]), STATS_DIGITS))
        rows.append(f"<tr><td>unit {k}</td>{''.join(cell.format(html.escape(v)) for v in values)}</tr>")
    more = f"<br>… and {len(mean) - SHOWN_UNITS} more units" if len(mean) > SHOWN_UNITS else ""
    return f"<table cellspacing='0'>{''.join(rows)}</table>{more}"


class NormFields(QObject):
    """Eps, momentum and affine of the norm layer shown, its refusals, and its statistics note."""

    field_requested = Signal(str, object)  # "eps" | "momentum" | "affine", the value

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.layer: LayerSpec | None = None
        self.refusing = False  # a refusal is shown (until a value is taken or another layer is shown)
        self.eps = QLineEdit()
        self.eps.setMaximumWidth(120)
        self.eps.setToolTip("ε, added to the variance before the square root: a number above 0 (torch: 1e-5)")
        self.momentum = QLineEdit()
        self.momentum.setMaximumWidth(120)
        self.momentum.setToolTip(
            "how far each training step moves the running statistics towards its batch's: a number in [0, 1] "
            "(torch: 0.1)"
        )
        self.affine = QCheckBox("learn a scale γ and a shift β per unit")
        self.affine.setToolTip("off: the layer only normalizes (it has no parameters)")
        self.refusal = refusal_label()
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: #555555;")
        self.running = QLabel()
        # the refusal, the note and the table, under the inspector's form
        self.box = QWidget()
        column = QVBoxLayout(self.box)
        column.setContentsMargins(0, 0, 0, 0)
        for label in (self.refusal, self.note, self.running):
            column.addWidget(label)
        for name, field in (("eps", self.eps), ("momentum", self.momentum)):
            field.editingFinished.connect(lambda name=name, field=field: self._typed(name, field.text()))
        self.affine.toggled.connect(lambda on: self._request("affine", bool(on)))
        self.inputs = (self.eps, self.momentum, self.affine)

    def show(self, layer: LayerSpec, running: Mapping[str, np.ndarray]) -> None:
        """Show ``layer``'s settings and (batchnorm) its running statistics; emits nothing."""
        if self.layer is None or layer.id != self.layer.id or layer.type != self.layer.type:
            self._say(None)  # (a refusal stays while its layer is shown, until a value is taken)
        self.layer = layer
        with signals_blocked(*self.inputs):
            self.eps.setText(f"{layer.eps:g}" if layer.eps is not None else "")
            self.momentum.setText(f"{layer.momentum:g}" if layer.momentum is not None else "")
            self.affine.setChecked(layer.affine)
        self.note.setText(statistics_note(layer))
        self.running.setText(running_table(layer.id, running))
        self.running.setVisible(layer.type == "batchnorm")

    def _typed(self, name: str, text: str) -> None:
        layer = self.layer
        if layer is None:
            return
        kept = getattr(layer, name)
        value, why = parse_entry(text)
        problem = why if value is None else PROBLEMS[name](value)
        if problem is not None:
            self._say(f"{name} {problem}: '{layer.id}' keeps {name} {kept:g}")
            with signals_blocked(self.eps, self.momentum):
                getattr(self, name).setText(f"{kept:g}")
            return
        self._request(name, value)

    def _request(self, name: str, value: Any) -> None:
        if self.layer is not None and getattr(self.layer, name) != value:
            self._say(None)
            self.field_requested.emit(name, value)

    def _say(self, refusal: str | None) -> None:
        self.refusing = refusal is not None
        self.refusal.setText(refusal or "")
        self.refusal.setVisible(self.refusing)
