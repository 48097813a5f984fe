"""A weight matrix or bias vector as a coloured, editable table.

Rows are the layer's neurons and columns its inputs (``units × fan_in``, like ``torch.nn.Linear``); a bias
is one column. The editor is a view: a valid entry is *requested* through :attr:`MatrixEditor.value_edited`
and the table keeps showing the old value until :meth:`MatrixEditor.set_matrix` is called again with the
applied result. Text that is not a finite number is refused at the cell: the reason shows right under the
table and :attr:`MatrixEditor.refused` tells the holder, which brings it into view.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHeaderView,
    QLabel,
    QSizePolicy,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from bpstudio.gui.colors import signed_color
from bpstudio.gui.qt_utils import format_number

CELL_DIGITS = 4  # significant digits in a cell; the tooltip gives the exact value
MAX_VISIBLE_ROWS = 12  # taller matrices scroll inside the table
FITTED_CELLS = 4096  # up to this many cells each column fits its numbers; bigger matrices get one width
WIDTH_SAMPLE = 512  # ... from the texts of about this many of their values (and their extremes)
ERROR_STYLE = "color: #c62828;"
REFUSAL_TEXT, REFUSAL_BACKGROUND = "#b71c1c", "#fdecea"  # the reason under the table: dark red on pale red

Index = QModelIndex | QPersistentModelIndex
NO_INDEX = QModelIndex()  # the invalid index: "no parent" in the model interface


def readable_text_color(background: QColor) -> QColor:
    """Black or white, whichever reads better on ``background`` (perceived brightness)."""
    brightness = 0.299 * background.red() + 0.587 * background.green() + 0.114 * background.blue()
    return QColor(Qt.GlobalColor.black) if brightness >= 140 else QColor(Qt.GlobalColor.white)


def parse_entry(text: str) -> tuple[float | None, str]:
    """``text`` as a finite float, or ``(None, why not)``."""
    stripped = text.strip()
    if not stripped:
        return None, "an empty entry is not a number"
    try:
        value = float(stripped)
    except ValueError:
        return None, f"'{stripped}' is not a number"
    if not math.isfinite(value):
        return None, f"'{stripped}' is not a finite number"
    return value, ""


def refusal_label() -> QLabel:
    """A boxed, pale red note, hidden until there is something to say. Coloured through its palette rather
    than a style sheet, so it follows the window's font (presentation mode enlarges it)."""
    label = QLabel()
    label.setWordWrap(True)
    label.setFrameShape(QFrame.Shape.Box)
    label.setMargin(3)
    label.setAutoFillBackground(True)
    palette = label.palette()
    palette.setColor(QPalette.ColorRole.WindowText, QColor(REFUSAL_TEXT))
    palette.setColor(QPalette.ColorRole.Window, QColor(REFUSAL_BACKGROUND))
    label.setPalette(palette)
    label.hide()
    return label


class MatrixModel(QAbstractTableModel):
    """The table behind :class:`MatrixEditor`. ``setData`` validates and forwards, it never stores."""

    def __init__(self, editor: MatrixEditor) -> None:
        super().__init__(editor)
        self._editor = editor
        self.key = ""
        self.values = np.zeros((0, 0))
        self.grads: np.ndarray | None = None
        self.editable = True
        self.row_labels: list[str] = []
        self.col_labels: list[str] = []
        self.scale = 1.0
        self.vector = False  # a 1-D array is shown as one column but named with one index

    def load(
        self,
        key: str,
        values: np.ndarray,
        grads: np.ndarray | None,
        editable: bool,
        row_labels: Sequence[str],
        col_labels: Sequence[str],
        vector: bool = False,
    ) -> None:
        self.beginResetModel()
        self.key = key
        self.vector = vector
        self.values = values
        self.grads = grads
        self.editable = editable
        self.row_labels = list(row_labels)
        self.col_labels = list(col_labels)
        finite = np.abs(values[np.isfinite(values)])
        self.scale = float(finite.max()) if finite.size else 0.0
        self.endResetModel()

    # --- Qt model interface ------------------------------------------------------------------------

    def rowCount(self, parent: Index = NO_INDEX) -> int:
        return 0 if parent.isValid() else self.values.shape[0]

    def columnCount(self, parent: Index = NO_INDEX) -> int:
        return 0 if parent.isValid() else self.values.shape[1]

    def flags(self, index: Index) -> Qt.ItemFlag:
        base = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        return base | Qt.ItemFlag.ItemIsEditable if self.editable else base

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        value = float(self.values[index.row(), index.column()])
        if role == Qt.ItemDataRole.DisplayRole:
            return format_number(value, CELL_DIGITS)
        if role == Qt.ItemDataRole.EditRole:
            return repr(value)  # text, so the delegate opens a line edit with the exact value
        if role == Qt.ItemDataRole.BackgroundRole:
            return QBrush(signed_color(value, self.scale))
        if role == Qt.ItemDataRole.ForegroundRole:
            return QBrush(readable_text_color(signed_color(value, self.scale)))
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            lines = [f"{self.entry_name(index.row(), index.column())} = {value!r}"]
            if self.grads is not None:
                grad = float(self.grads[index.row(), index.column()])
                lines.append(f"gradient dL/d{self.kind} = {grad!r}")
            return "\n".join(lines)
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        labels = self.col_labels if orientation == Qt.Orientation.Horizontal else self.row_labels
        return labels[section] if 0 <= section < len(labels) else None

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid() or role != Qt.ItemDataRole.EditRole or not self.editable:
            return False
        return self._editor.request(index.row(), index.column(), str(value))

    # --- naming ---------------------------------------------------------------------------------------

    @property
    def kind(self) -> str:
        """ "weight" or "bias" from a key like ``h.weight``."""
        return self.key.rsplit(".", 1)[-1] if "." in self.key else "entry"

    def entry_name(self, row: int, col: int) -> str:
        where = f"{row}" if self.vector else f"{row}, {col}"
        return f"{self.key}[{where}]"


class MatrixEditor(QWidget):
    """A coloured table over a 2-D weight or 1-D bias; edits come out as ``value_edited(row, col, value)``."""

    value_edited = Signal(int, int, float)
    refused = Signal(str)  # the reason typed text was not taken, as shown under the table

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = MatrixModel(self)
        self.view = QTableView()
        self.view.setModel(self.model)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
            | QAbstractItemView.EditTrigger.AnyKeyPressed
        )
        self.view.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.view.setWordWrap(False)
        for header in (self.view.horizontalHeader(), self.view.verticalHeader()):
            header.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
            header.setHighlightSections(False)
        self.view.horizontalHeader().setDefaultAlignment(Qt.AlignmentFlag.AlignCenter)
        self.view.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.error = refusal_label()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.view)
        layout.addWidget(self.error)

    # --- showing --------------------------------------------------------------------------------------

    def set_matrix(
        self,
        key: str,
        values: np.ndarray,
        grads: np.ndarray | None = None,
        editable: bool = True,
        *,
        row_labels: Sequence[str] | None = None,
        col_labels: Sequence[str] | None = None,
    ) -> None:
        """Show ``values`` (2-D weight or 1-D bias) for parameter ``key``, with optional gradients."""
        array = np.array(values, dtype=np.float64)
        vector = array.ndim == 1
        if array.ndim not in (1, 2):
            raise ValueError(f"a matrix editor shows 1-D or 2-D arrays, got shape {array.shape}")
        table = array.reshape(-1, 1) if vector else array
        grad_table = None
        if grads is not None:
            grad_table = np.array(grads, dtype=np.float64).reshape(table.shape)
        rows = list(row_labels) if row_labels is not None else [f"neuron {j}" for j in range(table.shape[0])]
        if col_labels is not None:
            cols = list(col_labels)
        elif vector:
            cols = [key.rsplit(".", 1)[-1] if "." in key else "value"]
        else:
            cols = [f"in[{k}]" for k in range(table.shape[1])]
        self.model.load(key, table, grad_table, editable, rows, cols, vector)
        self.error.hide()
        self.error.clear()
        self._fit()

    def clear(self) -> None:
        self.model.load("", np.zeros((0, 0)), None, False, [], [])
        self.error.hide()
        self.error.clear()
        self._fit()

    def _fit(self) -> None:
        """Columns just wide enough for their numbers; the table as tall as its rows (up to a cap). A big
        matrix's columns share one width: fitting each column asks the model for every cell (a 1000×1000
        layer's took a minute), while the table is lazy and only asks for the cells in sight."""
        view, model = self.view, self.model
        metrics = view.fontMetrics()
        least = metrics.horizontalAdvance("-0.0000") + 12
        if model.rowCount() * model.columnCount() <= FITTED_CELLS:
            view.resizeColumnsToContents()
            for col in range(model.columnCount()):
                view.setColumnWidth(col, max(view.columnWidth(col), least))
        else:
            width = max(least, self._shared_width(metrics))
            view.horizontalHeader().setDefaultSectionSize(width)
            for col in range(model.columnCount()):  # (sections keep sizes set for an earlier matrix)
                view.setColumnWidth(col, width)
        view.verticalHeader().setDefaultSectionSize(metrics.height() + 8)
        rows = min(model.rowCount(), MAX_VISIBLE_ROWS)
        frame = 2 * view.frameWidth()
        height = view.horizontalHeader().sizeHint().height() + rows * view.verticalHeader().defaultSectionSize()
        content = view.verticalHeader().sizeHint().width() + view.horizontalHeader().length()
        if self.model.rowCount() > MAX_VISIBLE_ROWS:
            content += view.verticalScrollBar().sizeHint().width()
        view.setMaximumWidth(content + frame)  # no grey strip right of a small matrix
        clipped = content + frame > self.width() > 0
        scrollbar = view.horizontalScrollBar().sizeHint().height() if clipped else 0
        view.setFixedHeight(height + frame + scrollbar)

    def _shared_width(self, metrics: Any) -> int:
        """A width for every column of a big matrix: its widest header and the widest text among a sample of
        its values and its extremes (a rarer, longer number shows elided; its tooltip has it whole)."""
        values = self.model.values.ravel()
        sample = values[:: max(1, values.size // WIDTH_SAMPLE)]
        finite = values[np.isfinite(values)]
        extremes = [finite.min(), finite.max(), finite[np.argmin(np.abs(finite))]] if finite.size else []
        texts = {format_number(float(v), CELL_DIGITS) for v in (*sample, *extremes)} | set(self.model.col_labels)
        return max((metrics.horizontalAdvance(text) for text in texts), default=0) + 12

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        self._fit()

    # --- editing --------------------------------------------------------------------------------------

    def request(self, row: int, col: int, text: str) -> bool:
        """Called by the model for typed text: refuse it with a reason, or emit a request."""
        old = float(self.model.values[row, col])
        value, why = parse_entry(text)
        if value is None:
            name = self.model.entry_name(row, col)
            self.error.setText(f"{why}: the {self.model.kind} {name} keeps {format_number(old)}")
            self.error.show()
            self.refused.emit(self.error.text())
            return False
        self.error.hide()
        self.error.clear()
        if value != old:
            self.value_edited.emit(row, col, value)
        return True
