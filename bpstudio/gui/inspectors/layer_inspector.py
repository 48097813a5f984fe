"""The selected layer's settings and parameters, for the inspector dock.

A view: :meth:`LayerInspector.show_layer` fills the widgets (with their signals blocked, so showing never
emits), and a person's edits come out as ``*_requested`` signals. The main window carries them out as
undoable commands and calls ``show_layer`` again with the result. On a narrow dock a field that does not
fit beside its label goes under it, and Reset moves under Randomize. When a weight editor refuses typed text,
the inspector scrolls so its reason, under the table, shows with the cell it was typed into.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from PySide6.QtCore import QCoreApplication, QEvent, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from bpstudio.core import activations
from bpstudio.core.normalization import NORM_TYPES
from bpstudio.core.spec import INITIALISERS, Initializer, LayerSpec, NetworkSpec
from bpstudio.gui.inspectors.feature_terms import FeatureTerms
from bpstudio.gui.inspectors.matrix_editor import MatrixEditor
from bpstudio.gui.inspectors.norm_fields import NormFields
from bpstudio.gui.inspectors.param_box import ParamBox
from bpstudio.gui.qt_utils import format_number, signals_blocked

MAX_UNITS = 4096
LAYOUT_ROUNDS = 3  # settling a layout may ask its parent's to settle: a few rounds reach the scrolled body
TYPE_NAMES = {
    "input": "input layer",
    "dense": "dense layer",
    "add": "add layer (sums its inputs)",
    "concat": "concat layer (joins its inputs)",
    "features": "features layer (terms of its input, like TF Playground's feature column)",
    "dropout": "dropout layer (drops each unit with probability p in training; passes all on in evaluation)",
    "batchnorm": "batchnorm layer (normalizes each unit over the batch, then scales by γ and shifts by β; "
    "torch.nn.BatchNorm1d)",
    "layernorm": "layernorm layer (normalizes each sample over its units, then scales by γ and shifts by β; "
    "torch.nn.LayerNorm)",
}


def describe_init(init: Initializer) -> str:
    """``normal (mean 0, std 0.5)``: the name and every parameter with its effective value."""
    params = ", ".join(f"{key} {format_number(init.get(key))}" for key in INITIALISERS[init.name])
    return f"{init.name} ({params})" if params else init.name


class LayerInspector(QWidget):
    """Shows one layer; edits are requested through the signals below, never applied here."""

    fields_requested = Signal(str, dict)  # layer id, {units|activation|use_bias|weight_init|frozen: value}
    param_requested = Signal(str, tuple, float)  # "h.weight", (row, col) or (row,), new value
    randomize_requested = Signal(str, int)  # layer id, seed
    reset_requested = Signal(str)  # layer id
    output_requested = Signal(str)  # layer id
    term_requested = Signal(str, str, bool)  # layer id, a features layer's term, on or off
    # (a norm layer's eps, momentum and affine come as fields_requested too)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.spec: NetworkSpec | None = None
        self.layer_id: str | None = None
        self._build()
        self.show_layer(None, None, {}, None)

    # --- construction ---------------------------------------------------------------------------------

    def _build(self) -> None:
        self.title = QLabel()
        self.title.setStyleSheet("font-size: 13pt; font-weight: bold;")
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.kind = QLabel()
        self.kind.setWordWrap(True)

        self.units = QSpinBox()
        self.units.setRange(1, MAX_UNITS)
        self.units.setMaximumWidth(120)
        self.units.setKeyboardTracking(False)  # typing "16" asks once, not for "1" then "16"
        self.units.valueChanged.connect(lambda n: self._request_field("units", int(n)))
        self.p = QDoubleSpinBox()
        self.p.setRange(0.0, 0.99)  # (1 would drop every unit)
        self.p.setDecimals(2)
        self.p.setSingleStep(0.05)
        self.p.setMaximumWidth(120)
        self.p.setKeyboardTracking(False)
        self.p.setToolTip("the probability of dropping each unit in a training step; kept units are scaled by 1/(1−p)")
        self.p.valueChanged.connect(lambda v: self._request_field("p", round(float(v), 2)))
        self.width_label = QLabel()
        self.inputs_label = QLabel()
        self.inputs_label.setWordWrap(True)
        self.activation = QComboBox()
        self.activation.addItems(activations.NAMES)
        self.activation.currentTextChanged.connect(lambda name: self._request_field("activation", name))
        self.terms = FeatureTerms()
        self.terms.term_requested.connect(lambda term, on: self._emit_for_layer(self.term_requested, term, on))
        self.use_bias = QCheckBox("add a bias per neuron")
        self.use_bias.toggled.connect(lambda on: self._request_field("use_bias", bool(on)))
        self.weight_init = QComboBox()
        self.weight_init.addItems(list(INITIALISERS))
        self.weight_init.currentTextChanged.connect(self._on_init_chosen)
        self.init_note = QLabel()  # when the network gives the weights, the initialiser did not draw them
        self.init_note.setWordWrap(True)
        self.init_note.setStyleSheet("color: #555555;")
        self.init_row = QWidget()
        stacked = QVBoxLayout(self.init_row)
        stacked.setContentsMargins(0, 0, 0, 0)
        stacked.setSpacing(2)
        stacked.addWidget(self.weight_init)
        stacked.addWidget(self.init_note)
        self.norm = NormFields(self)
        self.norm.field_requested.connect(self._request_field)
        self.frozen_weight = QCheckBox("weight")
        self.frozen_bias = QCheckBox("bias")
        for box in (self.frozen_weight, self.frozen_bias):
            box.setToolTip("A frozen parameter keeps its values while training")
            box.toggled.connect(self._on_frozen_toggled)
        self.frozen_row = QWidget()
        row = QHBoxLayout(self.frozen_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.frozen_weight)
        row.addWidget(self.frozen_bias)
        row.addStretch(1)
        self.output_label = QLabel("this is the output layer")
        self.make_output = QPushButton("Make output")
        self.make_output.setToolTip("Compute the loss on this layer's values")
        self.make_output.clicked.connect(lambda: self._emit_for_layer(self.output_requested))
        self.output_row = QWidget()
        row = QHBoxLayout(self.output_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.output_label)
        row.addWidget(self.make_output)
        row.addStretch(1)

        self.form = QFormLayout()
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.form.addRow("Units", self.units)
        self.form.addRow("Width", self.width_label)
        self.form.addRow("Inputs", self.inputs_label)
        self.form.addRow("Activation", self.activation)
        self.form.addRow("Terms", self.terms)
        self.form.addRow("Drop p", self.p)
        self.form.addRow("Bias", self.use_bias)
        self.form.addRow("Weight init", self.init_row)
        self.form.addRow("Frozen", self.frozen_row)
        self.form.addRow("Output", self.output_row)
        # a norm layer's settings last: the refusal, the note and the running statistics follow right under them
        # (outside the form, which lays a spanning label that wraps out too short)
        self.form.addRow("Eps", self.norm.eps)
        self.form.addRow("Momentum", self.norm.momentum)
        self.form.addRow("Affine", self.norm.affine)

        self.params_box = ParamBox()
        self.params_box.value_edited.connect(self._request_param)
        self.params_box.randomize_clicked.connect(lambda seed: self._emit_for_layer(self.randomize_requested, seed))
        self.params_box.reset_clicked.connect(lambda: self._emit_for_layer(self.reset_requested))
        shown = self.params_box  # (its widgets, as the inspector's: tests and the window reach them here)
        self.weight_caption, self.weight_editor = shown.weight_caption, shown.weight_editor
        self.bias_caption, self.bias_editor = shown.bias_caption, shown.bias_editor
        self.randomize, self.seed, self.reset = shown.randomize, shown.seed, shown.reset
        for editor in (self.weight_editor, self.bias_editor):
            editor.refused.connect(lambda _why, editor=editor: self._reveal_refusal(editor))

        self.empty = QLabel("Select a layer to inspect it.")
        self.empty.setWordWrap(True)
        self.details = QWidget()
        details = QVBoxLayout(self.details)
        details.setContentsMargins(0, 0, 0, 0)
        details.addWidget(self.kind)
        details.addLayout(self.form)
        details.addWidget(self.norm.box)
        details.addWidget(self.params_box)

        self.body = QWidget()
        layout = QVBoxLayout(self.body)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(self.title)
        layout.addWidget(self.empty)
        layout.addWidget(self.details)
        layout.addStretch(1)
        self.scroll_area = QScrollArea()
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)  # only if squeezed narrow
        self.scroll_area.setWidget(self.body)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.scroll_area)

        self._inputs = (
            self.units,
            self.p,
            self.activation,
            self.use_bias,
            self.weight_init,
            self.frozen_weight,
            self.frozen_bias,
            self.seed,
            *self.norm.inputs,
        )

    # --- showing --------------------------------------------------------------------------------------

    def show_layer(
        self,
        spec: NetworkSpec | None,
        layer_id: str | None,
        params: Mapping[str, np.ndarray],
        grads: Mapping[str, np.ndarray] | None,
        running: Mapping[str, np.ndarray] | None = None,
    ) -> None:
        """Show ``layer_id`` of ``spec`` with its current ``params`` (and ``grads`` after a backward pass, and a
        batchnorm layer's ``running`` statistics); ``None`` shows the empty state. Emits nothing."""
        self.spec = spec
        self.layer_id = layer_id if spec is not None and layer_id in spec.widths else None
        with signals_blocked(*self._inputs):
            if spec is None or self.layer_id is None:
                self.title.setText("No layer selected")
                self.empty.show()
                self.details.hide()
                self.params_box.clear()
                return
            self.empty.hide()
            self.details.show()
            self._fill(spec, spec.layer(self.layer_id), params, grads or {})
            self._fill_norm(spec.layer(self.layer_id), running or {})

    def _fill(
        self, spec: NetworkSpec, layer: LayerSpec, params: Mapping[str, np.ndarray], grads: Mapping[str, np.ndarray]
    ) -> None:
        is_output = spec.output == layer.id
        dense = layer.type == "dense"
        self.title.setText(layer.id)
        extra = "" if layer.id in spec.active_order() else " · not used by the output"
        self.kind.setText(f"{TYPE_NAMES[layer.type]}{' · output' if is_output else ''}{extra}")

        self._set_row(self.units, layer.type in ("input", "dense"))
        self.units.setToolTip(
            "the number of features in the data (choosing a data set sets it)" if layer.type == "input" else ""
        )
        if layer.units is not None:
            self.units.setValue(layer.units)
        combined = layer.type in ("add", "concat", "features", "dropout", *NORM_TYPES)
        self._set_row(self.width_label, combined)
        self._set_row(self.inputs_label, combined or dense)
        self.width_label.setText(f"{spec.widths[layer.id]} units")
        self.inputs_label.setText(", ".join(f"{i} ({spec.widths[i]})" for i in layer.inputs))
        self._set_row(self.activation, layer.type not in ("input", "features", "dropout"))
        self._set_row(self.p, layer.type == "dropout")
        if layer.p is not None:
            self.p.setValue(layer.p)
        self._set_row(self.terms, layer.type == "features")
        if layer.type == "features":
            self.terms.show_terms(layer.terms, spec.widths[layer.inputs[0]])
        self.activation.setCurrentText(layer.activation)
        for widget in (self.use_bias, self.init_row):
            self._set_row(widget, dense)
        norm = layer.type in NORM_TYPES
        self._set_row(self.frozen_row, dense or norm and layer.affine)
        self.frozen_weight.setText("γ (weight)" if norm else "weight")
        self.frozen_bias.setText("β (bias)" if norm else "bias")
        self.use_bias.setChecked(layer.use_bias)
        self.weight_init.setCurrentText(layer.weight_init.name)
        self.weight_init.setToolTip(describe_init(layer.weight_init))
        given = layer.weight is not None  # (the file's values, or those kept through an edit)
        self.init_note.setVisible(given)
        self.init_note.setText(
            f"The weights are given (by the file, or kept through an edit), not drawn: {layer.weight_init.name} "
            "draws new ones only if you pick an initialiser or press Randomize."
            if given
            else ""
        )
        self.frozen_weight.setChecked("weight" in layer.frozen)
        self.frozen_bias.setChecked("bias" in layer.frozen)
        self.frozen_bias.setEnabled(layer.use_bias or norm)
        self._set_row(self.output_row, layer.type != "input")
        self.output_label.setVisible(is_output)
        self.make_output.setVisible(not is_output)

        with_params = dense or norm and layer.affine
        self.params_box.setVisible(with_params)
        if with_params:
            self.params_box.fill(spec, layer, params, grads)
        else:
            self.params_box.clear()

    def _fill_norm(self, layer: LayerSpec, running: Mapping[str, np.ndarray]) -> None:
        """A norm layer's eps, momentum (batchnorm) and affine, and which statistics it normalizes by."""
        norm = layer.type in NORM_TYPES
        for widget in (self.norm.eps, self.norm.affine):
            self._set_row(widget, norm)
        self.norm.box.setVisible(norm)
        self._set_row(self.norm.momentum, layer.type == "batchnorm")
        if norm:
            self.norm.show(layer, running)

    def _reveal_refusal(self, editor: MatrixEditor) -> None:
        """Scroll the reason ``editor`` just showed into view, then its current cell (the cell wins if both
        do not fit). The layouts are settled first, so the reason has its place and the body its height."""
        for _ in range(LAYOUT_ROUNDS):
            QCoreApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest.value)
        self.scroll_area.ensureWidgetVisible(editor.error, 0, 8)
        view = editor.view
        cell = view.visualRect(view.currentIndex())
        if cell.isValid():
            center = view.viewport().mapTo(self.body, cell.center())
            self.scroll_area.ensureVisible(center.x(), center.y(), cell.width() // 2, cell.height() // 2 + 4)

    def _set_row(self, field: QWidget, visible: bool) -> None:
        self.form.setRowVisible(field, visible)

    # --- requests -------------------------------------------------------------------------------------

    def _emit_for_layer(self, signal: Any, *args: Any) -> None:
        if self.layer_id is not None:
            signal.emit(self.layer_id, *args)

    def _request_field(self, name: str, value: Any) -> None:
        if self.spec is None or self.layer_id is None:
            return
        if getattr(self.spec.layer(self.layer_id), name) != value:
            self.fields_requested.emit(self.layer_id, {name: value})

    def _request_param(self, name: str, index: tuple, value: float) -> None:
        if self.layer_id is not None:
            self.param_requested.emit(f"{self.layer_id}.{name}", index, value)

    def _on_init_chosen(self, name: str) -> None:
        self._request_field("weight_init", Initializer(name))

    def _on_frozen_toggled(self) -> None:
        frozen = {p for p, box in (("weight", self.frozen_weight), ("bias", self.frozen_bias)) if box.isChecked()}
        self._request_field("frozen", frozenset(frozen))
