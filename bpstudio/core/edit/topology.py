"""Topology edits the canvas and inspector carry out, as pure functions on :class:`NetworkSpec`.

Each edit takes a spec and returns a new, validated spec (specs are immutable, so the GUI can keep
the old one for undo), or raises :class:`~bpstudio.core.errors.SpecError` saying in a user's words
why the edit cannot be done and which layers are involved. Weight and bias values written in the
spec survive an edit when their shape still fits; values whose shape changed (a layer's units, a
concat's width, a new source of another width) are dropped to ``None`` so they get initialised.
:func:`bpstudio.core.edit.carry.carry_params` does the same for a running session's parameter mapping.
A layer's own fields (units, activation, p, eps…) are changed by :mod:`bpstudio.core.edit.layer_fields`.
Where new layers go when nobody placed them is :mod:`bpstudio.core.edit.layout`'s; every edit that adds, removes
or reconnects layers writes down the colours they are shown with first (:mod:`bpstudio.core.edit.colors`).
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from typing import Any

from bpstudio.core.edit.colors import free_slot, pin_colors
from bpstudio.core.edit.layout import COLUMN_GAP, free_spot, tidy_layout
from bpstudio.core.errors import SpecError
from bpstudio.core.spec import Initializer, LayerSpec, NetworkSpec, number_array
from bpstudio.core.spec_rules import LAYER_TYPES, VALUE_FIELDS

DEFAULT_UNITS = 4
RELU_FAMILY = ("relu", "leaky_relu", "elu", "gelu", "silu", "mish")
ID_PREFIXES = {
    "input": "x",
    "dense": "h",
    "add": "add",
    "concat": "cat",
    "features": "feat",
    "dropout": "drop",
    "batchnorm": "bn",
    "layernorm": "ln",
}
SINGLE_INPUT = ("dense", "features", "dropout", "batchnorm", "layernorm")  # a new source replaces the input
_ID_PATTERN = re.compile(r"[\w-]+")


# --- helpers ------------------------------------------------------------------------------------


def _error(message: str, layer: str | None = None, field: str | None = None) -> SpecError:
    """A SpecError whose message reads as a sentence but still names the layer for the GUI to select."""
    exc = SpecError(message)
    exc.layer, exc.field = layer, field
    return exc


def _a(layer_type: str) -> str:
    return f"{'an' if layer_type[0] in 'aeiou' else 'a'} {layer_type}"


def _require_layer(spec: NetworkSpec, layer_id: Any, action: str) -> LayerSpec:
    found = next((layer for layer in spec.layers if layer.id == layer_id), None)
    if found is not None:
        return found
    raise _error(f"{action}: there is no layer '{layer_id}'", None, "id")


def _rebuild(spec: NetworkSpec, layers: Iterable[LayerSpec], action: str, output: str | None = None) -> NetworkSpec:
    """A validated spec with ``layers``, keeping each weight/bias (and batchnorm running statistic) only where
    its shape still fits."""
    layers = tuple(layers)
    blank: dict[str, Any] = dict.fromkeys(VALUE_FIELDS)
    bare = tuple(
        dataclasses.replace(l, **blank) if any(getattr(l, name) is not None for name in VALUE_FIELDS) else l
        for l in layers
    )
    try:
        candidate = dataclasses.replace(spec, layers=bare, output=spec.output if output is None else output)
    except SpecError as exc:  # spec.py's reason, prefixed with the edit that caused it
        raise _error(f"{action}: {exc}", exc.layer, exc.field) from None
    shapes = {**candidate.param_shapes(), **candidate.state_shapes()}
    kept: list[LayerSpec] = []
    for original, stripped in zip(layers, bare):
        values = {name: getattr(original, name) for name in VALUE_FIELDS}
        fits = {
            name: v for name, v in values.items() if v is not None and shapes.get(f"{original.id}.{name}") == v.shape
        }
        kept.append(dataclasses.replace(stripped, **fits) if fits else stripped)
    return dataclasses.replace(candidate, layers=tuple(kept))


def _path(spec: NetworkSpec, start: str, goal: str) -> list[str] | None:
    """The shortest data-flow path ``start`` → … → ``goal`` (breadth first), or None."""
    came_from: dict[str, str | None] = {start: None}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if node == goal:
            path = [node]
            while (prev := came_from[path[-1]]) is not None:
                path.append(prev)
            return path[::-1]
        for consumer in (l.id for l in spec.layers if node in l.inputs and l.id not in came_from):
            came_from[consumer] = node
            queue.append(consumer)
    return None


def _check_new_id(spec: NetworkSpec, new: Any, action: str, ignore: str | None = None) -> str:
    if not isinstance(new, str) or not new:
        raise _error(f"{action}: a layer id must be non-empty text", ignore, "id")
    if not _ID_PATTERN.fullmatch(new):
        raise _error(f"{action}: '{new}' is not a valid layer id; use letters, digits, '_' and '-' only", ignore, "id")
    if any(layer.id == new for layer in spec.layers if layer.id != ignore):
        raise _error(f"{action}: there is already a layer called '{new}'", new, "id")
    return new


def _hidden_activation(spec: NetworkSpec) -> str:
    """The most common activation among dense layers other than the output (relu when none or tied)."""
    counts = Counter(spec.layer(i).activation for i in spec.order if spec.layer(i).type == "dense" and i != spec.output)
    best = max(counts.values(), default=0)
    if not counts or counts.get("relu") == best:
        return "relu"
    return next(name for name, n in counts.items() if n == best)  # ties: first in topological order


def _as_position(value: Any, layer_id: str, action: str) -> tuple[float, float]:
    try:
        x, y = number_array(list(value), layer_id, "position", 1)
    except (TypeError, ValueError):  # SpecError is a ValueError; unpacking a wrong length is one too
        raise _error(
            f"{action}: a position is two finite numbers (x, y), got {value!r}", layer_id, "position"
        ) from None
    return (float(x), float(y))


# --- adding, connecting, removing ---------------------------------------------------------------


def new_layer_id(spec: NetworkSpec, layer_type: str) -> str:
    """A fresh id for a layer of ``layer_type``: ``h1``, ``h2``, … for dense, ``add1``, ``cat1``, …"""
    if layer_type not in ID_PREFIXES:
        raise _error(f"unknown layer type '{layer_type}' (known: {', '.join(LAYER_TYPES)})", None, "type")
    prefix = ID_PREFIXES[layer_type]
    ids = {layer.id for layer in spec.layers}
    numbers = [int(i[len(prefix) :]) for i in ids if i.startswith(prefix) and i[len(prefix) :].isdigit()]
    n = max(numbers, default=0) + 1
    while f"{prefix}{n}" in ids:  # e.g. "h01" counts as 1 but "h1" might also exist
        n += 1
    return f"{prefix}{n}"


def add_layer(
    spec: NetworkSpec,
    layer_type: str,
    *,
    source: str | None = None,
    before: str | None = None,
    units: int | None = None,
    position: tuple[float, float] | None = None,
    layer_id: str | None = None,
) -> tuple[NetworkSpec, str]:
    """A new dense/add/concat/features/dropout/batchnorm/layernorm layer fed by ``source`` (default: the output
    layer); the output stays as is.

    With ``before`` (a layer ``source`` feeds), the new layer goes in between: ``before`` takes it as input in
    place of ``source``. Dense layers get ``units`` (default 4; before an add layer, ``source``'s width, which
    the add needs), the network's most common hidden activation (relu when there is none) and a matching
    initialiser (he_normal for the relu family, else xavier_uniform). A features layer starts with the terms x1,
    x2, … (one per column of ``source``: it changes nothing until terms are switched on); a dropout layer p = 0.5;
    a batchnorm or layernorm layer torch's defaults (eps 1e-5, momentum 0.1, γ and β) and no activation. The
    default position is one column right of the source, moved down if another layer is there. The new layer takes
    the lowest free colour.
    """
    if layer_type == "input":
        raise _error(
            f"cannot add an input layer: a network has exactly one ('{spec.input_id}'); set its width (the "
            "number of features) in its inspector, and add dense, add or concat layers after it",
            None,
            "type",
        )
    if layer_type not in LAYER_TYPES:
        raise _error(
            f"cannot add a layer of unknown type '{layer_type}' (known: {', '.join(LAYER_TYPES[1:])})",
            None,
            "type",
        )
    source = spec.output if source is None else source
    _require_layer(spec, source, f"cannot add {_a(layer_type)} layer after '{source}'")
    new_id = new_layer_id(spec, layer_type) if layer_id is None else layer_id
    action = f"cannot add {_a(layer_type)} layer '{new_id}'"
    _check_new_id(spec, new_id, action)
    if before is not None and source not in _require_layer(spec, before, action).inputs:
        raise _error(f"{action} between '{source}' and '{before}': '{source}' does not feed '{before}'", before)
    spec = pin_colors(spec)
    fields: dict[str, Any] = {"id": new_id, "type": layer_type, "inputs": (source,), "color": free_slot(spec)}
    if layer_type == "dense":
        activation = _hidden_activation(spec)
        init = "he_normal" if activation in RELU_FAMILY else "xavier_uniform"
        if units is None:
            units = spec.widths[source] if before is not None and spec.layer(before).type == "add" else DEFAULT_UNITS
        fields.update(units=units, activation=activation, weight_init=Initializer(init))
    elif layer_type == "features" and units is None:
        fields["terms"] = tuple(f"x{i}" for i in range(1, spec.widths[source] + 1))
    if layer_type != "dense" and units is not None:
        raise _error(
            f"{action}: {_a(layer_type)} layer's width comes from its inputs, so it takes no units", new_id, "units"
        )
    if position is None:
        anchor = spec.layer(source).position or tidy_layout(spec)[source]
        fields["position"] = free_spot(spec, (anchor[0] + COLUMN_GAP, anchor[1]))
    else:
        fields["position"] = _as_position(position, new_id, action)
    layers = tuple(
        dataclasses.replace(l, inputs=tuple(new_id if i == source else i for i in l.inputs)) if l.id == before else l
        for l in spec.layers
    )
    new_spec = _rebuild(spec, layers + (LayerSpec(**fields),), action)
    return new_spec, new_id


def downstream(spec: NetworkSpec, layer_id: str) -> tuple[str, ...]:
    """``layer_id`` and every layer it feeds, directly or through others, in topological order."""
    reached = {layer_id}
    for other in spec.order:
        if reached & set(spec.layer(other).inputs):
            reached.add(other)
    return tuple(i for i in spec.order if i in reached)


def palette_attachment(spec: NetworkSpec, selected: str | None) -> tuple[str, str | None]:
    """Where a layer added from the palette goes, as ``(source, before)`` for :func:`add_layer`.

    After the selected layer, and in between it and the layer it feeds when it feeds exactly one. With nothing
    selected (or the output), before the output: after the last hidden layer, so the network goes on computing
    its output, now through the new layer.
    """
    if selected is not None and selected in spec.widths and selected != spec.output:
        consumers = [layer.id for layer in spec.layers if selected in layer.inputs]
        return selected, consumers[0] if len(consumers) == 1 else None
    output = spec.layer(spec.output)
    if len(output.inputs) == 1:
        return output.inputs[0], spec.output
    return next(i for i in reversed(spec.order) if i != spec.output), None  # (several inputs join at the output)


def connect(spec: NetworkSpec, source: str, target: str) -> NetworkSpec:
    """Feed ``source`` into ``target``: the single input of a dense, features, dropout or norm target is replaced,
    add/concat gain one."""
    spec = pin_colors(spec)  # (the colours shown now stay: see core/edit/colors.py)
    action = f"cannot connect '{source}' → '{target}'"
    _require_layer(spec, source, action)
    tgt = _require_layer(spec, target, action)
    if tgt.type == "input":
        raise _error(f"{action}: '{target}' is the input layer and takes no inputs", target, "inputs")
    if source == target:
        raise _error(f"{action}: a layer cannot take itself as input", target, "inputs")
    if source in tgt.inputs:
        raise _error(f"{action}: '{source}' already feeds '{target}'", target, "inputs")
    loop = _path(spec, target, source)
    if loop is not None:
        cycle = " → ".join(loop + [target])
        raise _error(f"{action}: that would make a cycle {cycle}", target, "inputs")
    if tgt.type == "add":
        width = spec.widths[target]
        if spec.widths[source] != width:
            have = ", ".join(f"'{i}'" for i in tgt.inputs)
            raise _error(
                f"{action}: an add layer needs inputs of equal width; '{target}' adds width {width} "
                f"({have}) but '{source}' has width {spec.widths[source]}",
                target,
                "inputs",
            )
    inputs = (source,) if tgt.type in SINGLE_INPUT else tgt.inputs + (source,)
    layers = (dataclasses.replace(l, inputs=inputs) if l.id == target else l for l in spec.layers)
    return _rebuild(spec, layers, action)


def replaced_input(spec: NetworkSpec, source: str, target: str) -> str | None:
    """The input that connecting ``source`` → ``target`` takes the place of (a single-input target's), or None."""
    layer = spec.layer(target) if target in spec.widths else None
    if layer is None or layer.type not in SINGLE_INPUT or not layer.inputs or source in layer.inputs:
        return None
    return layer.inputs[0]


def connect_note(before: NetworkSpec, after: NetworkSpec, source: str, target: str) -> str | None:
    """What a connection cut off, for the person who made it: when it replaced the target's one input and layers
    no longer reach the output (they stay, but are not run). None when nothing was cut off: a replaced input
    alone is how a network is built (x → y, a new h fed by x, then h → y)."""
    replaced = replaced_input(before, source, target)
    cut = [i for i in before.active_order() if i not in set(after.active_order())]
    if replaced is None or not cut:
        return None
    names = ", ".join(f"'{i}'" for i in cut)
    reaches, is_ = ("reaches", "is") if len(cut) == 1 else ("reach", "are")
    return (
        f"'{target}' takes one input: '{source}' replaces '{replaced}'; {names} no longer {reaches} the output and "
        f"{is_} not run. Undo brings the link back; to join two paths, connect both into an Add or Concat layer"
    )


def disconnect(spec: NetworkSpec, source: str, target: str) -> NetworkSpec:
    """Remove the edge ``source`` → ``target``; refused when ``target`` would be left without input."""
    spec = pin_colors(spec)  # (the colours shown now stay: see core/edit/colors.py)
    action = f"cannot disconnect '{source}' → '{target}'"
    _require_layer(spec, source, action)
    tgt = _require_layer(spec, target, action)
    if source not in tgt.inputs:
        raise _error(f"{action}: '{source}' does not feed '{target}'", target, "inputs")
    if len(tgt.inputs) == 1:
        raise _error(
            f"{action}: '{target}' would have no input left; connect another source to '{target}' first",
            target,
            "inputs",
        )
    inputs = tuple(i for i in tgt.inputs if i != source)
    layers = (dataclasses.replace(l, inputs=inputs) if l.id == target else l for l in spec.layers)
    return _rebuild(spec, layers, action)


def remove_layers(spec: NetworkSpec, layer_ids: Iterable[str]) -> NetworkSpec:
    """Remove layers and every edge touching them; refused when a remaining layer would lose all inputs."""
    doomed = list(dict.fromkeys([layer_ids] if isinstance(layer_ids, str) else layer_ids))
    names = ", ".join(f"'{i}'" for i in doomed)
    action = f"cannot remove {names}"
    for layer_id in doomed:
        layer = _require_layer(spec, layer_id, action)
        if layer.type == "input":
            raise _error(f"{action}: '{layer_id}' is the network's input layer", layer_id)
        if layer_id == spec.output:
            raise _error(f"{action}: '{layer_id}' is the output layer; make another layer the output first", layer_id)
    if not doomed:
        return spec
    spec = pin_colors(spec)  # (the colours shown now stay: see core/edit/colors.py)
    gone = set(doomed)
    orphans = [l.id for l in spec.layers if l.id not in gone and l.inputs and set(l.inputs) <= gone]
    if orphans:
        who = " and ".join(", ".join(f"'{i}'" for i in orphans).rsplit(", ", 1))
        verb = "would lose its only input" if len(orphans) == 1 else "would lose all their inputs"
        raise _error(
            f"{action}: {who} {verb}; connect another source first, or remove "
            f"{'it' if len(orphans) == 1 else 'them'} too",
            orphans[0],
            "inputs",
        )
    layers = (
        dataclasses.replace(l, inputs=tuple(i for i in l.inputs if i not in gone)) if gone & set(l.inputs) else l
        for l in spec.layers
        if l.id not in gone
    )
    return _rebuild(spec, layers, action)


# --- renaming and changing fields ---------------------------------------------------------------


def rename_layer(spec: NetworkSpec, old: str, new: str) -> NetworkSpec:
    """Rename a layer and every reference to it (other layers' inputs, the output)."""
    action = f"cannot rename '{old}' to '{new}'"
    _require_layer(spec, old, action)
    if new == old:
        return spec
    _check_new_id(spec, new, action, ignore=old)

    def renamed(i: str) -> str:
        return new if i == old else i

    layers = (dataclasses.replace(l, id=renamed(l.id), inputs=tuple(map(renamed, l.inputs))) for l in spec.layers)
    return _rebuild(spec, layers, action, output=new if spec.output == old else spec.output)


def set_output(spec: NetworkSpec, layer_id: str) -> NetworkSpec:
    """Make ``layer_id`` the network's output (the loss must suit it)."""
    action = f"cannot make '{layer_id}' the output"
    layer = _require_layer(spec, layer_id, action)
    if layer.type == "input":
        raise _error(f"{action}: it is the input layer; the output must be a computed layer", layer_id, "output")
    return _rebuild(spec, spec.layers, action, output=layer_id)


# --- layout -------------------------------------------------------------------------------------


def move_layers(spec: NetworkSpec, positions: Mapping[str, tuple[float, float]]) -> NetworkSpec:
    """Set the canvas positions of some layers."""
    moved = {}
    for layer_id, position in positions.items():
        _require_layer(spec, layer_id, f"cannot move '{layer_id}'")
        moved[layer_id] = _as_position(position, layer_id, f"cannot move '{layer_id}'")
    if not moved:
        return spec
    layers = tuple(dataclasses.replace(l, position=moved[l.id]) if l.id in moved else l for l in spec.layers)
    return dataclasses.replace(spec, layers=layers)


def apply_tidy_layout(spec: NetworkSpec) -> NetworkSpec:
    """The spec with every layer moved to its :func:`tidy_layout` position."""
    return move_layers(spec, tidy_layout(spec))
