"""A layer's block: the rounded card with its title band, and for big layers a heat strip of its units.

The block is the item a person selects and drags. Its neurons and ports are drawn above the weight
lines by :class:`~bpstudio.gui.canvas.neuron_items.LayerOverlayItem`, which follows the block.
The item's position is the block's centre (the same point ``LayerSpec.position`` stores).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QLineF, QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QImage, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from bpstudio.gui.canvas import style
from bpstudio.gui.canvas.states import LayerState
from bpstudio.gui.canvas.style import BODY_PAD, HEAT_CELL, HEAT_COLS, HEAT_MAX_UNITS, fonts
from bpstudio.gui.colors import HIGHLIGHT, diverging_rgb
from bpstudio.gui.qt_utils import format_number

ALIGN_LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
ALIGN_CENTER = Qt.AlignmentFlag.AlignCenter
ALIGN_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
# under a norm layer's title: what its values were normalized by (a training step's batch, or, with no step shown,
# the running statistics evaluation uses; layernorm: each sample by itself)
STATISTICS_SAID = {"batch": "by this batch's μ, σ²", "running": "by running μ̄, σ̄²", "sample": "per sample"}


def subtitle(state: LayerState) -> tuple[str, str]:
    """The two lines under the title: "dense · 2 units" and the activation (if any; a dropout layer's p, a norm
    layer's statistics)."""
    kind = f"{state.type} · {state.units} unit{'s' if state.units != 1 else ''}"
    activation = state.activation if state.type != "input" and state.activation != "identity" else ""
    if state.p is not None:  # a dropout layer: its p, and how many units this step's first sample dropped
        dropped = f" · {int(state.dropped.sum())} dropped" if state.dropped is not None else ""
        activation = f"p {state.p:g}{dropped}"
    if state.statistics is not None:  # a norm layer: the statistics its values were normalized by
        used = STATISTICS_SAID[state.statistics]
        activation = f"{activation} · {used}" if activation else used
    return kind, activation


def running_digits(geometry: LayerGeometry) -> int:
    """Significant digits of the running statistics under a batchnorm unit (fewer in presentation mode's type)."""
    return 2 if geometry.presenting else min(geometry.metrics.digits, 3)


class LayerGeometry:
    """Sizes and local positions (relative to the block's centre) for one layer; ``presenting``: in presentation
    mode's look (see :mod:`~bpstudio.gui.canvas.style`)."""

    def __init__(self, state: LayerState, presenting: bool = False):
        f = self.fonts = fonts(presenting)
        self.presenting = presenting
        header_h = self.header_h = f.header_h
        self.units = state.units
        self.small = state.small
        self.tag = "output" if state.is_output else ""
        tag_w = f.subtitle_metrics.horizontalAdvance(self.tag) + 14 if self.tag else 0.0
        title_w = f.title_metrics.horizontalAdvance(state.id)
        lines = subtitle(state)
        width = max(
            style.MIN_WIDTH,
            title_w + tag_w + 34,
            max(f.subtitle_metrics.horizontalAdvance(line) for line in lines) + 26,
        )
        self.metrics = style.neuron_metrics(state.units, presenting)
        if self.small:
            body = state.units * self.metrics.spacing
            if self.metrics.show_net:  # the last neuron's "net" line below its circle stays inside the block
                below = self.metrics.spacing / 2 - self.metrics.radius
                body += max(0.0, f.net_h + 1 - below)
            width = max(width, 2 * (self.metrics.radius + 2 * BODY_PAD))
            self.cols = self.rows = 0
            if state.unit_labels and not self.metrics.show_net:  # room for the terms left of the circles
                width = max(width, 2 * (self.metrics.radius + 72))
            if self.metrics.show_net and state.running_mean is not None:  # room for the running μ̄, σ̄² lines
                zeros = "0" * (running_digits(self) + 1)  # (as wide as they mostly are: the block keeps its width)
                widest = f"μ̄ -0.{zeros} σ̄² 0.{zeros}"
                width = max(width, f.net_metrics.horizontalAdvance(widest) + 2 * BODY_PAD)
        else:
            shown = min(state.units, HEAT_MAX_UNITS)
            self.cols, self.rows = HEAT_COLS, math.ceil(shown / HEAT_COLS)
            width = max(width, HEAT_COLS * HEAT_CELL + 2 * BODY_PAD + 8)
            body = self.rows * HEAT_CELL + f.line_h + 4  # + the caption line
        height = header_h + body + 2 * BODY_PAD
        self.width, self.height = width, height
        self.rect = QRectF(-width / 2, -height / 2, width, height)
        self.header = QRectF(self.rect.left(), self.rect.top(), width, header_h)
        self.title_rect = QRectF(self.rect.left() + 12, self.rect.top() + 6, title_w + 4, f.title_h)
        self.in_port = QPointF(self.rect.left(), self.rect.top() + header_h / 2)
        self.out_port = QPointF(self.rect.right(), self.rect.top() + header_h / 2)
        heat_w = self.cols * HEAT_CELL
        self.heat_rect = QRectF(-heat_w / 2, self.rect.top() + header_h + BODY_PAD, heat_w, self.rows * HEAT_CELL)
        # where paint() puts things (computed once, so painting allocates nothing)
        r = self.rect
        tag_h = f.title_h - 7
        self.tag_rect = QRectF(self.title_rect.right() + 6, r.top() + 10 + (f.title_h - 24) / 2, tag_w - 2, tag_h)
        lines_top = r.top() + 6 + f.title_h
        self.kind_rect = QRectF(r.left() + 12, lines_top, r.width() - 20, f.line_h)
        self.activation_rect = QRectF(r.left() + 12, lines_top + f.line_h, r.width() - 20, f.line_h)
        self.caption_rect = QRectF(r.left() + 6, self.heat_rect.bottom() + 3, r.width() - 12, f.line_h)
        self.phase_rect = QRectF(r.left() - 30, r.top() - f.label_h - 8, r.width() + 60, f.label_h)
        self.loss_rect = QRectF(r.left() - 40, r.bottom() + 8, r.width() + 80, f.label_h)
        self.halo_rect = r.adjusted(-5, -5, 5, 5)
        self.outline = QPainterPath()
        self.outline.addRoundedRect(r, 12, 12)
        band = QPainterPath()
        band.addRect(self.header)
        self.header_path = self.outline.intersected(band)

    def key(self) -> tuple[float, float, str, bool]:
        return (self.width, self.height, self.tag, self.presenting)

    def neuron_center(self, k: int) -> QPointF:
        return QPointF(0.0, self.rect.top() + self.header_h + BODY_PAD + self.metrics.spacing * (k + 0.5))

    def neuron_ys(self) -> np.ndarray:
        return self.rect.top() + self.header_h + BODY_PAD + self.metrics.spacing * (np.arange(self.units) + 0.5)

    def neuron_at(self, local: QPointF, slack: float = 3.0) -> int | None:
        """The neuron whose circle contains the local point, if any."""
        if not self.small:
            return None
        k = math.floor((local.y() - self.rect.top() - self.header_h - BODY_PAD) / self.metrics.spacing)
        if not 0 <= k < self.units:
            return None
        centre = self.neuron_center(k)
        if math.hypot(local.x() - centre.x(), local.y() - centre.y()) <= self.metrics.radius + slack:
            return k
        return None

    def cell_at(self, local: QPointF) -> int | None:
        """The heat-strip unit under the local point (big layers)."""
        if self.small or not self.heat_rect.contains(local):
            return None
        col = int((local.x() - self.heat_rect.left()) // HEAT_CELL)
        row = int((local.y() - self.heat_rect.top()) // HEAT_CELL)
        unit = row * self.cols + col
        return unit if 0 <= col < self.cols and unit < min(self.units, HEAT_MAX_UNITS) else None


class LayerItem(QGraphicsItem):
    """The block. Selectable and movable; tells ``on_moved`` whenever its position changes."""

    def __init__(self, layer_id: str, on_moved: Callable[[LayerItem], None]):
        super().__init__()
        self.layer_id = layer_id
        self._on_moved = on_moved
        self.setFlags(
            QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
            | QGraphicsItem.GraphicsItemFlag.ItemIsMovable
            | QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges
        )
        self.setZValue(1)
        self.setCursor(Qt.CursorShape.OpenHandCursor)
        self.state: LayerState | None = None
        self.geometry: LayerGeometry | None = None
        self._bounds = QRectF()
        self._heat: QImage | None = None
        self.heat_caption = ""
        self.drop_target = False  # a connection being dragged would end here
        self._heat_grid: list[QLineF] = []

    # --- content ---------------------------------------------------------------------------

    def set_state(self, state: LayerState, geometry: LayerGeometry) -> None:
        if self.geometry is None or geometry.key() != self.geometry.key():
            self.prepareGeometryChange()
        self.state, self.geometry = state, geometry
        label_room = geometry.fonts.label_h
        self._bounds = geometry.rect.adjusted(-10, -label_room - 16, 10, label_room + 20)  # the phase label, the loss
        self._border = QPen(HIGHLIGHT, 5.0) if state.phase_label else QPen(state.color, 2.5)
        self._halo = QPen(QColor(state.color.red(), state.color.green(), state.color.blue(), 110), 7.0)
        band_color = QColor(state.color)
        band_color.setAlpha(40)
        self._band = QBrush(band_color)
        self._subtitle = subtitle(state)
        self._loss_text = f"loss {format_number(state.loss, style.LABEL_DIGITS)}" if state.loss is not None else ""
        self._build_heat(state, geometry)
        self.update()

    def _build_heat(self, state: LayerState, geometry: LayerGeometry) -> None:
        self._heat = None
        if state.small:
            return
        values, what = (state.out, "out, sample 1") if state.out is not None else (state.bias, "bias")
        # one pixel a unit, row by row; the colours of the whole strip at once (a 1000-unit layer, every redraw)
        pixels = np.full(geometry.cols * geometry.rows, QColor(style.BACKGROUND).rgb(), dtype=np.uint32)
        if values is None:
            self.heat_caption = "no values yet"
        else:
            shown = np.asarray(values[:HEAT_MAX_UNITS], dtype=np.float64)
            finite = np.abs(shown[np.isfinite(shown)])
            scale = float(finite.max()) if finite.size else 0.0
            rgb = diverging_rgb(shown, -scale, scale).astype(np.uint32)
            pixels[: len(shown)] = (0xFF << 24) | (rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2]
            if state.dropped is not None:  # a dropout layer's dropped units: grey
                gone = np.flatnonzero(state.dropped[:HEAT_MAX_UNITS])
                pixels[gone] = style.DROPPED.rgb()
            more = f", first {HEAT_MAX_UNITS}" if state.units > HEAT_MAX_UNITS else ""
            self.heat_caption = f"{what}{more} · ±{format_number(scale, 3)}"
        cols, rows = geometry.cols, geometry.rows
        self._heat = QImage(pixels.tobytes(), cols, rows, 4 * cols, QImage.Format.Format_RGB32).copy()
        r = geometry.heat_rect
        self._heat_grid = [
            QLineF(r.left() + c * HEAT_CELL, r.top(), r.left() + c * HEAT_CELL, r.bottom())
            for c in range(1, geometry.cols)
        ]
        self._heat_grid += [
            QLineF(r.left(), r.top() + k * HEAT_CELL, r.right(), r.top() + k * HEAT_CELL)
            for k in range(1, geometry.rows)
        ]

    # --- Qt ----------------------------------------------------------------------------------

    def boundingRect(self) -> QRectF:
        return self._bounds

    def shape(self) -> QPainterPath:
        return self.geometry.outline if self.geometry is not None else QPainterPath()

    def set_drop_target(self, on: bool) -> None:
        if on != self.drop_target:
            self.drop_target = on
            self.update()

    def itemChange(self, change: QGraphicsItem.GraphicsItemChange, value: object) -> object:
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged:
            self._on_moved(self)
        return super().itemChange(change, value)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        state, geo = self.state, self.geometry
        if state is None or geo is None:
            return
        f = geo.fonts
        if self.isSelected() or self.drop_target:
            painter.setPen(style.DROP_PEN if self.drop_target else self._halo)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(geo.halo_rect, 16, 16)
        painter.setPen(style.NO_PEN)
        painter.setBrush(style.BLOCK_FILL)
        painter.drawPath(geo.outline)
        painter.setBrush(self._band)
        painter.drawPath(geo.header_path)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(self._border)
        painter.drawPath(geo.outline)
        # title band: the id (bold) with the "output" tag; type · units; the activation
        painter.setPen(style.INK)
        painter.setFont(f.title)
        painter.drawText(geo.title_rect, ALIGN_LEFT, state.id)
        if geo.tag:
            painter.setPen(style.NO_PEN)
            painter.setBrush(state.color)
            painter.drawRoundedRect(geo.tag_rect, 8, 8)
            painter.setPen(style.BLOCK_FILL)
            painter.setFont(f.tag)
            painter.drawText(geo.tag_rect, ALIGN_CENTER, geo.tag)
        kind, activation = self._subtitle
        painter.setPen(style.MUTED)
        painter.setFont(f.subtitle)
        painter.drawText(geo.kind_rect, ALIGN_LEFT, kind)
        if activation:
            painter.setFont(f.activation)
            painter.drawText(geo.activation_rect, ALIGN_LEFT, activation)
        if self._heat is not None:
            painter.drawImage(geo.heat_rect, self._heat)
            painter.setPen(style.HEAT_GRID_PEN)
            painter.drawLines(self._heat_grid)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.setPen(style.FAINT)
            painter.drawRect(geo.heat_rect)
            painter.setPen(style.MUTED)
            painter.setFont(f.caption)
            painter.drawText(geo.caption_rect, ALIGN_CENTER, self.heat_caption)
        if state.phase_label:
            painter.setPen(HIGHLIGHT)
            painter.setFont(f.phase)
            painter.drawText(geo.phase_rect, ALIGN_CENTER, state.phase_label)
        if self._loss_text:
            painter.setPen(style.INK)
            painter.setFont(f.phase)
            painter.drawText(geo.loss_rect, ALIGN_CENTER, self._loss_text)
