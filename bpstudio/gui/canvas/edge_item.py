"""Block-to-block connections: a curved arrow from a block's output port to another block's input port.

Used wherever one end of a connection is a big layer (drawn as a block, not as neurons), and for the
dashed line that follows the mouse while a person drags a new connection out of a port.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QPainter, QPainterPath, QPolygonF
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPathItem, QStyleOptionGraphicsItem, QWidget

from bpstudio.gui.canvas import style
from bpstudio.gui.canvas.layer_item import ALIGN_CENTER
from bpstudio.gui.canvas.style import fonts

ARROW_BRUSH = QBrush(style.LINK)
LABEL_BRUSH = QBrush(style.BACKGROUND)
HEAD = 11.0


def _curve(p1: QPointF, p2: QPointF, over: float | None = None) -> QPainterPath:
    """A horizontal-tangent S curve from p1 to p2 (flows left to right like the network).

    With ``over`` (a scene y), the curve arches up so that its highest point is at ``over``, clearing the
    blocks that stand between the two ends.
    """
    bend = max(50.0, abs(p2.x() - p1.x()) * 0.45)
    path = QPainterPath(p1)
    if over is None:
        path.cubicTo(QPointF(p1.x() + bend, p1.y()), QPointF(p2.x() - bend, p2.y()), p2)
    else:
        # a cubic's midpoint is 1/8 (p1 + p2) + 3/8 (c1 + c2): put both control points at the same height
        lift = (over - (p1.y() + p2.y()) / 8) / 0.75
        path.cubicTo(QPointF(p1.x() + 60, lift), QPointF(p2.x() - 60, lift), p2)
    return path


class ArrowItem(QGraphicsItem):
    """One connection between blocks, with a small label (weight shape, or the gradient's norm)."""

    def __init__(self, source: str, target: str):
        super().__init__()
        self.source, self.target = source, target
        self.setZValue(2)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.label = ""
        self._path = QPainterPath()
        self._head = QPolygonF()
        self._label_rect = QRectF()
        self._bounds = QRectF()

    def set_label(self, label: str) -> None:
        self.label = label
        self.update()

    def place(self, p1: QPointF, p2: QPointF, over: float | None = None) -> None:
        self.prepareGeometryChange()
        end = QPointF(p2.x() - HEAD, p2.y())
        self._path = _curve(p1, end, over)
        self._head = QPolygonF([p2, QPointF(end.x(), end.y() - HEAD * 0.5), QPointF(end.x(), end.y() + HEAD * 0.5)])
        mid = self._path.pointAtPercent(0.5)
        width = fonts().caption_metrics.horizontalAdvance(self.label) + 12
        self._label_rect = QRectF(mid.x() - width / 2, mid.y() - 22, width, 17)
        self._bounds = self._path.boundingRect().united(self._head.boundingRect()).united(self._label_rect)
        self._bounds.adjust(-4, -4, 4, 4)
        self.update()

    def boundingRect(self) -> QRectF:
        return self._bounds

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        painter.setPen(style.ARROW_PEN)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self._path)
        painter.setPen(style.NO_PEN)
        painter.setBrush(ARROW_BRUSH)
        painter.drawPolygon(self._head)
        if self.label:
            painter.setBrush(LABEL_BRUSH)
            painter.drawRoundedRect(self._label_rect, 5, 5)
            painter.setPen(style.MUTED)
            painter.setFont(fonts().caption)
            painter.drawText(self._label_rect, ALIGN_CENTER, self.label)


class PendingLinkItem(QGraphicsPathItem):
    """The dashed curve from an output port to the mouse while a connection is being dragged."""

    def __init__(self, start: QPointF):
        super().__init__()
        self.start = start
        self.setPen(style.PENDING_PEN)
        self.setZValue(10)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.follow(start)

    def follow(self, end: QPointF) -> None:
        self.setPath(_curve(self.start, end))
