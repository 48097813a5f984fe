"""The shipped example networks (``bpstudio/presets/*.json``), found by name."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from bpstudio.core.errors import SpecError
from bpstudio.core.io import spec_io
from bpstudio.core.spec import NetworkSpec

PACKAGE = "bpstudio.presets"


def names() -> list[str]:
    """Preset names, e.g. ``["deep_relu_he", "deep_sigmoid", ..., "xor"]``."""
    return sorted(p.name[:-5] for p in resources.files(PACKAGE).iterdir() if p.name.endswith(".json"))


def path(name: str) -> Path:
    if name not in names():
        raise SpecError(f"no preset named '{name}' (presets: {', '.join(names())})")
    return Path(str(resources.files(PACKAGE) / f"{name}.json"))


def load(name: str) -> NetworkSpec:
    return spec_io.load(path(name))
