"""Inside the layers: per-layer histograms over the steps as a heatmap (step × value, TensorBoard-like), and
the share of dead ReLUs and saturated sigmoid/tanh units of every layer as curves.

What is drawn comes from a :class:`~bpstudio.core.record.layer_stats.LayerStats` (all the counting is core's), from
one of two sources:

- *recorded training*: the window's :class:`LayerStatsRecorder` (in ``window.tools``). Until the
  training worker feeds it every step (set ``fed_by_worker`` then), it records the document's own traces:
  each step taken by hand and, while training, the latest step of each report the worker sends;
- *a run on a copy*: N steps trained headless on a copy of the session (the document is not changed),
  recorded every step, off the GUI thread with progress and Cancel.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QComboBox, QDialog, QHBoxLayout, QLabel, QSpinBox, QVBoxLayout

from bpstudio.core.record.layer_stats import LayerStats, record_run
from bpstudio.core.spec import NetworkSpec
from bpstudio.core.trace import StepTrace
from bpstudio.gui.colors import network_colors
from bpstudio.gui.plots.history_plot import INK, line_width, prepare_plot, style_color_bar
from bpstudio.gui.qt_utils import format_number, signals_blocked
from bpstudio.gui.screen_fit import fit_to_screen
from bpstudio.gui.tools.background import CopyTaskControls, close_buttons
from bpstudio.gui.tools.window import raise_tool

QUANTITY_NAMES = {
    "pre": "pre-activation z",
    "activation": "activation",
    "weight": "weights",
    "gradient": "weight gradient ∂L/∂W",
}
SCALE_NAMES = {**QUANTITY_NAMES, "weight": "scales γ", "gradient": "scale gradient ∂L/∂γ"}  # a norm layer's
SOURCES = (("recorded", "recorded training"), ("copy", "a run on a copy"))
REDRAW_MS = 250
LEGEND_COLUMNS = 6
COLOR_PERCENTILE = 95  # the brightest colour: this percentile of the non-empty bins' shares, and beyond
SYMLOG_TICK_EVERY = 6  # log-binned axes: a labelled tick every this many edges (3 doublings)
COLOR_MAP = "viridis"


def _structure(spec: NetworkSpec) -> tuple[Any, ...]:
    """What the statistics depend on: the layers in use, their kinds, widths and activations."""
    return tuple(
        (lid, spec.layer(lid).type, spec.widths[lid], spec.layer(lid).activation) for lid in spec.active_order()
    )


class LayerStatsRecorder(QObject):
    """Per-layer statistics of a document's training. :meth:`record` may be called from any thread (the
    training worker, after each step); the statistics start afresh when the network's layers change."""

    def __init__(self, document: Any, signals: Any, parent: QObject | None = None):
        super().__init__(parent)
        self.document = document
        self.fed_by_worker = False  # True once the worker records every step itself
        self._key = _structure(document.spec)
        self.stats = LayerStats(document.spec)
        signals.network_changed.connect(self._on_network_changed)
        signals.loaded.connect(self._on_loaded)
        signals.step_changed.connect(self._on_step_changed)

    def record(self, step: int, trace: StepTrace, params: Mapping[str, Any] | None = None) -> None:
        """Add a finished step (``trace`` and the weights after it, default the trace's own)."""
        self.stats.record(step, trace, params)

    def follow(self, spec: NetworkSpec, fresh: bool = False) -> None:
        """Start afresh if ``spec``'s layers differ from those recorded (or if ``fresh``)."""
        if fresh or _structure(spec) != self._key:
            self._key, self.stats = _structure(spec), LayerStats(spec)

    def record_report(self, progress: Any) -> None:
        """A training worker's report: its latest trace, when it sent one."""
        trace = getattr(progress, "trace", None)
        if not self.fed_by_worker and trace is not None and trace.params_after is not None:
            self.record(trace.step, trace)

    def _on_network_changed(self) -> None:
        self.follow(self.document.spec)

    def _on_loaded(self) -> None:
        self.follow(self.document.spec, fresh=True)

    def _on_step_changed(self) -> None:
        trace = self.document.trace
        if self.fed_by_worker or self.document.training or trace is None or trace.params_after is None:
            return
        self.record(trace.step, trace)  # (a step already recorded is recorded again: the same values)


def recorder_for(window: Any) -> LayerStatsRecorder:
    """The window's recorder, made (and connected to its document and training) on first use."""

    def make() -> LayerStatsRecorder:
        recorder = LayerStatsRecorder(window.document, window.signals, window)
        training = getattr(window, "training", None)
        if training is not None and hasattr(training, "progressed"):
            training.progressed.connect(recorder.record_report)
        return recorder

    return window.tools.get_or_make(LayerStatsRecorder, make)


class LayerStatsPanel(CopyTaskControls, QDialog):
    """Pickers for the source, the layer and the quantity; the heatmap; the dead/saturated curves."""

    def __init__(self, window: Any):
        super().__init__(window)
        self.window_ = window
        self.recorder = recorder_for(window)
        self.copy_stats: LayerStats | None = None
        self._drawn: tuple[int, int] | None = None
        self.setWindowTitle("Inside the layers")
        fit_to_screen(self, 900, 700)
        self.source, self.layer, self.quantity = QComboBox(), QComboBox(), QComboBox()
        for key, text in SOURCES:
            self.source.addItem(text, key)
        self.steps = QSpinBox()
        self.steps.setRange(1, 100_000)
        self.steps.setValue(200)
        self.steps.setToolTip("steps to train on a copy of the session (the document is not changed)")
        self.run_button = self._build_task_controls("Run on a copy")
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.view = pg.GraphicsLayoutWidget()
        self.view.setBackground("w")
        self.heat_plot = self.view.addPlot(row=0, col=0)
        prepare_plot(self.heat_plot, self.font(), "value")
        self.mesh = pg.PColorMeshItem(colorMap=pg.colormap.get(COLOR_MAP))
        self.heat_plot.addItem(self.mesh)
        self.color_bar = pg.ColorBarItem(colorMap=COLOR_MAP, interactive=False, width=14)
        self.color_bar.setImageItem(self.mesh)
        style_color_bar(self.color_bar, self.font(), "share of values")
        self.view.addItem(self.color_bar, row=0, col=1)
        self.fraction_plot = self.view.addPlot(row=1, col=0)
        prepare_plot(self.fraction_plot, self.font(), "share of units")
        self.fraction_plot.setYRange(0, 1, padding=0.03)
        self.fraction_plot.setMouseEnabled(x=True, y=False)
        self.fraction_plot.setXLink(self.heat_plot)
        for plot in (self.heat_plot, self.fraction_plot):  # one width, so the two plots' steps line up
            plot.getAxis("left").setWidth(QFontMetrics(self.font()).horizontalAdvance("-0.0000") + 40)
        self.legend = pg.LegendItem(labelTextColor=INK, colCount=LEGEND_COLUMNS)
        self.view.addItem(self.legend, row=2, col=0)
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.view.ci.layout.setRowStretchFactor(0, 3)
        self.view.ci.layout.setRowStretchFactor(1, 2)
        pickers = QHBoxLayout()
        for text, box in (("Show", self.source), ("Layer", self.layer), ("Quantity", self.quantity)):
            pickers.addWidget(QLabel(text))
            pickers.addWidget(box, 1)
        run = QHBoxLayout()
        run.addWidget(QLabel("Steps"))
        run.addWidget(self.steps)
        run.addWidget(self.run_button)
        run.addWidget(self.cancel_button)
        run.addWidget(self.progress, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(pickers)
        layout.addLayout(run)
        layout.addWidget(self.status)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.summary)
        layout.addWidget(close_buttons(self))
        self.source.currentIndexChanged.connect(self._on_source_changed)
        self.layer.currentIndexChanged.connect(self._on_layer_changed)
        self.quantity.currentIndexChanged.connect(self._redraw)
        self.run_button.clicked.connect(self.run_copy)
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.refresh)
        self.timer.start(REDRAW_MS)
        self.refresh()

    # --- the model ------------------------------------------------------------------------------

    def stats(self) -> LayerStats | None:
        """The statistics shown: the recorder's or the copy run's."""
        return self.recorder.stats if self.source.currentData() == "recorded" else self.copy_stats

    def refresh(self) -> bool:
        """Redraw if the shown statistics changed since the last drawing; True if it redrew."""
        stats = self.stats()
        key = None if stats is None else (id(stats), stats.version)
        if key == self._drawn and key is not None:
            return False
        self._drawn = key
        self._fill_pickers(stats)
        self._redraw()
        return True

    def run_copy(self) -> None:
        """Train a copy of the session for the chosen steps, recording every step, and show that run."""
        copy = self._copy_for_task("run a copy")
        if copy is None:
            return
        stats, steps = LayerStats(copy.spec), self.steps.value()
        self.copy_stats = stats
        with signals_blocked(self.source):
            self.source.setCurrentIndex(1)
        self._start_task(
            lambda progress: record_run(copy, steps, stats, progress),
            lambda message: self.status.setText(f"The run on a copy stopped: {message}"),
        )
        self.refresh()

    def _task_ended(self) -> None:
        self._drawn = None
        self.refresh()

    def _on_source_changed(self) -> None:
        self._drawn = None
        self.refresh()

    def _on_layer_changed(self) -> None:
        stats = self.stats()
        with signals_blocked(self.quantity):
            current = self.quantity.currentData()
            self.quantity.clear()
            for q in stats.quantities(self.layer.currentData()) if stats is not None and self.layer.count() else ():
                self.quantity.addItem(self._names()[q], q)
            at = self.quantity.findData(current)
            self.quantity.setCurrentIndex(max(at, 0))
        self._redraw()

    def _fill_pickers(self, stats: LayerStats | None) -> None:
        ids = () if stats is None else stats.layer_ids
        if tuple(self.layer.itemData(i) for i in range(self.layer.count())) == ids:
            return
        with signals_blocked(self.layer):
            current = self.layer.currentData()
            self.layer.clear()
            for lid in ids:
                self.layer.addItem(lid, lid)
            self.layer.setCurrentIndex(max(self.layer.findData(current), 0))
        self._on_layer_changed()

    # --- drawing --------------------------------------------------------------------------------

    def _redraw(self) -> None:
        stats = self.stats()
        snap = None if stats is None else stats.snapshot()
        self._draw_status(snap)
        if snap is None or not len(snap) or self.layer.currentData() is None or self.quantity.currentData() is None:
            self.mesh.setVisible(False)
            self._draw_fractions(snap)
            return
        heat = snap.heatmap(self.layer.currentData(), self.quantity.currentData())
        steps = heat.steps.astype(np.float64)
        gaps = np.diff(steps)
        half = np.concatenate([[gaps[0] if len(gaps) else 1.0], gaps, [gaps[-1] if len(gaps) else 1.0]]) / 2
        x_edges = np.concatenate([steps - half[:-1], [steps[-1] + half[-1]]])  # (cells centred on their steps)
        xs, ys = np.meshgrid(x_edges, self._value_axis(heat), indexing="ij")
        shares = heat.shares()
        self.mesh.setData(xs, ys, shares)
        self.mesh.setVisible(True)
        filled = shares[shares > 0]  # colours up to a high percentile: one crowded bin (relu's 0) would
        top = float(np.percentile(filled, COLOR_PERCENTILE)) if filled.size else 1.0  # leave the rest dark
        self.color_bar.setLevels((0.0, top))
        name = self._names()[self.quantity.currentData()]
        self.heat_plot.setLabel("left", f"{name.split()[-1]}, log scale" if heat.scale == "symlog" else name)
        self.heat_plot.autoRange(padding=0)
        self._draw_fractions(snap)

    def _names(self) -> dict[str, str]:
        """What the quantities of the layer shown are called (a norm layer's weight is its scale γ)."""
        stats = self.stats()
        return SCALE_NAMES if stats is not None and self.layer.currentData() in stats.scales else QUANTITY_NAMES

    def _value_axis(self, heat: Any) -> np.ndarray:
        """Where the bin edges go on the plot: at their values, or (log bins) evenly, labelled with values."""
        axis = self.heat_plot.getAxis("left")
        if heat.scale != "symlog":
            axis.setTicks(None)
            return heat.edges
        middle = len(heat.edges) // 2  # the edge at 0
        where = np.arange(len(heat.edges), dtype=np.float64) - middle
        labelled = [
            (float(where[i]), format_number(float(heat.edges[i]), 2))
            for i in range(len(heat.edges))
            if (i - middle) % SYMLOG_TICK_EVERY == 0
        ]
        axis.setTicks([labelled, [(float(w), "") for w in where[::2]]])
        return where

    def _draw_status(self, snap: LayerStats | None) -> None:
        if self.source.currentData() == "copy" and snap is None:
            text = "Run steps on a copy of the session to see its layers from the current weights on."
        elif snap is None or not len(snap):
            text = "Nothing recorded yet: step or train the network, or run steps on a copy."
        else:
            origin = (
                "steps trained on a copy"
                if self.source.currentData() == "copy"
                else "steps recorded from this window's training"
            )
            text = (
                f"{len(snap)} {origin}; histograms kept every {snap.stride} recorded step(s), each on {snap.bins} bins."
            )
        self.status.setText(text)

    def _draw_fractions(self, snap: LayerStats | None) -> None:
        kinds = {} if snap is None else snap.fraction_kinds
        if tuple(self.curves) != tuple(kinds):
            for curve in self.curves.values():
                self.fraction_plot.removeItem(curve)
            self.legend.clear()
            spec = self.window_.document.spec
            colors = network_colors(spec)
            width = line_width(self.font())
            self.curves = {}
            for lid, kind in kinds.items():
                style = Qt.PenStyle.SolidLine if kind == "dead" else Qt.PenStyle.DashLine
                pen = pg.mkPen(colors.get(lid, INK), width=width + 1, style=style)
                self.curves[lid] = self.fraction_plot.plot(pen=pen)
                self.legend.addItem(self.curves[lid], f"{lid} {kind}")
        if snap is None or not kinds:
            self.summary.setText(
                "No relu, sigmoid or tanh layers: nothing can be dead or saturated." if snap is not None else ""
            )
            return
        steps = snap.fraction_steps()
        for lid, curve in self.curves.items():
            curve.setData(steps, snap.fractions(lid), connect="finite")
        latest = snap.latest_fractions()
        parts = []
        for kind, title in (("dead", "Dead ReLUs"), ("saturated", "Saturated sigmoid/tanh")):
            shown = [f"{lid} {100 * v:.0f} %" for lid, v in latest.items() if kinds[lid] == kind and math.isfinite(v)]
            if shown:
                parts.append(f"{title} (latest): " + ", ".join(shown))
        self.summary.setText("\n".join(parts) if parts else "")


def open_layer_stats(window: Any) -> LayerStatsPanel:
    """Open (or raise) the 'Inside the layers' window for ``window``'s document."""
    return raise_tool(window, LayerStatsPanel)
