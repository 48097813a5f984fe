"""The data view for inputs that are square images (the 8×8 digits): the first samples as pictures, each with
its label and, once the network has read them, the class it reads and how sure it is — green when right, red
when wrong. Core decides what is shown and computes the readings (:mod:`bpstudio.core.tools.image_samples`);
this widget only draws them."""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QEvent, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from bpstudio.core.data import Dataset
from bpstudio.core.tools.image_samples import SHOWN, SampleReadings, image_side

RIGHT = QColor(30, 140, 60)
WRONG = QColor(200, 40, 40)
INK = QColor(40, 40, 40)
CAPTION_H = 18  # the label line under each picture
TITLE_H = 34  # room for the title on two lines when the dock is narrow
GAP = 8


class SamplesView(QWidget):
    """A grid of the samples shown, with the network's readings once they arrive."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("samples_view")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(200, 160)
        self.images: list[QImage] = []
        self.labels: np.ndarray = np.zeros(0, dtype=np.int64)
        self.held_out = False
        self.readings: SampleReadings | None = None

    def show_samples(self, data: Dataset, held_out: bool) -> None:
        """The first samples of ``data`` (square images with class labels), not yet read by the network."""
        side = image_side(data.n_inputs)
        assert side is not None
        pixels = np.asarray(data.X[:SHOWN], dtype=np.float64)
        low, high = float(data.X.min()), float(data.X.max())
        scale = (pixels - low) / (high - low) if high > low else np.zeros_like(pixels)
        grey = np.ascontiguousarray(255 - np.round(255 * scale).astype(np.uint8))  # ink: large values dark
        self.images = [
            QImage(row.reshape(side, side).tobytes(), side, side, side, QImage.Format.Format_Grayscale8).copy()
            for row in grey
        ]
        self.labels = np.asarray(data.Y[:SHOWN], dtype=np.int64)
        self.held_out = held_out
        self.readings = None
        self.update()

    def show_readings(self, readings: SampleReadings | None) -> None:
        """How the network reads the samples shown (None: not read yet)."""
        self.readings = readings if readings is not None and len(readings.predicted) == len(self.images) else None
        self.update()

    def right_count(self) -> int | None:
        """How many of the samples shown the network reads right (None before it has read them)."""
        if self.readings is None:
            return None
        return int(np.sum(self.readings.predicted == self.labels))

    def title(self) -> str:
        what = "Test samples, never trained on" if self.held_out else "Training samples"
        right = self.right_count()
        return f"{what}: {right} of {len(self.images)} read right" if right is not None else f"{what} and their labels"

    def caption(self, k: int) -> tuple[str, QColor]:
        """Sample ``k``'s line under its picture, and its colour: its label, ✓ when the network reads it,
        label → what it reads instead when not."""
        label = int(self.labels[k])
        if self.readings is None:
            return f"{label}", INK
        guess = int(self.readings.predicted[k])
        return (f"{label} ✓", RIGHT) if guess == label else (f"{label} → {guess}", WRONG)

    def tip(self, k: int) -> str:
        """The whole reading of sample ``k`` (on hover): its label, the class read and the probability given."""
        label = int(self.labels[k])
        if self.readings is None:
            return f"sample {k + 1}: label {label}"
        guess, sure = int(self.readings.predicted[k]), float(self.readings.confidence[k])
        return f"sample {k + 1}: label {label}; the network reads {guess} with probability {sure:.1%}"

    def cells(self) -> list[QRectF]:
        """Where each picture goes: a grid filling the widget below the title, square cells."""
        count = len(self.images)
        if count == 0:
            return []
        width, height = self.width() - 2 * GAP, self.height() - TITLE_H - GAP
        best = (0.0, 1)
        for columns in range(1, count + 1):
            rows = math.ceil(count / columns)
            cell = min(width / columns - GAP, (height / rows) - CAPTION_H - GAP)
            if cell > best[0]:
                best = (cell, columns)
        cell, columns = max(best[0], 8.0), best[1]
        return [
            QRectF(
                GAP + (k % columns) * (cell + GAP),
                TITLE_H + (k // columns) * (cell + CAPTION_H + GAP),
                cell,
                cell,
            )
            for k in range(count)
        ]

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip:
            at = event.pos()  # type: ignore[attr-defined]
            hit = next((k for k, rect in enumerate(self.cells()) if rect.contains(at.x(), at.y())), None)
            if hit is None:
                QToolTip.hideText()
            else:
                QToolTip.showText(event.globalPos(), self.tip(hit), self)  # type: ignore[attr-defined]
            return True
        return super().event(event)

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(255, 255, 255))
        font = p.font()
        p.setPen(INK)
        title = QRectF(GAP, 0, self.width() - 2 * GAP, TITLE_H)
        p.drawText(title, Qt.AlignmentFlag.AlignVCenter | Qt.TextFlag.TextWordWrap, self.title())
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)  # pixels stay pixels
        for k, rect in enumerate(self.cells()):
            p.drawImage(rect, self.images[k])
            text, color = self.caption(k)
            p.setPen(QPen(color, 2.0 if self.readings is not None else 1.0))
            p.drawRect(rect)
            caption = QRectF(rect.left() - GAP / 2, rect.bottom() + 1, rect.width() + GAP, CAPTION_H)
            p.setFont(font)
            p.drawText(caption, Qt.AlignmentFlag.AlignCenter, text)
        p.end()
