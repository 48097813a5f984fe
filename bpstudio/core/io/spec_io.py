"""Reading and writing the network spec's versioned JSON form (documented in docs/file-format.md).

``from_dict`` checks every field's type and names the layer and field of the first problem;
``to_dict`` writes numbers with ``repr`` precision, so saving then loading is bit-exact.
Saving is atomic: the file is written beside the target and renamed over it.
"""

from __future__ import annotations

import json
import os
from typing import Any

from bpstudio.core.checks import is_whole
from bpstudio.core.errors import SpecError
from bpstudio.core.io import json_text
from bpstudio.core.io.fileio import write_atomic
from bpstudio.core.limits import brief, quoted
from bpstudio.core.spec import (
    INITIALISERS,
    XAVIER_UNIFORM,
    ZEROS,
    Initializer,
    LayerSpec,
    NetworkSpec,
    OptimizerSpec,
    Schedule,
    _require_finite,
    number_array,
)
from bpstudio.core.spec_rules import LAYER_TYPES, check_layer_id

FORMAT = "bpstudio-network"
VERSION = 2  # the newest version read; a network is written as the oldest version that holds it
NEW_IN_2 = {
    "activations": ("silu", "mish", "sin"),
    "optimizers": ("adamw", "rmsprop"),
    "layers": ("features", "dropout", "batchnorm", "layernorm"),
}
TOP_LEVEL_FIELDS = {"format", "version", "layers", "output", "loss", "optimizer", "seed", "name", "data", "batch_size"}
LAYER_FIELDS = {
    "input": {"id", "type", "units", "position"},
    "dense": {
        "id",
        "type",
        "inputs",
        "units",
        "activation",
        "use_bias",
        "weight",
        "bias",
        "init",
        "frozen",
        "position",
        "color",
    },
    "add": {"id", "type", "inputs", "activation", "position", "color"},
    "concat": {"id", "type", "inputs", "activation", "position", "color"},
    "features": {"id", "type", "inputs", "terms", "position", "color"},
    "dropout": {"id", "type", "inputs", "p", "position", "color"},
    "batchnorm": {
        "id",
        "type",
        "inputs",
        "eps",
        "momentum",
        "affine",
        "weight",
        "bias",
        "running_mean",
        "running_var",
        "frozen",
        "activation",
        "position",
        "color",
    },
    "layernorm": {
        "id",
        "type",
        "inputs",
        "eps",
        "affine",
        "weight",
        "bias",
        "frozen",
        "activation",
        "position",
        "color",
    },
}
NORM_NUMBERS = ("eps", "momentum")
OPTIMIZER_FIELDS = {
    "name",
    "lr",
    "momentum",
    "beta1",
    "beta2",
    "eps",
    "weight_decay",
    "alpha",
    "l1",
    "clip_norm",
    "schedule",
}
SCHEDULE_FIELDS = {"name", "step_size", "gamma", "t_max", "eta_min"}


# --- reading ----------------------------------------------------------------------------------------


def _initializer(value: Any, layer: str) -> Initializer:
    if isinstance(value, str):
        name, params = value, {}
    elif isinstance(value, dict) and isinstance(value.get("name"), str):
        name, params = value["name"], {k: v for k, v in value.items() if k != "name"}
    else:
        raise SpecError(f'an initialiser is a name or {{"name": ..., parameters}}, got {brief(value)}', layer, "init")
    if name not in INITIALISERS:
        raise SpecError(f"unknown initialiser {quoted(name)} (known: {', '.join(INITIALISERS)})", layer, "init")
    try:
        return Initializer(name, params)
    except SpecError as exc:
        raise SpecError(str(exc), layer, "init") from None


def _inits(value: Any, layer: str) -> tuple[Initializer, Initializer]:
    """``"he_normal"`` sets the weights' initialiser; ``{"weight": ..., "bias": ...}`` sets either."""
    if value is None:
        return XAVIER_UNIFORM, ZEROS
    if isinstance(value, dict) and "name" not in value:
        unknown = set(value) - {"weight", "bias"}
        if unknown:
            raise SpecError(f"unknown keys {sorted(unknown)}; use 'weight' and 'bias'", layer, "init")
        weight = _initializer(value["weight"], layer) if "weight" in value else XAVIER_UNIFORM
        bias = _initializer(value["bias"], layer) if "bias" in value else ZEROS
        return weight, bias
    return _initializer(value, layer), ZEROS


def _frozen(value: Any, layer: str) -> frozenset[str]:
    if value is None or value is False:
        return frozenset()
    if value is True:
        return frozenset({"weight", "bias"})
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return frozenset(value)
    raise SpecError(f'must be true, false or a list such as ["bias"], got {brief(value)}', layer, "frozen")


def _layer(raw: Any, index: int) -> LayerSpec:
    if not isinstance(raw, dict):
        raise SpecError(f"layer #{index} must be an object, got {brief(raw)}", field="layers")
    layer_id = raw.get("id")
    if not isinstance(layer_id, str) or not layer_id.strip():
        raise SpecError(f"layer #{index} needs a non-empty string id, got {brief(layer_id)}", field="id")
    check_layer_id(layer_id)
    kind = raw.get("type")
    if kind not in LAYER_TYPES:
        raise SpecError(f"unknown type {brief(kind)} (known: {', '.join(LAYER_TYPES)})", layer_id, "type")
    unknown = sorted(set(raw) - LAYER_FIELDS[kind])
    if unknown:
        raise SpecError(
            f"unknown field for {'an' if kind[0] in 'aeiou' else 'a'} {kind} layer "
            f"(allowed: {', '.join(sorted(LAYER_FIELDS[kind]))})",
            layer_id,
            unknown[0],
        )
    inputs = raw.get("inputs", [])
    if not isinstance(inputs, list) or not all(isinstance(i, str) for i in inputs):
        raise SpecError(f"must be a list of layer ids, got {brief(inputs)}", layer_id, "inputs")
    use_bias = raw.get("use_bias", True)
    if not isinstance(use_bias, bool):
        raise SpecError(f"must be true or false, got {brief(use_bias)}", layer_id, "use_bias")
    activation = raw.get("activation", "identity")
    if not isinstance(activation, str):
        raise SpecError(f"must be an activation name, got {brief(activation)}", layer_id, "activation")
    position = raw.get("position")
    if position is not None:
        try:
            if not isinstance(position, list) or len(position) != 2:
                raise SpecError("not a pair")
            x, y = number_array(position, layer_id, "position", 1)
        except SpecError:
            raise SpecError(
                f"must be [x, y] with finite numbers, got {brief(position)}", layer_id, "position"
            ) from None
        position = (float(x), float(y))
    weight_init, bias_init = _inits(raw.get("init"), layer_id)
    terms = raw.get("terms", [])
    if kind == "features" and not isinstance(terms, list):
        raise SpecError(f'must be a list of terms such as ["x1", "x2", "x1^2"], got {brief(terms)}', layer_id, "terms")
    affine = raw.get("affine", True)
    if not isinstance(affine, bool):
        raise SpecError(f"must be true or false, got {brief(affine)}", layer_id, "affine")
    numbers = {k: _require_finite(raw[k], quoted(k), layer_id, k) for k in NORM_NUMBERS if raw.get(k) is not None}
    weight_ndim = 1 if kind in ("batchnorm", "layernorm") else 2

    def array(name: str, ndim: int) -> Any:
        return number_array(raw[name], layer_id, name, ndim) if raw.get(name) is not None else None

    return LayerSpec(
        id=layer_id,
        type=kind,
        inputs=tuple(inputs),
        units=raw.get("units"),
        activation=activation,
        use_bias=use_bias,
        weight=array("weight", weight_ndim),
        bias=array("bias", 1),
        weight_init=weight_init,
        bias_init=bias_init,
        frozen=_frozen(raw.get("frozen"), layer_id),
        position=position,
        color=raw.get("color"),
        terms=tuple(terms),
        p=raw.get("p"),
        affine=affine,
        running_mean=array("running_mean", 1),
        running_var=array("running_var", 1),
        **numbers,
    )


def _optimizer(raw: Any) -> OptimizerSpec:
    if raw is None:
        return OptimizerSpec()
    if not isinstance(raw, dict):
        raise SpecError(f'must be an object such as {{"name": "sgd", "lr": 0.1}}, got {brief(raw)}', field="optimizer")
    unknown = sorted(set(raw) - OPTIMIZER_FIELDS)
    if unknown:
        raise SpecError(
            f"unknown optimizer setting {quoted(unknown[0])} (allowed: {', '.join(sorted(OPTIMIZER_FIELDS))})",
            field="optimizer",
        )
    if not isinstance(raw.get("name", "sgd"), str):
        raise SpecError(f"optimizer name must be a string, got {brief(raw['name'])}", field="optimizer")
    settings: dict[str, Any] = {
        k: (v if k in ("name", "schedule") else _require_finite(v, quoted(k), field_name="optimizer"))
        for k, v in raw.items()
        if not (k in ("clip_norm", "schedule") and v is None)  # (null: none, as when absent)
    }
    if "schedule" in settings:
        settings["schedule"] = _schedule(settings["schedule"])
    return OptimizerSpec(**settings)


def _schedule(raw: Any) -> Schedule:
    where = "optimizer.schedule"
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        raise SpecError(
            f'must be an object such as {{"name": "exponential", "gamma": 0.99}}, got {brief(raw)}', field=where
        )
    unknown = sorted(set(raw) - SCHEDULE_FIELDS)
    if unknown:
        raise SpecError(
            f"unknown schedule setting {quoted(str(unknown[0]))} (allowed: {', '.join(sorted(SCHEDULE_FIELDS))})",
            field=where,
        )
    return Schedule(**raw)


def format_version(spec: NetworkSpec) -> int:
    """The oldest version of the format that holds ``spec``: 2 when it uses anything version 1 did not have
    (:data:`NEW_IN_2`'s activations, optimizers and layer types, ``l1``, ``clip_norm``, a ``schedule``), else 1,
    which older bpstudio releases read."""
    opt = spec.optimizer
    newer = (
        any(layer.activation in NEW_IN_2["activations"] for layer in spec.layers)
        or any(layer.type in NEW_IN_2["layers"] for layer in spec.layers)
        or opt.name in NEW_IN_2["optimizers"]
        or bool(opt.l1)
        or opt.clip_norm is not None
        or opt.schedule is not None
    )
    return 2 if newer else 1


def from_dict(raw: Any) -> NetworkSpec:
    """Build a validated :class:`NetworkSpec` from parsed JSON."""
    if not isinstance(raw, dict):
        raise SpecError("a network file holds one JSON object")
    if raw.get("format") != FORMAT:
        raise SpecError(f'expected "format": "{FORMAT}", got {brief(raw.get("format"))}', field="format")
    version = raw.get("version")
    if not is_whole(version):
        raise SpecError(f"must be an integer, got {brief(version)}", field="version")
    if version > VERSION:
        raise SpecError(
            f"version {brief(version)} is newer than this bpstudio reads ({VERSION}); please upgrade", field="version"
        )
    if version < 1:
        raise SpecError(f"unknown version {brief(version)}", field="version")
    unknown = sorted(set(raw) - TOP_LEVEL_FIELDS)
    if unknown:
        raise SpecError(f"unknown top-level field (allowed: {', '.join(sorted(TOP_LEVEL_FIELDS))})", field=unknown[0])
    layers = raw.get("layers")
    if not isinstance(layers, list):
        raise SpecError(f"must be a list of layer objects, got {brief(layers)}", field="layers")
    for key in ("output", "loss"):
        if not isinstance(raw.get(key), str):
            raise SpecError(f"must be a string, got {brief(raw.get(key))}", field=key)
    if raw.get("name") is not None and not isinstance(raw["name"], str):
        raise SpecError(f"must be a string, got {brief(raw['name'])}", field="name")
    if raw.get("data") is not None and not isinstance(raw["data"], dict):
        raise SpecError(f"must be an object, got {brief(raw['data'])}", field="data")
    return NetworkSpec(
        layers=tuple(_layer(layer, i) for i, layer in enumerate(layers)),
        output=raw["output"],
        loss=raw["loss"],
        optimizer=_optimizer(raw.get("optimizer")),
        seed=raw.get("seed"),
        name=raw.get("name"),
        data=raw.get("data"),
        batch_size=raw.get("batch_size"),
    )


def loads(text: str) -> NetworkSpec:
    return from_dict(json_text.parse(text, SpecError))


def load(path: str | os.PathLike[str]) -> NetworkSpec:
    text = json_text.read_text(path, SpecError, "network file")
    try:
        return loads(text)
    except SpecError as exc:
        raise SpecError(f"{os.fspath(path)}: {exc}") from None


# --- writing ----------------------------------------------------------------------------------------


def _init_json(init: Initializer) -> Any:
    return {"name": init.name, **init.params} if init.params else init.name


def _layer_dict(layer: LayerSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"id": layer.id, "type": layer.type}
    if layer.inputs:
        out["inputs"] = list(layer.inputs)
    if layer.units is not None and layer.type in ("input", "dense"):
        out["units"] = layer.units
    if layer.type == "features":
        out["terms"] = list(layer.terms)
    elif layer.type == "dropout":
        out["p"] = layer.p
    elif layer.type != "input":
        out["activation"] = layer.activation
    if layer.type in ("batchnorm", "layernorm"):
        out["eps"] = layer.eps
        if layer.type == "batchnorm":
            out["momentum"] = layer.momentum
        out["affine"] = layer.affine
        if layer.frozen:
            out["frozen"] = sorted(layer.frozen)
        for name in ("weight", "bias", "running_mean", "running_var"):
            value = getattr(layer, name)
            if value is not None:
                out[name] = value.tolist()
    if layer.type == "dense":
        out["use_bias"] = layer.use_bias
        if layer.weight_init != XAVIER_UNIFORM or layer.bias_init != ZEROS:
            out["init"] = {"weight": _init_json(layer.weight_init), "bias": _init_json(layer.bias_init)}
        if layer.frozen:
            out["frozen"] = sorted(layer.frozen)
        if layer.weight is not None:
            out["weight"] = layer.weight.tolist()
        if layer.bias is not None:
            out["bias"] = layer.bias.tolist()
    if layer.position is not None:
        out["position"] = list(layer.position)
    if layer.color is not None:
        out["color"] = layer.color
    return out


def to_dict(spec: NetworkSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"format": FORMAT, "version": format_version(spec)}
    if spec.name is not None:
        out["name"] = spec.name
    out["layers"] = [_layer_dict(layer) for layer in spec.layers]
    out["output"] = spec.output
    out["loss"] = spec.loss
    opt = spec.optimizer
    out["optimizer"] = {"name": opt.name, "lr": opt.lr}
    if opt.name == "momentum":
        out["optimizer"]["momentum"] = opt.momentum
    if opt.name in ("adam", "adamw"):
        out["optimizer"].update(beta1=opt.beta1, beta2=opt.beta2, eps=opt.eps)
    if opt.name == "rmsprop":
        out["optimizer"].update(alpha=opt.alpha, eps=opt.eps)
    if opt.weight_decay:
        out["optimizer"]["weight_decay"] = opt.weight_decay
    if opt.l1:
        out["optimizer"]["l1"] = opt.l1
    if opt.clip_norm is not None:
        out["optimizer"]["clip_norm"] = opt.clip_norm
    if opt.schedule is not None:
        out["optimizer"]["schedule"] = {"name": opt.schedule.name, **opt.schedule.settings()}
    if spec.seed is not None:
        out["seed"] = spec.seed
    if spec.data is not None:
        out["data"] = dict(spec.data)
    if spec.batch_size is not None:
        out["batch_size"] = spec.batch_size
    return out


def dumps(spec: NetworkSpec) -> str:
    return json.dumps(to_dict(spec), indent=2, allow_nan=False) + "\n"


def save(spec: NetworkSpec, path: str | os.PathLike[str]) -> None:
    write_atomic(path, dumps(spec))
