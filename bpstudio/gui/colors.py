"""The app's colours: one colour per layer (shared by the canvas and the plots) and a diverging
scale for signed values (weights, gradients): orange positive, blue negative, as in TF Playground.

A layer's colour is its palette slot, which the layer keeps for its life (``bpstudio.core.edit.colors``): adding
or deleting other layers, undo and redo, saving and opening never recolour it."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from PySide6.QtGui import QColor

from bpstudio.core.edit.colors import color_slots
from bpstudio.core.spec import NetworkSpec

POSITIVE = QColor(245, 130, 32)  # orange
NEGATIVE = QColor(33, 118, 196)  # blue
NEUTRAL = QColor(235, 235, 235)
HIGHLIGHT = QColor(220, 30, 60)  # the layer the current phase is at

# a qualitative palette readable on white and on a projector: strong colours first, then lighter ones
LAYER_PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#59a14f",
    "#b07aa1",
    "#9c755f",
    "#76b7b2",
    "#edc948",
    "#1f3b73",
    "#a0522d",
    "#8c1c3c",
    "#2e6b30",
    "#6a3d9a",
    "#d4a017",
    "#17807e",
    "#ff9da7",
    "#5c5c5c",
    "#9edae5",
    "#c49c94",
    "#98df8a",
)
INPUT_COLOR = QColor("#7f7f7f")


def network_colors(spec: NetworkSpec) -> dict[str, QColor]:
    """Every layer's colour: its palette slot's; the input layer grey."""
    colors = {spec.input_id: QColor(INPUT_COLOR)}
    colors.update({lid: QColor(LAYER_PALETTE[slot % len(LAYER_PALETTE)]) for lid, slot in color_slots(spec).items()})
    return colors


def layer_colors(layer_ids: Sequence[str], input_id: str | None = None) -> dict[str, QColor]:
    """A colour per layer in the order given, for layers without a network (a plot shown on its own); with a
    network, :func:`network_colors`. The input layer, when named, is grey and takes no palette slot."""
    colors = {} if input_id is None else {input_id: QColor(INPUT_COLOR)}
    computed = [lid for lid in layer_ids if lid != input_id]
    colors.update({lid: QColor(LAYER_PALETTE[i % len(LAYER_PALETTE)]) for i, lid in enumerate(computed)})
    return colors


def signed_color(value: float, scale: float) -> QColor:
    """``value`` on the diverging scale, saturating at ``|value| = scale`` (scale > 0)."""
    if not math.isfinite(value) or scale <= 0:
        return QColor(NEUTRAL)
    t = min(abs(value) / scale, 1.0)
    end = POSITIVE if value >= 0 else NEGATIVE
    return QColor(
        round(NEUTRAL.red() + (end.red() - NEUTRAL.red()) * t),
        round(NEUTRAL.green() + (end.green() - NEUTRAL.green()) * t),
        round(NEUTRAL.blue() + (end.blue() - NEUTRAL.blue()) * t),
    )


def diverging_rgb(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """``values`` on the same diverging scale as :func:`signed_color`, as bytes (..., 3): ``low`` is the
    negative colour, ``high`` the positive one and their midpoint neutral, linear in between and clipped
    beyond; values that are not finite are neutral. (Display scaling only: the ends come from core.)"""
    v = np.asarray(values, dtype=np.float64)
    middle, half = (low + high) / 2, (high - low) / 2
    t = np.clip((v - middle) / half, -1.0, 1.0) if half > 0 else np.zeros_like(v)
    t = np.where(np.isfinite(v), t, 0.0)[..., None]
    neutral, positive, negative = (
        np.array([c.red(), c.green(), c.blue()], dtype=np.float64) for c in (NEUTRAL, POSITIVE, NEGATIVE)
    )
    rgb = neutral + np.where(t >= 0, (positive - neutral) * t, (negative - neutral) * -t)
    return np.round(rgb).astype(np.uint8)
