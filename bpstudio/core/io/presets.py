"""The shipped example networks (``bpstudio/presets/*.json``), found by name, and the network File ▸ New
starts from."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from bpstudio.core.errors import SpecError
from bpstudio.core.io import spec_io
from bpstudio.core.spec import NetworkSpec

PACKAGE = "bpstudio.presets"

# File ▸ New: the smallest network that trains on the XOR data (the input its two features, one sigmoid output
# for its two classes), to build on. The data is noise-free, so a small hidden layer can get every point right.
NEW_NETWORK = {
    "format": "bpstudio-network",
    "version": 1,
    "layers": [
        {"id": "x", "type": "input", "units": 2},
        {"id": "y", "type": "dense", "inputs": ["x"], "units": 1, "activation": "sigmoid"},
    ],
    "output": "y",
    "loss": "bce",
    "optimizer": {"name": "adam", "lr": 0.05},
    "seed": 0,
    "data": {"builtin": "xor", "n": 200, "noise": 0.0, "seed": 0, "test_fraction": 0.25},
}


def names() -> list[str]:
    """Preset names, e.g. ``["deep_relu_he", "deep_sigmoid", ..., "xor"]``."""
    return sorted(p.name[:-5] for p in resources.files(PACKAGE).iterdir() if p.name.endswith(".json"))


def title(name: str) -> str:
    """The example's title as people read it: its network's name up to the colon ("Mazur 2-2-2" for
    ``mazur``); the id stays the key that finds it. An example with no name is shown by its id."""
    return _full_name(name).split(":")[0].strip() or name


def description(name: str) -> str:
    """What the example's name says after the colon ("the step-by-step backpropagation example"), or ""."""
    return _full_name(name).partition(":")[2].strip()


def _full_name(name: str) -> str:
    with path(name).open(encoding="utf-8") as f:
        raw = json.load(f)
    full = raw.get("name") if isinstance(raw, dict) else None
    return full if isinstance(full, str) else ""


def path(name: str) -> Path:
    if name not in names():
        raise SpecError(f"no preset named '{name}' (presets: {', '.join(names())})")
    return Path(str(resources.files(PACKAGE) / f"{name}.json"))


def load(name: str) -> NetworkSpec:
    return spec_io.load(path(name))


def new_network() -> NetworkSpec:
    """The network File ▸ New starts from (:data:`NEW_NETWORK`): an input layer and an output layer."""
    return spec_io.from_dict(NEW_NETWORK)
