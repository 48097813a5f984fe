"""Training and test loss against step, with an accuracy plot underneath once the run has accuracies.

Like every :class:`~bpstudio.gui.plots.history_plot.HistoryPlot` it redraws only when the history's
``version`` moved: the main window calls :meth:`LossPlot.refresh` from a timer, never once per step.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QCheckBox, QWidget

from bpstudio.core.record.history import TrainingHistory
from bpstudio.document.kept_runs import KeptRun
from bpstudio.gui.colors import LAYER_PALETTE
from bpstudio.gui.plots.history_plot import (
    INK,
    HistoryPlot,
    LogTickAxis,
    kept_pen,
    line_width,
    mark_points,
    point_size,
    prepare_plot,
)
from bpstudio.gui.plots.steady_view import SteadyViewBox

TRAIN_COLOR = QColor(LAYER_PALETTE[0])  # blue
TEST_COLOR = QColor(LAYER_PALETTE[1])  # orange


class LossPlot(HistoryPlot):
    """Loss against step (train line, test points), a log-scale toggle, and accuracy when there is any."""

    name = "loss"

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Save step, train and test loss and accuracy as CSV", parent)
        self.log_check = QCheckBox("Log scale")
        self.log_check.setToolTip("Show the loss on a logarithmic axis")
        self.loss_view = SteadyViewBox(x_floor=0.0, y_floor=0.0)  # (losses are never negative)
        self.loss_item = self.view.addPlot(
            row=0, col=0, axisItems={"left": LogTickAxis("left")}, viewBox=self.loss_view
        )
        self.steady_views = [self.loss_view]
        self.accuracy_item = pg.PlotItem()  # joins the layout once the history holds accuracies
        self.accuracy_item.setXLink(self.loss_item)
        self.accuracy_item.setYRange(0.0, 1.0, padding=0.06)
        self.accuracy_item.setMouseEnabled(x=True, y=False)
        self.accuracy_shown = False
        self.train_curve = self.loss_item.plot()
        self.test_curve = self.loss_item.plot(symbol="o", symbolSize=7, symbolBrush=TEST_COLOR, symbolPen=None)
        self.train_accuracy_curve = self.accuracy_item.plot()
        self.test_accuracy_curve = self.accuracy_item.plot(
            symbol="o", symbolSize=7, symbolBrush=TEST_COLOR, symbolPen=None
        )
        self.legend = pg.LegendItem(
            offset=(-10, 10), brush=pg.mkBrush(255, 255, 255, 210), pen=pg.mkPen("#bbbbbb"), labelTextColor=INK
        )
        self.legend.setParentItem(self.loss_item.getViewBox())
        self.kept_curves: list[pg.PlotDataItem] = []  # each kept run's training loss, faint
        self._with_test = False  # the legend names the test points once there are some
        self._apply_fonts()
        self._lay_out(self.log_check, fill=False)
        self.log_check.toggled.connect(self._on_log_toggled)

    def _draw(self, history: TrainingHistory) -> None:
        mark_points(self.train_curve, history.losses(), TRAIN_COLOR)
        mark_points(self.train_accuracy_curve, history.accuracies(), TRAIN_COLOR)
        self.train_curve.setData(history.steps(), history.losses(), connect="finite")
        self.test_curve.setData(history.test_steps(), history.test_losses(), connect="finite")
        accuracies = (history.accuracies(), history.test_accuracies())
        has_accuracy = any(bool(np.isfinite(a).any()) for a in accuracies)
        self._show_accuracy(has_accuracy and not self.presenting)  # (on a projector the loss takes the height)
        if self.accuracy_shown:
            self.train_accuracy_curve.setData(history.steps(), history.accuracies(), connect="finite")
            self.test_accuracy_curve.setData(history.test_steps(), history.test_accuracies(), connect="finite")
        self._with_test = bool(len(history.test_steps()))
        self._update_legend()
        self._set_exportable(len(history) > 0 or len(history.test_steps()) > 0)

    # --- drawing ------------------------------------------------------------------------------------

    def _show_accuracy(self, shown: bool) -> None:
        if shown == self.accuracy_shown:
            return
        if shown:
            self.view.addItem(self.accuracy_item, row=1, col=0)
        else:
            self.view.removeItem(self.accuracy_item)
        self.accuracy_shown = shown

    def _draw_kept(self, runs: list[KeptRun]) -> None:
        for curve in self.kept_curves:
            self.loss_item.removeItem(curve)
        self.kept_curves = []
        for index, run in enumerate(runs):
            curve = pg.PlotDataItem(run.history.steps(), run.history.losses(), connect="finite")
            curve.setPen(kept_pen(TRAIN_COLOR, index, self.font()))
            curve.setZValue(-1)  # behind the live run
            self.loss_item.addItem(curve)
            self.kept_curves.append(curve)
        self._update_legend()

    def _update_legend(self) -> None:
        entries = [("train", self.train_curve)] + ([("test", self.test_curve)] if self._with_test else [])
        entries += [(run.label, curve) for run, curve in zip(self.kept, self.kept_curves, strict=True)]
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
        for curve, color in (
            (self.train_curve, TRAIN_COLOR),
            (self.test_curve, TEST_COLOR),
            (self.train_accuracy_curve, TRAIN_COLOR),
            (self.test_accuracy_curve, TEST_COLOR),
        ):
            curve.setPen(pg.mkPen(color, width=width))
        for index, curve in enumerate(self.kept_curves):
            curve.setPen(kept_pen(TRAIN_COLOR, index, font))
        self.legend.setLabelTextSize(f"{point_size(font):g}pt")

    def _on_log_toggled(self, checked: bool) -> None:
        self.loss_view.set_y_floor(None if checked else 0.0)  # (a log axis shows log10 of the loss)
        self.loss_item.setLogMode(y=checked)
