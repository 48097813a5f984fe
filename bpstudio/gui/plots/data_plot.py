"""The data and the network's decision boundary: train points (filled) and test points (hollow) over a
heatmap of the output surface that :mod:`bpstudio.core.tools.boundary` computes.

Colours: class k has ``class_colors()[k]`` everywhere (class 0 blue and class 1 orange, as the
probability scale's ends); regression points and "value" surfaces use the diverging scale of
:mod:`bpstudio.gui.colors`, saturating at the data's largest |target|. The heatmap is a paler tint of the
same colours so the points stay readable on top of it; a class surface is paler where the net is unsure.
"Discretize" draws hard class regions instead (core's ``hard_regions``); "Test points" hides or shows the
held-out points.

A click on the plot asks for a point there (``point_requested(x, y, choice)``: the class or target value
picked below the plot, see :mod:`bpstudio.gui.plots.point_picker`); a right-click asks to remove the point
nearest to it (``removal_requested(x, y, pixel width, pixel height, with test points)``). The owner carries
the requests out as undoable edits and shows the data again.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QCheckBox, QLabel, QSizePolicy, QVBoxLayout, QWidget

from bpstudio.core.data import Dataset
from bpstudio.core.datasets.points import click_kind, plane
from bpstudio.core.errors import DataError
from bpstudio.core.tools.boundary import Surface, decode_classes, grid, hard_regions
from bpstudio.core.tools.image_samples import SampleReadings, shown_samples, shows_images
from bpstudio.gui.colors import LAYER_PALETTE, NEGATIVE, NEUTRAL, POSITIVE, signed_color
from bpstudio.gui.flow_layout import GroupFlowLayout
from bpstudio.gui.plots.history_plot import plain_numbers
from bpstudio.gui.plots.point_picker import PointPicker
from bpstudio.gui.plots.samples_view import SamplesView
from bpstudio.gui.qt_utils import format_number

WHITE = QColor(255, 255, 255)
SURFACE_TINT = 0.55  # how far the heatmap goes from white towards a colour (1 = full colour)
UNSURE_TINT = 0.12  # a class surface's tint where all classes tie
POINT_SIZE = 9


def class_colors(count: int) -> list[QColor]:
    """One colour per class: blue and orange first (the probability scale's ends), then the palette."""
    base = [NEGATIVE, POSITIVE] + [QColor(c) for c in LAYER_PALETTE[2:]]
    return [QColor(base[k % len(base)]) for k in range(count)]


def _rgb(colors: list[QColor]) -> np.ndarray:
    return np.array([[c.red(), c.green(), c.blue()] for c in colors], dtype=np.float64)


def _tinted(rgb: np.ndarray, strength: np.ndarray | float) -> np.ndarray:
    """RGBA bytes ``strength`` of the way from white to ``rgb`` (display scaling only)."""
    white = _rgb([WHITE])[0]
    mixed = white + (rgb - white) * np.asarray(strength)[..., None]
    alpha = np.full(mixed.shape[:-1] + (1,), 255.0)
    return np.concatenate([mixed, alpha], axis=-1).round().astype(np.ubyte)


def _swatch(color: QColor, symbol: str = "●") -> str:
    return f"<span style='color:{color.name()}'>{symbol}</span>"


class DataPlot(QWidget):
    """``show_data(train, test)``, then ``show_surface(surface)`` (2-D inputs) or ``show_curve(xs, ys)``
    (1-D inputs) as the network trains. ``show_data`` clears the surface and curve: they belong to the
    previous data until the owner sends new ones."""

    point_requested = Signal(float, float, object)  # x, y, the class or target value picked (or None)
    removal_requested = Signal(float, float, float, float, bool)  # x, y, a pixel's width and height, test too

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.train: Dataset | None = None
        self.test: Dataset | None = None
        self.surface: Surface | None = None  # as the network computed it (drawn as hard regions when asked)
        self._value_scale = 1.0
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setStyleSheet("font-size: 12pt; color: palette(placeholder-text);")
        self.plot_widget = pg.PlotWidget(background="w")
        self.plot = self.plot_widget.getPlotItem()
        self.plot.showGrid(x=False, y=False)
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        ink = self.palette().color(QPalette.ColorRole.Text)
        for name in ("left", "bottom"):
            axis = self.plot.getAxis(name)
            axis.setTextPen(ink)
            axis.setPen(ink)
            font = axis.font()
            font.setPointSize(10)  # readable on a projector
            axis.setStyle(tickFont=font)
            plain_numbers(axis)  # (Mazur's inputs 0.05 and 0.1 read so, not 50 and 100 "(x0.001)")
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setZValue(-10)
        self.plot.addItem(self.image)
        self.curve = self.plot.plot(pen=pg.mkPen(ink, width=3))
        self.curve.setZValue(5)
        self.train_scatter = pg.ScatterPlotItem(size=POINT_SIZE, pxMode=True)
        self.test_scatter = pg.ScatterPlotItem(size=POINT_SIZE, pxMode=True)
        self.test_scatter.setZValue(2)
        self.train_scatter.setZValue(1)
        self.plot.addItem(self.train_scatter)
        self.plot.addItem(self.test_scatter)
        self.samples = SamplesView()  # (in place of the plot for inputs that are square images: the digits)
        self.samples.setVisible(False)
        self.legend = QLabel()
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.setWordWrap(True)
        self.legend.setStyleSheet("font-size: 11pt; padding: 2px 6px;")
        self._build_controls()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.message)
        layout.addWidget(self.plot_widget, 1)
        layout.addWidget(self.samples, 1)
        layout.addWidget(self.controls)
        layout.addWidget(self.legend)
        self.plot_widget.scene().sigMouseClicked.connect(self._on_clicked)
        self.show_data(None, None)

    def _build_controls(self) -> None:
        """Below the plot: what a click adds, the two display toggles, and what the mouse does here."""
        self.picker = PointPicker()
        self.show_test = QCheckBox("Test points")
        self.show_test.setChecked(True)
        self.discretize = QCheckBox("Discretize")
        self.discretize.setToolTip("show the predicted class as hard regions instead of shading by probability")
        self.show_test.toggled.connect(lambda _on: self._show_test_points())
        self.discretize.toggled.connect(lambda _on: self._draw_surface())
        self.controls = QWidget()
        rows = QVBoxLayout(self.controls)
        rows.setContentsMargins(6, 2, 6, 0)
        rows.setSpacing(2)
        flow = GroupFlowLayout()
        flow.add_group(self.picker)
        flow.add_group(self.show_test, self.discretize, right=True)
        rows.addLayout(flow)
        rows.addWidget(self.picker.hint)

    # --- public -------------------------------------------------------------------------------------

    def show_data(self, train: Dataset | None, test: Dataset | None = None) -> None:
        """Scatter the data: 2-D inputs as points in the plane, 1-D as target against input."""
        self.train, self.test = train, test
        self.show_surface(None)
        self.show_curve(None, None)
        self._show_click_kind()
        if train is None:
            self._show_message("no data", alone=True)
            self._clear_points()
            self.legend.setText("")
            return
        dims = train.n_inputs
        self.samples.setVisible(False)
        if shows_images(train):
            self._show_samples(train, test)
            return
        if dims > 2:
            self._show_message(f"decision boundary needs 2-D inputs; this data has {dims}", alone=True)
            self.message.setToolTip(self.picker.hint.text())
            self._clear_points()
            self.legend.setText("")
            return
        self._value_scale = self._target_scale()
        self.plot_widget.setVisible(True)
        self.controls.setVisible(True)
        self.legend.setVisible(True)
        self.message.setToolTip("")
        if dims == 2:
            self.message.setVisible(False)
            self.plot.setAspectLocked(True)
            self.plot.setLabels(bottom="x1", left="x2")
        else:
            self._show_message("decision boundary needs 2-D inputs; this data has 1 (showing target against input)")
            self.plot.setAspectLocked(False)
            self.plot.setLabels(bottom="x", left="target" if not train.is_classification else "class")
        self._scatter(self.train_scatter, train, hollow=False)
        self._scatter(self.test_scatter, test, hollow=True)
        self._show_test_points()
        self._frame()
        self._update_legend()

    def _show_samples(self, train: Dataset, test: Dataset | None) -> None:
        """Inputs that are square images: the first samples as pictures instead of points in a plane."""
        shown, held_out = shown_samples(train, test)
        self.message.setVisible(False)
        self.plot_widget.setVisible(False)
        self.controls.setVisible(False)
        self.legend.setVisible(False)
        self._clear_points()
        self.samples.show_samples(shown, held_out)
        self.samples.setVisible(True)

    def show_surface(self, surface: Surface | SampleReadings | None) -> None:
        """The output surface as a heatmap behind the points; None (or non-2-D data) clears it. For inputs
        that are images: how the network reads the samples shown."""
        if isinstance(surface, SampleReadings) or (surface is None and self.samples.isVisibleTo(self)):
            self.samples.show_readings(surface if isinstance(surface, SampleReadings) else None)
            surface = None
        self.surface = None if self.train is None or self.train.n_inputs != 2 else surface
        if self.surface is not None and self.picker.kind == "class":
            self._show_click_kind()  # (the network may have more classes than the data uses)
        self._draw_surface()

    def shown_surface(self) -> Surface | None:
        """The surface as drawn: hard class regions when "Discretize" is on and the surface has classes."""
        if self.surface is None or not self.discretize.isChecked():
            return self.surface
        return hard_regions(self.surface) or self.surface

    def _draw_surface(self) -> None:
        if self.surface is None:
            why = "there is no decision surface: it is drawn for data with 2 inputs"
        elif self.surface.kind == "value":
            why = "this output is a value, not a class: there are no class regions to show"
        else:
            why = ""
        self.discretize.setEnabled(not why)
        self.discretize.setToolTip(why or "show the predicted class as hard regions instead of shading by probability")
        surface = self.shown_surface()
        if surface is None:
            self.image.clear()
            self.image.setVisible(False)
            self._update_legend()
            return
        self.image.setImage(self._surface_rgba(surface), autoLevels=False, levels=(0, 255))
        xs, ys = surface.xs, surface.ys
        dx = (xs[-1] - xs[0]) / (len(xs) - 1) if len(xs) > 1 else 1.0
        dy = (ys[-1] - ys[0]) / (len(ys) - 1) if len(ys) > 1 else 1.0
        # each cell centred on its grid point
        self.image.setRect(QRectF(xs[0] - dx / 2, ys[0] - dy / 2, dx * len(xs), dy * len(ys)))
        self.image.setVisible(True)
        self._update_legend()

    def show_curve(self, xs: np.ndarray | None, ys: np.ndarray | None) -> None:
        """The network's prediction against a 1-D input (None clears it)."""
        if xs is None or ys is None or self.train is None or self.train.n_inputs != 1:
            self.curve.setData([], [])
            return
        self.curve.setData(np.asarray(xs, dtype=float), np.asarray(ys, dtype=float))

    # --- clicks -------------------------------------------------------------------------------------

    def _show_click_kind(self) -> None:
        """Set the picker up for what a click adds to the data shown (or why it adds nothing)."""
        if self.train is None:
            self.picker.show_kind(None, [], "no data")
            return
        try:
            kind = click_kind(self.train)
        except DataError as exc:
            self.picker.show_kind(None, [], str(exc))
            return
        self.picker.show_kind(kind, class_colors(self._class_count()) if kind == "class" else [])

    def _on_clicked(self, event: Any) -> None:  # (pyqtgraph's MouseClickEvent)
        """A click in the plot's area: left adds a point (Shift: the next class), right removes one."""
        view = self.plot.getViewBox()
        where = event.scenePos()
        if self.train is None or event.double() or not view.sceneBoundingRect().contains(where):
            return
        at = view.mapSceneToView(where)
        button = event.button()
        if button == Qt.MouseButton.LeftButton:
            shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
            choice = self.picker.other_choice() if shift else self.picker.choice()
            event.accept()
            self.point_requested.emit(at.x(), at.y(), choice)
        elif button == Qt.MouseButton.RightButton:
            width, height = view.viewPixelSize()
            with_test = self.test is not None and self.show_test.isChecked()
            event.accept()
            self.removal_requested.emit(at.x(), at.y(), float(width), float(height), with_test)

    def _show_test_points(self) -> None:
        has_test = self.test is not None
        self.show_test.setEnabled(has_test)
        self.show_test.setToolTip(
            "show the held-out test points (hollow)"
            if has_test
            else "this data has no test points: set a test fraction in the data panel to hold some out"
        )
        self.test_scatter.setVisible(has_test and self.show_test.isChecked())
        self._update_legend()

    # --- drawing ------------------------------------------------------------------------------------

    def _show_message(self, text: str, alone: bool = False) -> None:
        """A line above the plot, or (``alone``) the whole view in place of an empty plot."""
        self.message.setText(text)
        self.message.setVisible(True)
        self.plot_widget.setVisible(not alone)
        self.controls.setVisible(not alone)
        self.legend.setVisible(not alone)
        vertical = QSizePolicy.Policy.Expanding if alone else QSizePolicy.Policy.Maximum
        self.message.setSizePolicy(QSizePolicy.Policy.Preferred, vertical)

    def _clear_points(self) -> None:
        self.train_scatter.setData([], [])
        self.test_scatter.setData([], [])

    def _target_scale(self) -> float:
        """The |target| the diverging scale saturates at: the largest in train and test, over every output."""
        low, high = self._target_range()
        biggest = max(abs(low), abs(high))
        return biggest if biggest > 0 else 1.0

    def _target_range(self) -> tuple[float, float]:
        """The smallest and largest target in train and test (0, 0 without regression data)."""
        sets = [d for d in (self.train, self.test) if d is not None and not d.is_classification and d.Y.size]
        if not sets:
            return 0.0, 0.0
        return min(float(d.Y.min()) for d in sets), max(float(d.Y.max()) for d in sets)

    def _point_colors(self, data: Dataset) -> list[QColor]:
        if data.is_classification:
            palette = class_colors(max(self._class_count(), 1))
            return [palette[int(k)] for k in data.Y]
        return [signed_color(float(v), self._value_scale) for v in data.Y[:, 0]]

    def _class_count(self) -> int:
        counts = [d.n_classes for d in (self.train, self.test) if d is not None and d.is_classification]
        if self.surface is not None:
            counts.append(self.surface.classes)
        return max(counts, default=0)

    def _scatter(self, item: pg.ScatterPlotItem, data: Dataset | None, hollow: bool) -> None:
        if data is None:
            item.setData([], [])
            return
        x, y = plane(data).T
        colors = self._point_colors(data)
        if hollow:
            pens = [pg.mkPen(c.darker(130), width=2.5) for c in colors]
            item.setData(x=x, y=y, pen=pens, brush=pg.mkBrush(None), symbol="o")
        else:
            # white rims part class points from their tinted background; regression points near 0 are
            # pale on a pale background, so they get a grey rim
            rim = WHITE if data.is_classification else QColor(NEUTRAL).darker(170)
            item.setData(x=x, y=y, pen=pg.mkPen(rim, width=1), brush=[pg.mkBrush(c) for c in colors], symbol="o")

    def _frame(self) -> None:
        """Show the region the surface will cover (2-D) or all the points (1-D)."""
        assert self.train is not None
        if self.train.n_inputs == 2:
            xs, ys, _ = grid(self.train, resolution=2)
            self.plot.setRange(xRange=(xs[0], xs[-1]), yRange=(ys[0], ys[-1]), padding=0)
        else:
            self.plot.autoRange()

    def _surface_rgba(self, surface: Surface) -> np.ndarray:
        values = surface.values
        if surface.kind == "class":
            classes, confidence = decode_classes(values)
            rgb = _rgb(class_colors(max(surface.classes, 1)))[np.clip(classes, 0, max(surface.classes - 1, 0))]
            return _tinted(rgb, UNSURE_TINT + (SURFACE_TINT - UNSURE_TINT) * confidence)
        if surface.kind == "probability":
            scale = pg.ColorMap([0.0, 0.5, 1.0], [NEGATIVE, WHITE, POSITIVE])
            rgb = scale.map(np.clip(values, 0.0, 1.0).ravel(), mode="byte")[:, :3].astype(np.float64)
            return _tinted(rgb.reshape(values.shape + (3,)), SURFACE_TINT)
        scale = pg.ColorMap([0.0, 0.5, 1.0], [NEGATIVE, NEUTRAL, POSITIVE])
        position = (np.clip(values / self._value_scale, -1.0, 1.0) + 1.0) / 2.0
        rgb = scale.map(position.ravel(), mode="byte")[:, :3].astype(np.float64)
        return _tinted(rgb.reshape(values.shape + (3,)), SURFACE_TINT)

    def _target_legend(self) -> str:
        """The diverging scale's ends that the targets reach: from 0 (neutral) when none is negative, to 0 when
        none is positive, else from −scale to +scale."""
        low, high = self._target_range()
        scale = self._value_scale
        ends = [(NEGATIVE, -scale), (POSITIVE, scale)]
        if low >= 0:
            ends[0] = (NEUTRAL, 0.0)
        elif high <= 0:
            ends[1] = (NEUTRAL, 0.0)
        (a, lo), (b, hi) = ends
        return f"target {_swatch(a, '■')} {format_number(lo, 3)} … {_swatch(b, '■')} {format_number(hi, 3)}"

    def _update_legend(self) -> None:
        data = self.train
        if data is None:
            self.legend.setText("")
            return
        grey = QColor(NEUTRAL).darker(160)
        shown = self.test is not None and self.show_test.isChecked()
        # (a swatch and its words never part at a line break: &nbsp; inside an entry, a space between entries)
        parts = [f"{_swatch(grey)}&nbsp;train", f"{_swatch(grey, '○')}&nbsp;test"] if shown else []
        if data.is_classification:
            parts += [f"{_swatch(c, '■')}&nbsp;class&nbsp;{k}" for k, c in enumerate(class_colors(self._class_count()))]
        else:
            parts.append(self._target_legend())
        text = "&nbsp;&nbsp; ".join(parts)
        surface = self.shown_surface()
        if surface is not None:
            text += f"<br>background: {surface.label}"
        self.legend.setText(text)
