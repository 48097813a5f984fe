"""Backends looked up by name. Torch is imported only when the torch backend is chosen."""

from __future__ import annotations

import importlib
import importlib.util

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
        raise BackendError("the torch backend needs PyTorch, which is not installed "
                           "(pip install 'bpstudio[torch]')")
    module_name, class_name = BACKENDS[name].split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    backend: Backend = cls(device=device, dtype=dtype)
    return backend


def available() -> dict[str, str | None]:
    """Each backend/device pair mapped to None when usable, else the reason it is not (for menus)."""
    reasons: dict[str, str | None] = {"numpy/cpu": None}
    if importlib.util.find_spec("torch") is None:
        reasons["torch/cpu"] = reasons["torch/cuda"] = "PyTorch is not installed"
        return reasons
    reasons["torch/cpu"] = None
    import torch

    reasons["torch/cuda"] = None if torch.cuda.is_available() else "no CUDA device is visible to PyTorch"
    return reasons
