"""The user's own model for ``bpstudio import --torch PACKAGE.MODULE:FACTORY [--state-dict W.pt]``: the factory
imported and called as the user would call it (the working folder on the path), and a state_dict file loaded into
what it returns (``torch.load(weights_only=True)``: no arbitrary objects). What goes wrong raises
:class:`~bpstudio.core.io.torch_import.TorchImportError` naming it; :mod:`bpstudio.core.io.torch_import` then
turns the module into a network."""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

from bpstudio.core.errors import BpstudioError
from bpstudio.core.io.export_torch import read_torch_file
from bpstudio.core.io.torch_import import TorchImportError


def load_factory(target: str) -> Any:
    """``FACTORY()`` of ``PACKAGE.MODULE:FACTORY``, imported as the user would (the working folder on the path)."""
    module_name, colon, factory_name = target.partition(":")
    if not colon or not module_name or not factory_name.isidentifier():
        raise TorchImportError(f"--torch takes PACKAGE.MODULE:FACTORY (e.g. mymodels.mlp:make_model), got {target!r}")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # (the user's code: any error while importing it means "cannot import")
        raise TorchImportError(f"cannot import '{module_name}': {type(exc).__name__}: {exc}") from None
    factory = getattr(module, factory_name, None)
    if not callable(factory):
        raise TorchImportError(f"'{module_name}' has no function or class '{factory_name}'")
    try:
        model = factory()
    except Exception as exc:
        raise TorchImportError(f"calling {target}() raised {type(exc).__name__}: {exc}") from None
    from torch import nn

    if not isinstance(model, nn.Module):
        raise TorchImportError(f"{target}() returned {type(model).__name__}, not a torch.nn.Module")
    return model


def load_state_dict_into(model: Any, path: str) -> None:
    """Load a ``state_dict`` file into ``model`` (``torch.load(weights_only=True)``: no arbitrary objects)."""
    try:
        state = read_torch_file(path)
    except BpstudioError as exc:
        raise TorchImportError(str(exc)) from None
    try:
        model.load_state_dict(state)
    except Exception as exc:
        words = " ".join(str(exc).split())
        if len(words) > LONGEST:  # (torch lists every missing key: a big model's list is pages long)
            words = words[:LONGEST] + " …"
        hint = _hint(state, model)
        raise TorchImportError(f"cannot load '{path}' into the module: {words}{hint}") from None


LONGEST = 400  # characters of torch's own complaint quoted in the one-line message
CHECKPOINT_KEYS = ("model", "state_dict", "model_state_dict", "net", "weights")


def _hint(state: Any, model: Any) -> str:
    """Why a file that loaded does not fit the module, where a common shape of checkpoint tells it: a training
    checkpoint with the weights under one key, or weights saved from a DataParallel/DDP wrapper ("module.")."""
    if not isinstance(state, dict) or not state:
        return ""
    nested = [k for k in CHECKPOINT_KEYS if isinstance(state.get(k), dict)]
    if nested and not any(k in state for k, _ in model.named_parameters()):
        return (
            f" (the file is a checkpoint with the weights under '{nested[0]}': save checkpoint['{nested[0]}'] "
            "on its own and import that)"
        )
    keys = [k for k in state if isinstance(k, str)]
    if keys and all(k.startswith("module.") for k in keys):
        return (
            " (every key starts with 'module.': the weights were saved from a DataParallel or DDP wrapper; save "
            "model.module.state_dict(), or the state_dict with that prefix taken off each key)"
        )
    return ""
