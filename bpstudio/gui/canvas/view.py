"""The topology canvas: draws a network and turns mouse gestures into edit requests.

It is a view. :meth:`TopologyView.show_network` draws a spec with its parameters (and, while stepping,
the step's trace); gestures come out as ``*_requested`` signals that the main window carries out as
undoable commands before calling ``show_network`` again. The canvas never changes a spec itself.

Gestures: click/rubber-band to select blocks, drag blocks to move them (``move_requested`` once, on
release), drag from a block's right-hand port onto another block to connect, double-click a title to
rename, Delete to delete, click a weight line or a neuron to pick its parameter (the chain rule follows it),
double-click it or press Enter to edit that weight or bias in place, wheel to zoom around the cursor,
middle-drag or Space+drag to pan, Ctrl+0 to fit, right-click for a menu, drop a palette button to add.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import QEvent, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QContextMenuEvent,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QHelpEvent,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QWheelEvent,
)
from PySide6.QtWidgets import QApplication, QGraphicsView, QMenu, QToolTip, QWidget

from bpstudio.core.spec import NetworkSpec
from bpstudio.core.tools.neuron_maps import NeuronMaps
from bpstudio.gui.canvas import style, tooltips
from bpstudio.gui.canvas.edge_item import PendingLinkItem
from bpstudio.gui.canvas.layer_item import LayerGeometry
from bpstudio.gui.canvas.menus import build_context_menu
from bpstudio.gui.canvas.neuron_items import BuiltPictures
from bpstudio.gui.canvas.neuron_preview import NeuronPreview
from bpstudio.gui.canvas.overlays import Legend, RefusalBanner, RenameEditor
from bpstudio.gui.canvas.palette import MIME_TYPE
from bpstudio.gui.canvas.scene import CanvasScene, Hit, auto_positions
from bpstudio.gui.canvas.value_editing import ValueEditing
from bpstudio.gui.canvas.zooming import ZoomingView
from bpstudio.gui.colors import network_colors
from bpstudio.gui.qt_utils import signals_blocked


@dataclass
class _Press:
    hit: Hit | None
    at: QPointF  # viewport position
    positions: dict[str, QPointF]  # every block's position when the button went down


class TopologyView(ZoomingView):
    layer_selected = Signal(object)  # layer id or None
    param_picked = Signal(str, tuple)  # ("o.weight", (row, col)) or ("h.bias", (unit,))
    value_requested = Signal(str, tuple, float)  # a weight or bias typed in place: key, index, new value
    add_requested = Signal(str, object, object)  # layer type, source layer id or None, (x, y)
    connect_requested = Signal(str, str)  # source, target
    delete_requested = Signal(list)  # layer ids
    rename_requested = Signal(str, str)  # old id, new id
    move_requested = Signal(dict)  # {id: (x, y)} block centres after a drag
    tidy_requested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.canvas = CanvasScene(self)
        self.setScene(self.canvas)
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setAcceptDrops(True)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.banner = RefusalBanner(self)
        self.legend = Legend(self)
        self.rename_editor = RenameEditor(self.viewport())
        self.preview = NeuronPreview(self, self.canvas)  # the hovered neuron's picture, enlarged
        self.rename_editor.committed.connect(self.rename_requested)
        self.values = ValueEditing(self)  # a weight or bias edited in place
        self.value_editor = self.values.editor
        self.canvas.selectionChanged.connect(self._on_selection_changed)
        self.spec: NetworkSpec | None = None
        self._shown: tuple[Any, ...] | None = None  # what show_network drew last (drawn again in another look)
        self._press: _Press | None = None
        self._link: PendingLinkItem | None = None
        self._link_source: str | None = None
        self._pan_from: QPointF | None = None
        self._space = False

    # --- the model side ----------------------------------------------------------------------------

    def show_network(
        self,
        spec: NetworkSpec,
        params: Mapping[str, np.ndarray],
        trace: Any = None,
        phase: Any = None,
        colors: Mapping[str, QColor] | None = None,
        refused: str | None = None,
        running: Mapping[str, np.ndarray] | None = None,
    ) -> None:
        """Draw ``spec`` with ``params`` (and its batchnorm layers' ``running`` statistics); with a NumPy StepTrace,
        the values and gradients computed so far.

        ``phase`` is the session's next phase; its layer is highlighted. ``refused`` shows the banner; a
        redraw without it leaves the banner as it is.
        """
        self._shown = (spec, params, trace, phase, colors, running)
        before = set(self.canvas.blocks)
        with signals_blocked(self):
            self.canvas.sync(spec, params or {}, trace, phase, colors or network_colors(spec), running or {})
        self.spec = spec
        self.values.forget_gone(spec)
        self._grow_scene_rect()
        if not before or before.isdisjoint(spec.order):  # a different network: show all of it
            self.fit_all()
        weight_lines = [e for e in self.canvas.unit_edges.values() if e.kind == "weight"]
        kinds = {e.showing_grad for e in weight_lines}
        unlabelled = any(len(e.rows) > style.ALL_LABELS_PAIR for e in weight_lines)
        computed = [i for i in spec.active_order() if i != spec.input_id]
        updated = (
            trace is not None and phase is not None and tuple(phase) == ("forward", computed[0] if computed else None)
        )
        self.legend.set_content(False in kinds, True in kinds, unlabelled, updated)
        if refused:
            self.show_refusal(refused)  # (the banner otherwise stays until it times out or is cleared)
        self.preview.refresh()

    def set_presenting(self, on: bool) -> None:
        """Presentation mode's look (larger numbers, larger circles: see style) or the usual one; the network
        is drawn again in it and fitted to the view."""
        if on == self.canvas.presenting:
            return
        self.canvas.presenting = on
        if self._shown is not None:
            spec, params, trace, phase, colors, running = self._shown
            self.show_network(spec, params, trace, phase, colors, running=running)
        self.fit_all()

    def build_pictures(self, maps: NeuronMaps) -> dict[str, BuiltPictures]:
        """The neuron pictures for ``maps``, built but not drawn: the slow part of new maps, which the window
        does in a turn of its own while training, passing the result to :meth:`show_neuron_maps`."""
        return self.canvas.build_pictures(maps)

    def show_neuron_maps(self, maps: NeuronMaps | None, built: Mapping[str, BuiltPictures] | None = None) -> None:
        """Each small layer's units over the input plane (core's maps), drawn inside their circles; None
        (inputs that are not 2-D) draws none. ``built``: their pictures from :meth:`build_pictures`."""
        self.canvas.set_neuron_maps(maps, built)
        self.preview.refresh()

    def tidy_positions(self) -> dict[str, tuple[float, float]]:
        """Where the automatic left-to-right layout puts every block, sized as drawn now."""
        net = self.canvas.net
        if net is None or self.spec is None:
            return {}
        geometries = {lid: LayerGeometry(net.layers[lid], self.canvas.presenting) for lid in net.order}
        k = self.canvas.spread
        return {lid: (round(p.x() / k), round(p.y() / k)) for lid, p in auto_positions(self.spec, geometries).items()}

    def unplaced_positions(self) -> dict[str, tuple[float, float]]:
        """Where the blocks the network gives no position are drawn (at their automatic places)."""
        if self.spec is None:
            return {}
        unplaced = [lid for lid in self.spec.order if self.spec.layer(lid).position is None]
        blocks = self.canvas.blocks
        k = self.canvas.spread
        return {
            lid: (round(blocks[lid].pos().x() / k), round(blocks[lid].pos().y() / k))
            for lid in unplaced
            if lid in blocks
        }

    def content_rect(self) -> QRectF:
        return self.canvas.network_rect()

    def keep_in_view(self, layer_id: str) -> None:
        """After an add: show the new block without scrolling away from what is on screen (see ``reveal``)."""
        block = self.canvas.blocks.get(layer_id)
        if block is not None:
            self.reveal(block.sceneBoundingRect())

    def show_refusal(self, message: str) -> None:
        self.banner.show_message(message)

    def select_layer(self, layer_id: str | None) -> None:
        with signals_blocked(self):
            self.canvas.clearSelection()
            block = self.canvas.blocks.get(layer_id) if layer_id is not None else None
            if block is not None:
                block.setSelected(True)  # (where it is: the view does not move to it)

    def selected_layers(self) -> list[str]:
        """Selected layer ids in the network's order."""
        return self.canvas.selected_ids()

    def _on_selection_changed(self) -> None:
        chosen = self.selected_layers()
        hit = self._press.hit if self._press else None
        if hit is not None and hit.layer in chosen:
            self.layer_selected.emit(hit.layer)
        else:
            self.layer_selected.emit(chosen[0] if chosen else None)

    # --- mouse -------------------------------------------------------------------------------------

    def _tolerance(self) -> float:
        return 5.0 / max(self.transform().m11(), 1e-6)  # 5 screen pixels, in scene units

    def hit_at(self, scene_pos: QPointF) -> Hit | None:
        return self.canvas.hit(scene_pos, self._tolerance())

    def mousePressEvent(self, event: QMouseEvent) -> None:
        pos = event.position()
        if event.button() == Qt.MouseButton.MiddleButton or (
            event.button() == Qt.MouseButton.LeftButton and self._space
        ):
            self._pan_from = pos
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        if event.button() != Qt.MouseButton.LeftButton:
            super().mousePressEvent(event)
            return
        hit = self.hit_at(self.mapToScene(pos.toPoint()))
        self._press = _Press(hit, pos, {lid: b.pos() for lid, b in self.canvas.blocks.items()})
        if hit is not None and hit.kind == "out_port":
            block = self.canvas.blocks[hit.layer]
            assert block.geometry is not None
            self._link_source = hit.layer
            self._link = PendingLinkItem(block.pos() + block.geometry.out_port)
            self.canvas.addItem(self._link)
            event.accept()
            return
        if hit is not None and hit.kind == "edge":
            event.accept()  # a click on a line picks that weight (on release); it does not start a rubber band
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        pos = event.position()
        if self._pan_from is not None:
            self._auto_fit = False
            self._scroll_by(pos - self._pan_from)
            self._pan_from = pos
            return
        if self._link is not None:
            scene_pos = self.mapToScene(pos.toPoint())
            self._link.follow(scene_pos)
            self.canvas.mark_drop_target(self._link_target(scene_pos))
            return
        if event.buttons() == Qt.MouseButton.NoButton:
            hit = self.hit_at(self.mapToScene(pos.toPoint()))
            self._update_cursor(hit)
            self.preview.hover(hit)
            self.canvas.hover(hit)
        else:
            self.preview.hide_preview()
        super().mouseMoveEvent(event)

    def wheelEvent(self, event: QWheelEvent) -> None:
        super().wheelEvent(event)  # (zooms)
        self.preview.hover(self.hit_at(self.mapToScene(event.position().toPoint())))

    def leaveEvent(self, event: QEvent) -> None:
        self.preview.hide_preview()
        self.canvas.hover(None)
        super().leaveEvent(event)

    def _update_cursor(self, hit: Hit | None) -> None:
        if self._space:
            return
        if hit is None:
            self.viewport().unsetCursor()
        elif hit.kind == "out_port":
            self.viewport().setCursor(Qt.CursorShape.CrossCursor)
        elif self.canvas.param_key(hit) is not None:
            self.viewport().setCursor(Qt.CursorShape.PointingHandCursor)
        else:
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._pan_from is not None:
            self._pan_from = None
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor if self._space else Qt.CursorShape.ArrowCursor)
            return
        if self._link is not None:
            self._finish_link(self.mapToScene(event.position().toPoint()))
            self._press = None
            return
        super().mouseReleaseEvent(event)
        press, self._press = self._press, None
        if press is None or event.button() != Qt.MouseButton.LeftButton:
            return
        moved = {
            lid: (float(round(b.pos().x() / self.canvas.spread)), float(round(b.pos().y() / self.canvas.spread)))
            for lid, b in self.canvas.blocks.items()
            if lid in press.positions and b.pos() != press.positions[lid]
        }
        if moved:
            self.move_requested.emit(moved)
            return
        if (event.position() - press.at).manhattanLength() < QApplication.startDragDistance():
            self.pick(press.hit)

    def _finish_link(self, scene_pos: QPointF) -> None:
        assert self._link is not None
        self.canvas.removeItem(self._link)
        self._link = None
        source, target = self._link_source, self._link_target(scene_pos)
        self._link_source = None
        self.canvas.mark_drop_target(None)
        if source is not None and target is not None:
            self.connect_requested.emit(source, target)

    def _link_target(self, scene_pos: QPointF) -> str | None:
        """The block a connection dragged from ``_link_source`` would end at (anywhere on it counts)."""
        hit = self.hit_at(scene_pos)
        if hit is None or hit.kind == "edge" or hit.layer == self._link_source:
            return None
        return hit.layer

    def pick(self, hit: Hit | None) -> None:
        """Pick the weight or bias at ``hit`` (drawn with a halo; the chain-rule panel follows it)."""
        key = self.canvas.param_key(hit)
        if hit is not None and key is not None:
            self.canvas.set_picked(hit)
            self.param_picked.emit(key, self.canvas.param_index(hit))

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        scene_pos = self.mapToScene(event.position().toPoint())
        hit = self.hit_at(scene_pos)
        if hit is not None and hit.kind == "title":
            self.start_rename(hit.layer)
            event.accept()
            return
        if hit is not None and hit.kind in ("edge", "neuron"):
            self.values.start(hit, scene_pos)
            event.accept()
            return
        super().mouseDoubleClickEvent(event)

    def start_rename(self, layer_id: str) -> None:
        block = self.canvas.blocks[layer_id]
        assert block.geometry is not None
        rect = self.mapFromScene(block.mapRectToScene(block.geometry.title_rect)).boundingRect()
        self.rename_editor.start(layer_id, rect, round(17 * self.transform().m11()))

    # --- keys --------------------------------------------------------------------------------------

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.values.start(self.canvas.picked_hit())  # the weight or bias clicked last
            event.accept()
            return
        if key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            chosen = self.selected_layers()
            if chosen:
                self.delete_requested.emit(chosen)
            event.accept()
            return
        if key == Qt.Key.Key_Space:
            if not event.isAutoRepeat():
                self._space = True
                self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            event.accept()
            return
        if key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal, Qt.Key.Key_Minus):
            self.zoom_by(1.2 if key != Qt.Key.Key_Minus else 1 / 1.2)
            event.accept()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            self.viewport().unsetCursor()
            event.accept()
            return
        super().keyReleaseEvent(event)

    # --- context menu, drops, tooltips ------------------------------------------------------------------

    def context_menu(self, scene_pos: QPointF) -> QMenu:
        """The right-click menu for a point (built separately so it can be inspected)."""
        return build_context_menu(self, scene_pos)

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        self.context_menu(self.mapToScene(event.pos())).exec(event.globalPos())

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        self.dragMoveEvent(event)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if event.mimeData().hasFormat(MIME_TYPE):  # only palette buttons may be dropped here
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        if not event.mimeData().hasFormat(MIME_TYPE):
            event.ignore()
            return
        layer_type = bytes(event.mimeData().data(MIME_TYPE).data()).decode()
        pos = self.mapToScene(event.position().toPoint())
        hit = self.hit_at(pos)
        event.acceptProposedAction()
        if hit is not None and hit.kind != "edge":  # onto a block: after it, on a free spot beside it
            self.add_requested.emit(layer_type, hit.layer, None)
        else:
            self.add_requested.emit(layer_type, None, (pos.x(), pos.y()))

    def tooltip_at(self, scene_pos: QPointF) -> str:
        """The tooltip a person hovering ``scene_pos`` sees (empty: none)."""
        return tooltips.tooltip_for(self.canvas.net, self.hit_at(scene_pos))

    def viewportEvent(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            text = self.tooltip_at(self.mapToScene(event.pos()))
            if text:
                QToolTip.showText(event.globalPos(), text, self.viewport())
            else:
                QToolTip.hideText()
            return True
        return super().viewportEvent(event)

    # --- looks -------------------------------------------------------------------------------------------

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        if self.banner.isVisible():
            self.banner.place()
        self.legend.place()
