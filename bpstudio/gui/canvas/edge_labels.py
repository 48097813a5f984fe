"""The value labels on the weight lines between two small layers: which lines carry one, what they say and
where they sit.

With at most :data:`~bpstudio.gui.canvas.style.ALL_LABELS_PAIR` lines between two layers every line carries
its value; more labels would crowd each other and the crossings, so then only the hovered and the picked
line do (every value stays in the tooltips). A weight the last update changed shows the digits it takes to
read differently from before the update.

A label sits on its own line, at a stretch where no other line runs close by (so never at a crossing, where
it could belong to either line), clear of the neurons and of the labels placed before it. For every line a
few spots along it are tried. A spot's clearance is how far (up or down) the nearest other line stays from
the middle of a label centred there, across the label's width (0 if one crosses that middle); lines are
straight, so that distance is least at one of the label's two ends unless it crosses. Among the spots that
overlap nothing placed yet, the label takes one with room enough (or else the most room), nearest the spot
it would take by default.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF
from PySide6.QtGui import QBrush, QColor, QPainter, QPen

from bpstudio.gui.canvas import style
from bpstudio.gui.canvas.layer_item import ALIGN_CENTER
from bpstudio.gui.canvas.style import Fonts, fonts
from bpstudio.gui.qt_utils import format_change

LABEL_H = 18.0  # a label's height in the usual look (the fonts say it: Fonts.edge_h)
GAP = 5.0  # clearance that counts as enough: no other line comes within 5 px of the label
SPOTS = np.linspace(0.1, 0.9, 33)  # fractions along a line a label may be centred at
LABEL_BOX = QBrush(QColor(255, 255, 255, 225))
GRAD_FRAMES = (QPen(style.POSITIVE_INK, 1.2), QPen(style.NEGATIVE_INK, 1.2))  # gradient labels: the sign's frame


def _y_at(x1: np.ndarray, y1: np.ndarray, x2: np.ndarray, y2: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Every line's height at each of the xs: (lines, len(x))."""
    run = np.where(np.abs(x2 - x1) > 1e-9, x2 - x1, 1e-9)
    slope = (y2 - y1) / run
    return y1[:, None] + slope[:, None] * (x[None, :] - x1[:, None])


def clearance(i: int, x1: np.ndarray, y1: np.ndarray, x2: np.ndarray, y2: np.ndarray, width: float) -> np.ndarray:
    """For each spot in :data:`SPOTS` along line ``i``: how far the nearest other line stays from the middle
    of a label ``width`` wide centred there (0 where one crosses it; infinite with no other line)."""
    cx = x1[i] + (x2[i] - x1[i]) * SPOTS
    cy = y1[i] + (y2[i] - y1[i]) * SPOTS
    d_left = _y_at(x1, y1, x2, y2, cx - width / 2) - cy
    d_right = _y_at(x1, y1, x2, y2, cx + width / 2) - cy
    gap = np.where(d_left * d_right <= 0, 0.0, np.minimum(np.abs(d_left), np.abs(d_right)))
    gap[i] = np.inf
    return gap.min(axis=0)


def place_labels(
    x1: np.ndarray,
    y1: np.ndarray,
    x2: np.ndarray,
    y2: np.ndarray,
    labelled: list[int],
    widths: list[float],
    preferred: np.ndarray,
    obstacles: list[QRectF],
    height: float = LABEL_H,
) -> list[QRectF]:
    """A rectangle for the label of each line in ``labelled`` (``widths`` wide, ``height`` high), centred on
    its line; ``preferred[i]`` is the fraction along line i it takes when several spots are as good,
    ``obstacles`` what the labels must not cover."""
    taken = list(obstacles)
    rects = []
    enough = height / 2 + GAP
    for i, width in zip(labelled, widths):
        room = np.minimum(clearance(i, x1, y1, x2, y2, width), enough)
        near = -np.abs(SPOTS - preferred[i])
        order = np.lexsort((near, room))[::-1]  # most room first, then nearest the preferred spot
        dx, dy = x2[i] - x1[i], y2[i] - y1[i]
        boxes = [
            QRectF(x1[i] + dx * t - width / 2, y1[i] + dy * t - height / 2, width, height)
            for t in SPOTS[order].tolist()
        ]
        free = (box for box in boxes if not any(box.adjusted(-3, -2, 3, 2).intersects(other) for other in taken))
        rect = next(free, boxes[0])
        taken.append(rect)
        rects.append(rect)
    return rects


class EdgeLabels:
    """The labels of one pair's lines (see the module doc); the lines item owns one and draws it."""

    def __init__(self) -> None:
        self.lines: list[int] = []  # the lines that carry a label now
        self.texts: list[str] = []
        self.rects: list[QRectF] = []
        self._values: list[float] = []
        self._before: list[float] | None = None
        self._grad = False
        self.prefix = ""
        self._fonts = fonts()  # (presentation mode's when the lines' layers are drawn in it: see place)
        self.font = self._fonts.edge

    def set_values(
        self, values: np.ndarray | None, before: np.ndarray | None, gradients: bool, prefix: str = ""
    ) -> None:
        """The lines' values (None: lines without values, such as add/concat links), the weights they had
        before the last update (None: no update to show), whether the values are gradients, and what each
        label says before its number (a norm layer's lines: "γ ")."""
        self.prefix = prefix
        self._values = [] if values is None else values.tolist()
        self._before = None if before is None or gradients else before.tolist()
        self._grad = gradients
        self.font = self._fonts.edge_grad if gradients else self._fonts.edge

    @property
    def every(self) -> bool:
        """Whether every line carries its label (few lines), not only the hovered and the picked one."""
        return 0 < len(self._values) <= style.ALL_LABELS_PAIR

    def choose(self, picked: int | None, hovered: int | None) -> None:
        """Which lines carry their label: all of them, or only the picked and the hovered line."""
        n = len(self._values)
        shown = range(n) if self.every else sorted({i for i in (picked, hovered) if i is not None and 0 <= i < n})
        self.lines = list(shown)
        self.texts = [self.text(i) for i in self.lines]
        signs = [self._values[i] < 0 for i in self.lines]
        self.inks = [(style.NEGATIVE_INK if neg else style.POSITIVE_INK) if self._grad else style.INK for neg in signs]
        self.frames = [GRAD_FRAMES[neg] if self._grad else style.NO_PEN for neg in signs]

    def text(self, i: int) -> str:
        """Line ``i``'s value as its label writes it."""
        before = self._before[i] if self._before is not None else None
        return self.prefix + format_change(self._values[i], before, style.LABEL_DIGITS_EDGE, style.CHANGE_DIGITS)

    def place(
        self,
        ends: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
        preferred: np.ndarray,
        obstacles: list[QRectF],
        look: Fonts | None = None,
    ) -> None:
        """Where the chosen labels go, for lines from (x1, y1) to (x2, y2) (``ends``), in the fonts of ``look``
        (else those used last)."""
        if look is not None:
            self._fonts = look
            self.font = look.edge_grad if self._grad else look.edge
        widths = [self._fonts.edge_metrics.horizontalAdvance(text) + 10 for text in self.texts]
        height = self._fonts.edge_h
        self.rects = place_labels(*ends, self.lines, widths, preferred, obstacles, height) if self.lines else []

    def rect_of(self, i: int) -> QRectF:
        """Where line ``i``'s label is (empty if it carries none)."""
        return self.rects[self.lines.index(i)] if i in self.lines and self.rects else QRectF()

    def text_of(self, i: int) -> str:
        """What line ``i``'s label says ("" if it carries none)."""
        return self.texts[self.lines.index(i)] if i in self.lines else ""

    def paint(self, painter: QPainter) -> None:
        if not self.rects:
            return
        painter.setFont(self.font)
        for rect, text, ink, frame in zip(self.rects, self.texts, self.inks, self.frames):
            painter.setPen(frame)
            painter.setBrush(LABEL_BOX)
            painter.drawRoundedRect(rect, 5, 5)
            painter.setPen(ink)
            painter.drawText(rect, ALIGN_CENTER, text)
