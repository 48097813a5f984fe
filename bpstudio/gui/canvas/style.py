"""The canvas's look in one place: sizes (scene pixels), fonts, inks and pens.

Everything here is built once at import time (after a QGuiApplication exists, see :func:`fonts`), so
``paint`` methods never allocate pens, brushes or fonts while drawing.

Presentation mode (a projector) has a look of its own: the text that carries numbers (neuron values, "net"
lines, weight labels) and the phase label are drawn larger against the circles and blocks, and the circles grow
with their values, so that once the whole network is fitted onto a 1024×768 screen the numbers still read from
the back of a room (xor: values ≥ 14 px on screen, the other numbers ≥ 11 px). Big networks (many layers) are
fitted smaller, and their text with them.
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
PRESENTING_SPREAD = 1.4  # presentation mode: columns this much further apart (room for the larger weight labels)
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
DROPPED = QColor(200, 203, 208)  # a unit a dropout layer dropped in this step
DROPPED_VEIL = QColor(200, 203, 208, 215)  # laid over a dropped unit's picture
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
    shrink_px: int = 3  # how many pixels smaller than value_px a layer's values may be drawn to fit (then: shorter)


def neuron_metrics(units: int, presenting: bool = False) -> NeuronMetrics:
    """Circle size and text for a layer of ``units`` neurons (more neurons: smaller circles). Presenting: values
    at 3 significant digits in larger type, written shorter rather than smaller when one does not fit."""
    if presenting:
        if units <= 4:
            return NeuronMetrics(55.0, 138.0, 30, 3, True, 1)
        if units <= 8:
            return NeuronMetrics(40.0, 104.0, 22, 3, True, 1)
        return NeuronMetrics(24.0, 52.0, 14, 2, False, 1)
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
    net_metrics: QFontMetricsF
    header_h: float  # the block's title band
    title_h: float  # its rows: the id, then "dense · 4 units" and the activation
    line_h: float
    label_h: float  # the phase label over a block and the loss under it
    net_h: float  # the "net" line under a neuron
    edge_h: float  # a weight line's label
    target_w: float  # the output's "target" column


@lru_cache(maxsize=2)
def fonts(presenting: bool = False) -> Fonts:
    """The canvas fonts (pixel sizes, so the geometry does not depend on the screen's DPI) and the rows they
    take; ``presenting``: presentation mode's, larger."""
    # pixel sizes: title, subtitle, tag, phase, net, edge, caption, activation; then the rows they take
    px = (24, 17, 14, 26, 23, 23, 20, 17) if presenting else (17, 12, 10, 14, 10, 11, 11, 12)
    rows = (
        (84.0, 32.0, 21.0, 34.0, 27.0, 29.0, 170.0) if presenting else (HEADER_H, 24.0, 16.0, 24.0, 14.0, 18.0, 140.0)
    )
    title, subtitle, edge, caption, net = (
        _font(px[0], bold=True),
        _font(px[1]),
        _font(px[5]),
        _font(px[6]),
        _font(px[4]),
    )
    header_h, title_h, line_h, label_h, net_h, edge_h, target_w = rows
    return Fonts(
        title=title,
        subtitle=subtitle,
        tag=_font(px[2], bold=True),
        phase=_font(px[3], bold=True),
        net=net,
        edge=edge,
        edge_grad=_font(px[5], bold=True),
        caption=caption,
        activation=_font(px[7], italic=True),
        title_metrics=QFontMetricsF(title),
        subtitle_metrics=QFontMetricsF(subtitle),
        edge_metrics=QFontMetricsF(edge),
        caption_metrics=QFontMetricsF(caption),
        net_metrics=QFontMetricsF(net),
        header_h=header_h,
        title_h=title_h,
        line_h=line_h,
        label_h=label_h,
        net_h=net_h,
        edge_h=edge_h,
        target_w=target_w,
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
DROPPED_PEN = pen(QColor(150, 154, 160), 1.4, Qt.PenStyle.DotLine)  # a line into a unit dropout dropped in this step
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
