"""The loss-landscape window: a 2-D slice of the loss around the current weights, as a heatmap with contour
lines, and the path training takes from there drawn on top.

The path is the next steps of training from the current weights, trained on a copy of the session (same
weights, optimizer state and batch order; :func:`bpstudio.core.tools.landscape.fork_session`), so the document is
never changed: the run's past weights are not kept anywhere to draw where it came from. All the work is
core's (:func:`bpstudio.core.tools.landscape.explore`) and runs in a
:class:`~bpstudio.gui.background_task.BackgroundTask`, with progress and Cancel.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QComboBox, QDialog, QDoubleSpinBox, QFormLayout, QHBoxLayout, QSpinBox, QVBoxLayout

from bpstudio.core.tools.landscape import DEFAULT_POINTS, Exploration, explore
from bpstudio.gui.colors import HIGHLIGHT
from bpstudio.gui.plots.history_plot import INK, prepare_plot, style_color_bar
from bpstudio.gui.qt_utils import format_number
from bpstudio.gui.screen_fit import fit_to_screen
from bpstudio.gui.tools.background import CopyTaskControls, close_buttons
from bpstudio.gui.tools.window import raise_tool

PLANE_CHOICES = (("random", "random, filter-normalised (Li et al.)"), ("pca", "the path's own plane (PCA)"))
CONTOURS = 12
COLOR_MAP = "viridis"
PATH_COLOR = QColor(255, 255, 255)


class LandscapeDialog(CopyTaskControls, QDialog):
    """Settings, a Compute button with progress and Cancel, and the slice with the path on top."""

    computed = Signal()  # a new slice is on screen

    def __init__(self, window: Any):
        super().__init__(window)
        self.window_ = window
        self.setWindowTitle("Loss landscape")
        fit_to_screen(self, 820, 700)
        self.exploration: Exploration | None = None
        self.plane = QComboBox()
        for key, text in PLANE_CHOICES:
            self.plane.addItem(text, key)
        self.seed = self._spin(0, 10**6, 0, "seed of the random directions")
        self.points = self._spin(3, 201, DEFAULT_POINTS, "grid points along each axis")
        self.span = QDoubleSpinBox()
        self.span.setRange(0.01, 100.0)
        self.span.setValue(1.0)
        self.span.setToolTip("the grid covers [−span, span] along both directions")
        self.steps = self._spin(0, 100_000, 200, "training steps of the path (0: no path)")
        self.every = self._spin(1, 10_000, 5, "keep the weights every this many steps")
        form = QFormLayout()
        form.addRow("Directions", self.plane)
        form.addRow("Seed", self.seed)
        form.addRow("Grid points", self.points)
        form.addRow("Span ±", self.span)
        form.addRow("Path: steps on a copy", self.steps)
        form.addRow("Path: keep every", self.every)
        self.compute_button = self._build_task_controls(
            "Compute", "Compute a slice of the loss around the current weights."
        )
        self.compute_button.clicked.connect(self.compute)
        self.plane.currentIndexChanged.connect(self._on_plane_changed)
        self.view = pg.GraphicsLayoutWidget()
        self.view.setBackground("w")
        self.plot = self.view.addPlot(row=0, col=0)
        prepare_plot(self.plot, self.font(), "β (direction 2)", "α (direction 1)")
        self.plot.setAspectLocked(True)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        self.color_bar = pg.ColorBarItem(colorMap=COLOR_MAP, interactive=False, width=14)
        self.color_bar.setImageItem(self.image)
        style_color_bar(self.color_bar, self.font(), "log₁₀ loss", "−0.00")
        self.view.addItem(self.color_bar, row=0, col=1)
        self.contours: list[pg.IsocurveItem] = []
        self.path = self.plot.plot(
            pen=pg.mkPen(PATH_COLOR, width=2), symbol="o", symbolSize=6, symbolBrush=PATH_COLOR, symbolPen=pg.mkPen(INK)
        )
        self.start = pg.ScatterPlotItem(size=14, symbol="+", pen=pg.mkPen(HIGHLIGHT, width=3))
        self.end = pg.ScatterPlotItem(size=12, symbol="x", pen=pg.mkPen(HIGHLIGHT, width=3))
        self.plot.addItem(self.start)
        self.plot.addItem(self.end)
        buttons = QHBoxLayout()
        buttons.addWidget(self.compute_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.progress, 1)
        top = QHBoxLayout()
        top.addLayout(form)
        top.addWidget(self.status, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(buttons)
        layout.addWidget(self.view, 1)
        layout.addWidget(close_buttons(self))
        self._on_plane_changed()

    def _spin(self, low: int, high: int, value: int, tip: str) -> QSpinBox:
        box = QSpinBox()
        box.setRange(low, high)
        box.setValue(value)
        box.setToolTip(tip)
        return box

    def _on_plane_changed(self) -> None:
        self.seed.setEnabled(self.plane.currentData() == "random")

    # --- computing ------------------------------------------------------------------------------

    def compute(self) -> None:
        """Start the work on a copy of the document's session (the live one is only read, under its lock)."""
        copy = self._copy_for_task("compute")
        if copy is None:
            return
        settings = {
            "plane": self.plane.currentData(),
            "steps": self.steps.value(),
            "every": self.every.value(),
            "points": self.points.value(),
            "span": self.span.value(),
            "seed": self.seed.value(),
        }
        self.status.setText("Training the path on a copy, then evaluating the grid…")
        self._start_task(lambda progress: explore(copy, progress=progress, **settings), self._on_failed, self._on_done)

    def _on_failed(self, message: str) -> None:
        self.status.setText(f"Could not compute the landscape: {message}")

    def _on_done(self, result: Exploration | None) -> None:
        if result is None:
            self.status.setText("Cancelled; the slice shown (if any) is the previous one.")
            return
        self.exploration = result
        self._draw(result)
        self.computed.emit()

    # --- drawing --------------------------------------------------------------------------------

    def _draw(self, result: Exploration) -> None:
        cut = result.cut
        shown = np.log10(np.maximum(cut.losses, 1e-300))  # (display scale: losses span decades)
        a, b = cut.alphas, cut.betas
        da, db = a[1] - a[0], b[1] - b[0]
        self.image.setImage(shown, autoLevels=False)
        self.image.setRect(QRectF(a[0] - da / 2, b[0] - db / 2, da * len(a), db * len(b)))
        low, high = float(np.min(shown)), float(np.max(shown))
        self.color_bar.setLevels((low, high if high > low else low + 1e-9))
        for item in self.contours:
            self.plot.removeItem(item)
        self.contours = []
        for level in np.linspace(low, high, CONTOURS + 2)[1:-1]:
            contour = pg.IsocurveItem(shown, level, pen=pg.mkPen(255, 255, 255, 140), axisOrder="row-major")
            contour.setParentItem(self.image)  # drawn in the image's pixel grid, so it lines up with it
            self.contours.append(contour)
        coords = result.coords
        self.path.setData(coords[:, 0], coords[:, 1])
        self.start.setData([0.0], [0.0])
        self.end.setData(coords[-1:, 0], coords[-1:, 1]) if len(coords) else self.end.setData([], [])
        self.plot.setRange(xRange=(a[0] - da / 2, a[-1] + da / 2), yRange=(b[0] - db / 2, b[-1] + db / 2), padding=0)
        self.status.setText(self._summary(result))

    def _summary(self, result: Exploration) -> str:
        cut = result.cut
        where = (
            "directions: the path's plane, capturing "
            f"{format_number(100 * result.shares[0], 3)} % and {format_number(100 * result.shares[1], 3)} % "
            "of its spread"
            if result.shares is not None
            else f"directions: random, filter-normalised, seed {cut.seed}"
        )
        low, high = float(cut.losses.min()), float(cut.losses.max())
        digits = next((d for d in range(4, 13) if format_number(low, d) != format_number(high, d)), 4)
        text = (
            f"Loss at the current weights (+): {format_number(cut.centre_loss, max(digits, 4))}; over the "
            f"slice {format_number(low, digits)} … {format_number(high, digits)}.\n{where}."
        )
        if result.path is not None and len(result.coords):
            far = float(np.max(np.hypot(result.coords[:, 0], result.coords[:, 1])))
            steps = int(result.path.steps[-1] - result.path.steps[0])
            text += (
                f"\nPath: the next {steps} training steps on a copy (×: where they end), "
                f"reaching {format_number(far, 3)} from the centre in this plane."
            )
            if far < 0.02 * cut.alphas[-1] and result.shares is None and math.isfinite(far):
                text += " Random directions barely see a training path; choose the path's own plane to follow it."
        return text


def open_landscape(window: Any) -> LandscapeDialog:
    """Open (or raise) the loss-landscape window for ``window``'s document."""
    return raise_tool(window, LandscapeDialog)
