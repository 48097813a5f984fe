"""What survives an edit of the network: parameter values, and across a rename the names that key the
optimizer state and the plot history.

:func:`carry_params` keeps a running session's values whose key and shape still fit. :func:`renamed_layers`
recognises an edit that only renamed layers (:func:`~bpstudio.core.edit.topology.rename_layer`, or undoing one),
so the app can carry Adam's moments and a run's gradient curves over to the new names with
:func:`rename_keys` and :meth:`~bpstudio.core.record.history.TrainingHistory.rename_layers`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

import numpy as np

from bpstudio.core.init import initial_params
from bpstudio.core.spec import LayerSpec, NetworkSpec

V = TypeVar("V")


def carry_params(
    old_params: Mapping[str, np.ndarray], new_spec: NetworkSpec, seed: int | None = None
) -> dict[str, np.ndarray]:
    """Parameter values for ``new_spec``: old values whose key and shape still fit, the rest initialised.

    New or reshaped parameters get :func:`~bpstudio.core.init.initial_params` values; each parameter
    draws from its own seeded stream, so the result is the same whatever else changed.
    """
    fresh = initial_params(new_spec, seed)
    return {
        key: np.array(old_params[key], dtype=np.float64)
        if key in old_params and np.shape(old_params[key]) == shape
        else fresh[key]
        for key, shape in new_spec.param_shapes().items()
    }


def _settings(layer: LayerSpec) -> tuple[object, ...]:
    """A layer's fields that shape what it computes, apart from its id, inputs and values."""
    return (
        layer.units,
        layer.activation,
        layer.use_bias,
        layer.terms,
        layer.p,
        layer.eps,
        layer.momentum,
        layer.affine,
    )


def same_structure(a: NetworkSpec, b: NetworkSpec) -> bool:
    """Whether a session compiled for ``a`` can go on with ``b`` in place: only weights, positions,
    initialisers or optimizer settings differ (anything else needs a new session: a dropout layer's p or a norm
    layer's eps, momentum and affine are compiled into its kernels)."""

    def structure(spec: NetworkSpec) -> tuple[object, ...]:
        return (
            spec.output,
            spec.loss,
            tuple((l.id, l.type, l.inputs, *_settings(l), tuple(sorted(l.frozen))) for l in spec.layers),
        )

    return structure(a) == structure(b)


def renamed_layers(old: NetworkSpec, new: NetworkSpec) -> dict[str, str]:
    """``{old id: new id}`` for the layers ``new`` renamed, when renaming is all that tells the two
    networks' structure apart (same layers in the same order, types, widths, activations, wiring,
    output and loss); else, and when nothing was renamed, ``{}``."""
    if len(old.layers) != len(new.layers) or old.loss != new.loss:
        return {}
    names = {a.id: b.id for a, b in zip(old.layers, new.layers)}
    if len(set(names.values())) != len(names) or names[old.output] != new.output:
        return {}
    for a, b in zip(old.layers, new.layers):
        if (a.type, *_settings(a), a.frozen) != (b.type, *_settings(b), b.frozen) or tuple(
            names[i] for i in a.inputs
        ) != b.inputs:
            return {}
    return {a: b for a, b in names.items() if a != b}


def rename_keys(values: Mapping[str, V], renames: Mapping[str, str]) -> dict[str, V]:
    """A mapping keyed by parameter (``"layer.weight"``) with the renamed layers' keys renamed."""
    out: dict[str, V] = {}
    for key, value in values.items():
        layer_id, dot, name = key.rpartition(".")
        out[f"{renames[layer_id]}{dot}{name}" if layer_id in renames else key] = value
    return out
