"""Builders shared by the spec tests."""

import copy

import numpy as np

from tests.helpers import MAZUR

DELETE = object()
X = {"id": "x", "type": "input", "units": 2}


def dense(layer_id, inputs, units, **extra):
    return {"id": layer_id, "type": "dense", "inputs": inputs, "units": units, **extra}


def mazur_with(path, value):
    """A copy of the Mazur file with the entry at ``path`` set to ``value`` (or deleted)."""
    raw = copy.deepcopy(MAZUR)
    target = raw
    for key in path[:-1]:
        target = target[key]
    if value is DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return raw


def bits(a):
    return np.ascontiguousarray(a, dtype=np.float64).view(np.uint64)


RESIDUAL = [  # listed backwards on purpose, with a dangling branch "side"
    dense("y", ["c"], 2, activation="sigmoid"),
    {"id": "c", "type": "concat", "inputs": ["r", "x"]},
    dense("side", ["x"], 5),
    {"id": "r", "type": "add", "inputs": ["h2", "h1"], "activation": "relu"},
    dense("h2", ["h1"], 3, use_bias=False),
    dense("h1", ["x"], 3),
    X,
]
