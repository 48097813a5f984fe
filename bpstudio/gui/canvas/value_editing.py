"""Editing a weight or a bias in place on the canvas.

A double-click on a weight line or a neuron (or Enter on the one picked last) opens a
:class:`~bpstudio.gui.canvas.overlays.ValueEditor` over it with the exact value. A typed number comes out as the
view's ``value_requested`` (the main window carries it out with the same undoable command as the inspector's
matrix); text that is not a finite number is refused on the canvas's banner, naming what is wrong, and the value
stays. Where there is nothing to edit (an input neuron, an add link) the banner says why.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF

from bpstudio.core.spec import NetworkSpec
from bpstudio.gui.canvas.overlays import ValueEditor
from bpstudio.gui.canvas.scene import Hit
from bpstudio.gui.canvas.value_targets import ValueTarget, value_target
from bpstudio.gui.inspectors.matrix_editor import parse_entry
from bpstudio.gui.qt_utils import format_number

if TYPE_CHECKING:
    from bpstudio.gui.canvas.view import TopologyView


class ValueEditing:
    """The canvas's in-place editor and what it edits."""

    def __init__(self, view: TopologyView):
        self.view = view
        self.editor = ValueEditor(view.viewport(), view)
        self.editor.entered.connect(self._on_entered)

    def start(self, hit: Hit | None, at: QPointF | None = None) -> bool:
        """Open the editor on the weight or bias at ``hit`` (picking it); where there is none, say why."""
        view = self.view
        target = value_target(view.canvas, hit, at)
        if isinstance(target, str):
            view.show_refusal(target)
            return False
        if target is None or hit is None:
            return False
        view.pick(hit)
        self.editor.start(target, f"{target.name} =", repr(target.value), view.mapFromScene(target.at))
        return True

    def forget_gone(self, spec: NetworkSpec) -> None:
        """Close the editor if what it edits is no longer there (an undo took the layer or its bias away)."""
        target = self.editor.target
        if isinstance(target, ValueTarget) and target.key not in spec.param_shapes():
            self.editor.finish()

    def _on_entered(self, text: str, leaving: bool) -> None:
        """Typed text: refused with the reason (the value stays), or requested as an edit."""
        target = self.editor.target
        assert isinstance(target, ValueTarget)
        value, why = parse_entry(text)
        if value is None:
            self.view.show_refusal(f"{why}: the {target.kind} {target.name} keeps {format_number(target.value)}")
            if leaving:
                self.editor.finish(give_focus_back=False)
            else:
                self.editor.refused()
            return
        self.editor.finish(give_focus_back=not leaving)
        if value != target.value:
            self.view.value_requested.emit(target.key, target.index, value)
