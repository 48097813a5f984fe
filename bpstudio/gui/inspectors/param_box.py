"""The inspector's parameter tables: a dense layer's weight matrix and bias, a norm layer's scale γ and shift β,
each an editable :class:`~bpstudio.gui.inspectors.matrix_editor.MatrixEditor`, with Randomize (dense layers:
draw new weights with a seed) and Reset (back to the initial values).

A view: :meth:`ParamBox.fill` shows the values (and gradients after a backward pass); edits come out as
``value_edited(name, index, value)`` with the index the parameter takes ((row, col) for a weight matrix, (unit,)
for a vector), and the buttons as ``randomize_clicked(seed)`` and ``reset_clicked()``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QPushButton, QSpinBox, QVBoxLayout, QWidget

from bpstudio.core.normalization import NORM_TYPES
from bpstudio.core.spec import LayerSpec, NetworkSpec
from bpstudio.gui.flow_layout import GroupFlowLayout
from bpstudio.gui.inspectors.matrix_editor import MatrixEditor

MAX_SEED = 99_999  # five digits keep the row narrow; any seed gives a fresh draw
NAMES = {"weight": ("Weight", "Bias"), "norm": ("Scale γ", "Shift β")}


def heading(text: str) -> QLabel:
    label = QLabel(text)
    label.setStyleSheet("font-weight: bold;")
    label.setWordWrap(True)
    return label


def input_labels(spec: NetworkSpec, layer_id: str) -> list[str]:
    """A name for each unit flowing into ``layer_id``: ``i[0]``, ``i[1]``…; a concat is followed back
    to the layers it joins, so its columns read ``a[0], a[1], b[0]``."""
    labels: list[str] = []
    for source in spec.layer(layer_id).inputs:
        if spec.layer(source).type == "concat":
            labels.extend(input_labels(spec, source))
        else:
            labels.extend(f"{source}[{k}]" for k in range(spec.widths[source]))
    return labels


class ParamBox(QWidget):
    """A layer's parameters as tables, and the buttons that draw or reset them."""

    value_edited = Signal(str, tuple, float)  # "weight" | "bias", the entry's index, the new value
    randomize_clicked = Signal(int)  # the seed
    reset_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.vectors = False  # the shown layer's weight is a vector (a norm layer's γ)
        self.weight_caption = heading("")
        self.weight_editor = MatrixEditor()
        self.weight_editor.value_edited.connect(
            lambda r, c, v: self.value_edited.emit("weight", (r,) if self.vectors else (r, c), v)
        )
        self.bias_caption = heading("")
        self.bias_editor = MatrixEditor()
        self.bias_editor.value_edited.connect(lambda r, c, v: self.value_edited.emit("bias", (r,), v))
        self.grad_note = QLabel("Hover a cell for its exact value and gradient; double-click to edit.")
        self.grad_note.setWordWrap(True)

        self.seed = QSpinBox()
        self.seed.setRange(0, MAX_SEED)
        self.seed.setToolTip("The seed Randomize draws with: the same seed gives the same values")
        self.randomize = QPushButton("Randomize")
        self.randomize.setToolTip("Draw new weights from the weight initialiser with this seed")
        self.randomize.clicked.connect(lambda: self.randomize_clicked.emit(self.seed.value()))
        self.seed_label = QLabel("seed")
        self.reset = QPushButton("Reset")
        self.reset.setToolTip("Put this layer's parameters back to their initial values")
        self.reset.clicked.connect(lambda: self.reset_clicked.emit())
        self.buttons = QWidget()
        flow = GroupFlowLayout(self.buttons)
        flow.setContentsMargins(0, 0, 0, 0)
        flow.add_group(self.randomize, self.seed_label, self.seed)
        flow.add_group(self.reset, right=True)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        for widget in (
            self.weight_caption,
            self.weight_editor,
            self.bias_caption,
            self.bias_editor,
            self.grad_note,
            self.buttons,
        ):
            layout.addWidget(widget)

    def clear(self) -> None:
        self.weight_editor.clear()
        self.bias_editor.clear()

    def fill(
        self, spec: NetworkSpec, layer: LayerSpec, params: Mapping[str, np.ndarray], grads: Mapping[str, np.ndarray]
    ) -> None:
        """Show ``layer``'s parameters (a dense or norm layer) with their gradients, if any."""
        norm = layer.type in NORM_TYPES
        self.vectors = norm
        names = NAMES["norm" if norm else "weight"]
        for name, shown_name, caption, editor in (
            ("weight", names[0], self.weight_caption, self.weight_editor),
            ("bias", names[1], self.bias_caption, self.bias_editor),
        ):
            key = f"{layer.id}.{name}"
            shown = key in params
            caption.setVisible(shown)
            editor.setVisible(shown)
            if not shown:
                editor.clear()
                continue
            values = params[key]
            size = "×".join(map(str, values.shape))
            frozen = " · frozen" if name in layer.frozen else ""
            caption.setText(f"{shown_name} {key} · {size}{frozen}")
            if norm:
                caption.setToolTip(
                    "one per unit: z = γ·x̂ + β scales and shifts the normalized value x̂ (γ 1 and β 0: plain "
                    "normalization)"
                )
                column = "γ" if name == "weight" else "β"
                editor.set_matrix(key, values, grads.get(key), col_labels=[column], row_labels=_units(values))
                continue
            caption.setToolTip(
                "rows: this layer's neurons, columns: its inputs (like torch.nn.Linear)"
                if name == "weight"
                else "one bias per neuron"
            )
            inputs = input_labels(spec, layer.id) if name == "weight" else None
            editor.set_matrix(key, values, grads.get(key), col_labels=inputs)
        for widget in (self.randomize, self.seed_label, self.seed):
            widget.setVisible(not norm)  # (γ and β start at 1 and 0: nothing to draw)
        self.grad_note.setText(
            "Hover a cell for its exact value" + (" and gradient" if grads else "") + "; double-click to edit."
        )


def _units(values: np.ndarray) -> list[str]:
    return [f"unit {k}" for k in range(len(values))]
