"""The canvas's look in one place: sizes (scene pixels), fonts, inks and pens.

Everything here is built once at import time (after a QGuiApplication exists, see :func:`fonts`), so
``paint`` methods never allocate pens, brushes or fonts while drawing.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPen

from bpstudio.gui.colors import HIGHLIGHT

SMALL_LAYER = 16  # layers with at most this many units are drawn neuron by neuron
HEADER_H = 66.0  # the block's title band
BODY_PAD = 10.0  # space between the title band / block border and the neurons or heat strip
MIN_WIDTH = 116.0
PORT_R = 6.5  # connection ports on the title band's left and right ends
COLUMN_GAP = 120.0  # auto layout: free space between depth columns
MIN_COLUMN_STEP = 240.0  # auto layout: least distance between the centres of neighbouring columns
ROW_GAP = 48.0  # auto layout: vertical space between blocks in one column
HEAT_COLS = 16  # heat strip cells per row for big layers
HEAT_CELL = 11.0
HEAT_MAX_UNITS = 1024  # a heat strip shows at most this many units
LABEL_DIGITS = 4  # significant digits on the canvas (tooltips give 9)
LABEL_DIGITS_EDGE = 3  # significant digits of a weight line's label ...
CHANGE_DIGITS = 6  # ... and at most this many, as many as it takes to show how the last update changed it
DENSE_PAIR = 64  # above this many edges per layer pair, weight lines get translucent
EDGE_MAX_W = 5.0
EDGE_MIN_W = 0.5
LABELLED_PAIR = 16  # at most this many edges per pair: drawn in full colour
ALL_LABELS_PAIR = 8  # at most this many: every edge carries its value (more: the hovered and the picked one)

BACKGROUND = QColor(248, 249, 251)
GRID = QColor(232, 235, 240)
INK = QColor(33, 37, 41)
MUTED = QColor(95, 102, 112)
FAINT = QColor(160, 166, 175)
BLOCK_FILL = QColor(255, 255, 255)
LINK = QColor(150, 156, 165)  # add / concat unit links and block-to-block arrows
POSITIVE_INK = QColor(190, 90, 0)  # darker variants of the sign colours, for text on white
NEGATIVE_INK = QColor(20, 90, 160)


@dataclass(frozen=True)
class NeuronMetrics:
    radius: float
    spacing: float
    value_px: int  # usual font size of the value inside the circle (smaller where a value needs it to fit)
    digits: int  # significant digits of that value
    show_net: bool  # the pre-activation under the circle


def neuron_metrics(units: int) -> NeuronMetrics:
    """Circle size and text for a layer of ``units`` neurons (more neurons: smaller circles)."""
    if units <= 4:
        return NeuronMetrics(27.0, 84.0, 12, 4, True)
    if units <= 8:
        return NeuronMetrics(19.0, 58.0, 10, 3, True)
    return NeuronMetrics(15.0, 36.0, 8, 2, False)  # (room for a short value on a pill over its picture)


def _font(px: int, bold: bool = False, italic: bool = False) -> QFont:
    font = QFont("DejaVu Sans")
    font.setStyleHint(QFont.StyleHint.SansSerif)
    font.setPixelSize(px)
    font.setBold(bold)
    font.setItalic(italic)
    return font


@dataclass(frozen=True)
class Fonts:
    title: QFont
    subtitle: QFont
    tag: QFont
    phase: QFont
    net: QFont
    edge: QFont
    edge_grad: QFont
    caption: QFont
    activation: QFont
    title_metrics: QFontMetricsF
    subtitle_metrics: QFontMetricsF
    edge_metrics: QFontMetricsF
    caption_metrics: QFontMetricsF


@lru_cache(maxsize=1)
def fonts() -> Fonts:
    """The canvas fonts (pixel sizes, so the geometry does not depend on the screen's DPI)."""
    title, subtitle, edge, caption = _font(17, bold=True), _font(12), _font(11), _font(11)
    return Fonts(
        title=title,
        subtitle=subtitle,
        tag=_font(10, bold=True),
        phase=_font(14, bold=True),
        net=_font(10),
        edge=edge,
        edge_grad=_font(11, bold=True),
        caption=caption,
        activation=_font(12, italic=True),
        title_metrics=QFontMetricsF(title),
        subtitle_metrics=QFontMetricsF(subtitle),
        edge_metrics=QFontMetricsF(edge),
        caption_metrics=QFontMetricsF(caption),
    )


@lru_cache(maxsize=32)
def value_font(px: int) -> QFont:
    """The bold font of the values inside neurons, at ``px`` pixels (sizes vary: the text is fitted to the circle)."""
    return _font(px, bold=True)


def pen(color: QColor, width: float, style: Qt.PenStyle = Qt.PenStyle.SolidLine) -> QPen:
    p = QPen(color, width, style)
    p.setCapStyle(Qt.PenCapStyle.RoundCap)
    p.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    return p


HIGHLIGHT_PEN = pen(HIGHLIGHT, 5.0)
LINK_PEN = pen(LINK, 1.4)
ARROW_PEN = pen(LINK, 2.2)
PENDING_PEN = pen(HIGHLIGHT, 2.0, Qt.PenStyle.DashLine)
DROP_PEN = pen(HIGHLIGHT, 3.0, Qt.PenStyle.DashLine)
NO_PEN = QPen(Qt.PenStyle.NoPen)
HEAT_GRID_PEN = QPen(BLOCK_FILL, 1.0)


GRID_STEP = 40


def draw_grid(painter: QPainter, rect: QRectF, scale: float) -> None:
    """The canvas background: a light grid (left out when zoomed far out, where it would be noise)."""
    painter.fillRect(rect, BACKGROUND)
    if scale < 0.35:
        return
    painter.setPen(GRID)
    x0, x1, y0, y1 = int(rect.left()), int(rect.right()) + 1, int(rect.top()), int(rect.bottom()) + 1
    for x in range(x0 - x0 % GRID_STEP, x1, GRID_STEP):
        painter.drawLine(x, y0, x, y1)
    for y in range(y0 - y0 % GRID_STEP, y1, GRID_STEP):
        painter.drawLine(x0, y, x1, y)
