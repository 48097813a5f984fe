"""Each layer's weight-gradient norm against step: one curve per layer on a log scale, a layer × step
heatmap underneath, and a readout of the first-to-last-layer ratio that names vanishing gradients. A norm layer's
curve is the norm of its scale's gradient ∂E/∂γ (its legend entry says γ).

Curves take the layer colours the canvas uses (:meth:`GradientPlot.set_colors`). Like every
:class:`~bpstudio.gui.plots.history_plot.HistoryPlot` it redraws only when the history's ``version`` moved.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics
from PySide6.QtWidgets import QCheckBox, QSizePolicy, QWidget

from bpstudio.core.record.history import TAIL, TrainingHistory, gradient_health
from bpstudio.core.record.smoothing import smoothed_norms, window_for
from bpstudio.document.kept_runs import KeptRun
from bpstudio.gui.colors import HIGHLIGHT, POSITIVE, layer_colors
from bpstudio.gui.flow_layout import OneLineLabel
from bpstudio.gui.plots.history_plot import (
    INK,
    LABEL_SCALE,
    HistoryPlot,
    LogTickAxis,
    fit_legend,
    fit_legend_to_height,
    kept_pen,
    legend_row,
    line_width,
    mark_points,
    point_size,
    prepare_plot,
    show_ticks,
    style_axis,
    style_color_bar,
)
from bpstudio.gui.plots.steady_view import SteadyViewBox
from bpstudio.gui.qt_utils import format_number

GRAD_LABEL = "‖∂E/∂W‖"
HEATMAP_COLUMNS = 400  # the heatmap pools older steps beyond this many columns
COLOR_MAP = "viridis"  # dark = small gradient, bright = large
RATIO_PREFIX = "first/last layer gradient"
SHORT_RATIO_PREFIX = "first/last"  # in presentation mode: the readout keeps to one line in a projector's narrow dock
BAR_TITLE = f"log₁₀ {GRAD_LABEL}"  # the heatmap's colour scale: its colours are log10 of the norms
CURVE_ROW, HEAT_ROW = 1, 2  # the view's rows (row 0 holds the kept runs' legend, while there are kept runs)
# how the readout looks for each verdict of gradient_health: alarming ones in the highlight colour
VERDICT_COLORS = {
    "vanishing": HIGHLIGHT,
    "exploding": HIGHLIGHT,
    "stalled": HIGHLIGHT,
    "shrinking": POSITIVE,
    "growing": POSITIVE,
}


class GradientPlot(HistoryPlot):
    """Per-layer gradient norms (curves and heatmap) with the vanishing-gradient readout."""

    name = "gradients"

    def __init__(self, parent: QWidget | None = None):
        super().__init__(
            "Save each layer's gradient norm per step as CSV",
            parent,
            empty_hint="Each layer's gradient ‖∂E/∂W‖ appears here after the first step",
        )
        self._colors: dict[str, QColor] = {}
        self._bar_title = BAR_TITLE  # the colour bar's title as shown: whole, or its first word on a short bar
        self._names: dict[str, str] = {}  # a curve's legend entry where not its layer id (norm layers: their γ)
        self._alarm: tuple[str, str] | None = None  # what went wrong in the step shown: (short, full)
        self._ratio: float | None = None  # the first/last ratio drawn last
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.kept_curves: list[dict[str, pg.PlotDataItem]] = []  # per kept run, its layers' curves (faint)
        self.ratio_label = OneLineLabel()
        self.smooth_check = QCheckBox("Smooth")
        self.smooth_check.setChecked(True)
        self.smooth_check.setToolTip(
            "Show each curve's moving (geometric) mean, so the trend and the gap between layers read through the "
            "noise of minibatches; the exported CSV keeps every value"
        )
        self.ratio_label.setWordWrap(True)  # on a narrow dock the readout takes two lines, not the window's width
        curve_view = SteadyViewBox(x_floor=0.0)  # (the y axis is log10 of the norms: no floor)
        # row 0: the kept runs' legend, once there are some (legend_row); the curves and the heatmap below it
        self.curve_item = self.view.addPlot(
            row=CURVE_ROW, col=0, axisItems={"left": LogTickAxis("left")}, viewBox=curve_view
        )
        self.steady_views = [curve_view]
        self._hint_over(curve_view)
        self.curve_item.setLogMode(y=True)
        self.legend = pg.LegendItem(labelTextColor=INK)
        self.legend.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)  # compact, not stretched
        self.view.addItem(self.legend, row=CURVE_ROW, col=1)
        self.view.ci.layout.setAlignment(self.legend, Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.heat_item = self.view.addPlot(row=HEAT_ROW, col=0)
        self.heat_item.setXLink(self.curve_item)
        self.heat_item.setMouseEnabled(x=True, y=False)
        self.heat_item.getViewBox().invertY(True)  # first layer on top, as the rows are read
        self.heatmap = pg.ImageItem(axisOrder="row-major")
        self.heat_item.addItem(self.heatmap)
        self.color_bar = pg.ColorBarItem(colorMap=COLOR_MAP, interactive=False, width=14)
        self.color_bar.setImageItem(self.heatmap)
        self.color_bar.axis.geometryChanged.connect(self._fit_bar_title)  # (the layout sizes it, not a resize)
        self._heat_shown = False  # whether the heatmap has steps to show (its colour bar is shown only then)
        self.color_bar.hide()
        self.view.addItem(self.color_bar, row=HEAT_ROW, col=1)
        self.view.ci.layout.setRowStretchFactor(CURVE_ROW, 3)
        self.view.ci.layout.setRowStretchFactor(HEAT_ROW, 2)
        self.kept_legend = legend_row(self.view, row=0)  # the kept runs (the layers' legend is beside the curves)
        self.view.removeItem(self.kept_legend)  # (in the layout only while there are kept runs)
        self.kept_legend.hide()
        self.kept_legend_shown = False
        self._apply_fonts()
        self._reserve_readout()
        self._lay_out(self.ratio_label, True, self.smooth_check)
        self.smooth_check.toggled.connect(self._on_smooth_toggled)
        self._show_ratio(None)

    # --- the model ----------------------------------------------------------------------------------

    def set_colors(self, colors: dict[str, QColor]) -> None:
        """The layer colours (those of the canvas); layers not named keep the default palette's."""
        self._colors = {lid: QColor(c) for lid, c in colors.items()}
        for lid, curve in self.curves.items():
            curve.setPen(pg.mkPen(self.color(lid), width=line_width(self.font())))
        self._pen_kept(self.font())
        self.legend.update()

    def set_names(self, names: dict[str, str]) -> None:
        """What the legend calls some layers' curves (``{"bn1": "bn1 γ"}``: a norm layer's is ‖∂E/∂γ‖)."""
        if names != self._names:
            self._names = dict(names)
            self._fill_legend()

    def color(self, layer_id: str) -> QColor:
        if layer_id in self._colors:
            return self._colors[layer_id]
        return layer_colors(tuple(self.curves) or (layer_id,)).get(layer_id, QColor(INK))

    def _draw(self, history: TrainingHistory) -> None:
        if tuple(self.curves) != history.layer_ids:
            self._rebuild_curves(history.layer_ids)
        steps = history.steps()
        for lid, curve in self.curves.items():
            norms = self.shown_norms(history, lid)
            mark_points(curve, norms, self.color(lid))
            curve.setData(steps, norms, connect="finite")
        self._draw_heatmap(*history.grad_matrix(HEATMAP_COLUMNS))
        self._ratio = history.first_last_ratio()
        self._show_ratio(self._ratio)
        self._set_exportable(len(history) > 0)

    # --- drawing ------------------------------------------------------------------------------------

    def _rebuild_curves(self, layer_ids: tuple[str, ...]) -> None:
        for curve in self.curves.values():
            self.curve_item.removeItem(curve)
        self.curves = {lid: self.curve_item.plot() for lid in layer_ids}
        for lid, curve in self.curves.items():
            curve.setPen(pg.mkPen(self.color(lid), width=line_width(self.font())))
        self._fill_legend()
        self._label_rows(layer_ids)
        self._align_left_axes()

    def set_presenting(self, on: bool) -> None:
        """On a projector the curves take the whole height: the heatmap (the same numbers) goes."""
        if on != self.presenting:
            self.heat_item.setVisible(not on)
            self.color_bar.setVisible(not on and self._heat_shown)
            self.view.ci.layout.setRowStretchFactor(HEAT_ROW, 0 if on else 2)
            self.view.ci.layout.setRowMaximumHeight(HEAT_ROW, 0 if on else 1e6)
        super().set_presenting(on)
        self._show_ticks()
        self._reserve_readout()
        self._show_ratio(self._ratio)  # (the readout's short form on a projector)
        self._fit_legends()  # (the curves have the whole height now, or share it again)

    def shown_norms(self, history: TrainingHistory, layer_id: str) -> np.ndarray:
        """A layer's norms as the curve shows them: recorded, or their moving mean when Smooth is on."""
        norms = history.grad_norms(layer_id)
        return smoothed_norms(norms, window_for(len(norms))) if self.smooth_check.isChecked() else norms

    def _on_smooth_toggled(self) -> None:
        self._drawn_version = None
        self.refresh()
        self._draw_kept(self.kept)

    def _fill_legend(self) -> None:
        """The live run's layers beside the plot; inside it, one entry per kept run (its first layer's curve)."""
        self.legend.clear()
        for lid, curve in self.curves.items():
            self.legend.addItem(curve, self._names.get(lid, lid))
        self.kept_legend.clear()
        for run, curves in zip(self.kept, self.kept_curves, strict=True):
            if curves:
                self.kept_legend.addItem(next(iter(curves.values())), run.label)
        shown = bool(self.kept_legend.items)
        if shown != self.kept_legend_shown:
            if shown:
                self.view.addItem(self.kept_legend, row=0, col=0)
                self.view.ci.layout.setAlignment(self.kept_legend, Qt.AlignmentFlag.AlignRight)
            else:
                self.view.removeItem(self.kept_legend)
            self.kept_legend.setVisible(shown)
            self.kept_legend_shown = shown
        self._fit_legends()

    def _fit_legends(self) -> None:
        """The layers' legend in as many columns as keep it within the curves' share of the height (two from 9
        layers on, before the view has a size), then the kept runs' legend in the width left beside it."""
        fewest = 2 if len(self.curves) > 8 else 1
        height = self.view.height() - (self.kept_legend.height() if self.kept_legend_shown else 0)
        curves_share = 1.0 if self.presenting else 3 / 5  # (the heatmap has the rest: HEAT_ROW's stretch)
        if height > 0:
            fit_legend_to_height(self.legend, height * curves_share - 10, fewest)
        else:
            self.legend.setColumnCount(fewest)
        fit_legend(self.kept_legend, self.view.width() - self.legend.width() - 20)

    def _view_resized(self) -> None:
        self._fit_legends()

    def _fit_bar_title(self) -> None:
        """The colour bar's whole title where the bar is as tall as it, else its first word: longer than a short
        heatmap, it ran out of the plot and lost its start ("og₁₀ ‖∂E/∂W‖")."""
        axis = self.color_bar.axis
        font = QFont(self.font())
        font.setPointSizeF(LABEL_SCALE * point_size(self.font()))  # (the size style_axis gives axis titles)
        full = QFontMetrics(font).horizontalAdvance(BAR_TITLE) + 2 * axis.label.document().documentMargin()
        title = BAR_TITLE if full <= axis.size().height() else BAR_TITLE.split()[0]
        if title != self._bar_title:
            self._bar_title = title
            axis.setLabel(title, **axis.labelStyle)

    def _draw_kept(self, runs: list[KeptRun]) -> None:
        """Each kept run's layers in their colours, faint and in the run's dash pattern, behind the live run."""
        for curves in self.kept_curves:
            for curve in curves.values():
                self.curve_item.removeItem(curve)
        self.kept_curves = []
        for run in runs:
            history, curves = run.history, {}
            for lid in history.layer_ids:
                curve = pg.PlotDataItem(history.steps(), self.shown_norms(history, lid), connect="finite")
                curve.setZValue(-1)
                self.curve_item.addItem(curve)
                curves[lid] = curve
            self.kept_curves.append(curves)
        self._pen_kept(self.font())
        self._fill_legend()

    def _pen_kept(self, font: QFont) -> None:
        """Each kept layer in the colour of the live layer of its name, else in its own run's palette order (a
        run of another model: its layers were all drawn in the ink colour, one grey tangle)."""
        for index, curves in enumerate(self.kept_curves):
            own = layer_colors(tuple(curves))
            for lid, curve in curves.items():
                known = lid in self._colors or lid in self.curves
                curve.setPen(kept_pen(self.color(lid) if known else own[lid], index, font))

    def _label_rows(self, layer_ids: tuple[str, ...]) -> None:
        """Every row named where there is room. The first layer's row is always named; when rows are too thin
        for their labels pyqtgraph drops the finer tick levels: first the odd rows, then all but every fourth,
        then the last layer's (so on a short heatmap "h1" and "out" never print over each other)."""
        last = len(layer_ids) - 1
        levels: list[list[tuple[float, str]]] = [[], [], [], []]
        for row, lid in enumerate(layer_ids):
            level = 0 if row == 0 else 1 if row == last or row % 4 == 0 else 2 if row % 2 == 0 else 3
            levels[level].append((row + 0.5, lid))
        self.heat_item.getAxis("left").setTicks(levels)

    def _align_left_axes(self) -> None:
        """One width for both left axes, so the curves and the heatmap columns line up in x."""
        metrics = QFontMetrics(self.font())
        texts = ["0.0001", *self.curves]
        width = max(metrics.horizontalAdvance(t) for t in texts) + int(2.2 * metrics.height()) + 8
        self.curve_item.getAxis("left").setWidth(width)
        self.heat_item.getAxis("left").setWidth(width)

    def _draw_heatmap(self, steps: np.ndarray, layer_ids: tuple[str, ...], log_norms: np.ndarray) -> None:
        """Rows are layers (first on top), columns steps; colours span the finite values shown."""
        columns = log_norms.shape[1]
        self._heat_shown = columns > 0 and bool(layer_ids)
        self.color_bar.setVisible(self._heat_shown and not self.presenting)  # (no scale left from the last run)
        if not self._heat_shown:
            self.heatmap.clear()
            return
        finite = log_norms[np.isfinite(log_norms)]
        low, high = (float(finite.min()), float(finite.max())) if finite.size else (-1.0, 0.0)
        if high - low < 1e-9:
            low, high = low - 0.5, high + 0.5
        self.heatmap.setImage(log_norms, autoLevels=False)
        self.color_bar.setLevels((low, high))
        # each column is centred on its step; columns are evenly spaced except perhaps the newest
        width = float(steps[-1] - steps[0]) / (columns - 1) if columns > 1 else 1.0
        self.heatmap.setRect(QRectF(float(steps[0]) - width / 2, 0.0, width * columns, float(len(layer_ids))))

    def show_alarm(self, short: str | None, full: str | None = None) -> None:
        """Say in the readout what went wrong in the step shown (core's words: saturated or dead layers,
        gradients that are 0, values that are not numbers) instead of the ratio; None goes back to the ratio."""
        alarm = None if short is None else (short, full or short)
        if alarm != self._alarm:
            self._alarm = alarm
            self._show_ratio(self._ratio)

    def _show_ratio(self, ratio: float | None) -> None:
        ids = self.history.layer_ids if self.history is not None else ()
        if self._alarm is not None:
            self.ratio_label.setText(self._alarm[0])
            self.ratio_label.setStyleSheet(f"color: {HIGHLIGHT.name()};")
            self.ratio_label.setToolTip(self._alarm[1])
            return
        if ratio is None:
            self.ratio_label.setText(f"{self._ratio_prefix()}: —")
            self.ratio_label.setStyleSheet(f"color: {INK};")
            self.ratio_label.setToolTip("Needs two or more layers with weights and a finished backward pass")
            return
        if ratio == 0:  # exactly 0 at every one of the last steps: not a gradient that vanishes, none at all
            self.ratio_label.setText(
                f"{self._ratio_prefix()}: 0 — layer {ids[0]} gets none"
            )  # ("0 — 0 gets…" read as a range)
            self.ratio_label.setStyleSheet(f"color: {HIGHLIGHT.name()};")
            self.ratio_label.setToolTip(
                f"{GRAD_LABEL} of layer '{ids[0]}' is exactly 0 at every one of the last {TAIL} recorded steps: no "
                "signal reaches it from the loss (units between it and the output that are dead, or saturated to "
                "exactly flat), so it does not learn at all"
            )
            return
        last_norm = self.history.tail_grad_norm(ids[-1]) if self.history is not None else float("nan")
        verdict = gradient_health(ratio, last_norm)
        text = f"{self._ratio_prefix()}: {format_number(ratio, 2)} — {verdict}"
        if verdict == "stalled":
            text += f" (last layer's is only {format_number(last_norm, 2)})"
        self.ratio_label.setText(text)
        self.ratio_label.setStyleSheet(f"color: {VERDICT_COLORS.get(verdict, QColor(INK)).name()};")
        self.ratio_label.setToolTip(
            f"{GRAD_LABEL} of layer '{ids[0]}' divided by that of layer '{ids[-1]}', each the geometric mean over "
            f"the last {TAIL} recorded steps (one batch's noise does not move it): far below 1 the first layers "
            "barely learn"
        )

    def _reserve_readout(self) -> None:
        """The readout's width is that of its widest ordinary text (not a stall's or an alarm's)."""
        self.ratio_label.reserved = f"{self._ratio_prefix()}: 8.8e-08 — exploding"

    def _ratio_prefix(self) -> str:
        return SHORT_RATIO_PREFIX if self.presenting else RATIO_PREFIX

    def _show_ticks(self) -> None:
        """No numbers while empty; the step axis written once, under the heatmap (which shares it), or under
        the curves when presentation mode leaves the heatmap out."""
        for axis in (
            self.curve_item.getAxis("left"),
            self.heat_item.getAxis("left"),
            self.heat_item.getAxis("bottom"),
            self.color_bar.getAxis("right"),
        ):
            show_ticks(axis, not self.empty)
        show_ticks(self.curve_item.getAxis("bottom"), not self.empty, values=self.presenting)
        self.curve_item.getAxis("bottom").showLabel(self.presenting)

    def _apply_fonts(self) -> None:
        font = self.font()
        prepare_plot(self.curve_item, font, GRAD_LABEL)
        prepare_plot(self.heat_item, font, "layer")
        self._show_ticks()  # (the step axis is labelled once)
        self.heat_item.getAxis("left").setStyle(textFillLimits=[(0, 0.95)])  # labels while they fit
        for side in ("left", "top", "bottom"):  # the bar's frame
            style_axis(self.color_bar.getAxis(side), font)
        # its scale and title on the right, as wide as they take (a title on the frame's left side was drawn over
        # the bar where the column was narrow)
        style_color_bar(self.color_bar, font, BAR_TITLE, widest="−10")
        self._bar_title = BAR_TITLE
        self._fit_bar_title()
        self.legend.setLabelTextSize(f"{point_size(font):g}pt")
        self.kept_legend.setLabelTextSize(f"{point_size(font):g}pt")
        for lid, curve in self.curves.items():
            curve.setPen(pg.mkPen(self.color(lid), width=line_width(font)))
        self._pen_kept(font)
        bold = QFont(font)
        bold.setBold(True)
        bold.setPointSizeF(point_size(font) * 1.15)
        self.ratio_label.setFont(bold)
        self._align_left_axes()
