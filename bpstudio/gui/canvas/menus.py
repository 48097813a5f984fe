"""The canvas's right-click menu: on a block, rename/delete/add after it; elsewhere, add here, fit, tidy."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF
from PySide6.QtWidgets import QMenu

from bpstudio.gui.canvas import style
from bpstudio.gui.canvas.palette import LAYER_TYPES

if TYPE_CHECKING:
    from bpstudio.gui.canvas.view import TopologyView


def build_context_menu(view: TopologyView, scene_pos: QPointF) -> QMenu:
    menu = QMenu(view)
    hit = view.hit_at(scene_pos)
    target = hit.layer if hit is not None and hit.kind != "edge" else None
    if target is not None:
        if target not in view.selected_layers():
            view.select_layer(target)
            view.layer_selected.emit(target)
        menu.addAction("Rename…", lambda: view.start_rename(target))
        chosen = view.selected_layers()
        menu.addAction(f"Delete {', '.join(chosen)}", lambda: view.delete_requested.emit(chosen))
        menu.addSeparator()
        block = view.canvas.blocks[target]
        assert block.geometry is not None
        after = (block.pos().x() + max(style.MIN_COLUMN_STEP, block.geometry.width + style.COLUMN_GAP), block.pos().y())
        for layer_type, text, _ in LAYER_TYPES[1:]:
            menu.addAction(f"Add {text} after {target}", partial(view.add_requested.emit, layer_type, target, after))
    else:
        chosen = view.selected_layers()
        source = chosen[0] if len(chosen) == 1 else None
        where = (scene_pos.x(), scene_pos.y())
        for layer_type, text, _ in LAYER_TYPES:
            menu.addAction(f"Add {text} here", partial(view.add_requested.emit, layer_type, source, where))
        menu.addSeparator()
        menu.addAction(view.fit_action)
        menu.addAction("Tidy layout", view.tidy_requested.emit)
    return menu
