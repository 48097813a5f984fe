"""Where layers sit on the canvas when nobody placed them: a layered left-to-right layout, and a free spot.

Positions are scene coordinates of a block's centre (``LayerSpec.position``); they do not affect the computation.
"""

from __future__ import annotations

from typing import Any

from bpstudio.core.spec import NetworkSpec

COLUMN_GAP = 220.0  # horizontal distance between layout columns (scene units)
ROW_GAP = 120.0  # vertical distance between layers in one column


def tidy_layout(spec: NetworkSpec) -> dict[str, tuple[float, float]]:
    """A layered left-to-right layout (Sugiyama style): id → (x, y).

    A layer's column is the longest path to it from the input, so it sits right of all its inputs.
    An edge that skips columns holds a place in each column it crosses, so a straight skip edge
    does not run through the layers in between. Within a column places are ordered by the mean
    height of their inputs (fewer crossings; ties keep topological order), ``ROW_GAP`` apart and
    centred on y = 0.
    """
    column: dict[str, int] = {}
    for layer_id in spec.order:
        column[layer_id] = max((column[i] + 1 for i in spec.layer(layer_id).inputs), default=0)
    rank = {layer_id: k for k, layer_id in enumerate(spec.order)}
    # a place is a layer id or a waypoint (source, target, column) of an edge that skips columns
    preds: dict[Any, list[Any]] = {layer_id: [] for layer_id in spec.order}
    columns: list[list[Any]] = [[] for _ in range(max(column.values()) + 1)]
    for target in spec.order:
        columns[column[target]].append(target)
        for source in spec.layer(target).inputs:
            prev: Any = source
            for c in range(column[source] + 1, column[target]):
                preds[(source, target, c)] = [prev]
                columns[c].append((source, target, c))
                prev = (source, target, c)
            preds[target].append(prev)
    y: dict[Any, float] = {}

    def sort_key(place: Any) -> tuple[float, int, int, int]:
        ys = [y[p] for p in preds[place]]  # predecessors sit in earlier columns
        mean = sum(ys) / len(ys) if ys else 0.0
        if isinstance(place, str):
            return (mean, 0, rank[place], 0)
        return (mean, 1, rank[place[1]], rank[place[0]])

    placed: dict[str, tuple[float, float]] = {}
    for c, places in enumerate(columns):
        for row, place in enumerate(sorted(places, key=sort_key)):
            y[place] = (row - (len(places) - 1) / 2) * ROW_GAP
            if isinstance(place, str):
                placed[place] = (c * COLUMN_GAP, y[place])
    return {layer_id: placed[layer_id] for layer_id in spec.order}


def free_spot(spec: NetworkSpec, wanted: tuple[float, float]) -> tuple[float, float]:
    """``wanted``, moved down a row at a time until no layer sits within half a gap of it.

    Layers without a position count at their tidy-layout place, where the canvas shows them.
    """
    tidy = tidy_layout(spec)
    taken = [l.position or tidy[l.id] for l in spec.layers]
    x, y = wanted
    while any(abs(px - x) < COLUMN_GAP / 2 and abs(py - y) < ROW_GAP / 2 for px, py in taken):
        y += ROW_GAP
    return (x, y)
