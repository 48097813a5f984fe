"""NumPy vs PyTorch side by side: the backend comparison of :mod:`bpstudio.core.tools.compare` as a dialog.

The dialog copies the document's network, current weights and first batch of training data under the
document's lock, runs the comparison in a worker thread (progress bar, Cancel) and shows the result as a
sortable table (every layer × quantity × backend/dtype, its largest absolute and relative difference) and
a heatmap (layers × backend/dtype pairs, the largest relative difference on a log scale, with a colour
bar). The numbers are core's; the dialog only formats and colours them.
"""

from __future__ import annotations

import itertools
import math
import threading
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QSortFilterProxyModel, Qt, QThread, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QIcon,
    QLinearGradient,
    QPainter,
    QPaintEvent,
    QPixmap,
    QStandardItem,
    QStandardItemModel,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from bpstudio.core.errors import BpstudioError
from bpstudio.core.io.fileio import write_atomic
from bpstudio.core.tools.compare import (
    NEAR_ZERO,
    QUANTITIES,
    QUANTITY_LABELS,
    BackendComparison,
    ComparisonCancelled,
    compare_backends,
)
from bpstudio.gui.colors import HIGHLIGHT, NEUTRAL, POSITIVE, network_colors
from bpstudio.gui.screen_fit import fit_to_screen
from bpstudio.gui.tools.window import raise_tool

if TYPE_CHECKING:
    from bpstudio.gui.main_window import MainWindow

COLUMNS = ("layer", "quantity", "backend", "dtype", "max abs diff", "max rel diff", "shape", "worst entry")
REL_COLUMN = COLUMNS.index("max rel diff")
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
HEAT_KINDS = (
    ("all", "all quantities"),
    ("outputs", "outputs: z, a, loss"),
    ("gradients", "gradients: dL/dz, dL/dW, dL/db"),
    *((q, QUANTITY_LABELS[q]) for q in QUANTITIES),
)
LOG_RANGE = (-16.0, 0.0)  # the colour scale: float64's rounding (1e-16) … 100 % (1e0)
# the colour ramp, in the app's palette: neutral (float64 rounding) → pale → orange (float32-sized) → red →
# dark red (as large as the values themselves); float32's usual 1e-8 … 1e-3 spans the most colours
RAMP = (
    (-16.0, NEUTRAL),
    (-12.0, QColor(250, 228, 170)),
    (-8.0, QColor(250, 190, 110)),
    (-5.0, POSITIVE),
    (-2.0, HIGHLIGHT),
    (0.0, QColor(120, 0, 30)),
)


def heat_color(value: float) -> QColor:
    """The colour of a relative difference on the log scale (exact agreement: the bottom; NaN: white)."""
    if math.isnan(value):
        return QColor(Qt.GlobalColor.white)
    level = LOG_RANGE[0] if value <= 0 else min(max(math.log10(value), LOG_RANGE[0]), LOG_RANGE[1])
    for (lo, c0), (hi, c1) in itertools.pairwise(RAMP):
        if level <= hi:
            t = (level - lo) / (hi - lo)
            return QColor(
                *(
                    round(a + (b - a) * t)
                    for a, b in ((c0.red(), c1.red()), (c0.green(), c1.green()), (c0.blue(), c1.blue()))
                )
            )
    return QColor(RAMP[-1][1])


def text_color(background: QColor) -> QColor:
    """Black on light backgrounds, white on dark ones (legible on a projector)."""
    return QColor(Qt.GlobalColor.black if background.lightness() > 140 else Qt.GlobalColor.white)


def swatch(color: QColor) -> QIcon:
    pixmap = QPixmap(12, 12)
    pixmap.fill(color)
    return QIcon(pixmap)


def sci(value: float) -> str:
    return "—" if math.isnan(value) else "0" if value == 0 else f"{value:.2e}"


class CompareWorker(QThread):
    progressed = Signal(int, int, str)
    compared = Signal(object)  # BackendComparison
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, spec: Any, data: Any, params: dict[str, np.ndarray], batch: range | None):
        super().__init__()
        self.args = (spec, data, params, batch)
        self.stop = threading.Event()

    def run(self) -> None:
        spec, data, params, batch = self.args
        try:
            result = compare_backends(
                spec, data, params, batch, progress=self.progressed.emit, cancelled=self.stop.is_set
            )
        except ComparisonCancelled:
            self.cancelled.emit()
        except BpstudioError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:
            self.failed.emit(f"{type(exc).__name__}: {exc}")
        else:
            self.compared.emit(result)


class ColorBar(QWidget):
    """The heatmap's legend: the colour ramp from 1e-16 to 1 with a label every four decades."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMinimumHeight(2 * self.fontMetrics().height() + 14)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        metrics = self.fontMetrics()
        margin = metrics.horizontalAdvance("1e-16") // 2 + 2
        left, width, bar = margin, self.width() - 2 * margin, metrics.height()
        gradient = QLinearGradient(left, 0, left + width, 0)
        lo, hi = LOG_RANGE
        for level, color in RAMP:
            gradient.setColorAt((level - lo) / (hi - lo), color)
        painter.fillRect(left, 2, width, bar, gradient)
        painter.setPen(self.palette().windowText().color())
        painter.drawRect(left, 2, width, bar)
        for level in range(int(lo), int(hi) + 1, 4):
            x = left + round(width * (level - lo) / (hi - lo))
            painter.drawLine(x, bar + 2, x, bar + 6)
            label = "1" if level == 0 else f"1e{level}"
            painter.drawText(x - metrics.horizontalAdvance(label) // 2, bar + 8 + metrics.ascent(), label)


class CompareDialog(QDialog):
    """Runs the comparison for ``window``'s document and shows it; :meth:`run` starts it again."""

    finished_comparing = Signal()  # a comparison ended: shown, failed or cancelled

    def __init__(self, window: MainWindow):
        super().__init__(window)
        self.window_ = window
        self.setWindowTitle("NumPy vs PyTorch")
        fit_to_screen(self, 1000, 660)
        self.result_: BackendComparison | None = None
        self.worker: CompareWorker | None = None
        self._colors: dict[str, QColor] = {}

        self.about = QLabel()
        self.about.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setFormat("%v of %m runs")
        self.cancel = QPushButton("Cancel")
        self.cancel.clicked.connect(self.cancel_run)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        bold = QFont(self.status.font())
        bold.setBold(True)
        self.status.setFont(bold)
        self.skipped = QLabel()
        self.skipped.setWordWrap(True)

        self.model = QStandardItemModel(0, len(COLUMNS), self)
        self.model.setHorizontalHeaderLabels(list(COLUMNS))
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.horizontalHeader().setSortIndicator(0, Qt.SortOrder.AscendingOrder)  # layer order
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(False)

        self.kind = QComboBox()
        for key, label in HEAT_KINDS:
            self.kind.addItem(label, key)
        self.kind.currentIndexChanged.connect(self._show_heatmap)
        self.kind.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.kind.setMinimumContentsLength(12)
        self.heat = QTableWidget()
        self.heat.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.heat.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.heat.setSizeAdjustPolicy(QAbstractItemView.SizeAdjustPolicy.AdjustToContents)
        self.colorbar = ColorBar()
        heat_box = QWidget()
        heat_layout = QVBoxLayout(heat_box)
        heat_layout.setContentsMargins(0, 0, 0, 0)
        heat_layout.addWidget(QLabel("Heatmap: the largest relative difference in"))
        heat_layout.addWidget(self.kind)
        heat_layout.addWidget(self.heat)
        heat_layout.addWidget(self.colorbar)
        heat_layout.addStretch(1)
        splitter = QSplitter()
        splitter.addWidget(self.table)
        splitter.addWidget(heat_box)
        splitter.setSizes([770, 390])
        splitter.setStretchFactor(0, 3)  # (the table's columns need the room; the heatmap's stretch)
        splitter.setStretchFactor(1, 1)

        self.again = QPushButton("Run again")
        self.again.setToolTip("Compare again with the document's weights and data as they are now")
        self.again.clicked.connect(self.run)
        self.export = QPushButton("Export CSV…")
        self.export.clicked.connect(self.export_csv)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        running_row = QHBoxLayout()
        running_row.addWidget(self.progress, 1)
        running_row.addWidget(self.cancel)
        buttons = QHBoxLayout()
        buttons.addWidget(self.again)
        buttons.addWidget(self.export)
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.about)
        layout.addLayout(running_row)
        layout.addWidget(self.status)
        layout.addWidget(self.skipped)
        layout.addWidget(splitter, 1)
        layout.addLayout(buttons)

    # --- running ------------------------------------------------------------------------------------

    def run(self) -> None:
        """Copy the document's network, weights and first batch (under its lock) and compare off the GUI
        thread. A comparison still running is cancelled first."""
        self._stop_worker()
        doc = self.window_.document
        with doc.lock:
            spec, data = doc.spec, doc.train_data
            params = doc.session.params_numpy()
            batch_size, step = doc.session.batch_size, doc.session.step_count
        n = len(data)
        batch = range(batch_size) if batch_size is not None and batch_size < n else None
        if batch is None:
            samples = "its one training sample" if n == 1 else f"all {n} training samples"
        else:
            samples = f"the first {batch_size} of {n} training samples (one batch)"
        self.about.setText(
            f"One forward and backward pass of {spec.name or 'the network'} with the weights after step {step}, "
            f"on {samples}, run on each backend in float64 and float32 and compared with NumPy float64. "
            f"Relative difference: |a − b| / max(|a|, |b|, {NEAR_ZERO:g}·max|a|) per entry, the largest over "
            "the entries (near-zero entries are measured against a fraction of the array's largest value)."
        )
        self._colors = network_colors(spec)
        self.result_ = None
        self._show_result()
        self.status.setText("Comparing…")
        self.progress.setRange(0, 4)
        self.progress.setValue(0)
        self._set_running(True)
        worker = CompareWorker(spec, data, params, batch)
        queued = Qt.ConnectionType.QueuedConnection  # (sent from the worker's thread, handled on this one)
        worker.progressed.connect(lambda done, total, label: self._on_progressed(worker, done, total, label), queued)
        worker.compared.connect(lambda result: self._on_compared(worker, result), queued)
        worker.failed.connect(lambda message: self._finish(worker, f"The comparison failed: {message}"), queued)
        worker.cancelled.connect(lambda: self._finish(worker, "Cancelled: nothing was compared."), queued)
        self.worker = worker
        worker.start()

    def cancel_run(self) -> None:
        if self.worker is not None:
            self.worker.stop.set()

    def _stop_worker(self) -> None:
        worker, self.worker = self.worker, None  # (what it still sends is ignored: see _finish)
        if worker is not None:
            worker.stop.set()
            worker.wait()

    def _set_running(self, running: bool) -> None:
        self.progress.setVisible(running)
        self.cancel.setVisible(running)
        self.again.setEnabled(not running)
        self.export.setEnabled(not running and self.result_ is not None)

    def _on_progressed(self, worker: CompareWorker, done: int, total: int, label: str) -> None:
        if worker is not self.worker:
            return
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        if done < total:
            self.status.setText(f"Comparing… running {label}")

    def _finish(self, worker: CompareWorker, text: str) -> None:
        """End ``worker``'s run with ``text``; nothing happens if it is no longer the current one (what an
        earlier run sends after Run again or Close is ignored)."""
        if worker is not self.worker:
            return
        self.worker = None
        worker.wait()
        self.status.setText(text)
        self._set_running(False)
        self.finished_comparing.emit()

    def _on_compared(self, worker: CompareWorker, result: BackendComparison) -> None:
        if worker is not self.worker:
            return
        self.result_ = result
        self._show_result()
        verdict = result.verdict()
        self._finish(worker, verdict[:1].upper() + verdict[1:])

    # --- showing ------------------------------------------------------------------------------------

    def _show_result(self) -> None:
        result = self.result_
        self.model.removeRows(0, self.model.rowCount())
        self.skipped.setVisible(bool(result and result.skipped))
        if result is None:
            self.heat.clear()
            self.heat.setRowCount(0)
            self.heat.setColumnCount(0)
            return
        self.skipped.setText("Not compared: " + "; ".join(f"{b} {d} ({why})" for b, d, why in result.skipped))
        order = {lid: i for i, lid in enumerate(result.layers)}
        pairs = [f"{b} {d}" for b, d in result.pairs]
        for row in result.rows:
            items = [
                self._item(row.layer, order[row.layer]),
                self._item(QUANTITY_LABELS[row.quantity], QUANTITIES.index(row.quantity)),
                self._item(row.backend, pairs.index(row.pair)),
                self._item(row.dtype, pairs.index(row.pair)),
                self._number(row.max_abs),
                self._number(row.max_rel, colored=True),
                self._item("×".join(map(str, row.shape)) or "scalar", int(np.prod(row.shape))),
                self._item("[" + ", ".join(map(str, row.worst_index)) + "]" if row.worst_index else "", 0),
            ]
            items[0].setData(self._colors.get(row.layer, QColor(NEUTRAL)), Qt.ItemDataRole.DecorationRole)
            self.model.appendRow(items)
        header = self.table.horizontalHeader()
        self.table.sortByColumn(header.sortIndicatorSection(), header.sortIndicatorOrder())
        self.table.resizeColumnsToContents()
        self.table.setCurrentIndex(self.proxy.index(-1, -1))  # (no focus frame on the first cell)
        self._show_heatmap()

    @staticmethod
    def _item(text: str, sort_key: float) -> QStandardItem:
        item = QStandardItem(text)
        item.setData(sort_key, SORT_ROLE)
        return item

    def _number(self, value: float, colored: bool = False) -> QStandardItem:
        item = self._item(sci(value), -1.0 if math.isnan(value) else value)
        item.setToolTip(repr(value))
        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if colored:
            background = heat_color(value)
            item.setBackground(background)
            item.setForeground(text_color(background))
        return item

    def _show_heatmap(self) -> None:
        if self.result_ is None:
            return
        matrix = self.result_.matrix(self.kind.currentData())
        self.heat.clear()
        self.heat.setRowCount(len(matrix.rows))
        self.heat.setColumnCount(len(matrix.columns))
        self.heat.setHorizontalHeaderLabels(list(matrix.columns))
        self.heat.setVerticalHeaderLabels(list(matrix.rows))
        for i, layer in enumerate(matrix.rows):
            if layer in self._colors:
                self.heat.verticalHeaderItem(i).setIcon(swatch(self._colors[layer]))
            for j, pair in enumerate(matrix.columns):
                value = float(matrix.values[i, j])
                item = QTableWidgetItem(sci(value))
                background = heat_color(value)
                item.setBackground(background)
                item.setForeground(text_color(background))
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                item.setToolTip(f"{layer}, {pair}: largest relative difference {value!r}")
                self.heat.setItem(i, j, item)

    # --- export and closing -------------------------------------------------------------------------

    def export_csv(self) -> None:
        if self.result_ is None:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export the comparison", "compare.csv", "CSV files (*.csv)")
        if not path:
            return
        try:
            write_atomic(path, self.result_.to_csv())
        except OSError as exc:
            QMessageBox.warning(self, "Export CSV", f"Cannot write '{path}': {exc.strerror or exc}")
            return
        self.status.setText(f"Wrote {len(self.result_.rows)} rows to {path}")

    def done(self, code: int) -> None:  # also reached by close() and Esc
        self._stop_worker()
        super().done(code)


def open_compare(window: MainWindow) -> CompareDialog:
    """Open (or bring forward) the NumPy vs PyTorch dialog for ``window``'s document and start comparing."""
    dialog = raise_tool(window, CompareDialog)
    dialog.run()
    return dialog
