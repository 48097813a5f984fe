"""Small builders shared by the tests."""

from __future__ import annotations

import importlib
import importlib.util
import json
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from bpstudio.core.data import Dataset
from bpstudio.core.io import spec_io

HAS_TORCH = importlib.util.find_spec("torch") is not None
# a test (or a parameter) that needs PyTorch skips without it; the rest of its module still runs
needs_torch = pytest.mark.skipif(not HAS_TORCH, reason="needs PyTorch (pip install torch)")


def optional_torch() -> ModuleType | None:
    """The torch module where it is installed, else None: for modules whose torch tests are marked
    ``needs_torch`` (importing it here keeps each of those tests free of an import line)."""
    return importlib.import_module("torch") if HAS_TORCH else None


def with_torch(*values):
    """``values`` for ``parametrize``, the ones that name torch marked ``needs_torch``."""
    return [pytest.param(v, marks=needs_torch) if "torch" in str(v) else v for v in values]


MAZUR = {
    "format": "bpstudio-network",
    "version": 1,
    "layers": [
        {"id": "i", "type": "input", "units": 2},
        {
            "id": "h",
            "type": "dense",
            "inputs": ["i"],
            "units": 2,
            "activation": "sigmoid",
            "weight": [[0.15, 0.20], [0.25, 0.30]],
            "bias": [0.35, 0.35],
            "frozen": ["bias"],
        },
        {
            "id": "o",
            "type": "dense",
            "inputs": ["h"],
            "units": 2,
            "activation": "sigmoid",
            "weight": [[0.40, 0.45], [0.50, 0.55]],
            "bias": [0.60, 0.60],
            "frozen": ["bias"],
        },
    ],
    "output": "o",
    "loss": "sse_half",
    "optimizer": {"name": "sgd", "lr": 0.5},
}
MAZUR_DATA = Dataset(np.array([[0.05, 0.10]]), np.array([[0.01, 0.99]]), "mazur")


def network(layers, output, loss="mse", **extra):
    return spec_io.from_dict(
        {"format": "bpstudio-network", "version": 1, "layers": layers, "output": output, "loss": loss, **extra}
    )


def wide_net_file(folder, hidden=(300, 300)):
    """A network file in ``folder``: 2-D circles through tanh layers of ``hidden`` units to a sigmoid unit,
    Adam, batches of 32 (a net whose weight matrices are big; its path)."""
    layers = [{"id": "x", "type": "input", "units": 2}]
    for k, units in enumerate(hidden, start=1):
        layers.append({"id": f"h{k}", "type": "dense", "inputs": [layers[-1]["id"]], "units": units})
        layers[-1]["activation"] = "tanh"
    layers.append({"id": "y", "type": "dense", "inputs": [layers[-1]["id"]], "units": 1, "activation": "sigmoid"})
    raw = {
        "format": "bpstudio-network",
        "version": 1,
        "layers": layers,
        "output": "y",
        "loss": "bce",
        "optimizer": {"name": "adam", "lr": 0.001},
        "seed": 1,
        "batch_size": 32,
        "data": {"builtin": "circles", "n": 200},
    }
    path = Path(folder) / "wide.json"
    path.write_text(json.dumps(raw))
    return str(path)


def run_script(path, *argv):
    """Run an exported PyTorch script's ``main(argv)`` in this process (quietly, restoring torch's default
    dtype); its module namespace."""
    import contextlib
    import io
    import runpy

    import torch

    old = torch.get_default_dtype()
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            namespace = runpy.run_path(str(path), run_name="exported")
            namespace["main"]([str(a) for a in argv])
    finally:
        torch.set_default_dtype(old)
    return namespace
