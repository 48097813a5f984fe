"""Changing a layer's own fields (units, activation, bias, initialisers, frozen parameters; a dropout layer's p;
a norm layer's eps, momentum and affine), as a pure function on :class:`NetworkSpec` like the topology edits.

Each field is checked where every spec is (spec.py), so a bad value (eps ≤ 0, momentum outside [0, 1]) is refused
with one message naming the layer and the field; a field the layer's type does not have is refused saying which
fields it has.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from bpstudio.core.edit.topology import _a, _error, _rebuild, _require_layer
from bpstudio.core.errors import SpecError
from bpstudio.core.spec import Initializer, NetworkSpec

EDITABLE_FIELDS = (
    *("units", "activation", "use_bias", "weight_init", "bias_init", "frozen"),  # dense
    *("p", "eps", "momentum", "affine"),  # dropout, batchnorm and layernorm
)
# what update_layer may change, by layer type (add and concat: only their activation)
EDITABLE_BY_TYPE = {
    "dense": ("units", "activation", "use_bias", "weight_init", "bias_init", "frozen"),
    "input": ("units",),
    "features": (),
    "dropout": ("p",),
    "batchnorm": ("eps", "momentum", "affine", "activation", "frozen"),
    "layernorm": ("eps", "affine", "activation", "frozen"),
}


def update_layer(spec: NetworkSpec, layer_id: str, **changes: Any) -> NetworkSpec:
    """Change a layer's units, activation, use_bias, weight_init, bias_init or frozen set, a dropout layer's p, or
    a norm layer's eps, momentum (batchnorm), affine, activation or frozen set. Bad values are refused naming the
    layer and the field (spec.py's checks)."""
    action = f"cannot change layer '{layer_id}'"
    layer = _require_layer(spec, layer_id, action)
    allowed = EDITABLE_BY_TYPE.get(layer.type, ("activation",))
    for key in changes:
        if key not in EDITABLE_FIELDS:
            raise _error(
                f"{action}: '{key}' is not an editable field (editable: {', '.join(EDITABLE_FIELDS)})", layer_id, key
            )
        if key not in allowed:
            why = {
                "input": "the input layer only has units (its width)",
                "features": "a features layer computes its terms, with no activation, weights or bias (switch its "
                "terms on and off instead)",
                "dropout": "a dropout layer only has p (the probability of dropping a unit in training)",
                "batchnorm": "a batchnorm layer has eps, momentum, affine, an activation and frozen γ/β, and takes "
                "its width from its input",
                "layernorm": "a layernorm layer has eps, affine, an activation and frozen γ/β, and takes its width "
                "from its input (it keeps no running statistics, so no momentum)",
            }.get(layer.type, f"{_a(layer.type)} layer has no weights or bias and takes its width from its inputs")
            raise _error(f"{action}: {why}, so '{key}' does not apply", layer_id, key)
    fields = dict(changes)
    for key in ("weight_init", "bias_init"):
        if isinstance(fields.get(key), str):
            try:
                fields[key] = Initializer(fields[key])
            except SpecError as exc:
                raise _error(f"{action}: {exc}", layer_id, key) from None
        elif key in fields and not isinstance(fields[key], Initializer):
            raise _error(f"{action}: '{key}' must be an initialiser name, got {fields[key]!r}", layer_id, key)
    for key in ("use_bias", "affine"):
        if key in fields and not isinstance(fields[key], (bool, np.bool_)):
            raise _error(f"{action}: '{key}' must be true or false, got {fields[key]!r}", layer_id, key)
        if key in fields:
            fields[key] = bool(fields[key])
    if "frozen" in fields:
        frozen = fields["frozen"]
        try:
            fields["frozen"] = frozenset((frozen,) if isinstance(frozen, str) else frozen)
        except TypeError:
            raise _error(
                f"{action}: 'frozen' must list 'weight' and/or 'bias', got {frozen!r}", layer_id, "frozen"
            ) from None
    if not fields:
        return spec
    layers = (dataclasses.replace(l, **fields) if l.id == layer_id else l for l in spec.layers)
    return _rebuild(spec, layers, action)
