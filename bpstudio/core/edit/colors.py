"""Each layer keeps its colour for its life: a slot of the app's palette, stored on the layer (``LayerSpec.color``).

The canvas and the plots colour a layer by its slot, so adding or deleting layers, undoing, redoing, saving and
opening again never recolour another layer (colours taken by position in the network shifted on every add and
delete, and the gradient plot's curves changed colour with them). A layer without a stored slot (an example, a
file written by hand or by an older bpstudio) takes the lowest slot no layer holds, in topological order, which is
what it was shown with before; an edit that adds, removes or reconnects layers writes those slots down first
(:func:`pin_colors`), so nothing shifts afterwards. The input layer takes no slot (the app draws it grey).
"""

from __future__ import annotations

import dataclasses
from itertools import count

from bpstudio.core.spec import NetworkSpec


def color_slots(spec: NetworkSpec) -> dict[str, int]:
    """Every computed layer's palette slot: its own, else the lowest free one (in topological order)."""
    taken = {layer.color for layer in spec.layers if layer.color is not None}
    free = (slot for slot in count() if slot not in taken)
    slots: dict[str, int] = {}
    for layer_id in spec.order:
        layer = spec.layer(layer_id)
        if layer.type != "input":
            slots[layer_id] = layer.color if layer.color is not None else next(free)
    return slots


def free_slot(spec: NetworkSpec) -> int:
    """The lowest slot no layer of ``spec`` is coloured with (for a new layer)."""
    used = set(color_slots(spec).values())
    return next(slot for slot in count() if slot not in used)


def pin_colors(spec: NetworkSpec) -> NetworkSpec:
    """``spec`` with every computed layer's slot written down (the colours it is shown with stay as they are)."""
    slots = color_slots(spec)
    if all(layer.color is not None for layer in spec.layers if layer.id in slots):
        return spec
    layers = tuple(
        dataclasses.replace(layer, color=slots[layer.id]) if layer.id in slots and layer.color is None else layer
        for layer in spec.layers
    )
    return dataclasses.replace(spec, layers=layers)
