"""The sweep's plot: a metric (by default the first layer's gradient norm) against depth on a log axis, one
line per configuration with the spread over seeds (min to max) shaded around it, and a legend beside it."""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QColor, QFontMetrics
from PySide6.QtWidgets import QSizePolicy, QVBoxLayout, QWidget

from bpstudio.core.tools.sweep_result import SweepResult
from bpstudio.gui.colors import LAYER_PALETTE
from bpstudio.gui.plots.history_plot import INK, LogTickAxis, line_width, point_size, prepare_plot

METRICS = {  # what the metric box offers: core's metric name -> the axis label
    "grad_first_start": "first layer ‖∂L/∂W‖ at the start",
    "grad_first_mean": "first layer ‖∂L/∂W‖, mean over the run",
    "ratio": "first / last layer ‖∂L/∂W‖ at the start",
    "final_loss": "loss after the last step",
}
BAND_ALPHA = 45  # the spread's shading: the line's colour, mostly transparent


def _positive(value: float) -> bool:
    return math.isfinite(value) and value > 0


def line_color(index: int) -> QColor:
    return QColor(LAYER_PALETTE[index % len(LAYER_PALETTE)])


class SweepPlot(QWidget):
    """Draws a :class:`~bpstudio.core.tools.sweep_result.SweepResult`; ``curves`` and ``bands`` map each
    configuration's label to its line and its shaded spread."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.metric_name = "grad_first_start"
        self.result: SweepResult | None = None
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.bands: dict[str, pg.FillBetweenItem] = {}
        self.view = pg.GraphicsLayoutWidget()
        self.view.setBackground("w")
        self.view.setMinimumSize(420, 300)
        self.item = self.view.addPlot(row=0, col=0, axisItems={"left": LogTickAxis("left")})
        self.item.setLogMode(y=True)
        self.item.showGrid(x=True, y=True, alpha=0.15)  # a static plot: the grid costs nothing here
        self.legend = pg.LegendItem(labelTextColor=INK)
        self.legend.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.view.addItem(self.legend, row=0, col=1)
        self.view.ci.layout.setAlignment(self.legend, Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view)
        self._apply_fonts()

    def show_result(self, result: SweepResult | None, metric: str | None = None) -> None:
        """Draw ``result`` (None clears the plot), for ``metric`` if given, else the one shown."""
        self.result = result
        self.metric_name = metric or self.metric_name
        self.item.clear()
        self.legend.clear()
        self.curves, self.bands = {}, {}
        self._apply_fonts()
        if result is None:
            return
        width = line_width(self.font())
        for index, series in enumerate(result.series(self.metric_name)):
            color = line_color(index)
            # a log axis has no place for zero, negative or non-finite values: those points are left out
            shown = [i for i, v in enumerate(series.mean) if _positive(v)]
            banded = [i for i in shown if _positive(series.low[i]) and _positive(series.high[i])]
            low = self.item.plot(
                [series.depths[i] for i in banded], [series.low[i] for i in banded], pen=pg.mkPen(None)
            )
            high = self.item.plot(
                [series.depths[i] for i in banded], [series.high[i] for i in banded], pen=pg.mkPen(None)
            )
            shade = QColor(color)
            shade.setAlpha(BAND_ALPHA)
            band = pg.FillBetweenItem(low, high, brush=pg.mkBrush(shade))
            self.item.addItem(band)
            curve = self.item.plot(
                [series.depths[i] for i in shown],
                [series.mean[i] for i in shown],
                pen=pg.mkPen(color, width=width + 1),
                symbol="o",
                symbolBrush=color,
                symbolSize=max(7, round(point_size(self.font()) * 0.8)),
                symbolPen=None,
            )
            curve.setToolTip(series.label)
            self.legend.addItem(curve, series.label)
            self.curves[series.label], self.bands[series.label] = curve, band
        if result.results:
            depths = sorted({r.config.depth for r in result.results})
            self.item.getAxis("bottom").setTicks([[(d, str(d)) for d in depths]])
        self.legend.updateGeometry()  # the layout gives the legend's column the room its new entries take
        self.item.enableAutoRange()

    def _apply_fonts(self) -> None:
        font = self.font()
        prepare_plot(self.item, font, METRICS[self.metric_name], "depth (hidden layers)")
        metrics = QFontMetrics(font)  # room for the widest tick label ("0.0001") and the axis title
        self.item.getAxis("left").setWidth(metrics.horizontalAdvance("0.0001") + int(2.2 * metrics.height()) + 8)
        self.legend.setLabelTextSize(f"{point_size(font):g}pt")

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange:
            self.show_result(self.result)
