"""A network as a standalone, readable PyTorch script; PyTorch ``state_dict`` files read back.

:func:`torch_script` writes a Python file that needs only torch and NumPy: an ``nn.Module`` mirroring the
network (one ``nn.Linear`` per dense layer, add and concat layers as ``+`` and ``torch.cat``, every
activation and loss with the exact settings the engine uses), the current weights, the training data,
and a ``main()`` that trains with the spec's optimizer and batch size, taking bpstudio's batches in
bpstudio's order. ``python script.py --check OUT.npz`` runs one forward and backward pass instead.

Small things are written into the script as literal lists (``repr`` of a float64 reads back exactly);
weights or data of more than :data:`EMBED_LIMIT` numbers go to a ``.npz`` file beside the script
(:func:`write_torch_script` writes both). :func:`load_state_dict` maps a ``state_dict`` saved from the
exported module (or from any module whose keys clearly match) back onto the network's parameters.
Exporting needs no torch; reading a ``.pt`` file does.
"""

from __future__ import annotations

import csv
import io
import keyword
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bpstudio.core.data import Dataset
from bpstudio.core.errors import BpstudioError, DataError
from bpstudio.core.init import DEFAULT_SEED
from bpstudio.core.io.torch_script_optim import optimizer_code
from bpstudio.core.io.torch_script_parts import (
    data_description,
    dropout_code,
    header,
    literal,
    loss_code,
    main_code,
    module_code,
    side_weights_code,
    targets_literal,
    weights_code,
)
from bpstudio.core.record.history import TrainingHistory
from bpstudio.core.spec import NetworkSpec
from bpstudio.core.trace import StepTrace

EMBED_LIMIT = 2000  # numbers: weights (or data) with more go to a .npz beside the script, not into it
DEFAULT_STEPS = 100

# names a layer may not take in the script: nn.Module's own attributes and the script's modules
_RESERVED = frozenset(
    """
    T_destination add_module apply bfloat16 buffers call_super_init children compile cpu cuda double dump_patches
    eval extra_repr float forward get_buffer get_extra_state get_parameter get_submodule half ipu load_state_dict
    modules mtia named_buffers named_children named_modules named_parameters parameters register_backward_hook
    register_buffer register_forward_hook register_forward_pre_hook register_full_backward_hook
    register_full_backward_pre_hook register_load_state_dict_post_hook register_load_state_dict_pre_hook
    register_module register_parameter register_state_dict_post_hook register_state_dict_pre_hook
    requires_grad_ set_extra_state set_submodule share_memory state_dict to to_empty train training type xpu
    zero_grad self torch nn F np math argparse Path
""".split()
)


def python_names(spec: NetworkSpec) -> dict[str, str]:
    """Each layer id → the Python name the script gives it (the id itself where that is a usable name)."""
    names: dict[str, str] = {}
    for layer_id in spec.order:
        base = re.sub(r"[^0-9A-Za-z_]", "_", layer_id)
        if not base or base[0].isdigit() or base[0] == "_":
            base = f"layer_{base}"
        if keyword.iskeyword(base) or base in _RESERVED:
            base += "_"
        name, k = base, 2
        while name in names.values():
            name, k = f"{base}_{k}", k + 1
        names[layer_id] = name
    return names


def state_dict_keys(spec: NetworkSpec, running: bool = False) -> dict[str, str]:
    """Each parameter key (``"h.weight"``) → its key in the exported module's ``state_dict``; with ``running``, each
    batchnorm layer's running statistics too (``"bn.running_mean"``: buffers, not parameters)."""
    names = python_names(spec)
    keys = [*spec.param_shapes(), *(spec.state_shapes() if running else ())]
    return {key: f"{names[key.rsplit('.', 1)[0]]}.{key.rsplit('.', 1)[1]}" for key in keys}


@dataclass(frozen=True)
class TorchExport:
    """The script's text and what goes in the ``.npz`` beside it (nothing when everything is embedded)."""

    script: str
    side_file: str | None = None
    side_arrays: dict[str, Any] = field(default_factory=dict)


def torch_export(
    spec: NetworkSpec,
    params: Mapping[str, np.ndarray],
    data_source: Any = None,
    *,
    base_dir: str | os.PathLike[str] | None = None,
    batch_size: int | None = None,
    steps: int = DEFAULT_STEPS,
    script_name: str = "network.py",
    embed_limit: int = EMBED_LIMIT,
    running: Mapping[str, np.ndarray] | None = None,
) -> TorchExport:
    """The script for ``spec`` with weights ``params``, training on ``data_source`` (anything
    :func:`~bpstudio.core.datasets.resolve_split` takes; default: the network's own data, its training
    part; none at all: the script asks for ``--inputs``). Weights or data of more than ``embed_limit``
    numbers are stored in ``<stem of script_name>.npz``, which the script looks for next to itself. ``running``:
    the batchnorm layers' running statistics (default: those written in ``spec``)."""
    from bpstudio.core.datasets import resolve_split
    from bpstudio.core.params import checked_params

    side_file = f"{Path(script_name).stem}.npz"
    values = checked_params(spec.param_shapes(), params, complete=True)
    values.update(
        checked_params(spec.state_shapes(), spec.running_stats() if running is None else running, complete=True)
    )
    keys = state_dict_keys(spec, running=True)
    source = spec.data if data_source is None else data_source
    train: Dataset | None = None
    held_out = 0
    if source is not None:
        train, test = resolve_split(source, base_dir)
        held_out = 0 if test is None else len(test)
        train.check_inputs(spec.widths[spec.input_id])
    if batch_size is not None and (isinstance(batch_size, bool) or batch_size < 1):
        raise DataError(f"batch size must be a positive integer, got {batch_size!r}")
    side: dict[str, Any] = {}
    weights = {keys[k]: v for k, v in values.items()}
    if sum(v.size for v in weights.values()) > embed_limit:
        side.update({f"weights/{k}": v for k, v in weights.items()})
        weights_text = side_weights_code(side_file, sum(v.size for v in weights.values()))
    else:
        weights_text = weights_code(weights)
    if train is None:
        data_text = "# the network names no training data: pass --inputs IN.npz (arrays X and T)\nX = T = None\n"
    else:
        targets = train.targets_for(spec.loss, spec.widths[spec.output])
        note = data_description(source, train, held_out, targets.ndim == 1)
        if train.X.size + targets.size > embed_limit:
            side.update({"X": train.X, "T": targets})
            data_text = (
                f"{note}\n# ({train.X.size + targets.size} numbers: stored in {side_file} beside "
                f'this script)\nX, T = side_arrays()["X"], side_arrays()["T"]\n'
            )
        else:
            data_text = f"{note}\nX = {literal(train.X)}\nT = {targets_literal(targets)}\n"
    frozen = [keys[k] for k in spec.param_shapes() if k in spec.frozen_params()]
    l1_keys = [  # the dense layers' weight matrices
        keys[k]
        for k in spec.param_shapes()
        if k.endswith(".weight") and spec.layer(k.rsplit(".", 1)[0]).type == "dense" and k not in spec.frozen_params()
    ]
    parts = [
        header(spec, steps, script_name, side_file if side else None),
        module_code(spec, python_names(spec)),
        loss_code(spec.loss),
        "\n# --- the weights and the data ----------------------------------------------------------------\n",
        "# bpstudio's parameter names -> this module's state_dict keys",
        f"PARAMETERS = {literal(state_dict_keys(spec))}\n",
        weights_text,
        data_text,
        "\n# --- training, as bpstudio trains ------------------------------------------------------------\n",
        f"STEPS = {steps}",
        f"BATCH_SIZE = {batch_size!r}  # samples per step (None: all of them, in order)",
        f"SHUFFLE_SEED = {spec.seed or DEFAULT_SEED}  # bpstudio draws each pass's sample order from this",
        f"FROZEN = {frozen!r}  # parameters bpstudio keeps fixed: the optimizer leaves them alone\n",
        optimizer_code(spec.optimizer, l1_keys),
        dropout_code(spec, spec.seed if spec.seed is not None else DEFAULT_SEED),
        main_code(),
    ]
    script = "\n".join(parts)
    return TorchExport(script, side_file if side else None, side)


def torch_script(spec: NetworkSpec, params: Mapping[str, np.ndarray], data_source: Any = None, **options: Any) -> str:
    """The script's text (see :func:`torch_export`; a big network also needs the side file that
    :func:`write_torch_script` writes)."""
    return torch_export(spec, params, data_source, **options).script


def write_torch_script(
    path: str | os.PathLike[str],
    spec: NetworkSpec,
    params: Mapping[str, np.ndarray],
    data_source: Any = None,
    **options: Any,
) -> list[Path]:
    """Write the script to ``path`` (and ``<stem>.npz`` beside it where needed); the files written."""
    from bpstudio.core.io.fileio import write_atomic

    target = Path(path)
    if not target.parent.is_dir():
        raise BpstudioError(f"cannot write '{target}': folder '{target.parent}' does not exist")
    export = torch_export(spec, params, data_source, script_name=target.name, **options)
    written = [target]
    try:
        if export.side_file is not None:
            buffer = io.BytesIO()
            np.savez(buffer, **export.side_arrays)
            write_atomic(target.with_name(export.side_file), buffer.getvalue())
            written.append(target.with_name(export.side_file))
        write_atomic(target, export.script)
    except OSError as exc:
        raise BpstudioError(f"cannot write '{target}': {exc.strerror or exc}") from None
    return written


# --- reading a state_dict back ----------------------------------------------------------------------------


def _shape(shape: tuple[int, ...]) -> str:
    return "×".join(map(str, shape)) or "a scalar"


STORED = ("weight", "bias", "running_mean", "running_var")  # what a state_dict holds of a layer
COUNTER = "num_batches_tracked"  # a BatchNorm1d's count of training batches: bpstudio's momentum never uses it


def _key_map(spec: NetworkSpec, keys: list[str]) -> dict[str, str]:
    """Each file key → the parameter (or running statistic) it holds, where that is clear: its own name or the
    exported module's key, after a prefix all keys share (``module.``, ``model.``); or, for an
    ``nn.Sequential`` (keys ``0.weight``, ``1.running_mean``, ``3.weight``, ...), the layers that store something
    (dense, batchnorm, layernorm with γ and β) in order."""
    stored = {**spec.param_shapes(), **spec.state_shapes()}
    aliases = {k: k for k in stored}
    aliases.update({exported: ours for ours, exported in state_dict_keys(spec, running=True).items()})
    prefixes = [""] + [keys[0][: i + 1] for i, c in enumerate(keys[0]) if c == "."] if keys else [""]
    for prefix in prefixes:
        if all(k.startswith(prefix) for k in keys):
            stripped = {k: k[len(prefix) :] for k in keys}
            if any(s in aliases for s in stripped.values()):
                return {k: aliases[s] for k, s in stripped.items() if s in aliases}
    numbered = [re.fullmatch(rf"(?:.*\.)?(\d+)\.({'|'.join(STORED)})", k) for k in keys]
    holders = list(dict.fromkeys(key.rsplit(".", 1)[0] for key in stored))  # (in topological order)
    if keys and all(numbered):
        indices = sorted({int(m.group(1)) for m in numbered if m})
        if len(indices) == len(holders) and len({k[: m.start(1)] for k, m in zip(keys, numbered) if m}) == 1:
            layer_of = dict(zip(indices, holders))
            return {k: f"{layer_of[int(m.group(1))]}.{m.group(2)}" for k, m in zip(keys, numbered) if m}
    return {}


def _torch_reason(exc: Exception) -> str:
    """What torch said, on one line and whole: its weights_only refusal warns that loading the file another way
    "can result in arbitrary code execution", which must not be cut off (its terminal colour codes are)."""
    words = " ".join(re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).split())
    if not words:
        return type(exc).__name__
    if "weights only load failed" in words.lower():
        return (
            "it holds Python objects besides tensors (a whole model saved with torch.save(model)?), which bpstudio "
            f"does not load: save model.state_dict() instead. PyTorch says: {words}"
        )
    return words


def read_torch_file(path: str | os.PathLike[str]) -> Mapping[str, Any]:
    """The names → tensors a PyTorch file holds (``torch.load(weights_only=True)``: no arbitrary objects; also
    from a checkpoint that keeps them under "state_dict" or "model_state_dict"); a BpstudioError says why not."""
    try:
        import torch
    except ImportError:
        raise BpstudioError("reading a PyTorch file needs torch, which is not installed") from None
    if not Path(path).is_file():
        raise BpstudioError(f"state_dict file '{path}' not found")
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch.load raises many kinds (unpickling, zip, version, …): all mean "unreadable"
        raise BpstudioError(f"cannot read '{path}' as a PyTorch state_dict: {_torch_reason(exc)}") from None
    for wrapper in ("state_dict", "model_state_dict"):  # checkpoints often keep the weights under one of these
        if isinstance(loaded, Mapping) and isinstance(loaded.get(wrapper), Mapping):
            loaded = loaded[wrapper]
    if not isinstance(loaded, Mapping):
        raise BpstudioError(f"'{path}' holds a {type(loaded).__name__}, not a state_dict (names → tensors)")
    return loaded


def params_from_state_dict(
    spec: NetworkSpec, state: Mapping[str, Any], source: str = "the state_dict"
) -> dict[str, np.ndarray]:
    """The network's parameters from ``state`` (names → tensors or arrays), as float64 arrays keyed
    ``"<layer>.weight"``/``"<layer>.bias"``, and its batchnorm layers' running statistics (``"<layer>.running_mean"``,
    ``".running_var"``; a BatchNorm1d's ``num_batches_tracked`` is passed over); a BpstudioError names a missing,
    extra or misshapen entry. ``spec.with_params`` writes the lot into the network."""
    shapes = {**spec.param_shapes(), **spec.state_shapes()}
    all_keys = [str(k) for k in state]
    counters = {k for k in all_keys if k.endswith(f".{COUNTER}") and f"{k[: -len(COUNTER)]}running_mean" in all_keys}
    keys = [k for k in all_keys if k not in counters]
    mapping = _key_map(spec, keys)
    problems = [f"key '{k}' matches no parameter of this network" for k in keys if k not in mapping]
    found: dict[str, str] = {}
    for key, ours in mapping.items():
        if ours in found:
            problems.append(f"keys '{found[ours]}' and '{key}' both hold parameter '{ours}'")
        found[ours] = key
    exported = state_dict_keys(spec, running=True)
    problems += [
        f"missing key '{exported[k]}' (parameter '{k}', {_shape(s)})" for k, s in shapes.items() if k not in found
    ]
    params: dict[str, np.ndarray] = {}
    for ours, key in found.items():
        value = state[key]
        if hasattr(value, "detach"):  # a tensor
            value = value.detach().cpu().double().numpy() if value.is_floating_point() else value.cpu().numpy()
        array = np.asarray(value)
        if array.dtype.kind not in "fiu":
            problems.append(f"'{key}' does not hold numbers (dtype {array.dtype})")
        elif array.shape != shapes[ours]:
            hint = " (units × fan_in, like nn.Linear)" if ours.endswith(".weight") else ""
            problems.append(f"'{key}' has shape {_shape(array.shape)} but '{ours}' needs {_shape(shapes[ours])}{hint}")
        elif not np.isfinite(array).all():
            problems.append(f"'{key}' holds a value that is not a finite number")
        else:
            params[ours] = array.astype(np.float64)
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise BpstudioError(
            f"{source} does not fit network '{spec.name or spec.output}': {'; '.join(problems[:3])}{more}"
        )
    return params


def load_state_dict(spec: NetworkSpec, path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Parameters for ``spec`` from a PyTorch ``state_dict`` file (``torch.save(model.state_dict(), path)``),
    read with ``torch.load(weights_only=True)``; see :func:`params_from_state_dict`."""
    return params_from_state_dict(spec, read_torch_file(path), f"'{Path(path).name}'")


# --- metrics and traces for notebooks -------------------------------------------------------------------


def metrics_csv(history: TrainingHistory) -> str:
    """One table: ``step, train_loss, train_accuracy, test_loss, test_accuracy`` and ``grad_norm/<layer>``
    for each plotted layer (empty cells where a step has no such value), as the history holds them
    (past its capacity, neighbouring steps are merged: see :mod:`bpstudio.core.record.history`)."""
    held = history.snapshot()
    losses = list(csv.reader(io.StringIO(held.to_csv("loss"))))
    grads = list(csv.reader(io.StringIO(held.to_csv("gradients"))))
    by_step = {row[0]: row[1:] for row in grads[1:]}
    blank = [""] * (len(grads[0]) - 1)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(losses[0] + [f"grad_norm/{lid}" for lid in grads[0][1:]])
    writer.writerows(row + by_step.get(row[0], blank) for row in losses[1:])
    return out.getvalue()


def trace_arrays(trace: StepTrace) -> dict[str, np.ndarray]:
    """A step's record as named arrays (what :func:`export_trace` writes); names:

    - ``step``, ``loss`` (NaN before the loss phase), ``x`` (the batch's inputs), ``targets``,
      ``batch`` (the samples' indices; all of them, in order, for a full batch), ``output_grad`` (dL/d output);
    - ``layers``: the recorded layer ids, in forward order; for each id ``L``: ``L/pre``, ``L/out``,
      ``L/input/0``, ``L/input/1``, … (its inputs, in the order the network lists them), and after its
      backward ``L/grad_out``, ``L/grad_pre``, ``L/grad/weight``, ``L/grad/bias``;
    - ``params_before/<layer>.weight`` …, and after the update ``params_after/<layer>.weight`` ….
    Entries a partly done step has not computed yet are left out."""
    conv = trace.numpy
    arrays: dict[str, np.ndarray] = {
        "step": np.array(trace.step),
        "loss": np.array(math.nan if trace.loss is None else float(trace.loss)),
        "x": conv(trace.x),
        "targets": conv(trace.targets),
        "layers": np.array(list(trace.layers), dtype=str),
        "batch": np.arange(len(conv(trace.x))) if trace.batch is None else np.asarray(trace.batch),
    }
    if trace.output_grad is not None:
        arrays["output_grad"] = conv(trace.output_grad)
    for lid, rec in trace.layers.items():
        named = {
            "pre": rec.pre,
            "out": rec.out,
            "grad_out": rec.grad_out,
            "grad_pre": rec.grad_pre,
            **{f"input/{k}": a for k, a in enumerate(rec.inputs)},
            **{f"grad/{n}": g for n, g in rec.grads.items()},
        }
        arrays.update({f"{lid}/{name}": conv(a) for name, a in named.items() if a is not None})
    for label, params in (("params_before", trace.params_before), ("params_after", trace.params_after)):
        arrays.update({f"{label}/{k}": conv(v) for k, v in (params or {}).items()})
    return {k: np.array(v, copy=True) for k, v in arrays.items()}


def _save(path: str | os.PathLike[str], content: str | bytes) -> None:
    from bpstudio.core.io.fileio import write_atomic

    if not Path(path).parent.is_dir():
        raise BpstudioError(f"cannot write '{path}': folder '{Path(path).parent}' does not exist")
    try:
        write_atomic(path, content)
    except OSError as exc:
        raise BpstudioError(f"cannot write '{path}': {exc.strerror or exc}") from None


def export_metrics(history: TrainingHistory, path: str | os.PathLike[str]) -> None:
    """Write :func:`metrics_csv` to ``path``."""
    _save(path, metrics_csv(history))


def export_trace(trace: StepTrace, path: str | os.PathLike[str]) -> None:
    """Write :func:`trace_arrays` to ``path`` as an uncompressed .npz (``np.load(path)[\"h/pre\"]``)."""
    buffer = io.BytesIO()
    arrays: dict[str, Any] = trace_arrays(trace)  # (numpy's stubs read **kwargs as its allow_pickle flag)
    np.savez(buffer, **arrays)
    _save(path, buffer.getvalue())
