"""Backends looked up by name. Torch is imported only when the torch backend is chosen."""

from __future__ import annotations

import ctypes.util
import importlib
import importlib.util
import re
from pathlib import Path

from bpstudio.core.backends.base import DTYPES, Backend, Kernel
from bpstudio.core.errors import BackendError

BACKENDS = {
    "numpy": "bpstudio.core.backends.numpy_backend:NumpyBackend",
    "torch": "bpstudio.core.backends.torch_backend:TorchBackend",
}
DEVICES = ("cpu", "cuda")

__all__ = ["BACKENDS", "DEVICES", "DTYPES", "Backend", "Kernel", "get_backend", "available"]


def get_backend(name: str = "numpy", device: str = "cpu", dtype: str = "float64") -> Backend:
    """The backend ``name`` on ``device`` computing in ``dtype``; a clear BackendError if unavailable."""
    if name not in BACKENDS:
        raise BackendError(f"unknown backend '{name}' (known: {', '.join(BACKENDS)})")
    if device not in DEVICES:
        raise BackendError(f"unknown device '{device}' (known: {', '.join(DEVICES)})")
    if dtype not in DTYPES:
        raise BackendError(f"unknown dtype '{dtype}' (known: {', '.join(DTYPES)})")
    if name == "torch" and importlib.util.find_spec("torch") is None:
        raise BackendError("the torch backend needs PyTorch, which is not installed (pip install 'bpstudio[torch]')")
    module_name, class_name = BACKENDS[name].split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    backend: Backend = cls(device=device, dtype=dtype)
    return backend


def available() -> dict[str, str | None]:
    """Each backend/device pair mapped to None when usable, else the reason it is not (for menus).

    Answered without importing torch (which takes seconds): the installed build's ``torch/version.py``
    says whether it was built with CUDA, and the NVIDIA driver's files say whether a GPU is present.
    Choosing the backend still checks for real and raises a clear BackendError if this guessed wrong.
    """
    reasons: dict[str, str | None] = {"numpy/cpu": None}
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        reasons["torch/cpu"] = reasons["torch/cuda"] = "PyTorch is not installed (pip install 'bpstudio[torch]')"
        return reasons
    reasons["torch/cpu"] = None
    reasons["torch/cuda"] = _cuda_reason(Path(list(spec.submodule_search_locations)[0]))
    return reasons


def _cuda_reason(torch_dir: Path) -> str | None:
    try:
        version = (torch_dir / "version.py").read_text(encoding="utf-8")
    except OSError:
        version = ""
    built = re.search(r"^cuda\b.*=\s*(.+)$", version, re.MULTILINE)
    if built and built.group(1).strip() == "None":
        return "this PyTorch build has no CUDA support (it is a CPU-only build)"
    if not Path("/proc/driver/nvidia/version").exists() and ctypes.util.find_library("cuda") is None:
        return "no NVIDIA GPU driver was found on this machine"
    return None
