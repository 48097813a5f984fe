"""Switching a features layer's terms on and off, as pure edits on a :class:`NetworkSpec`.

A features layer's width is its number of terms, so a term switched on or off reshapes the weight matrix of every
dense layer it feeds. What a person trained is kept: the columns of the terms that stay keep their values, and a
new term's column is the one the layer's initialiser draws for it (:func:`bpstudio.core.init.initial_params`).
Anything else whose shape changed (a concat's consumers) is initialised again, as every width edit does
(:mod:`bpstudio.core.edit.topology`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from bpstudio.core import features
from bpstudio.core.edit.topology import _error, _rebuild, _require_layer
from bpstudio.core.init import initial_params
from bpstudio.core.spec import LayerSpec, NetworkSpec


def set_terms(spec: NetworkSpec, layer_id: str, terms: Sequence[str]) -> NetworkSpec:
    """``layer_id``'s terms replaced by ``terms``; the dense layers it feeds keep their columns for the terms
    that stay, and draw one for each new term."""
    action = f"cannot change the terms of '{layer_id}'"
    layer = _require_layer(spec, layer_id, action)
    if layer.type != "features":
        raise _error(f"{action}: it is {'an' if layer.type[0] in 'aeiou' else 'a'} {layer.type} layer", layer_id)
    new_terms = tuple(terms)
    if not new_terms:
        raise _error(f"{action}: a features layer needs at least one term", layer_id, "terms")
    try:
        features.parse_terms(new_terms, spec.widths[layer.inputs[0]], layer.inputs[0])
    except features.TermError as exc:
        raise _error(f"{action}: {exc}", layer_id, "terms") from None
    if new_terms == layer.terms:
        return spec
    old_at = {t: k for k, t in enumerate(layer.terms)}
    source = [old_at.get(t) for t in new_terms]  # the old column each new one comes from (None: a new term)
    changed = [dataclasses.replace(l, terms=new_terms) if l.id == layer_id else l for l in spec.layers]
    consumers = [l.id for l in spec.layers if l.type == "dense" and l.inputs == (layer_id,) and l.weight is not None]
    if consumers:
        bare = dataclasses.replace(
            spec, layers=tuple(dataclasses.replace(l, weight=None) if l.id in consumers else l for l in changed)
        )
        drawn = initial_params(bare)
        changed = [_carried(l, source, drawn[f"{l.id}.weight"]) if l.id in consumers else l for l in changed]
    return _rebuild(spec, changed, action)


def toggle_term(spec: NetworkSpec, layer_id: str, term: str, on: bool) -> NetworkSpec:
    """``term`` switched on or off in ``layer_id`` (see :func:`bpstudio.core.features.with_term` for where a
    term switched on goes); switching off the last term is refused."""
    layer = _require_layer(spec, layer_id, f"cannot switch '{term}' {'on' if on else 'off'}")
    if not on and layer.terms == (term,):
        raise _error(
            f"cannot switch '{term}' off: it is the last term of '{layer_id}', and a features layer needs one",
            layer_id,
            "terms",
        )
    width = spec.widths[layer.inputs[0]] if layer.inputs else 0
    return set_terms(spec, layer_id, features.with_term(layer.terms, term, on, width))


def _carried(layer: LayerSpec, source: Sequence[int | None], drawn: np.ndarray) -> LayerSpec:
    assert layer.weight is not None
    weight = np.stack([layer.weight[:, k] if k is not None else drawn[:, c] for c, k in enumerate(source)], axis=1)
    return dataclasses.replace(layer, weight=weight)
