"""What the live plots of a training run share: the look of their axes and curves, and a base widget that
draws a :class:`~bpstudio.core.record.history.TrainingHistory` again only when its ``version`` moved, with PNG and
CSV export from buttons and from the right-click menu."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QAction, QColor, QFont, QFontMetrics, QPen
from PySide6.QtWidgets import QLabel, QMenu, QPushButton, QSizePolicy, QToolButton, QVBoxLayout, QWidget

from bpstudio.core.record.history import TrainingHistory
from bpstudio.document.kept_runs import KeptRun
from bpstudio.gui.flow_layout import GroupFlowLayout, expand_across
from bpstudio.gui.plots.export import export_csv_dialog, export_png_dialog
from bpstudio.gui.plots.steady_view import SteadyViewBox

INK = "#303030"  # axes and labels, dark on the white background
# Curves are 1 px (cosmetic) lines: Qt strokes wider pens several times slower, which tripled the cost of
# a gradient-plot repaint while training (bench/bench_gui.py). With presentation-sized fonts they thicken.
LINE_WIDTH = 1
BOLD_LINE_WIDTH = 2
BOLD_FROM_POINTS = 12.0  # fonts this large or larger (presentation mode) get bold lines
LABEL_SCALE = 1.2  # axis titles a little larger than the tick numbers
KEPT_ALPHA = 80  # kept runs are drawn faintly (of 255), behind the live run


class LogTickAxis(pg.AxisItem):
    """An axis whose log-scale ticks come in levels: decades, then 2 and 5, then the other digits.

    pyqtgraph puts every tick of a range under two decades into one level, which always gets labels,
    so they overlap; split up, the crowded levels lose their labels and keep only their tick marks.
    """

    def logTickValues(self, minVal: float, maxVal: float, size: float, stdTicks: list) -> list:
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


def point_size(font: QFont) -> float:
    return font.pointSizeF() if font.pointSizeF() > 0 else 10.0


def plain_numbers(axis: pg.AxisItem) -> None:
    """Ticks in plain numbers, whatever the range: "loss (x0.001)" over 500 … 900 reads worse than 0.5 … 0.9,
    and a label cut short hides the scale altogether."""
    axis.enableAutoSIPrefix(False)
    # (pyqtgraph's enableAutoSIPrefix(False) still picks a prefix for the range shown at that moment and keeps it)
    axis.autoSIPrefixScale, axis.labelUnitPrefix = 1.0, ""
    axis.picture = None


def style_axis(axis: pg.AxisItem, font: QFont, label: str | None = None) -> None:
    """Dark ticks and label in the widget's font, so the axis stays legible on a projector."""
    axis.setPen(pg.mkPen(INK))
    axis.setTextPen(pg.mkPen(INK))
    axis.setTickFont(font)
    plain_numbers(axis)
    if label is None:
        label = axis.labelText
    axis.setLabel(label, **{"color": INK, "font-size": f"{LABEL_SCALE * point_size(font):g}pt"})


def style_color_bar(bar: pg.ColorBarItem, font: QFont, label: str, widest: str = "0.000") -> None:
    """A colour bar's axis styled as :func:`style_axis`, as wide as its numbers (up to ``widest``) and its title
    beside them take: pyqtgraph gives it a fixed 45 pixels, and a longer number ran under the title."""
    axis = bar.axis
    style_axis(axis, font, label)
    numbers = QFontMetrics(font).horizontalAdvance(widest)
    axis.setWidth(
        axis.style["tickTextOffset"][0]
        + max(0, axis.style["tickLength"])
        + numbers
        + axis.label.boundingRect().height()
    )


TICK_LENGTH = -5  # pyqtgraph's own (inward ticks would be positive)


def show_ticks(axis: pg.AxisItem, ticks: bool, values: bool = True) -> None:
    """An axis with its tick marks (and, if ``values``, their numbers), or bare: a plot with no data yet shows
    no numbers about nothing."""
    axis.setStyle(showValues=ticks and values, tickLength=TICK_LENGTH if ticks else 0)


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


FEW_POINTS = 60  # curves with this few points or fewer mark each point


def mark_points(curve: pg.PlotDataItem, values: np.ndarray, color: QColor) -> None:
    """Dots on a curve's points while it has few (one step of a stepped run shows, a line needs two)."""
    symbol = "o" if 0 < len(values) <= FEW_POINTS and bool(np.isfinite(values).all()) else None
    if curve.opts["symbol"] != symbol:
        curve.setSymbol(symbol)
        if symbol is not None:
            curve.setSymbolSize(5)
            curve.setSymbolBrush(color)
            curve.setSymbolPen(None)


def legend_row(view: pg.GraphicsLayoutWidget, row: int, col: int = 0) -> pg.LegendItem:
    """A legend in a row of its own above a plot (at ``row``, ``col`` of ``view``), its entries side by side at
    the right. Inside the plot, as pyqtgraph places legends, it covered the curves, and on a short plot (a dock
    at 1366×768) the view box cut off every entry after the first; beside the curves it stole their width."""
    legend = pg.LegendItem(labelTextColor=INK, frame=False, horSpacing=12)
    legend.layout.setContentsMargins(0, 0, 0, 0)  # (a framed legend's padding: here it only took height)
    legend.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
    view.addItem(legend, row=row, col=col)
    view.ci.layout.setAlignment(legend, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return legend


def fit_legend(legend: pg.LegendItem, width: float) -> None:
    """Lay the legend's entries out in as few rows as fit in ``width`` pixels (one row when they all fit)."""
    count = len(legend.items)
    for columns in range(max(count, 1), 0, -1):
        legend.setColumnCount(columns)
        legend.updateSize()
        if legend.width() <= width:
            break
    legend.updateGeometry()


def fit_legend_to_height(legend: pg.LegendItem, height: float, fewest: int = 1) -> None:
    """Lay the legend's entries out in as few columns (at least ``fewest``) as keep it within ``height`` pixels:
    a legend beside the curves that is taller than they are would stretch their row and push the rows under
    it out of the view."""
    count = len(legend.items)
    for columns in range(fewest, max(count, fewest) + 1):
        legend.setColumnCount(columns)
        legend.updateSize()
        if legend.height() <= height:
            break
    legend.updateGeometry()


# each kept run has its own dash pattern (the first kept, the second, …), so two kept runs are told apart
KEPT_STYLES = (Qt.PenStyle.DashLine, Qt.PenStyle.DotLine, Qt.PenStyle.DashDotLine, Qt.PenStyle.DashDotDotLine)


def kept_pen(color: QColor, index: int, font: QFont) -> QPen:
    """The pen of the ``index``-th kept run's curve in ``color``: faint and dashed, behind the live run."""
    faint = QColor(color)
    faint.setAlpha(KEPT_ALPHA)
    pen = pg.mkPen(faint, width=line_width(font))
    pen.setStyle(KEPT_STYLES[index % len(KEPT_STYLES)])
    return pen


class HistoryPlot(QWidget):
    """A plot of a training history: subclasses build their plot items in :attr:`view` and define
    ``_draw(history)`` (draw a snapshot), ``_draw_kept(runs)`` (draw the kept runs, faint and labelled) and
    ``_apply_fonts()`` (style for the widget's font). Its Keep run and Clear kept buttons ask for those
    changes (the window keeps the runs, for every plot)."""

    name = "plot"  # the export files' names and the CSV kind of TrainingHistory.to_csv
    keep_requested = Signal()
    clear_kept_requested = Signal()

    def __init__(self, csv_tip: str, parent: QWidget | None = None, empty_hint: str = ""):
        super().__init__(parent)
        self.kept: list[KeptRun] = []
        self.presenting = False  # see set_presenting
        self.keep_button = QPushButton("Keep run")
        self.keep_button.setToolTip(
            "Keep this run as a faint, labelled curve on the plots, to compare the next run with it "
            "(e.g. another example)"
        )
        self.clear_kept_button = QPushButton("Clear kept")
        self.clear_kept_button.setToolTip("Take the kept runs off the plots")
        self.clear_kept_button.setEnabled(False)
        self.keep_button.clicked.connect(self.keep_requested)
        self.clear_kept_button.clicked.connect(self.clear_kept_requested)
        self.history: TrainingHistory | None = None
        self._drawn_version: int | None = None
        self._drawn_last_step = -math.inf  # the newest step drawn: a history that ends earlier is a new run
        self.steady_views: list[SteadyViewBox] = []  # (subclasses list theirs) fitted afresh for a new run
        # one Export button with a menu (two buttons took a row of their own on a laptop's narrow dock)
        self.png_action = QAction("Export PNG…", self)
        self.csv_action = QAction("Export CSV…", self)
        self.png_action.setToolTip("Save the plot as a PNG image")
        self.csv_action.setToolTip(csv_tip)
        self.png_action.triggered.connect(self._on_export_png)
        self.csv_action.triggered.connect(self._on_export_csv)
        exports = QMenu(self)
        exports.setToolTipsVisible(True)
        exports.addActions([self.png_action, self.csv_action])
        self.export_button = QToolButton()
        self.export_button.setText("Export")
        self.export_button.setToolTip("Save the plot as PNG, or its numbers as CSV")
        self.export_button.setMenu(exports)
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.view = pg.GraphicsLayoutWidget()
        self.view.setBackground("w")
        # the same exports in the right-click menu, in place of pyqtgraph's (whose SVG export fails with Qt 6.11)
        self.view.scene().contextMenu = [self.png_action, self.csv_action]
        self._set_exportable(False)
        # before the first step: no tick numbers about nothing, a word on what will appear instead
        self.empty = False  # (until a history with no steps is drawn)
        self._history_empty = False
        self.empty_hint = QLabel(empty_hint, self.view)
        self.empty_hint.setObjectName("empty_hint")
        self.empty_hint.setStyleSheet("QLabel#empty_hint { color: #707070; background: transparent; }")
        self.empty_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_hint.setWordWrap(True)
        self.empty_hint.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.empty_hint.hide()
        self._hint_box: pg.ViewBox | None = None  # (subclasses name their main plot's: _hint_over)

    def _lay_out(self, leading: QWidget, fill: bool, *options: QWidget) -> None:
        """A bar above the plot: ``leading`` (given the room left if ``fill``), the plot's ``options``, then the
        keep and export buttons at the right; on a narrow dock (or in presentation type) the bar wraps onto
        more lines instead of widening the window."""
        bar = GroupFlowLayout()
        bar.add_group(leading, whole=fill)  # (a readout keeps to one line while a line has room for it)
        if options:
            bar.add_group(*options)
        bar.add_group(self.keep_button, self.clear_kept_button, self.export_button, right=True)
        if fill:
            expand_across(leading)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.view, 1)
        self.view.installEventFilter(self)  # (now that the subclass has made what its resizing fits)

    def set_history(self, history: TrainingHistory | None) -> None:
        """Draw ``history`` from now on (at once, and again on each :meth:`refresh` after it changed)."""
        self.history = history
        self._drawn_version = None
        self._drawn_last_step = math.inf  # whatever it holds is a run of its own
        self.refresh()

    def refresh(self, snapshot: TrainingHistory | None = None) -> bool:
        """Redraw if the history changed since the last drawing; True if it redrew. While a worker trains,
        pass the latest :meth:`~TrainingHistory.snapshot` it took; else a snapshot is taken here."""
        if self.history is None or (snapshot or self.history).version == self._drawn_version:
            return False
        history = snapshot or self.history.snapshot()
        self._drawn_version = history.version
        steps = history.steps()
        last_step = float(steps[-1]) if len(steps) else -math.inf
        if last_step < self._drawn_last_step:  # reset, another file, undo: the axes follow the new run
            for view in self.steady_views:
                view.follow_data()
        self._drawn_last_step = last_step
        self._draw(history)
        self._history_empty = len(history) == 0 and len(history.test_steps()) == 0
        self._update_empty()
        return True

    def _update_empty(self) -> None:
        empty = self._history_empty and not self.kept
        if empty != self.empty:
            self.empty = empty
            self.empty_hint.setVisible(empty)
            self._show_ticks()

    def _show_ticks(self) -> None:
        """Show the axes' ticks and numbers, or (while :attr:`empty`) none: subclasses name their axes."""

    def _hint_over(self, box: pg.ViewBox) -> None:
        """Put the empty plot's hint in the middle of ``box`` (the main plot's area), following it."""
        self._hint_box = box
        box.sigResized.connect(self._place_empty_hint)

    def _place_empty_hint(self) -> None:
        box = self._hint_box
        area = self.view.rect() if box is None else self.view.mapFromScene(box.sceneBoundingRect()).boundingRect()
        self.empty_hint.setGeometry(area.adjusted(8, 4, -8, -4))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.view and event.type() == QEvent.Type.Resize:
            self._place_empty_hint()
            self._view_resized()
        return False

    def _view_resized(self) -> None:
        """The plot area took a new size (subclasses fit their legends to it)."""

    def show_kept(self, runs: list[KeptRun]) -> None:
        """Draw ``runs`` (oldest first) behind the live run, replacing those drawn before."""
        self.kept = list(runs)
        self.clear_kept_button.setEnabled(bool(runs))
        self._show_clear_kept()
        self._draw_kept(self.kept)
        self._update_empty()

    def _draw(self, history: TrainingHistory) -> None:
        raise NotImplementedError(f"{type(self).__name__} must say how it draws a history")

    def _draw_kept(self, runs: list[KeptRun]) -> None:
        raise NotImplementedError(f"{type(self).__name__} must say how it draws kept runs")

    def _apply_fonts(self) -> None:
        raise NotImplementedError(f"{type(self).__name__} must say how it styles its plots")

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange:
            self._apply_fonts()

    def set_presenting(self, on: bool) -> None:
        """Presentation mode: the export button goes (the right-click menu still exports) and subclasses drop
        what a projector cannot show legibly beside the canvas, so the main plot keeps its height."""
        self.presenting = on
        self.export_button.setVisible(not on)
        self._show_clear_kept()
        self._drawn_version = None
        self.refresh()

    def _show_clear_kept(self) -> None:
        """In presentation mode "Clear kept" is on the bar only while there are kept runs (its room goes to the
        readout on a projector's narrow dock)."""
        self.clear_kept_button.setVisible(bool(self.kept) or not self.presenting)

    def _set_exportable(self, enabled: bool) -> None:
        self.export_button.setEnabled(enabled)
        self.png_action.setEnabled(enabled)
        self.csv_action.setEnabled(enabled)
        self.keep_button.setEnabled(enabled)

    def _on_export_png(self) -> None:
        export_png_dialog(self, self.view, f"{self.name}.png")

    def _on_export_csv(self) -> None:
        if self.history is not None:
            export_csv_dialog(self, self.history.snapshot().to_csv(self.name), f"{self.name}.csv")
