"""Where a new layer's block goes on the canvas, so that it lands where the person is looking.

Inserted between two layers, it takes the place of the later one, which moves one column to the right together
with every layer after it (nothing else moves). Added after a layer, it goes on the free spot nearest its place
right of that layer, within the part of the canvas on screen when there is room there. Dropped, it goes where it
was dropped, or beside if a block is there. The view never scrolls away to show it: when the new block (or a
layer that moved) is off screen, the view zooms out (:meth:`TopologyView.keep_in_view`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QColor

from bpstudio.core.edit.topology import downstream
from bpstudio.core.spec import NetworkSpec
from bpstudio.gui.canvas import style
from bpstudio.gui.canvas.layer_item import LayerGeometry
from bpstudio.gui.canvas.states import LayerState

if TYPE_CHECKING:
    from bpstudio.gui.canvas.scene import CanvasScene
    from bpstudio.gui.canvas.view import TopologyView

SPACE = 24.0  # the least room kept between a new block and the others (scene units)
Point = tuple[float, float]


def block_size(layer_type: str, units: int) -> tuple[float, float]:
    """About how much room a new block takes, with its phase label above and its loss below."""
    geometry = LayerGeometry(LayerState("h00", layer_type, units, "relu", QColor(), ()))
    return (geometry.width + 20, geometry.height + 84)


def spot_near(
    scene: CanvasScene,
    wanted: QPointF,
    size: tuple[float, float],
    within: QRectF,
    between: tuple[float, float] | None = None,
    moved: dict[str, Point] | None = None,
) -> Point | None:
    """The centre nearest ``wanted`` for a block of about ``size`` that overlaps no block (``moved`` ones counted
    where they go) and stays inside ``within``; None when there is no such place. Moving up or down counts for
    less than moving sideways, which would break the network's left-to-right flow; with ``between`` (two x),
    places strictly between them come first."""
    w, h = size
    inner = within.adjusted(w / 2, h / 2, -w / 2, -h / 2)
    if inner.width() < 0 or inner.height() < 0:
        return None
    moved = moved or {}
    taken = []
    for lid, block in scene.blocks.items():
        rect = block.sceneBoundingRect()
        if lid in moved:
            rect.translate(QPointF(*moved[lid]) - block.pos())
        taken.append(rect.adjusted(-SPACE, -SPACE, SPACE, SPACE))
    step = max(20.0, math.sqrt(inner.width() * inner.height() / 2500))  # (a few thousand places at most)
    places = [
        (inner.left() + i * step, inner.top() + j * step)
        for i in range(int(inner.width() // step) + 1)
        for j in range(int(inner.height() // step) + 1)
    ]
    lo, hi = between if between is not None else (-math.inf, math.inf)
    places.sort(key=lambda p: (not lo < p[0] < hi, 9 * (p[0] - wanted.x()) ** 2 + (p[1] - wanted.y()) ** 2))
    clamped = (min(max(wanted.x(), inner.left()), inner.right()), min(max(wanted.y(), inner.top()), inner.bottom()))
    for px, py in [clamped, *places]:
        if not any(QRectF(px - w / 2, py - h / 2, w, h).intersects(r) for r in taken):
            return (round(px), round(py))
    return None


def _around(view: TopologyView, wanted: QPointF, size: tuple[float, float]) -> QRectF:
    """The part of the scene worth searching when the screen is full: all of it near the network."""
    reach = QRectF(wanted, wanted).united(view.on_screen()).united(view.canvas.network_rect())
    return reach.adjusted(-2 * size[0], -2 * size[1], 2 * size[0], 2 * size[1])


def _room(view: TopologyView) -> QRectF:
    """The part of the scene on screen that a new block may take (the banner above, the legend below)."""
    px = 1 / max(view.transform().m11(), 1e-6)  # a screen pixel in scene units
    return view.on_screen().adjusted(30 * px, 70 * px, -30 * px, -50 * px)


def beside(view: TopologyView, layer_type: str, units: int, source: str) -> Point:
    """Right of ``source``: on screen when there is room there, else on the nearest free spot."""
    blocks = view.canvas.blocks
    wanted = (blocks[source].pos() if source in blocks else QPointF()) + QPointF(style.MIN_COLUMN_STEP, 0)
    size = block_size(layer_type, units)
    spot = spot_near(view.canvas, wanted, size, _room(view)) or spot_near(
        view.canvas, wanted, size, _around(view, wanted, size)
    )
    return spot or (round(wanted.x()), round(wanted.y()))


def dropped_at(view: TopologyView, layer_type: str, units: int, point: Point) -> Point:
    """``point``, or the nearest free spot when a block is there."""
    wanted, size = QPointF(*point), block_size(layer_type, units)
    return spot_near(view.canvas, wanted, size, _around(view, wanted, size)) or point


def between(
    view: TopologyView, spec: NetworkSpec, layer_type: str, units: int, source: str, before: str
) -> tuple[Point, dict[str, Point]]:
    """A new block between ``source`` and ``before``: where ``before`` is, and where ``before`` and every
    layer after it move (one column right), as ``(new block's centre, {layer id: new centre})``."""
    blocks = view.canvas.blocks
    size = block_size(layer_type, units)
    target = blocks[before]
    assert target.geometry is not None
    shift = max(style.MIN_COLUMN_STEP, size[0] / 2 + style.COLUMN_GAP + target.geometry.width / 2)
    moved: dict[str, Point] = {
        lid: (float(round(blocks[lid].pos().x() + shift)), float(round(blocks[lid].pos().y())))
        for lid in downstream(spec, before)
        if lid in blocks
    }
    wanted = target.pos()
    lo = blocks[source].pos().x() if source in blocks else -math.inf
    spot = spot_near(view.canvas, wanted, size, _around(view, wanted, size), (lo, wanted.x() + shift), moved)
    return spot or (round(wanted.x()), round(wanted.y())), moved


def source_left_of(scene: CanvasScene, point: QPointF) -> str | None:
    """The block left of ``point`` whose output port is nearest, sideways counting double (None: none is)."""
    ports = [(b.pos() + b.geometry.out_port, lid) for lid, b in scene.blocks.items() if b.geometry is not None]
    left = [
        (4 * (point.x() - port.x()) ** 2 + (point.y() - port.y()) ** 2, lid)
        for port, lid in ports
        if port.x() < point.x()
    ]
    return min(left)[1] if left else None
