"""Training and test loss against step, with an accuracy plot underneath once the run has accuracies.

The plot draws a :class:`~bpstudio.core.history.TrainingHistory` and redraws only when its ``version``
moved: the main window calls :meth:`LossPlot.refresh` from a timer, never once per step.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent
from PySide6.QtGui import QAction, QColor, QFont
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QPushButton, QVBoxLayout, QWidget

from bpstudio.core.history import TrainingHistory
from bpstudio.gui.colors import LAYER_PALETTE
from bpstudio.gui.plots.export import export_csv_dialog, export_png_dialog
from bpstudio.gui.plots.steady_view import SteadyViewBox

TRAIN_COLOR = QColor(LAYER_PALETTE[0])  # blue
TEST_COLOR = QColor(LAYER_PALETTE[1])   # orange
INK = "#303030"                         # axes and labels, dark on the white background
# Curves are 1 px (cosmetic) lines: Qt strokes wider pens several times slower, which tripled the cost of
# a gradient-plot repaint while training (bench/bench_gui.py). With presentation-sized fonts they thicken.
LINE_WIDTH = 1
BOLD_LINE_WIDTH = 2
BOLD_FROM_POINTS = 12.0                 # fonts this large or larger (presentation mode) get bold lines
LABEL_SCALE = 1.2                       # axis titles a little larger than the tick numbers


class LogTickAxis(pg.AxisItem):
    """An axis whose log-scale ticks come in levels: decades, then 2 and 5, then the other digits.

    pyqtgraph puts every tick of a range under two decades into one level, which always gets labels,
    so they overlap; split up, the crowded levels lose their labels and keep only their tick marks.
    """

    def logTickValues(self, minVal: float, maxVal: float, size: float,  # noqa: N802,N803 (pyqtgraph API)
                      stdTicks: list) -> list:  # noqa: N803
        levels = super().logTickValues(minVal, maxVal, size, stdTicks)
        if not levels or levels[-1][0] is not None:
            return levels
        decades: list[float] = []
        halves: list[float] = []
        others: list[float] = []
        for value in levels[-1][1]:
            digit = round(10 ** (value - math.floor(value + 1e-9)))  # the leading digit of the tick
            (decades if digit == 1 else halves if digit in (2, 5) else others).append(value)
        return levels[:-1] + [(None, decades), (None, halves), (None, others)]


def new_view(owner: QWidget, export_png: Callable[[], None], export_csv: Callable[[], None]) -> pg.GraphicsLayoutWidget:
    """A white plotting area whose right-click menu offers our PNG and CSV exports in place of
    pyqtgraph's "Export..." dialog (whose SVG export fails with Qt 6.11)."""
    view = pg.GraphicsLayoutWidget()
    view.setBackground("w")
    actions = [QAction("Export PNG…", owner), QAction("Export CSV…", owner)]
    actions[0].triggered.connect(export_png)
    actions[1].triggered.connect(export_csv)
    view.scene().contextMenu = actions
    return view


def point_size(font: QFont) -> float:
    return font.pointSizeF() if font.pointSizeF() > 0 else 10.0


def style_axis(axis: pg.AxisItem, font: QFont, label: str | None = None) -> None:
    """Dark ticks and label in the widget's font, so the axis stays legible on a projector."""
    axis.setPen(pg.mkPen(INK))
    axis.setTextPen(pg.mkPen(INK))
    axis.setTickFont(font)
    axis.enableAutoSIPrefix(False)  # "loss (x0.001)" reads worse than plain numbers
    if label is not None:
        axis.setLabel(label, **{"color": INK, "font-size": f"{LABEL_SCALE * point_size(font):g}pt"})


def line_width(font: QFont) -> int:
    return BOLD_LINE_WIDTH if point_size(font) >= BOLD_FROM_POINTS else LINE_WIDTH


def prepare_plot(item: pg.PlotItem, font: QFont, left: str, bottom: str = "step") -> None:
    """Axis labels and the cheap drawing settings every live plot uses. No grid: pyqtgraph draws grid
    lines with the axes, which doubled the cost of every repaint while training (bench/bench_gui.py)."""
    style_axis(item.getAxis("left"), font, left)
    style_axis(item.getAxis("bottom"), font, bottom)
    item.setMenuEnabled(False, enableViewBoxMenu=True)  # its plot options would bypass the widget's own
    item.setDownsampling(auto=True, mode="peak")
    item.setClipToView(True)


class LossPlot(QWidget):
    """Loss against step (train line, test points), a log-scale toggle, and accuracy when there is any."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.history: TrainingHistory | None = None
        self._drawn_version: int | None = None
        self.log_check = QCheckBox("Log scale")
        self.log_check.setToolTip("Show the loss on a logarithmic axis")
        self.png_button = QPushButton("Export PNG…")
        self.csv_button = QPushButton("Export CSV…")
        self.csv_button.setToolTip("Save step, train and test loss and accuracy as CSV")
        bar = QHBoxLayout()
        bar.addWidget(self.log_check)
        bar.addStretch(1)
        bar.addWidget(self.png_button)
        bar.addWidget(self.csv_button)

        self.view = new_view(self, self._on_export_png, self._on_export_csv)
        self.loss_item = self.view.addPlot(row=0, col=0, axisItems={"left": LogTickAxis("left")},
                                          viewBox=SteadyViewBox())
        self.accuracy_item = pg.PlotItem()  # joins the layout once the history holds accuracies
        self.accuracy_item.setXLink(self.loss_item)
        self.accuracy_item.setYRange(0.0, 1.0, padding=0.06)
        self.accuracy_item.setMouseEnabled(x=True, y=False)
        self.accuracy_shown = False
        self.train_curve = self.loss_item.plot()
        self.test_curve = self.loss_item.plot(symbol="o", symbolSize=7, symbolBrush=TEST_COLOR, symbolPen=None)
        self.train_accuracy_curve = self.accuracy_item.plot()
        self.test_accuracy_curve = self.accuracy_item.plot(symbol="o", symbolSize=7, symbolBrush=TEST_COLOR,
                                                           symbolPen=None)
        self.legend = pg.LegendItem(offset=(-10, 10), brush=pg.mkBrush(255, 255, 255, 210), pen=pg.mkPen("#bbbbbb"),
                                    labelTextColor=INK)
        self.legend.setParentItem(self.loss_item.getViewBox())
        self._apply_fonts()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.view, 1)
        self.log_check.toggled.connect(self._on_log_toggled)
        self.png_button.clicked.connect(self._on_export_png)
        self.csv_button.clicked.connect(self._on_export_csv)
        self._set_exportable(False)

    # --- the model ----------------------------------------------------------------------------------

    def set_history(self, history: TrainingHistory | None) -> None:
        """Draw ``history`` from now on (at once, and again on each :meth:`refresh` after it changed)."""
        self.history = history
        self._drawn_version = None
        self.refresh()

    def refresh(self, snapshot: TrainingHistory | None = None) -> bool:
        """Redraw if the history changed since the last drawing; True if it redrew. While a worker trains,
        pass the latest :meth:`~TrainingHistory.snapshot` it took; else a snapshot is taken here."""
        if self.history is None or (snapshot or self.history).version == self._drawn_version:
            return False
        history = snapshot or self.history.snapshot()
        self._drawn_version = history.version
        self.train_curve.setData(history.steps(), history.losses(), connect="finite")
        self.test_curve.setData(history.test_steps(), history.test_losses(), connect="finite")
        accuracies = (history.accuracies(), history.test_accuracies())
        self._show_accuracy(any(bool(np.isfinite(a).any()) for a in accuracies))
        if self.accuracy_shown:
            self.train_accuracy_curve.setData(history.steps(), history.accuracies(), connect="finite")
            self.test_accuracy_curve.setData(history.test_steps(), history.test_accuracies(), connect="finite")
        self._update_legend(bool(len(history.test_steps())))
        self._set_exportable(len(history) > 0 or len(history.test_steps()) > 0)
        return True

    # --- drawing ------------------------------------------------------------------------------------

    def _show_accuracy(self, shown: bool) -> None:
        if shown == self.accuracy_shown:
            return
        if shown:
            self.view.addItem(self.accuracy_item, row=1, col=0)
        else:
            self.view.removeItem(self.accuracy_item)
        self.accuracy_shown = shown

    def _update_legend(self, with_test: bool) -> None:
        entries = [("train", self.train_curve)] + ([("test", self.test_curve)] if with_test else [])
        if [label.text for _, label in self.legend.items] == [name for name, _ in entries]:
            return
        self.legend.clear()
        for name, curve in entries:
            self.legend.addItem(curve, name)

    def _apply_fonts(self) -> None:
        font = self.font()
        prepare_plot(self.loss_item, font, "loss")
        prepare_plot(self.accuracy_item, font, "accuracy")
        width = line_width(font)
        for curve, color in ((self.train_curve, TRAIN_COLOR), (self.test_curve, TEST_COLOR),
                             (self.train_accuracy_curve, TRAIN_COLOR), (self.test_accuracy_curve, TEST_COLOR)):
            curve.setPen(pg.mkPen(color, width=width))
        self.legend.setLabelTextSize(f"{point_size(font):g}pt")

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt override)
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange:
            self._apply_fonts()

    def _on_log_toggled(self, checked: bool) -> None:
        self.loss_item.setLogMode(y=checked)

    def _set_exportable(self, enabled: bool) -> None:
        self.png_button.setEnabled(enabled)
        self.csv_button.setEnabled(enabled)

    def _on_export_png(self) -> None:
        export_png_dialog(self, self.view, "loss.png")

    def _on_export_csv(self) -> None:
        if self.history is not None:
            export_csv_dialog(self, self.history.snapshot().to_csv("loss"), "loss.csv")
