"""The pictures inside neurons: each unit's output over the input plane, as core's neuron maps give it.

A picture is built once per new set of maps (not per repaint): one pixel per grid point on the layer's shared
colour scale (:func:`~bpstudio.gui.colors.diverging_rgb`), x1 growing to the right and x2 upwards as in
the data plot; for the canvas it is scaled smoothly into a round image that fills the neuron's circle.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter

from bpstudio.core.tools.neuron_maps import LayerMaps
from bpstudio.gui.colors import diverging_rgb

OVERSAMPLE = 2.0  # image pixels per scene unit of a disc (stays sharp when zoomed in up to 2×)


def pictures(maps: LayerMaps) -> list[QImage]:
    """Every unit's picture, one pixel per grid point, all on the layer's one scale (colours computed for
    the whole layer at once)."""
    rgb = diverging_rgb(maps.values[:, ::-1], maps.low, maps.high).astype(np.uint32)  # image row 0: the top, largest x2
    argb = np.ascontiguousarray((0xFF << 24) | (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2])
    _, rows, cols = argb.shape
    return [QImage(unit.tobytes(), cols, rows, 4 * cols, QImage.Format.Format_RGB32).copy() for unit in argb]


def disc(image: QImage, diameter: float) -> QImage:
    """``image`` scaled smoothly to fill a circle ``diameter`` scene units across (transparent outside it)."""
    size = max(2, math.ceil(diameter * OVERSAMPLE))
    out = image.scaled(size, size, Qt.AspectRatioMode.IgnoreAspectRatio, Qt.TransformationMode.SmoothTransformation)
    out = out.convertToFormat(QImage.Format.Format_ARGB32_Premultiplied)
    painter = QPainter(out)
    painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_DestinationIn)  # keep what the mask covers
    painter.drawImage(0, 0, _round_mask(size))
    painter.end()
    return out


@lru_cache(maxsize=16)
def _round_mask(size: int) -> QImage:
    """An opaque disc on transparent, ``size`` pixels across (antialiased edge)."""
    mask = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    mask.fill(Qt.GlobalColor.transparent)
    painter = QPainter(mask)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(0, 0, 0))
    painter.drawEllipse(QRectF(0, 0, size, size))
    painter.end()
    return mask
