"""The benchmark networks as bpstudio specs plus random data: tiny 2-8-8-1, mid 784-256-256-10, deep 20×32;
and the wide networks the window is measured on beside the examples (as network files naming their data)."""

from __future__ import annotations

import numpy as np

from bpstudio.core.data import Dataset
from bpstudio.core.io import spec_io
from bpstudio.core.spec import NetworkSpec

BATCH = 64


def _dense_chain(widths: list[int], hidden: str, head: str, loss: str, seed: int) -> NetworkSpec:
    layers = [{"id": "x", "type": "input", "units": widths[0]}]
    prev = "x"
    for k, units in enumerate(widths[1:], start=1):
        lid = f"l{k}" if k < len(widths) - 1 else "out"
        layers.append(
            {
                "id": lid,
                "type": "dense",
                "inputs": [prev],
                "units": units,
                "activation": hidden if lid != "out" else head,
            }
        )
        prev = lid
    return spec_io.from_dict(
        {
            "format": "bpstudio-network",
            "version": 1,
            "layers": layers,
            "output": "out",
            "loss": loss,
            "optimizer": {"name": "sgd", "lr": 0.01},
            "seed": seed,
        }
    )


def benchmark_nets() -> dict[str, tuple[NetworkSpec, Dataset]]:
    rng = np.random.default_rng(0)
    tiny = _dense_chain([2, 8, 8, 1], "tanh", "sigmoid", "bce", 1)
    tiny_data = Dataset(rng.normal(size=(BATCH, 2)), rng.integers(0, 2, size=BATCH), "tiny")
    mid = _dense_chain([784, 256, 256, 10], "relu", "identity", "cross_entropy", 2)
    mid_data = Dataset(rng.normal(size=(BATCH, 784)), rng.integers(0, 10, size=BATCH), "mid")
    deep = _dense_chain([32] * 21, "sigmoid", "identity", "mse", 3)
    deep_data = Dataset(rng.normal(size=(BATCH, 32)), rng.normal(size=(BATCH, 32)), "deep")
    normed = _with_batchnorm(_dense_chain([64, 256, 256, 10], "relu", "identity", "cross_entropy", 5))
    normed_data = Dataset(rng.normal(size=(BATCH, 64)), rng.integers(0, 10, size=BATCH), "batchnorm")
    return {
        "tiny 2-8-8-1": (tiny, tiny_data),
        "mid 784-256-256-10": (mid, mid_data),
        "deep 20x32": (deep, deep_data),
        "batchnorm 64-256-256-10": (normed, normed_data),
    }


def _with_batchnorm(spec: NetworkSpec) -> NetworkSpec:
    """``spec`` with a batchnorm layer between every hidden dense layer and its activation (Linear → BN → act)."""
    raw = spec_io.to_dict(spec)
    layers, renamed = [], {}
    for layer in raw["layers"]:
        layer = {**layer, "inputs": [renamed.get(i, i) for i in layer.get("inputs", [])]}
        if layer["type"] == "input":
            del layer["inputs"]
        layers.append(layer)
        if layer["type"] == "dense" and layer["id"] != raw["output"]:
            norm = {"id": f"bn_{layer['id']}", "type": "batchnorm", "inputs": [layer["id"]]}
            norm["activation"], layer["activation"] = layer["activation"], "identity"
            layers.append(norm)
            renamed[layer["id"]] = norm["id"]
    return spec_io.from_dict({**raw, "version": 2, "layers": layers})


def window_nets() -> dict[str, dict]:
    """Networks a teacher builds by widening the examples, as network-file dicts with their data: a
    2-1000-1000-1 net on the circles (2-D: surface and neuron maps drawn) and 64-256-256-10 on 64-feature
    blobs of 10 classes (no plane to draw). Adam, batches of 32, like the lesson examples."""

    def net(widths: list[int], hidden: str, head: str, loss: str, data: dict) -> dict:
        spec = spec_io.to_dict(_dense_chain(widths, hidden, head, loss, 4))
        spec["optimizer"] = {"name": "adam", "lr": 0.001}
        spec["batch_size"] = 32
        spec["data"] = data
        return spec

    return {
        "2-1000-1000-1": net([2, 1000, 1000, 1], "tanh", "sigmoid", "bce", {"builtin": "circles", "n": 400}),
        "64-256-256-10": net(
            [64, 256, 256, 10],
            "relu",
            "identity",
            "cross_entropy",
            {"builtin": "blobs", "classes": 10, "features": 64, "n": 1000},
        ),
    }
