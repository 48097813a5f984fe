"""The scene behind the topology view: one block (+ overlay) per layer and one item per connection.

:meth:`CanvasScene.sync` brings the items in line with a spec, its parameters and a trace, reusing the
items that already exist, so stepping through a deep network only updates numbers and pens.
:meth:`CanvasScene.hit` says what is under a point (a port, a neuron, a weight line, a title, a block).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QGraphicsScene

from bpstudio.core.spec import NetworkSpec
from bpstudio.core.tools.neuron_maps import LayerMaps, NeuronMaps
from bpstudio.gui.canvas import style
from bpstudio.gui.canvas.edge_item import ArrowItem
from bpstudio.gui.canvas.layer_item import LayerGeometry, LayerItem
from bpstudio.gui.canvas.neuron_items import BuiltPictures, EdgeView, LayerOverlayItem, UnitEdgesItem
from bpstudio.gui.canvas.states import NetworkState, build_state
from bpstudio.gui.qt_utils import format_number

Connection = tuple[str, str]


@dataclass(frozen=True)
class Hit:
    """What is under a point. ``index`` is (unit,) for neurons and (row, col) for weight lines."""

    kind: str  # out_port, in_port, neuron, edge, title, layer
    layer: str
    index: tuple[int, ...] = ()
    edges: UnitEdgesItem | None = None
    edge: int = -1


def auto_positions(spec: NetworkSpec, geometries: Mapping[str, LayerGeometry]) -> dict[str, QPointF]:
    """Left to right by topological depth; the blocks of one depth stacked and centred on y = 0."""
    depth: dict[str, int] = {}
    columns: dict[int, list[str]] = {}
    for lid in spec.order:
        inputs = spec.layer(lid).inputs
        depth[lid] = 1 + max(depth[i] for i in inputs) if inputs else 0
        columns.setdefault(depth[lid], []).append(lid)
    positions = {}
    x = 0.0
    previous_half = None
    spread = style.PRESENTING_SPREAD if any(g.presenting for g in geometries.values()) else 1.0
    for d in sorted(columns):
        ids = columns[d]
        half = max(geometries[i].width for i in ids) / 2
        if previous_half is not None:
            x += max(previous_half + style.COLUMN_GAP * spread + half, style.MIN_COLUMN_STEP * spread)
        previous_half = half
        total = sum(geometries[i].height for i in ids) + style.ROW_GAP * (len(ids) - 1)
        y = -total / 2
        for lid in ids:
            h = geometries[lid].height
            positions[lid] = QPointF(x, y + h / 2)
            y += h + style.ROW_GAP
    return positions


class CanvasScene(QGraphicsScene):
    def __init__(self, parent: Any = None):
        super().__init__(parent)
        self.blocks: dict[str, LayerItem] = {}
        self.overlays: dict[str, LayerOverlayItem] = {}
        self.unit_edges: dict[Connection, UnitEdgesItem] = {}
        self.arrows: dict[Connection, ArrowItem] = {}
        self.net: NetworkState | None = None
        self._attached: dict[str, list[Connection]] = {}
        self._syncing = False
        self._picked: tuple[str, str, tuple[int, ...]] | None = None
        self.neuron_maps: NeuronMaps | None = None
        self.presenting = False  # presentation mode's look (larger numbers; see style)

    # --- building ------------------------------------------------------------------------------

    def sync(
        self,
        spec: NetworkSpec,
        params: Mapping[str, np.ndarray],
        trace: Any,
        phase: Any,
        colors: Mapping[str, QColor],
        running: Mapping[str, np.ndarray] | None = None,
    ) -> None:
        net = build_state(spec, params, trace, phase, colors, running or {})
        self.net = net
        geometries = {lid: LayerGeometry(net.layers[lid], self.presenting) for lid in net.order}
        automatic = auto_positions(spec, geometries)
        self._syncing = True
        try:
            for lid in net.order:
                block = self.blocks.get(lid)
                if block is None:
                    block = self.blocks[lid] = LayerItem(lid, self._block_moved)
                    self.overlays[lid] = LayerOverlayItem(lid)
                    self.overlays[lid].set_maps(self._maps_of(lid))
                    self.addItem(block)
                    self.addItem(self.overlays[lid])
                stored = spec.layer(lid).position
                pos = QPointF(*stored) * self.spread if stored is not None else automatic[lid]
                block.set_state(net.layers[lid], geometries[lid])
                block.setPos(pos)
                self.overlays[lid].set_state(net.layers[lid], geometries[lid], net)
                self.overlays[lid].setPos(pos)
            for lid in [i for i in self.blocks if i not in net.layers]:
                self.removeItem(self.blocks.pop(lid))
                self.removeItem(self.overlays.pop(lid))
            self._sync_connections(spec, net)
        finally:
            self._syncing = False
        for key in list(self.unit_edges) + list(self.arrows):
            self._place(key)
        self._restore_pick()

    @property
    def spread(self) -> float:
        """How much further apart the blocks are drawn than the network's positions say (presentation mode:
        room between the larger neurons for the larger weight labels). Positions read off the scene are
        divided by it before they go into the network."""
        return style.PRESENTING_SPREAD if self.presenting else 1.0

    def build_pictures(self, maps: NeuronMaps) -> dict[str, BuiltPictures]:
        """Each layer's pictures for ``maps``, built ahead of :meth:`set_neuron_maps` (nothing drawn yet)."""
        return {
            lid: overlay.build_pictures(layer)
            for lid, overlay in self.overlays.items()
            if (layer := maps.layers.get(lid)) is not None
        }

    def set_neuron_maps(self, maps: NeuronMaps | None, built: Mapping[str, BuiltPictures] | None = None) -> None:
        """New maps over the input plane: each overlay builds its pictures from its layer's (once, here, or
        ahead of time: ``built`` from :meth:`build_pictures`)."""
        self.neuron_maps = maps
        for lid, overlay in self.overlays.items():
            overlay.set_maps(self._maps_of(lid), (built or {}).get(lid))

    def _maps_of(self, layer_id: str) -> LayerMaps | None:
        return self.neuron_maps.layers.get(layer_id) if self.neuron_maps is not None else None

    def _sync_connections(self, spec: NetworkSpec, net: NetworkState) -> None:
        wanted_units: set[Connection] = set()
        wanted_arrows: set[Connection] = set()
        self._attached = {lid: [] for lid in net.order}
        for dst in net.order:
            offset = 0
            target = net.layers[dst]
            for src in target.inputs:
                key = (src, dst)
                self._attached[src].append(key)
                self._attached[dst].append(key)
                source = net.layers[src]
                if source.small and target.small and self._blocked(src, dst) is None:
                    wanted_units.add(key)
                    item = self.unit_edges.get(key)
                    if item is None:
                        item = self.unit_edges[key] = UnitEdgesItem(src, dst)
                        self.addItem(item)
                    item.set_state(source, target, offset, net)
                else:
                    wanted_arrows.add(key)
                    arrow = self.arrows.get(key)
                    if arrow is None:
                        arrow = self.arrows[key] = ArrowItem(src, dst)
                        self.addItem(arrow)
                    arrow.set_label(self._arrow_label(source.units, target, net))
                offset += spec.widths[src]
        for store, wanted in ((self.unit_edges, wanted_units), (self.arrows, wanted_arrows)):
            for key in [k for k in store if k not in wanted]:
                self.removeItem(store.pop(key))  # type: ignore[attr-defined]

    @staticmethod
    def _arrow_label(fan_in: int, target: Any, net: NetworkState) -> str:
        if target.type != "dense":
            return ""
        if target.id in net.grad_norms:
            return f"‖∇W‖ {format_number(net.grad_norms[target.id], 3)}"
        return f"W {target.units}×{fan_in}"

    def _place(self, key: Connection) -> None:
        src, dst = self.blocks[key[0]], self.blocks[key[1]]
        if key in self.unit_edges:
            assert src.geometry is not None and dst.geometry is not None
            self.unit_edges[key].place(src.pos(), src.geometry, dst.pos(), dst.geometry)
        else:
            assert src.geometry is not None and dst.geometry is not None
            self.arrows[key].place(
                src.pos() + src.geometry.out_port, dst.pos() + dst.geometry.in_port, self._blocked(*key)
            )

    def _blocked(self, source: str, target: str) -> float | None:
        """The top of the blocks standing between two blocks (None: the way is clear)."""
        src, dst = self.blocks[source], self.blocks[target]
        a, b = src.mapRectToScene(src.geometry.rect), dst.mapRectToScene(dst.geometry.rect)  # type: ignore[union-attr]
        if b.left() - a.right() < 1:
            return None
        corridor = QRectF(
            a.right(), min(a.top(), b.top()), b.left() - a.right(), max(a.bottom(), b.bottom()) - min(a.top(), b.top())
        )
        tops = [
            r.top()
            for lid, blk in self.blocks.items()
            if lid not in (source, target)
            for r in [blk.mapRectToScene(blk.geometry.rect)]  # type: ignore[union-attr]
            if r.intersects(corridor)
        ]
        return min(tops) - 45 if tops else None

    def _block_moved(self, block: LayerItem) -> None:
        if self._syncing:
            return
        self.overlays[block.layer_id].setPos(block.pos())
        for key in self._attached.get(block.layer_id, ()):
            self._place(key)

    # --- questions -----------------------------------------------------------------------------

    def hit(self, pos: QPointF, tolerance: float = 4.0) -> Hit | None:
        """The most specific thing under ``pos``: a port, a neuron, a weight line, a title or a block."""
        blocks = sorted(self.blocks.values(), key=lambda b: -b.zValue())
        for block in blocks:
            geo = block.geometry
            assert geo is not None and block.state is not None
            local = pos - block.pos()
            reach = style.PORT_R + tolerance
            if _near(local, geo.out_port, reach):
                return Hit("out_port", block.layer_id)
            if block.state.type != "input" and _near(local, geo.in_port, reach):
                return Hit("in_port", block.layer_id)
        for block in blocks:
            geo = block.geometry
            assert geo is not None
            local = pos - block.pos()
            unit = geo.neuron_at(local)
            if unit is None:
                unit = geo.cell_at(local)
            if unit is not None:
                return Hit("neuron", block.layer_id, (unit,))
        for edges in self.unit_edges.values():
            i = edges.edge_at(pos, tolerance)
            if i is not None:
                return Hit("edge", edges.target, (int(edges.rows[i]), int(edges.cols[i])), edges, i)
        for block in blocks:
            geo = block.geometry
            assert geo is not None
            local = pos - block.pos()
            if geo.header.contains(local):
                return Hit("title", block.layer_id)
            if geo.rect.contains(local):
                return Hit("layer", block.layer_id)
        return None

    def param_key(self, hit: Hit | None) -> str | None:
        """The parameter a click on ``hit`` picks: a weight line's matrix (into a norm layer: its γ) or a neuron's
        bias (a norm layer's β), if it has one."""
        if hit is None or self.net is None:
            return None
        if hit.kind == "edge" and hit.edges is not None and hit.edges.key is not None:
            return hit.edges.key
        if hit.kind == "neuron" and self.net.layers[hit.layer].bias is not None:
            return f"{hit.layer}.bias"
        return None

    @staticmethod
    def param_index(hit: Hit) -> tuple[int, ...]:
        """Where in its parameter a picked ``hit`` is: (row, col) of a weight matrix, (unit,) of a vector."""
        if hit.kind == "edge" and hit.edges is not None and hit.edges.kind == "norm":
            return (hit.index[0],)  # (γ: one per unit)
        return hit.index

    def picked_hit(self) -> Hit | None:
        """The picked line or neuron (clicked last), as a hit on it; None when nothing is picked."""
        if self._picked is None:
            return None
        kind, layer, index = self._picked
        if kind == "neuron" and layer in self.blocks:
            return Hit("neuron", layer, index)
        for edges in self.unit_edges.values():
            if kind == "edge" and edges.target == layer and edges.key is not None:
                match = np.flatnonzero((edges.rows == index[0]) & (edges.cols == index[1]))
                if match.size:
                    return Hit("edge", layer, index, edges, int(match[0]))
        return None

    def selected_ids(self) -> list[str]:
        """Selected layer ids in the network's order."""
        chosen = {b.layer_id for b in self.blocks.values() if b.isSelected()}
        return [lid for lid in (self.net.order if self.net else tuple(self.blocks)) if lid in chosen]

    def mark_drop_target(self, layer_id: str | None) -> None:
        """Light up the block a connection being dragged would end at (None: none)."""
        for lid, block in self.blocks.items():
            block.set_drop_target(lid == layer_id)

    def hover(self, hit: Hit | None) -> None:
        """Mark the weight line under the mouse (where lines are many, it then shows its label)."""
        line = hit.edges if hit is not None and hit.kind == "edge" else None
        for edges in self.unit_edges.values():
            edges.set_hovered(hit.edge if hit is not None and edges is line else None)

    def neuron_circle(self, layer_id: str, unit: int) -> QRectF:
        """Neuron ``unit`` of a small layer: its circle in scene coordinates."""
        overlay = self.overlays[layer_id]
        return overlay.mapRectToScene(overlay.circle(unit))

    def neuron_count(self) -> int:
        return sum(len(o.texts) for o in self.overlays.values())

    def weight_edges(self) -> list[EdgeView]:
        return [e.edge_view(i) for e in self.unit_edges.values() if e.kind == "weight" for i in range(len(e.lines))]

    def network_rect(self) -> QRectF:
        """Everything the network draws: blocks with their labels, ports, and the output's target column."""
        rect = QRectF()
        for block in self.blocks.values():
            rect = rect.united(block.sceneBoundingRect())
            state, geometry = block.state, block.geometry
            if state is not None and geometry is not None and state.is_output and state.small:
                rect = rect.united(block.sceneBoundingRect().adjusted(0, 0, geometry.fonts.target_w - 30, 0))
        return rect

    # --- the picked parameter (drawn with a soft halo) -------------------------------------------

    def set_picked(self, hit: Hit | None) -> None:
        self._picked = None if hit is None else (hit.kind, hit.layer, hit.index)
        self._restore_pick()

    def _restore_pick(self) -> None:
        for overlay in self.overlays.values():
            if overlay.picked is not None:
                overlay.picked = None
                overlay.update()
        for edges in self.unit_edges.values():
            if edges.picked is not None:
                edges.picked = None
                edges.update()
        if self._picked is None:
            return
        kind, layer, index = self._picked
        if kind == "neuron" and layer in self.overlays and index[0] < len(self.overlays[layer].texts):
            self.overlays[layer].picked = index[0]
            self.overlays[layer].update()
        elif kind == "edge":
            for edges in self.unit_edges.values():
                if edges.target == layer and edges.key is not None:
                    match = np.flatnonzero((edges.rows == index[0]) & (edges.cols == index[1]))
                    if match.size:
                        edges.picked = int(match[0])
                        edges.update()


def _near(a: QPointF, b: QPointF, reach: float) -> bool:
    return (a.x() - b.x()) ** 2 + (a.y() - b.y()) ** 2 <= reach * reach
