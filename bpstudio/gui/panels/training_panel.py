"""Training settings that can change while paused or training: loss, optimizer (with its L1 term, clipping and
schedule: :mod:`bpstudio.gui.panels.update_extras`), batch size, backend, and when Play stops by itself
(:mod:`bpstudio.gui.panels.stop_controls`).

A view: :meth:`TrainingPanel.show_settings` fills the widgets without emitting, and a person's changes
come out as ``*_requested`` signals for the main window to carry out (and then show again). Values that
core would refuse (a negative learning rate, text in a number field, a loss that does not fit the output
layer) are caught here: the reason is shown under the fields and nothing is emitted.
On a narrow dock a field that does not fit beside its label goes under it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from bpstudio.core import backends, losses
from bpstudio.core.errors import SpecError
from bpstudio.core.spec import OPTIMIZERS, NetworkSpec, OptimizerSpec
from bpstudio.core.stopping import StopRule
from bpstudio.core.trace import UpdateFigures
from bpstudio.gui.backend_loader import loading_text
from bpstudio.gui.inspectors.matrix_editor import ERROR_STYLE, parse_entry
from bpstudio.gui.panels.stop_controls import StopControls
from bpstudio.gui.panels.update_extras import UpdateExtras
from bpstudio.gui.qt_utils import format_number, signals_blocked

REFUSED_FIELD_STYLE = "border: 2px solid #c62828;"  # a field whose value was not taken
BACKEND_CHOICES = (("NumPy", "numpy", "cpu"), ("PyTorch CPU", "torch", "cpu"), ("PyTorch CUDA", "torch", "cuda"))
MAX_BATCH = 1_000_000
# optimizer field -> (label, the optimizers it applies to)
OPTIMIZER_FIELDS = {
    "lr": ("Learning rate", OPTIMIZERS),
    "momentum": ("Momentum", ("momentum",)),
    "alpha": ("Alpha", ("rmsprop",)),
    "beta1": ("Beta 1", ("adam", "adamw")),
    "beta2": ("Beta 2", ("adam", "adamw")),
    "eps": ("Epsilon", ("adam", "adamw", "rmsprop")),
    "weight_decay": ("Weight decay", OPTIMIZERS),
}
ROLE_BACKEND = Qt.ItemDataRole.UserRole + 1


class TrainingPanel(QWidget):
    """Loss, optimizer, batch size and backend; edits are requested, never applied here."""

    loss_requested = Signal(str)
    optimizer_requested = Signal(object)  # an OptimizerSpec
    batch_size_requested = Signal(object)  # int, or None for the full batch
    backend_requested = Signal(str, str, str)  # name, device, dtype
    stop_rule_requested = Signal(object)  # a StopRule: when Play stops by itself

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.spec: NetworkSpec | None = None
        self._optimizer = OptimizerSpec()
        self._pending: OptimizerSpec | None = None  # asked for, not yet shown back
        self._batch_size: int | None = None
        self._backend = ("numpy", "cpu", "float64")
        self._loading: tuple[str, str, str] | None = None  # a backend asked for and still loading
        self._marked: QWidget | None = None  # the field a refusal is about, framed red
        self._build()

    # --- construction ---------------------------------------------------------------------------------

    def _build(self) -> None:
        self.loss = QComboBox()
        self.loss.addItems(losses.NAMES)
        self.loss.currentTextChanged.connect(self._on_loss_chosen)
        self.optimizer = QComboBox()
        self.optimizer.addItems(OPTIMIZERS)
        self.optimizer.currentTextChanged.connect(self._on_optimizer_chosen)
        self.fields: dict[str, QLineEdit] = {}
        learning = QGroupBox("Loss and optimizer")
        self.optimizer_form = QFormLayout(learning)
        self.optimizer_form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.optimizer_form.addRow("Loss", self.loss)
        self.optimizer_form.addRow("Optimizer", self.optimizer)
        for key, (label, _) in OPTIMIZER_FIELDS.items():
            edit = QLineEdit()
            edit.setToolTip(f"{label}: any non-negative number, e.g. 0.5 or 1e-4")
            if key == "weight_decay":
                edit.setToolTip("L2 weight decay: added to the gradient, decoupled for adamw (0: none)")
            edit.editingFinished.connect(self._commit_optimizer)
            self.fields[key] = edit
            self.optimizer_form.addRow(label, edit)
        self.extras = UpdateExtras(self._commit_optimizer)
        self.stops = StopControls(self._commit_stop_rule)

        self.batch = QSpinBox()
        self.batch.setRange(1, MAX_BATCH)
        self.batch.setValue(32)
        self.batch.setKeyboardTracking(False)  # typing "32" asks once, not for "3" then "32"
        self.batch.valueChanged.connect(self._on_batch_changed)
        self.full_batch = QCheckBox("full batch")
        self.full_batch.setToolTip("Every step uses all training samples")
        self.full_batch.toggled.connect(self._on_batch_changed)
        batch_row = QWidget()
        row = QHBoxLayout(batch_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.batch, 1)
        row.addWidget(self.full_batch)

        self.backend = QComboBox()
        self.backend.setModel(QStandardItemModel(self.backend))
        self.backend.setToolTip(
            "Where the math runs; greyed-out entries are not available here (hover them for the reason)"
        )
        self.backend.currentIndexChanged.connect(self._on_backend_changed)
        self.dtype = QComboBox()
        self.dtype.addItems(backends.DTYPES)
        self.dtype.currentIndexChanged.connect(self._on_backend_changed)
        compute = QGroupBox("Batches and compute")
        form = QFormLayout(compute)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        form.addRow("Batch size", batch_row)
        form.addRow("Backend", self.backend)
        form.addRow("Precision", self.dtype)
        self.loading_bar = QProgressBar()  # busy (no end known) while a backend loads
        self.loading_bar.setRange(0, 0)
        self.loading_bar.setMaximumHeight(8)
        self.loading_bar.setTextVisible(False)
        self.loading_label = QLabel()
        self.loading_label.setWordWrap(True)
        form.addRow(self.loading_label)
        form.addRow(self.loading_bar)
        self.show_loading(None)
        self.refresh_backends()

        self.error = QLabel()
        self.error.setStyleSheet(ERROR_STYLE)
        self.error.setWordWrap(True)
        self.error.hide()
        outer = QVBoxLayout(self)  # the settings scroll when the dock is shorter than they are
        outer.setContentsMargins(0, 0, 0, 0)
        self.settings_area = QScrollArea()
        self.settings_area.setWidgetResizable(True)
        self.settings_area.setFrameShape(QFrame.Shape.NoFrame)
        self.settings_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        outer.addWidget(self.settings_area)
        content = QWidget()
        self.settings_area.setWidget(content)
        layout = QVBoxLayout(content)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(learning)
        layout.addWidget(self.error)  # (under the fields most often typed in; scrolled into view when shown)
        layout.addWidget(self.extras)
        layout.addWidget(compute)
        layout.addWidget(self.stops)
        layout.addStretch(1)
        self._inputs = (
            self.loss,
            self.optimizer,
            self.batch,
            self.full_batch,
            self.backend,
            self.dtype,
            *self.fields.values(),
            *self.extras.inputs,
        )
        self._show_optimizer_rows(self._optimizer.name)

    def refresh_backends(self) -> None:
        """Ask core which backends work here; unusable ones are disabled with the reason as tooltip."""
        reasons = backends.available()
        model = self.backend.model()
        assert isinstance(model, QStandardItemModel)
        with signals_blocked(self.backend):
            model.clear()
            for text, name, device in BACKEND_CHOICES:
                item = QStandardItem(text)
                item.setData((name, device), ROLE_BACKEND)
                reason = reasons.get(f"{name}/{device}", f"unknown backend {name}/{device}")
                item.setEnabled(reason is None)
                item.setToolTip(reason or f"{text} is available")
                model.appendRow(item)
            self._select_backend(*(self._loading or self._backend)[:2])

    def show_loading(self, choice: tuple[str, str, str] | None) -> None:
        """While ``choice`` (a backend asked for) loads, say so with a busy bar and keep it chosen in the
        fields; None: nothing loads any more."""
        self._loading = choice
        self.loading_label.setText("" if choice is None else loading_text(choice[0], choice[1]))
        self.loading_label.setVisible(choice is not None)
        self.loading_bar.setVisible(choice is not None)
        if choice is not None:
            with signals_blocked(self.backend, self.dtype):
                self._select_backend(choice[0], choice[1])
                self.dtype.setCurrentText(choice[2])

    # --- showing --------------------------------------------------------------------------------------

    def show_settings(self, spec: NetworkSpec, batch_size: int | None, backend: str, device: str, dtype: str) -> None:
        """Show the settings in effect. Emits nothing; clears any earlier refusal."""
        self.spec = spec
        self._optimizer = spec.optimizer
        self._pending = None
        self._batch_size = batch_size
        self._backend = (backend, device, dtype)
        with signals_blocked(*self._inputs):
            self.loss.setCurrentText(spec.loss)
            self.optimizer.setCurrentText(spec.optimizer.name)
            for key, edit in self.fields.items():
                edit.setText(format_number(getattr(spec.optimizer, key)))
            self.full_batch.setChecked(batch_size is None)
            if batch_size is not None:
                self.batch.setValue(batch_size)
            self.batch.setEnabled(batch_size is not None)
            shown = self._loading or self._backend
            self._select_backend(shown[0], shown[1])
            self.dtype.setCurrentText(shown[2])
        self.extras.show_settings(spec.optimizer)
        self._show_optimizer_rows(spec.optimizer.name)
        self._clear_error()

    def show_stop_rule(self, rule: StopRule) -> None:
        """Show the conditions Play stops at. Emits nothing."""
        self.stops.show_rule(rule)

    def show_progress(self, counters: Mapping[str, int], last: UpdateFigures | None) -> None:
        """The rate in use and what clipping did, from the optimizer's counters and the last update."""
        self.extras.show_progress(self._optimizer, counters, last)

    def _select_backend(self, name: str, device: str) -> None:
        model = self.backend.model()
        for row in range(model.rowCount()):
            if model.index(row, 0).data(ROLE_BACKEND) == (name, device):
                self.backend.setCurrentIndex(row)
                return

    def _show_optimizer_rows(self, name: str) -> None:
        for key, (_, applies_to) in OPTIMIZER_FIELDS.items():
            self.optimizer_form.setRowVisible(self.fields[key], name in applies_to)

    def _show_error(self, message: str, field: QWidget | None = None) -> None:
        """The reason under the optimizer's fields, scrolled into view, and the field it is about framed red
        (until a value is taken)."""
        self._unmark()
        self.error.setText(message)
        self.error.show()
        if field is not None:
            field.setStyleSheet(REFUSED_FIELD_STYLE)
            self._marked = field
        self.settings_area.ensureWidgetVisible(self.error)

    def _clear_error(self) -> None:
        self._unmark()
        self.error.clear()
        self.error.hide()

    def _unmark(self) -> None:
        if self._marked is not None:
            self._marked.setStyleSheet("")
            self._marked = None

    # --- requests -------------------------------------------------------------------------------------

    def _on_loss_chosen(self, name: str) -> None:
        if self.spec is None or name == self.spec.loss:
            return
        try:
            dataclasses.replace(self.spec, loss=name)  # validation only: core says whether it fits
        except SpecError as exc:
            self._show_error(f"Not changed — {exc}")
            with signals_blocked(self.loss):
                self.loss.setCurrentText(self.spec.loss)
            return
        self._clear_error()
        self.loss_requested.emit(name)

    def _on_optimizer_chosen(self, name: str) -> None:
        self._show_optimizer_rows(name)
        self._commit_optimizer()

    def _commit_optimizer(self) -> None:
        """Read the optimizer fields; emit the new OptimizerSpec, or show why it cannot be used."""
        name = self.optimizer.currentText()
        numbers: dict[str, Any] = {}
        last = self._pending or self._optimizer
        for key, (label, applies_to) in OPTIMIZER_FIELDS.items():
            if name not in applies_to:
                numbers[key] = getattr(last, key)  # hidden fields keep their values
                continue
            value, why = parse_entry(self.fields[key].text())
            if value is None:
                self._show_error(f"Not changed — {label.lower()}: {why}", self.fields[key])
                return
            numbers[key] = value
        try:
            extras, why = self.extras.read()
            if extras is None:
                self._show_error(f"Not changed — {why}")
                return
            requested = OptimizerSpec(name=name, **numbers, **extras)
        except SpecError as exc:  # (it names the setting in quotes, e.g. "'lr' must not be negative")
            named = next((key for key in self.fields if f"'{key}'" in exc.message), None)
            if named is None:
                self._show_error(f"Not changed — {exc}")
                return
            label = OPTIMIZER_FIELDS[named][0].lower() if named in OPTIMIZER_FIELDS else named
            # in the form's words: "learning rate must not be negative, got -0.1", not "field 'optimizer': 'lr' …"
            said = exc.message.replace(f"'{named}'", label, 1)
            self._show_error(f"Not changed — {said}", self.fields[named])
            return
        self._clear_error()
        if requested != last:
            self._pending = requested
            self.optimizer_requested.emit(requested)

    def _commit_stop_rule(self) -> None:
        rule, why = self.stops.read()
        if rule is None:
            self._show_error(f"Not changed — {why}")
            return
        self._clear_error()
        self.stop_rule_requested.emit(rule)

    def _on_batch_changed(self) -> None:
        full = self.full_batch.isChecked()
        self.batch.setEnabled(not full)
        requested = None if full else self.batch.value()
        if requested != self._batch_size:
            self.batch_size_requested.emit(requested)

    def _on_backend_changed(self) -> None:
        item = self.backend.currentData(ROLE_BACKEND)
        if item is None:
            return
        requested = (item[0], item[1], self.dtype.currentText())
        if requested != (self._loading or self._backend):
            self.backend_requested.emit(*requested)
