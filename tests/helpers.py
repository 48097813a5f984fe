"""Small builders shared by the tests."""

from __future__ import annotations

import numpy as np

from bpstudio.core import spec_io
from bpstudio.core.data import Dataset

MAZUR = {
    "format": "bpstudio-network", "version": 1,
    "layers": [
        {"id": "i", "type": "input", "units": 2},
        {"id": "h", "type": "dense", "inputs": ["i"], "units": 2, "activation": "sigmoid",
         "weight": [[0.15, 0.20], [0.25, 0.30]], "bias": [0.35, 0.35], "frozen": ["bias"]},
        {"id": "o", "type": "dense", "inputs": ["h"], "units": 2, "activation": "sigmoid",
         "weight": [[0.40, 0.45], [0.50, 0.55]], "bias": [0.60, 0.60], "frozen": ["bias"]},
    ],
    "output": "o", "loss": "sse_half", "optimizer": {"name": "sgd", "lr": 0.5},
}
MAZUR_DATA = Dataset(np.array([[0.05, 0.10]]), np.array([[0.01, 0.99]]), "mazur")


def network(layers, output, loss="mse", **extra):
    return spec_io.from_dict({"format": "bpstudio-network", "version": 1, "layers": layers,
                              "output": output, "loss": loss, **extra})


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
