"""Neuron-level drawing for small layers: the circles with their values, and the lines between them.

:class:`LayerOverlayItem` sits above the weight lines and follows its block; it draws the block's ports
and (for small layers) one circle per unit. :class:`UnitEdgesItem` draws every line between two small
layers in one item — weights of a dense layer, or the fixed unit links of add/concat — grouped by pen so
a redraw is a handful of ``drawLines`` calls, and answers which line is under a point.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from PySide6.QtCore import QLineF, QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from bpstudio.core.tools.neuron_maps import LayerMaps
from bpstudio.gui.canvas import style
from bpstudio.gui.canvas.edge_labels import EdgeLabels
from bpstudio.gui.canvas.layer_item import ALIGN_CENTER, ALIGN_LEFT, ALIGN_RIGHT, LayerGeometry, running_digits
from bpstudio.gui.canvas.neuron_pictures import disc, pictures
from bpstudio.gui.canvas.states import LayerState, NetworkState
from bpstudio.gui.canvas.style import PORT_R
from bpstudio.gui.canvas.value_text import baseline, fit_values, text_rect
from bpstudio.gui.colors import HIGHLIGHT, NEGATIVE, POSITIVE, signed_color
from bpstudio.gui.qt_utils import format_number

PICK_PEN = style.pen(QColor(HIGHLIGHT.red(), HIGHLIGHT.green(), HIGHLIGHT.blue(), 90), 11.0)
PILL = QBrush(QColor(255, 255, 255, 215))  # under a value drawn over a neuron's picture


@dataclass(frozen=True, eq=False)
class BuiltPictures:
    """A layer's neuron pictures built ahead of drawing them: one per unit, and scaled into circles of
    ``radius`` (none when the layer draws no circles)."""

    maps: LayerMaps
    pictures: list[QImage]
    discs: list[QImage] = field(default_factory=list)
    radius: float = 0.0


class LayerOverlayItem(QGraphicsItem):
    """Ports and neurons of one layer, drawn above the lines. Mouse events pass through to the block.

    With neuron maps (2-D inputs, see :meth:`set_maps`), each neuron's circle holds its picture: its output
    over the input plane; the value sits on a small white pill in the middle."""

    def __init__(self, layer_id: str):
        super().__init__()
        self.layer_id = layer_id
        self.setZValue(3)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.texts: list[tuple[str, str]] = []  # (value inside the circle, line under it) per neuron
        self.picked: int | None = None
        self._bounds = QRectF()
        self.maps: LayerMaps | None = None  # this layer's maps over the input plane, if it has them
        self.pictures: list[QImage] = []  # one per unit: a pixel per grid point (rebuilt only when maps arrive)
        self._discs: list[QImage] = []  # the pictures scaled into the circles
        self._discs_for: tuple[int, float] | None = None  # (id of the pictures' list, radius) they were made for
        self.value_px = 0  # the font size the values are drawn at (fitted to the circles)

    def build_pictures(self, maps: LayerMaps) -> BuiltPictures:
        """The pictures for ``maps`` and their discs at the circles' present size, built without drawing them
        (the slow part of new maps; :meth:`set_maps` takes them as they are)."""
        built = pictures(maps)
        state = getattr(self, "state", None)
        if state is None or not state.small or len(built) != state.units:
            return BuiltPictures(maps, built)
        radius = self.geo.metrics.radius
        return BuiltPictures(maps, built, [disc(image, 2 * radius) for image in built], radius)

    def set_maps(self, maps: LayerMaps | None, built: BuiltPictures | None = None) -> None:
        """New maps for this layer (None: no pictures); the pictures are built here, once, unless ``built``
        (from :meth:`build_pictures` for these maps) has them already."""
        self.maps = maps
        if built is not None and built.maps is maps:
            self.pictures = built.pictures
            self._discs, self._discs_for = built.discs, (id(built.pictures), built.radius)
        else:
            self.pictures = pictures(maps) if maps is not None else []
            self._discs_for = None
        if hasattr(self, "state"):
            self._fit_pictures()
            self._fit_texts()
        self.update()

    @property
    def has_pictures(self) -> bool:
        """Whether the circles show pictures now (maps that fit the layer as drawn)."""
        return bool(self._discs)

    def set_state(self, state: LayerState, geo: LayerGeometry, net: NetworkState) -> None:
        self.prepareGeometryChange()
        self.state, self.geo = state, geo
        extra = geo.fonts.target_w + 10 if state.targets else 0
        self._bounds = geo.rect.adjusted(-PORT_R - 2, -2, PORT_R + 2 + extra, 2)
        r = PORT_R
        self._in_port = (
            QRectF(geo.in_port.x() - r, geo.in_port.y() - r, 2 * r, 2 * r) if state.type != "input" else None
        )
        self._out_port = QRectF(geo.out_port.x() - r, geo.out_port.y() - r, 2 * r, 2 * r)
        self._port_pen = QPen(state.color, 2.5)
        self._ring = QPen(state.color, 2.2)
        self.texts, self._circles, self._fills = [], [], []
        self._values: list[float | None] = []
        self._targets: list[tuple[QRectF, str]] = []
        self._terms: list[tuple[QRectF, str]] = []  # a features layer's term beside each unit, when not under it
        if not state.small:
            self._fit_pictures()
            self.update()
            return
        m = geo.metrics
        scale = net.value_scale / 0.6 if net.value_scale > 0 else 0.0  # the largest value gets 60 % colour
        for k in range(state.units):
            c = geo.neuron_center(k)
            self._circles.append(QRectF(c.x() - m.radius, c.y() - m.radius, 2 * m.radius, 2 * m.radius))
            value = sub = None
            fill = style.BLOCK_FILL
            if state.out is not None:
                value = float(state.out[k])
                fill = signed_color(value, scale)
                if state.pre is not None and state.activation != "identity":
                    sub = f"net {format_number(float(state.pre[k]), m.digits)}"
            elif state.bias is not None and state.units <= 4:
                sub = f"{'β' if state.norm else 'b'} {format_number(float(state.bias[k]), m.digits)}"
            running = state.running_text(k, running_digits(geo))  # a batchnorm unit: its running μ̄, σ̄²
            if running is not None:
                sub = running
            if state.dropped is not None and state.dropped[k]:  # dropped in this step: grey, and said so
                fill, sub = style.DROPPED, "dropped"
                value = None if value is None else abs(value)  # (x·0 of a negative x is −0: shown as 0)
            if k < len(state.unit_labels):  # a features layer: the term under the circle, or left of it
                sub = state.unit_labels[k] if m.show_net else None
                if not m.show_net:
                    self._terms.append((QRectF(c.x() - m.radius - 64, c.y() - 8, 60, 16), state.unit_labels[k]))
            self._values.append(value)
            self.texts.append(("", sub if sub and m.show_net else ""))
            self._fills.append(QBrush(fill))
            target = state.targets[k] if state.targets is not None and k < len(state.targets) else None
            if target:
                row = geo.fonts.edge_h
                self._targets.append(
                    (QRectF(geo.rect.right() + PORT_R + 8, c.y() - row / 2, geo.fonts.target_w, row), target)
                )
        net_h = geo.fonts.net_h
        net_w = 100 * net_h / 14
        self._sub_rects = [QRectF(r.center().x() - net_w / 2, r.bottom() + 1, net_w, net_h) for r in self._circles]
        self._halo_rects = [r.adjusted(-4, -4, 4, 4) for r in self._circles]
        self._fit_pictures()
        self._fit_texts()
        self.update()

    def _fit_pictures(self) -> None:
        """Scale the pictures into the circles, if they fit the layer as drawn (else draw none)."""
        state = self.state
        if not state.small or len(self.pictures) != state.units:
            self._discs, self._discs_for = [], None
            return
        radius = self.geo.metrics.radius
        if self._discs_for != (id(self.pictures), radius):
            self._discs = [disc(image, 2 * radius) for image in self.pictures]
            self._discs_for = (id(self.pictures), radius)

    def _fit_texts(self) -> None:
        """The values as they fit inside the circles (on a pill when over a picture)."""
        if not self._circles:
            return
        m, pill = self.geo.metrics, self.has_pictures
        texts, self.value_px = fit_values(self._values, m.digits, m.radius, m.value_px, pill, m.shrink_px)
        self.texts = [(main, sub) for main, (_, sub) in zip(texts, self.texts)]
        self._value_font = style.value_font(self.value_px)
        self._text_rects = [
            text_rect(circle.center(), main, self.value_px, pill)
            for circle, (main, _) in zip(self._circles, self.texts)
        ]
        self._baselines = [baseline(c.center(), main, self.value_px) for c, (main, _) in zip(self._circles, self.texts)]

    def value_rect(self, k: int) -> QRectF:
        """The box neuron ``k``'s value covers, its pill over a picture (item coordinates; empty without a value)."""
        return self._text_rects[k] if self.texts[k][0] else QRectF()

    def net_rect(self, k: int) -> QRectF:
        """Where neuron ``k``'s "net" line (its pre-activation, under the circle) is written, in the item's
        coordinates (the block's)."""
        return self._sub_rects[k]

    def circle(self, k: int) -> QRectF:
        return self._circles[k]

    def boundingRect(self) -> QRectF:
        return self._bounds

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        if not hasattr(self, "state"):
            return
        f = self.geo.fonts
        painter.setPen(self._port_pen)
        painter.setBrush(style.BLOCK_FILL)
        if self._in_port is not None:
            painter.drawEllipse(self._in_port)
        painter.setBrush(self.state.color)
        painter.drawEllipse(self._out_port)
        discs = self._discs
        dropped = self.state.dropped
        for k, rect in enumerate(self._circles):
            if k == self.picked:
                painter.setPen(PICK_PEN)
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawEllipse(self._halo_rects[k])
            gone = dropped is not None and k < len(dropped) and bool(dropped[k])
            if discs:
                painter.drawImage(rect, discs[k])
                painter.setBrush(style.DROPPED_VEIL if gone else Qt.BrushStyle.NoBrush)  # a dropped unit: greyed
            else:
                painter.setBrush(self._fills[k])
            painter.setPen(style.DROPPED_PEN if gone else self._ring)
            painter.drawEllipse(rect)
            main, sub = self.texts[k]
            if main:
                if discs:
                    painter.setPen(style.NO_PEN)
                    painter.setBrush(PILL)
                    painter.drawRoundedRect(self._text_rects[k], 4, 4)
                painter.setPen(style.INK)
                painter.setFont(self._value_font)
                painter.drawText(self._baselines[k], main)
            if sub:
                painter.setPen(style.MUTED)
                painter.setFont(f.net)
                painter.drawText(self._sub_rects[k], ALIGN_CENTER, sub)
        if self._terms:
            painter.setFont(f.caption)
            for rect, text in self._terms:
                painter.setPen(style.NO_PEN)
                painter.setBrush(PILL)
                painter.drawRoundedRect(rect, 4, 4)
                painter.setPen(style.INK)
                painter.drawText(rect.adjusted(0, 0, -3, 0), ALIGN_RIGHT, text)
        if self._targets:
            painter.setPen(style.MUTED)
            painter.setFont(f.caption)
            for rect, text in self._targets:
                painter.drawText(rect, ALIGN_LEFT, text)


@lru_cache(maxsize=512)
def _edge_pen(positive: bool, quarter_px: int, alpha: int) -> QPen:
    """The sign's colour, made lighter (not translucent: blending thousands of lines is slow) for busy pairs."""
    base = POSITIVE if positive else NEGATIVE
    k, paper = alpha / 255, style.BACKGROUND
    color = QColor(
        round(base.red() * k + paper.red() * (1 - k)),
        round(base.green() * k + paper.green() * (1 - k)),
        round(base.blue() * k + paper.blue() * (1 - k)),
    )
    line = style.pen(color, quarter_px / 4)
    line.setCapStyle(Qt.PenCapStyle.FlatCap)
    return line


@dataclass(frozen=True)
class EdgeView:
    """One drawn line, as a person sees it (for tests and tooltips)."""

    key: str | None  # "o.weight" for weight lines, None for add/concat links
    index: tuple[int, int]  # (target unit, source unit)
    p1: QPointF
    p2: QPointF
    color: QColor
    width: float
    label: str


class UnitEdgesItem(QGraphicsItem):
    """Every unit-to-unit line from layer ``source`` into layer ``target`` (both small)."""

    def __init__(self, source: str, target: str):
        super().__init__()
        self.source, self.target = source, target
        self.setZValue(2)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self._bounds = QRectF()
        self._picked: int | None = None
        self.hovered: int | None = None  # the line under the mouse
        self.label_set = EdgeLabels()

    @property
    def picked(self) -> int | None:
        """The picked line (drawn with a halo; it carries its label even where the others do not)."""
        return self._picked

    @picked.setter
    def picked(self, line: int | None) -> None:
        if line != self._picked:
            self._picked = line
            self._relabel()

    def set_hovered(self, line: int | None) -> None:
        if line != self.hovered:
            self.hovered = line
            self._relabel()

    def _relabel(self) -> None:
        """Only the picked and the hovered line carry labels (many lines): choose and place them again."""
        if self.label_set.every or not hasattr(self, "_obstacles"):
            return
        self.label_set.choose(self._picked, self.hovered)
        self.label_set.place((self.x1, self.y1, self.x2, self.y2), self._t, self._obstacles)
        self.update()

    @property
    def labels(self) -> list[str]:
        """The labels shown now, in the order of their lines."""
        return self.label_set.texts

    def set_state(self, src: LayerState, dst: LayerState, offset: int, net: NetworkState) -> None:
        """Which lines exist and how they look; call :meth:`place` afterwards for where they are."""
        self.kind = dst.type if dst.type in ("concat", "add", "features", "dropout") else "weight"
        if dst.norm:
            self.kind = "norm"  # unit n feeds unit n, scaled (once normalized) by γ[n]: the line's label
        if self.kind == "weight":
            rows, cols = np.divmod(np.arange(dst.units * src.units), src.units)
        elif self.kind == "features":  # a line from each input unit a term reads to that term
            pairs = [(m, n) for m, reads in enumerate(dst.unit_reads) for n in sorted(set(reads))]
            rows, cols = (np.array(a, dtype=int) for a in zip(*pairs)) if pairs else (np.zeros(0, int),) * 2
        else:
            cols = np.arange(src.units)
            rows = cols + (offset if self.kind == "concat" else 0)  # (dropout and norm too: unit n feeds unit n)
        self.rows, self.cols = rows, cols
        gamma = dst.gamma if self.kind == "norm" and dst.gamma is not None and len(dst.gamma) == len(rows) else None
        self.key = f"{dst.id}.weight" if self.kind == "weight" or gamma is not None else None
        self.values: np.ndarray | None = None
        grad = dst.weight_grad if self.kind == "weight" and dst.showing_grad else None
        self.showing_grad = grad is not None
        matrix, scale = (grad, net.grad_scale) if grad is not None else (dst.weight, net.weight_scale)
        n = len(rows)
        if self.kind == "weight" and matrix is not None:
            alpha = 255 if n <= style.LABELLED_PAIR else (190 if n <= style.DENSE_PAIR else 130)
            self.values = matrix[rows, cols]
            widths = (
                np.maximum(style.EDGE_MIN_W, style.EDGE_MAX_W * np.abs(self.values) / scale)
                if scale > 0
                else np.full(n, style.EDGE_MIN_W)
            )
            widths = np.clip(
                np.nan_to_num(widths, nan=style.EDGE_MIN_W, posinf=style.EDGE_MAX_W), style.EDGE_MIN_W, style.EDGE_MAX_W
            )
            quarters = np.round(widths * 4).astype(int)
            codes = quarters * 2 + ~(self.values < 0)  # one pen per (width, sign)
            unique, self._pen_of = np.unique(codes, return_inverse=True)
            self._pens = [_edge_pen(bool(c % 2), int(c // 2), alpha) for c in unique.tolist()]
            before = dst.weight_before[rows, cols] if grad is None and dst.weight_before is not None else None
            self.label_set.set_values(self.values, before, self.showing_grad)
            self.label_set.choose(self._picked, self.hovered)
            signature: tuple = (self.kind, alpha, codes.tobytes(), self.showing_grad, tuple(self.label_set.texts))
        else:
            self._pen_of, self._pens = np.zeros(n, dtype=int), [style.LINK_PEN]
            dropped = dst.dropped if self.kind == "dropout" else None
            if dropped is not None and len(dropped) == n:  # a dropped unit's line: faint and dashed
                self._pen_of, self._pens = dropped[rows].astype(int), [style.LINK_PEN, style.DROPPED_PEN]
            self.values = None if gamma is None else gamma[rows]
            self.label_set.set_values(self.values, None, False, prefix="γ ")
            self.label_set.choose(self._picked, self.hovered)
            labels = tuple(self.label_set.texts)
            signature = (self.kind, n, offset, None if dropped is None else dropped.tobytes(), labels)
        self._restyled = signature != getattr(self, "_signature", None)
        self._signature = signature
        fan = max(src.units, 1)
        # where along its line each label sits: staggered by source unit so neighbours do not collide
        # (lines fan out of few sources into many targets: labels nearer the targets, and the reverse)
        lo, hi = (0.5, 0.8) if dst.units > src.units else (0.2, 0.55) if dst.units < src.units else (0.28, 0.72)
        self._t = lo + (hi - lo) * (cols / (fan - 1)) if fan > 1 else np.full(len(cols), 0.5)

    def place(self, src_pos: QPointF, src_geo: LayerGeometry, dst_pos: QPointF, dst_geo: LayerGeometry) -> None:
        """Recompute the line ends after either block moved (cheap: NumPy over all lines at once)."""
        where = (src_pos.x(), src_pos.y(), src_geo.key(), dst_pos.x(), dst_pos.y(), dst_geo.key())
        if where == getattr(self, "_where", None) and not self._restyled:
            return  # nothing changed: keep the lines, skip the repaint
        self._where, self._restyled = where, False
        self.prepareGeometryChange()
        ys, yt = src_geo.neuron_ys(), dst_geo.neuron_ys()
        self.x1 = np.full(len(self.cols), src_pos.x() + src_geo.metrics.radius)
        self.y1 = src_pos.y() + ys[self.cols]
        self.x2 = np.full(len(self.rows), dst_pos.x() - dst_geo.metrics.radius)
        self.y2 = dst_pos.y() + yt[self.rows]
        self.lines = [
            QLineF(a, b, c, d)
            for a, b, c, d in zip(self.x1.tolist(), self.y1.tolist(), self.x2.tolist(), self.y2.tolist())
        ]
        order = np.argsort(self._pen_of, kind="stable")
        bounds = np.searchsorted(self._pen_of[order], np.arange(len(self._pens) + 1))
        lines = self.lines
        self._groups = [
            (pen_, [lines[i] for i in order[a:b].tolist()]) for pen_, a, b in zip(self._pens, bounds[:-1], bounds[1:])
        ]
        self._obstacles = [  # the neurons at both ends: no label covers one
            QRectF(
                pos.x() - g.metrics.radius - 2, pos.y() + y - g.metrics.radius - 2, *(2 * [2 * g.metrics.radius + 4])
            )
            for pos, g in ((src_pos, src_geo), (dst_pos, dst_geo))
            for y in g.neuron_ys().tolist()
        ]
        self.label_set.place((self.x1, self.y1, self.x2, self.y2), self._t, self._obstacles, dst_geo.fonts)
        if len(lines):
            xs, ys_ = np.concatenate([self.x1, self.x2]), np.concatenate([self.y1, self.y2])
            self._bounds = QRectF(QPointF(xs.min(), ys_.min()), QPointF(xs.max(), ys_.max())).adjusted(-40, -20, 40, 20)
        else:
            self._bounds = QRectF()
        self.update()

    def label_rect(self, i: int) -> QRectF:
        """Where line ``i``'s value label is drawn (scene coordinates; empty when lines carry no labels)."""
        return self.label_set.rect_of(i)

    def edge_at(self, pos: QPointF, tolerance: float) -> int | None:
        """The index of the line nearest ``pos`` (scene coordinates) within ``tolerance``, if any."""
        if not len(self.lines) or not self._bounds.contains(pos):
            return None
        for i, rect in zip(self.label_set.lines, self.label_set.rects):
            if rect.contains(pos):
                return i
        dx, dy = self.x2 - self.x1, self.y2 - self.y1
        length2 = np.maximum(dx * dx + dy * dy, 1e-12)
        t = np.clip(((pos.x() - self.x1) * dx + (pos.y() - self.y1) * dy) / length2, 0.0, 1.0)
        dist = np.hypot(self.x1 + t * dx - pos.x(), self.y1 + t * dy - pos.y())
        best = int(np.argmin(dist))
        return best if dist[best] <= tolerance else None

    def edge_view(self, i: int) -> EdgeView:
        pen = self._pens[int(self._pen_of[i])]
        return EdgeView(
            self.key,
            (int(self.rows[i]), int(self.cols[i])),
            self.lines[i].p1(),
            self.lines[i].p2(),
            pen.color(),
            pen.widthF(),
            self.label_set.text_of(i),
        )

    def boundingRect(self) -> QRectF:
        return self._bounds

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        if self.picked is not None and self.picked < len(self.lines):
            painter.setPen(PICK_PEN)
            painter.drawLine(self.lines[self.picked])
        for p, lines in self._groups:
            painter.setPen(p)
            painter.drawLines(lines)
        self.label_set.paint(painter)
