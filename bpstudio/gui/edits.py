"""Turns the views' edit requests into undoable document edits with readable history entries."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QPointF

from bpstudio.core import features
from bpstudio.core.edit import topology as edit
from bpstudio.core.edit.layer_fields import update_layer
from bpstudio.core.edit.terms import toggle_term
from bpstudio.core.init import initial_params
from bpstudio.core.spec import NetworkSpec
from bpstudio.gui.canvas import placement

if TYPE_CHECKING:
    from bpstudio.gui.main_window import MainWindow


def _describe(changes: Mapping[str, Any]) -> str:
    parts = []
    for key, value in changes.items():
        if key == "weight_init":
            parts.append(f"initialiser {value.name}")
        elif key == "frozen":
            parts.append("frozen " + (", ".join(sorted(value)) or "nothing"))
        elif key == "use_bias":
            parts.append("bias on" if value else "bias off")
        else:
            parts.append(f"{key} {value}")
    return ", ".join(parts)


class EditRequests:
    def __init__(self, window: MainWindow):
        self.window = window
        self.document = window.document

    def connect_views(self) -> None:
        w = self.window
        w.canvas.add_requested.connect(self.add_layer)
        w.layer_palette.add_clicked.connect(self.add_from_palette)
        w.canvas.connect_requested.connect(self.connect)
        w.canvas.delete_requested.connect(self.delete)
        w.canvas.rename_requested.connect(self.rename)
        w.canvas.move_requested.connect(self.move)
        w.canvas.value_requested.connect(self.document.set_param_entry)  # (the same command as the inspector's)
        w.canvas.tidy_requested.connect(w.tidy_layout)
        w.inspector.fields_requested.connect(self.update_layer)
        w.inspector.param_requested.connect(self.document.set_param_entry)
        w.inspector.randomize_requested.connect(self.randomize)
        w.inspector.reset_requested.connect(self.reset_layer)
        w.inspector.output_requested.connect(self.set_output)
        w.inspector.term_requested.connect(self.toggle_term)
        w.training_panel.loss_requested.connect(self.document.set_loss)
        w.training_panel.optimizer_requested.connect(self.document.set_optimizer)
        w.training_panel.batch_size_requested.connect(self.document.set_batch_size)
        w.training_panel.backend_requested.connect(w.backend_loader.request)
        w.data_panel.source_requested.connect(self.set_data)
        w.data_panel.plot.point_requested.connect(lambda x, y, choice: self.document.points.add((x, y), choice))
        w.data_panel.plot.removal_requested.connect(
            lambda x, y, width, height, with_test: self.document.points.remove_near((x, y), (width, height), with_test)
        )

    def add_from_palette(self, layer_type: str) -> None:
        """A palette button clicked: the new layer goes after the selected layer, in front of what it fed (or
        with nothing selected before the output), where the person is looking (gui/canvas/placement.py)."""
        spec, canvas = self.document.spec, self.window.canvas
        source, before = edit.palette_attachment(spec, self.window.selected_layer)
        units = spec.widths[source] if layer_type != "dense" else edit.DEFAULT_UNITS
        if before is None:
            self._add(layer_type, source, None, placement.beside(canvas, layer_type, units, source))
        else:
            self._add(layer_type, source, before, *placement.between(canvas, spec, layer_type, units, source, before))

    def add_layer(self, layer_type: str, source: str | None, position: Any) -> None:
        """A palette button dropped on the canvas (or Add from its menu). Onto a block: fed by it, beside it;
        elsewhere: fed by the nearest block to the left (else the input), where it was dropped (or beside, if a
        block is there)."""
        spec, canvas = self.document.spec, self.window.canvas
        if source is None:
            left = placement.source_left_of(canvas.canvas, QPointF(*position)) if position is not None else None
            source = left if left is not None else spec.input_id
        units = spec.widths[source] if layer_type != "dense" else edit.DEFAULT_UNITS
        if position is None:
            where = placement.beside(canvas, layer_type, units, source)
        else:
            where = placement.dropped_at(canvas, layer_type, units, tuple(position))
        self._add(layer_type, source, None, where)

    def _add(
        self,
        layer_type: str,
        source: str,
        before: str | None,
        where: tuple[float, float],
        moved: dict[str, tuple[float, float]] | None = None,
    ) -> None:
        added: list[str] = []
        positions = {**self.window.canvas.unplaced_positions(), **(moved or {})}  # (the others stay where they are)

        def make(spec: NetworkSpec) -> NetworkSpec:
            placed = edit.move_layers(spec, positions)
            new, layer_id = edit.add_layer(placed, layer_type, source=source, before=before, position=where)
            added.append(layer_id)
            return new

        text = f"Add {layer_type} layer " + (f"between '{source}' and '{before}'" if before else f"after '{source}'")
        if self.document.edit(text, make):
            self.window.select_after_redraw(added[0])

    def connect(self, source: str, target: str) -> None:
        """Connect ``source`` → ``target``; when that replaces the target's one input, the history names it and
        the canvas says what it cut off."""
        before = self.document.spec
        replaced = edit.replaced_input(before, source, target)
        text = f"Connect {source} → {target}" + (f" in place of {replaced} → {target}" if replaced else "")
        if self.document.edit(text, lambda s: edit.connect(s, source, target)):
            note = edit.connect_note(before, self.document.spec, source, target)
            if note is not None:
                self.window.canvas.show_refusal(note)  # (the canvas's notice strip: it is where the drag ended)
                self.window.statusBar().showMessage(note, 15000)

    def delete(self, layer_ids: list[str]) -> None:
        if layer_ids:
            names = ", ".join(f"'{i}'" for i in layer_ids)
            self.document.edit(f"Delete {names}", lambda s: edit.remove_layers(s, layer_ids))

    def rename(self, old: str, new: str) -> None:
        if old != new and self.document.edit(f"Rename '{old}' to '{new}'", lambda s: edit.rename_layer(s, old, new)):
            if self.window.selected_layer == old:
                self.window.select_after_redraw(new)

    def move(self, positions: dict) -> None:
        names = ", ".join(f"'{i}'" for i in positions)
        self.document.edit(f"Move {names}", lambda s: edit.move_layers(s, positions))

    def update_layer(self, layer_id: str, changes: dict) -> None:
        def make(spec: NetworkSpec) -> NetworkSpec:
            new = update_layer(spec, layer_id, **changes)
            if "weight_init" in changes:  # a new initialiser draws this layer's weights again
                new = new.replace_layer(layer_id, weight=None)
            return new

        self.document.edit(f"Change '{layer_id}': {_describe(changes)}", make)

    def toggle_term(self, layer_id: str, term: str, on: bool) -> None:
        label = features.parse_term(term).label
        self.document.edit(
            f"Switch {label} {'on' if on else 'off'} in '{layer_id}'", lambda s: toggle_term(s, layer_id, term, on)
        )

    def randomize(self, layer_id: str, seed: int) -> None:
        def make(spec: NetworkSpec) -> NetworkSpec:
            blank = spec.replace_layer(layer_id, weight=None, bias=None)
            drawn = initial_params(blank, seed)
            return spec.with_params({k: v for k, v in drawn.items() if k.startswith(f"{layer_id}.")})

        self.document.edit(f"Randomize '{layer_id}' (seed {seed})", make)

    def reset_layer(self, layer_id: str) -> None:
        origin = self.document.origin
        start = initial_params(origin)

        def make(spec: NetworkSpec) -> NetworkSpec:
            shapes = spec.param_shapes()
            return spec.with_params(
                {k: v for k, v in start.items() if k.startswith(f"{layer_id}.") and shapes.get(k) == v.shape}
            )

        self.document.edit(f"Reset '{layer_id}' weights", make)

    def set_output(self, layer_id: str) -> None:
        self.document.edit(f"Make '{layer_id}' the output", lambda s: edit.set_output(s, layer_id))

    def set_data(self, source: dict) -> None:
        self.document.use_data(source, source.get("builtin") or source.get("file") or "data")
