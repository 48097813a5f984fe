"""Training and test loss against step, with an accuracy plot underneath once the run has accuracies.

Like every :class:`~bpstudio.gui.plots.history_plot.HistoryPlot` it redraws only when the history's
``version`` moved: the main window calls :meth:`LossPlot.refresh` from a timer, never once per step.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor, QFont, QFontMetrics
from PySide6.QtWidgets import QCheckBox, QWidget

from bpstudio.core.modes import EVAL_MODE
from bpstudio.core.record.history import TrainingHistory
from bpstudio.document.kept_runs import KeptRun
from bpstudio.gui.colors import LAYER_PALETTE
from bpstudio.gui.plots.history_plot import (
    LABEL_SCALE,
    HistoryPlot,
    LogTickAxis,
    fit_legend,
    kept_pen,
    legend_row,
    line_width,
    mark_points,
    point_size,
    prepare_plot,
    show_ticks,
    style_axis,
)
from bpstudio.gui.plots.steady_view import SteadyViewBox

TRAIN_COLOR = QColor(LAYER_PALETTE[0])  # blue
TEST_COLOR = QColor(LAYER_PALETTE[1])  # orange
LEGEND_MARGIN = 10  # pixels kept free beside the legend row


class LossPlot(HistoryPlot):
    """Loss against step (train line, test points), a log-scale toggle, and accuracy when there is any."""

    name = "loss"

    def __init__(self, parent: QWidget | None = None):
        super().__init__(
            "Save step, train and test loss and accuracy as CSV",
            parent,
            empty_hint="The loss appears here after the first step",
        )
        self.log_check = QCheckBox("Log scale")
        self.log_check.setToolTip("Show the loss on a logarithmic axis")
        self.legend = legend_row(self.view, row=0)  # train, test and the kept runs, above the plots
        self.loss_view = SteadyViewBox(x_floor=0.0, y_floor=0.0)  # (losses are never negative)
        self.loss_item = self.view.addPlot(
            row=1, col=0, axisItems={"left": LogTickAxis("left")}, viewBox=self.loss_view
        )
        self.steady_views = [self.loss_view]
        self._hint_over(self.loss_view)
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
        self.kept_curves: list[pg.PlotDataItem] = []  # each kept run's training loss, faint
        self._with_test = False  # the legend names the test points once there are some
        self.modes = ""  # core's words on how the train and test losses are computed, where they differ
        self._apply_fonts()
        self._lay_out(self.log_check, fill=False)
        self.log_check.toggled.connect(self._on_log_toggled)

    def show_modes(self, explanation: str) -> None:
        """``explanation``: core's sentence on how the training and the test loss are computed (:func:`loss_modes`),
        ``""`` when alike. With one, the test points read "test (eval mode)" and the plot's tooltip explains."""
        if explanation == self.modes:
            return
        self.modes = explanation
        self.view.setToolTip(explanation)
        self._update_legend()

    def _draw(self, history: TrainingHistory) -> None:
        # the accuracy is evaluated now and then while training (a big network's seconds apart): its curve
        # joins the steps that have one, where a line only between neighbouring steps would show nothing
        accuracies, evaluated = history.accuracies(), np.isfinite(history.accuracies())
        mark_points(self.train_curve, history.losses(), TRAIN_COLOR)
        mark_points(self.train_accuracy_curve, accuracies[evaluated], TRAIN_COLOR)
        self.train_curve.setData(history.steps(), history.losses(), connect="finite")
        self.test_curve.setData(history.test_steps(), history.test_losses(), connect="finite")
        has_accuracy = bool(evaluated.any()) or bool(np.isfinite(history.test_accuracies()).any())
        self._show_accuracy(has_accuracy and not self.presenting)  # (on a projector the loss takes the height)
        if self.accuracy_shown:
            self.train_accuracy_curve.setData(history.steps()[evaluated], accuracies[evaluated])
            self.test_accuracy_curve.setData(history.test_steps(), history.test_accuracies(), connect="finite")
        self._with_test = bool(len(history.test_steps()))
        self._update_legend()
        self._set_exportable(len(history) > 0 or len(history.test_steps()) > 0)

    # --- drawing ------------------------------------------------------------------------------------

    def _show_accuracy(self, shown: bool) -> None:
        if shown == self.accuracy_shown:
            return
        if shown:
            self.view.addItem(self.accuracy_item, row=2, col=0)
        else:
            self.view.removeItem(self.accuracy_item)
        self.accuracy_shown = shown
        self._share_step_axis()
        self._fit_accuracy_label()

    def _share_step_axis(self) -> None:
        """With the accuracy plot underneath, the step axis is written once, under it: the loss plot's own
        step numbers and label would only take the little height a dock has (at 1366×768, most of it)."""
        self.loss_item.getAxis("bottom").showLabel(not self.accuracy_shown)
        self._show_ticks()

    def _show_ticks(self) -> None:
        show_ticks(self.loss_item.getAxis("left"), not self.empty)
        show_ticks(self.loss_item.getAxis("bottom"), not self.empty, values=not self.accuracy_shown)

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
        test = f"test ({EVAL_MODE})" if self.modes else "test"
        entries = [("train", self.train_curve)] + ([(test, self.test_curve)] if self._with_test else [])
        entries += [(run.label, curve) for run, curve in zip(self.kept, self.kept_curves, strict=True)]
        if [label.text for _, label in self.legend.items] == [name for name, _ in entries]:
            return
        self.legend.clear()
        for name, curve in entries:
            self.legend.addItem(curve, name)
        self._fit_legend()

    def _fit_legend(self) -> None:
        fit_legend(self.legend, self.view.width() - 2 * LEGEND_MARGIN)

    def _view_resized(self) -> None:
        self._fit_legend()
        self._fit_accuracy_label()

    def _fit_accuracy_label(self) -> None:
        """ "accuracy" along the accuracy plot's axis, or "acc." when the plot is too short for the word (it
        would run into the loss plot's label above)."""
        font = QFont(self.font())
        font.setPointSizeF(LABEL_SCALE * point_size(font))
        metrics = QFontMetrics(font)
        plots_height = self.view.height() - self.legend.height() - 3 * metrics.height()  # less the step axis
        share = plots_height / 2 if self.accuracy_shown else plots_height
        label = "accuracy" if metrics.horizontalAdvance("accuracy") <= share else "acc."
        if self.accuracy_item.getAxis("left").labelText != label:
            style_axis(self.accuracy_item.getAxis("left"), self.font(), label)

    def _apply_fonts(self) -> None:
        font = self.font()
        prepare_plot(self.loss_item, font, "loss")
        prepare_plot(self.accuracy_item, font, "accuracy")
        self._share_step_axis()
        self._fit_accuracy_label()
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
        self.legend.clear()  # (the labels take the new size when they are made again)
        self._update_legend()

    def _on_log_toggled(self, checked: bool) -> None:
        self.loss_view.set_y_floor(None if checked else 0.0)  # (a log axis shows log10 of the loss)
        self.loss_item.setLogMode(y=checked)
