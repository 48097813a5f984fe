"""The network as data: layers, loss, optimizer and seed, validated as a DAG.

A :class:`NetworkSpec` is the single source of truth shared by the GUI, the CLI and the Python API.
Constructing one validates it: unknown ids, cycles, width mismatches, wrong matrix shapes, unknown
names and non-finite numbers raise :class:`~bpstudio.core.errors.SpecError` naming the layer and field.
Specs are immutable; edit one with :func:`dataclasses.replace` or :meth:`NetworkSpec.replace_layer`.
Reading and writing the JSON form lives in :mod:`bpstudio.core.io.spec_io`.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bpstudio.core import activations, dropout, features, losses, normalization
from bpstudio.core.checks import is_count, is_whole, require_finite
from bpstudio.core.errors import SpecError
from bpstudio.core.graph import topological_order
from bpstudio.core.limits import (
    MAX_ID_LENGTH,
    MAX_LAYERS,
    MAX_NAME_LENGTH,
    MAX_PARAMETERS,
    MAX_UNITS,
    brief,
    quoted,
    text_problem,
)
from bpstudio.core.optimizer_spec import OPTIMIZERS as OPTIMIZERS  # (re-exported: the spec holds an optimizer)
from bpstudio.core.optimizer_spec import SCHEDULES as SCHEDULES
from bpstudio.core.optimizer_spec import OptimizerSpec as OptimizerSpec
from bpstudio.core.optimizer_spec import Schedule as Schedule

_require_finite = require_finite  # (the name the readers in io/ use)

LAYER_TYPES = ("input", "dense", "add", "concat", "features", "dropout", "batchnorm", "layernorm")
PARAM_NAMES = ("weight", "bias")
# a layer's arrays: its parameters, and a batchnorm layer's running statistics (state the optimizer never touches)
VALUE_FIELDS = ("weight", "bias", *normalization.RUNNING)
INITIALISERS = {
    # name -> the parameters it takes, with their defaults (PyTorch's nn.init defaults)
    "zeros": {},
    "constant": {"value": 0.0},
    "uniform": {"low": 0.0, "high": 1.0},
    "normal": {"mean": 0.0, "std": 1.0},
    "xavier_uniform": {"gain": 1.0},
    "xavier_normal": {"gain": 1.0},
    "he_uniform": {},
    "he_normal": {},
}


def number_array(value: Any, layer: str, name: str, ndim: int) -> np.ndarray:
    """Nested lists (or an array) as float64, refusing text, ragged rows, huge and non-finite numbers."""
    if isinstance(value, np.ndarray):
        if not np.issubdtype(value.dtype, np.number) or np.issubdtype(value.dtype, np.complexfloating):
            raise SpecError(f"must hold real numbers, got dtype {value.dtype}", layer, name)
        return np.array(value, dtype=np.float64)

    def walk(item: Any, index: tuple[int, ...], depth: int) -> Any:
        at = ", ".join(map(str, index))
        if depth < ndim:
            if not isinstance(item, (list, tuple)):
                raise SpecError(f"expected a list{f' at [{at}]' if index else ''}, got {brief(item)}", layer, name)
            return [walk(x, index + (i,), depth + 1) for i, x in enumerate(item)]
        return _require_finite(item, f"entry [{at}]", layer, name)

    nested = walk(value, (), 0)
    try:
        return np.array(nested, dtype=np.float64)
    except ValueError:
        raise SpecError("rows have different lengths", layer, name) from None


@dataclass(frozen=True)
class Initializer:
    """How a parameter is drawn when the file gives no values, e.g. ``he_normal``."""

    name: str
    params: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.name not in INITIALISERS:
            raise SpecError(f"unknown initialiser {quoted(self.name)} (known: {', '.join(INITIALISERS)})")
        allowed = INITIALISERS[self.name]
        params = {}
        for key, value in self.params.items():
            if key not in allowed:
                raise SpecError(f"initialiser {quoted(self.name)} takes no parameter {quoted(key)}")
            params[key] = _require_finite(value, f"initialiser {quoted(self.name)} parameter {quoted(key)}")
        object.__setattr__(self, "params", params)  # our own copy, not the file's dict
        for key in ("std", "gain"):
            if key in params and params[key] < 0:
                raise SpecError(
                    f"initialiser {quoted(self.name)} parameter {quoted(key)} must not be negative, got {params[key]}"
                )
        if self.name == "uniform" and self.get("low") > self.get("high"):
            raise SpecError(
                f"initialiser 'uniform' needs low ≤ high, got low {self.get('low')}, high {self.get('high')}"
            )

    def __hash__(self) -> int:
        return hash((self.name, tuple(sorted(self.params.items()))))

    def get(self, key: str) -> float:
        return float(self.params.get(key, INITIALISERS[self.name][key]))


XAVIER_UNIFORM = Initializer("xavier_uniform")
ZEROS = Initializer("zeros")


@dataclass(frozen=True, eq=False)
class LayerSpec:
    """One layer. ``weight`` is (units × fan_in) like ``torch.nn.Linear``; ``None`` means "initialise".
    A batchnorm or layernorm layer's ``weight`` and ``bias`` are γ and β (one per unit, when ``affine``), and a
    batchnorm layer's ``running_mean`` and ``running_var`` are its running statistics (core/normalization.py)."""

    id: str
    type: str
    inputs: tuple[str, ...] = ()
    units: int | None = None
    activation: str = "identity"
    use_bias: bool = True
    weight: np.ndarray | None = None
    bias: np.ndarray | None = None
    weight_init: Initializer = XAVIER_UNIFORM
    bias_init: Initializer = ZEROS
    frozen: frozenset[str] = frozenset()
    position: tuple[float, float] | None = None
    color: int | None = None  # the app's palette slot this layer keeps for its life (None: the next free one)
    terms: tuple[str, ...] = ()  # a features layer's terms ("x1", "x1^2", "x1*x2", "sin(x1)"): its columns
    p: float | None = None  # a dropout layer's probability of dropping a unit in training (None: 0.5)
    eps: float | None = None  # a norm layer's ε, added to the variance (None: 1e-5)
    momentum: float | None = None  # a batchnorm layer's weight of each batch in its running statistics (None: 0.1)
    affine: bool = True  # whether a norm layer has γ and β
    running_mean: np.ndarray | None = None
    running_var: np.ndarray | None = None

    def __post_init__(self) -> None:
        weight_ndim = 1 if self.type in normalization.NORM_TYPES else 2
        for name, ndim in (("weight", weight_ndim), ("bias", 1), ("running_mean", 1), ("running_var", 1)):
            value = getattr(self, name)
            if value is not None:
                array = number_array(value, self.id, name, ndim)  # a private, read-only copy
                array.setflags(write=False)
                object.__setattr__(self, name, array)
        object.__setattr__(self, "inputs", tuple(self.inputs))
        object.__setattr__(self, "frozen", frozenset(self.frozen))
        if isinstance(self.terms, (list, tuple)):
            object.__setattr__(self, "terms", tuple(self.terms))
        if self.type == "dropout" and self.p is None:
            object.__setattr__(self, "p", dropout.DEFAULT_P)
        elif isinstance(self.p, (int, np.integer, np.floating)) and not isinstance(self.p, bool):
            object.__setattr__(self, "p", float(self.p))
        if self.type in normalization.NORM_TYPES and self.eps is None:
            object.__setattr__(self, "eps", normalization.DEFAULT_EPS)
        if self.type == "batchnorm" and self.momentum is None:
            object.__setattr__(self, "momentum", normalization.DEFAULT_MOMENTUM)
        for name in ("eps", "momentum"):
            value = getattr(self, name)
            if isinstance(value, (int, np.integer, np.floating)) and not isinstance(value, bool):
                object.__setattr__(self, name, float(value))
        if is_whole(self.color):  # (a NumPy integer becomes a plain one, which JSON can hold)
            object.__setattr__(self, "color", int(self.color))

    @property
    def param_names(self) -> tuple[str, ...]:
        if self.type in normalization.NORM_TYPES:
            return ("weight", "bias") if self.affine else ()
        if self.type != "dense":
            return ()
        return ("weight", "bias") if self.use_bias else ("weight",)

    @property
    def state_names(self) -> tuple[str, ...]:
        """The layer's arrays that are state but not parameters: a batchnorm layer's running statistics."""
        return normalization.RUNNING if self.type == "batchnorm" else ()


@dataclass(frozen=True, eq=False)
class NetworkSpec:
    """A validated network. ``order`` lists every layer id topologically; ``widths`` maps id → units."""

    layers: tuple[LayerSpec, ...]
    output: str
    loss: str
    optimizer: OptimizerSpec = OptimizerSpec()
    seed: int | None = None
    name: str | None = None
    data: Mapping[str, Any] | None = None
    batch_size: int | None = None  # the batch size the example is meant to train with (None: the full batch)
    order: tuple[str, ...] = field(init=False)
    widths: Mapping[str, int] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", tuple(self.layers))
        if self.data is not None:
            object.__setattr__(self, "data", _plain_json(self.data))
        order, widths = _validate(self)
        object.__setattr__(self, "order", order)
        object.__setattr__(self, "widths", widths)

    # --- queries -------------------------------------------------------------------------------

    def layer(self, layer_id: str) -> LayerSpec:
        for layer in self.layers:
            if layer.id == layer_id:
                return layer
        raise SpecError(f"no layer with id {quoted(layer_id)}")

    @property
    def input_id(self) -> str:
        return next(layer.id for layer in self.layers if layer.type == "input")

    def fan_in(self, layer_id: str) -> int:
        """Width of what flows into a layer (the sum over its inputs)."""
        return sum(self.widths[i] for i in self.layer(layer_id).inputs)

    def active_order(self) -> tuple[str, ...]:
        """The layers the output depends on, in topological order (others are kept but not run)."""
        needed = {self.output}
        for layer_id in reversed(self.order):
            if layer_id in needed:
                needed.update(self.layer(layer_id).inputs)
        return tuple(i for i in self.order if i in needed)

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """Every parameter's key (``"h1.weight"``) and shape, in topological order."""
        shapes: dict[str, tuple[int, ...]] = {}
        for layer_id in self.order:
            layer = self.layer(layer_id)
            if layer.type == "dense":
                assert layer.units is not None
                shapes[f"{layer_id}.weight"] = (layer.units, self.fan_in(layer_id))
                if layer.use_bias:
                    shapes[f"{layer_id}.bias"] = (layer.units,)
            else:  # a norm layer's γ and β: one per unit
                shapes.update({f"{layer_id}.{name}": (self.widths[layer_id],) for name in layer.param_names})
        return shapes

    def state_shapes(self) -> dict[str, tuple[int, ...]]:
        """Every running statistic's key (``"bn1.running_mean"``) and shape, in topological order."""
        return {
            f"{layer_id}.{name}": (self.widths[layer_id],)
            for layer_id in self.order
            for name in self.layer(layer_id).state_names
        }

    def running_stats(self) -> dict[str, np.ndarray]:
        """Every batchnorm layer's running statistics as written in (zeros and ones where none are)."""
        stats: dict[str, np.ndarray] = {}
        for layer_id in self.order:
            layer = self.layer(layer_id)
            if layer.type == "batchnorm":
                start = normalization.initial_running(self.widths[layer_id], layer.running_mean, layer.running_var)
                stats.update({f"{layer_id}.{name}": value for name, value in start.items()})
        return stats

    def frozen_params(self) -> frozenset[str]:
        return frozenset(f"{layer.id}.{p}" for layer in self.layers for p in layer.frozen if p in layer.param_names)

    # --- edits (each returns a new, validated spec) -------------------------------------------

    def replace_layer(self, layer_id: str, **changes: Any) -> NetworkSpec:
        layers = tuple(dataclasses.replace(l, **changes) if l.id == layer_id else l for l in self.layers)
        if all(l.id != layer_id for l in self.layers):
            raise SpecError(f"no layer with id {quoted(layer_id)}")
        return dataclasses.replace(self, layers=layers)

    def with_params(self, params: Mapping[str, np.ndarray]) -> NetworkSpec:
        """The same network with the given parameter values (and running statistics, keyed
        ``"<id>.running_mean"``) written into its layers."""
        layers = []
        for layer in self.layers:
            changes: dict[str, Any] = {}
            for p in layer.param_names + layer.state_names:
                key = f"{layer.id}.{p}"
                if key in params:
                    changes[p] = np.asarray(params[key], dtype=np.float64)
            layers.append(dataclasses.replace(layer, **changes) if changes else layer)
        return dataclasses.replace(self, layers=tuple(layers))


def _plain_json(data: Any) -> dict[str, Any]:
    """A private copy of the ``data`` entry, refusing what could not be saved back as JSON."""
    if not isinstance(data, Mapping):
        raise SpecError(f"must be an object, got {brief(data)}", field="data")
    try:
        copied: dict[str, Any] = json.loads(json.dumps(dict(data), allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise SpecError(f"cannot be stored as JSON ({exc})", field="data") from None
    return copied


def _check_array(layer: LayerSpec, name: str, expected: tuple[int, ...]) -> None:
    array = getattr(layer, name)
    if array is None:
        return
    if array.shape != expected:
        got = "×".join(map(str, array.shape)) or "a scalar"
        want = "×".join(map(str, expected))
        hint = " (units × fan_in, like torch.nn.Linear)" if name == "weight" and layer.type == "dense" else ""
        raise SpecError(f"has shape {got}, expected {want}{hint}", layer.id, name)
    bad = np.argwhere(~np.isfinite(array))
    if bad.size:
        at = ", ".join(map(str, bad[0]))
        raise SpecError(f"entry [{at}] is not a finite number ({array[tuple(bad[0])]})", layer.id, name)


def _check_layer_fields(layer: LayerSpec) -> None:
    if not isinstance(layer.id, str) or not layer.id.strip():
        raise SpecError(f"every layer needs a non-empty string id, got {brief(layer.id)}", field="id")
    check_layer_id(layer.id)
    if layer.type not in LAYER_TYPES:
        raise SpecError(f"unknown type {quoted(layer.type)} (known: {', '.join(LAYER_TYPES)})", layer.id, "type")
    if layer.activation not in activations.NAMES:
        known = ", ".join(activations.NAMES)
        raise SpecError(f"unknown activation {quoted(layer.activation)} (known: {known})", layer.id, "activation")
    if layer.type in ("input", "dense"):
        if isinstance(layer.units, bool) or not isinstance(layer.units, int) or layer.units < 1:
            raise SpecError(f"must be a positive integer, got {brief(layer.units)}", layer.id, "units")
        if layer.units > MAX_UNITS:
            raise SpecError(
                f"{brief(layer.units)} units is more than a layer may have ({MAX_UNITS:,})", layer.id, "units"
            )
    if layer.type == "input":
        if layer.inputs:
            raise SpecError("an input layer takes no inputs", layer.id, "inputs")
        if layer.activation != "identity":
            raise SpecError("an input layer has no activation", layer.id, "activation")
    elif layer.type == "dense":
        if len(layer.inputs) != 1:
            raise SpecError(
                f"a dense layer takes exactly one input (use a concat layer to join several), got {len(layer.inputs)}",
                layer.id,
                "inputs",
            )
    elif layer.type == "features":
        _check_features_fields(layer)
    elif layer.type == "dropout":
        _check_dropout_fields(layer)
    elif layer.type in normalization.NORM_TYPES:
        _check_norm_fields(layer)
    elif not layer.inputs:
        raise SpecError(f"an {layer.type} layer needs at least one input", layer.id, "inputs")
    if len(set(layer.inputs)) != len(layer.inputs):
        raise SpecError("lists the same input twice", layer.id, "inputs")
    if layer.type != "features" and layer.terms:
        raise SpecError(f"only a features layer has terms, not {_a(layer.type)} layer", layer.id, "terms")
    if layer.type != "dropout" and layer.p is not None:
        raise SpecError(f"only a dropout layer has p, not {_a(layer.type)} layer", layer.id, "p")
    if layer.type not in normalization.NORM_TYPES:
        for name in ("eps", "momentum"):
            if getattr(layer, name) is not None:
                raise SpecError(f"only a norm layer has {name}, not {_a(layer.type)} layer", layer.id, name)
    if layer.type != "batchnorm":
        for name in normalization.RUNNING:
            if getattr(layer, name) is not None:
                raise SpecError(f"only a batchnorm layer has {name}, not {_a(layer.type)} layer", layer.id, name)
    has_params = layer.type == "dense" or (layer.type in normalization.NORM_TYPES and layer.affine is True)
    if not has_params and (layer.weight is not None or layer.bias is not None):
        why = " (affine is false)" if layer.type in normalization.NORM_TYPES else ""
        raise SpecError(f"{_a(layer.type)} layer has no parameters{why}", layer.id, "weight")
    if not layer.use_bias and layer.bias is not None:
        raise SpecError("bias values given but use_bias is false", layer.id, "bias")
    if layer.color is not None and (layer.type == "input" or not is_count(layer.color, 0)):
        why = "the input layer takes no colour" if layer.type == "input" else f"got {brief(layer.color)}"
        raise SpecError(f"a colour is a palette slot, a whole number from 0 up; {why}", layer.id, "color")
    unknown = set(layer.frozen) - set(PARAM_NAMES)
    if unknown:
        raise SpecError(f"can only freeze 'weight' and 'bias', not {sorted(unknown)}", layer.id, "frozen")


def check_layer_id(layer_id: str) -> None:
    """Refuse an id that would break a one-line message, a file that needs UTF-8 or a name built from it (the
    timeline's stored states join ids and parameter names with '|')."""
    problem = text_problem(layer_id, MAX_ID_LENGTH)
    if problem is None and "|" in layer_id:
        problem = "holds '|', which bpstudio keeps for joining names"
    if problem is not None:
        raise SpecError(f"the id {brief(layer_id)} {problem}", field="id")


def _a(layer_type: str) -> str:
    return f"{'an' if layer_type[0] in 'aeiou' else 'a'} {layer_type}"


def _check_features_fields(layer: LayerSpec) -> None:
    """One input, no activation, and a non-empty list of terms each of which parses (columns are checked
    against the input's width once widths are known)."""
    if len(layer.inputs) != 1:
        raise SpecError(f"a features layer takes exactly one input, got {len(layer.inputs)}", layer.id, "inputs")
    if layer.activation != "identity":
        raise SpecError("a features layer has no activation (its terms are its outputs)", layer.id, "activation")
    if layer.units is not None:
        raise SpecError("a features layer takes its width from its terms, so it has no units", layer.id, "units")
    if not isinstance(layer.terms, tuple) or not layer.terms:
        got = list(layer.terms) if isinstance(layer.terms, tuple) else layer.terms
        raise SpecError(
            f'must be a non-empty list of terms such as ["x1", "x2", "x1^2"], got {brief(got)}', layer.id, "terms"
        )
    try:
        features.parse_terms(layer.terms)
    except features.TermError as exc:
        raise SpecError(str(exc), layer.id, "terms") from None


def _check_dropout_fields(layer: LayerSpec) -> None:
    """One input, no activation, no units, and p in [0, 1)."""
    if len(layer.inputs) != 1:
        raise SpecError(f"a dropout layer takes exactly one input, got {len(layer.inputs)}", layer.id, "inputs")
    if layer.activation != "identity":
        raise SpecError("a dropout layer has no activation (it passes its input on)", layer.id, "activation")
    if layer.units is not None:
        raise SpecError("a dropout layer takes its width from its input, so it has no units", layer.id, "units")
    problem = dropout.p_problem(layer.p)
    if problem is not None:
        raise SpecError(problem, layer.id, "p")


def _check_norm_fields(layer: LayerSpec) -> None:
    """One input, no units, eps above 0, affine true or false, and (batchnorm) momentum in [0, 1]."""
    kind = layer.type
    if len(layer.inputs) != 1:
        raise SpecError(f"a {kind} layer takes exactly one input, got {len(layer.inputs)}", layer.id, "inputs")
    if layer.units is not None:
        raise SpecError(f"a {kind} layer takes its width from its input, so it has no units", layer.id, "units")
    if not isinstance(layer.affine, bool):
        raise SpecError(f"must be true or false, got {brief(layer.affine)}", layer.id, "affine")
    problem = normalization.eps_problem(layer.eps)
    if problem is not None:
        raise SpecError(problem, layer.id, "eps")
    if kind == "batchnorm":
        problem = normalization.momentum_problem(layer.momentum)
        if problem is not None:
            raise SpecError(problem, layer.id, "momentum")
    elif layer.momentum is not None:
        raise SpecError(
            "only a batchnorm layer has momentum (a layernorm layer keeps no running statistics)", layer.id, "momentum"
        )
    if layer.running_var is not None and bool((layer.running_var < 0).any()):
        at = int(np.argmax(layer.running_var < 0))
        raise SpecError(
            f"entry [{at}] is negative ({layer.running_var[at]}); a variance is 0 or more", layer.id, "running_var"
        )


def _validate(spec: NetworkSpec) -> tuple[tuple[str, ...], dict[str, int]]:
    if not spec.layers:
        raise SpecError("a network needs at least one input layer and one more layer", field="layers")
    if len(spec.layers) > MAX_LAYERS:
        raise SpecError(f"{len(spec.layers):,} layers is more than a network may have ({MAX_LAYERS:,})", field="layers")
    if spec.name is not None:
        problem = text_problem(spec.name, MAX_NAME_LENGTH) if isinstance(spec.name, str) else "is not a string"
        if problem is not None:
            raise SpecError(f"the name {brief(spec.name)} {problem}", field="name")
    by_id: dict[str, LayerSpec] = {}
    for layer in spec.layers:
        _check_layer_fields(layer)
        if layer.id in by_id:
            raise SpecError("the id is used by two layers", layer.id, "id")
        by_id[layer.id] = layer
    inputs = [layer.id for layer in spec.layers if layer.type == "input"]
    if len(inputs) != 1:
        found = ", ".join(f"{quoted(i)}" for i in inputs) or "none"
        raise SpecError(f"a network takes exactly one input layer, found {found}", field="layers")
    for layer in spec.layers:
        for source in layer.inputs:
            if source not in by_id:
                raise SpecError(f"refers to unknown layer {quoted(source)}", layer.id, "inputs")
            if source == layer.id:
                raise SpecError("a layer cannot take itself as input", layer.id, "inputs")
    if not isinstance(spec.output, str) or spec.output not in by_id:
        raise SpecError(f"the output {quoted(spec.output)} is not a layer id", field="output")
    if by_id[spec.output].type == "input":
        raise SpecError("the output must be a computed layer, not the input", field="output")
    if spec.loss not in losses.NAMES:
        raise SpecError(f"unknown loss {quoted(spec.loss)} (known: {', '.join(losses.NAMES)})", field="loss")
    if spec.seed is not None and (isinstance(spec.seed, bool) or not isinstance(spec.seed, int) or spec.seed < 0):
        raise SpecError(f"must be a non-negative integer, got {brief(spec.seed)}", field="seed")
    if spec.batch_size is not None and not is_count(spec.batch_size, 1):
        raise SpecError(
            f"must be a positive integer or absent (the full batch), got {brief(spec.batch_size)}", field="batch_size"
        )

    order = topological_order({layer.id: layer.inputs for layer in spec.layers})
    widths: dict[str, int] = {}
    parameters = 0
    for layer_id in order:
        layer = by_id[layer_id]
        if layer.type in ("input", "dense"):
            assert layer.units is not None
            widths[layer_id] = layer.units
        elif layer.type == "concat":
            widths[layer_id] = sum(widths[i] for i in layer.inputs)
        elif layer.type == "features":
            try:
                features.parse_terms(layer.terms, widths[layer.inputs[0]], layer.inputs[0])
            except features.TermError as exc:
                raise SpecError(str(exc), layer_id, "terms") from None
            widths[layer_id] = len(layer.terms)
        elif layer.type in ("dropout", *normalization.NORM_TYPES):
            widths[layer_id] = widths[layer.inputs[0]]
        else:  # add: every input must have the same width
            seen = {i: widths[i] for i in layer.inputs}
            if len(set(seen.values())) > 1:
                detail = ", ".join(f"{quoted(i)} has {w}" for i, w in seen.items())
                raise SpecError(f"an add layer needs inputs of equal width; {detail}", layer_id, "inputs")
            widths[layer_id] = next(iter(seen.values()))
        if layer.type == "dense":
            fan_in = sum(widths[i] for i in layer.inputs)
            parameters += widths[layer_id] * (fan_in + 1)
            if parameters > MAX_PARAMETERS:
                raise SpecError(
                    f"the network would have over {MAX_PARAMETERS:,} weights and biases by this layer "
                    f"({widths[layer_id]:,} units × {fan_in:,} inputs)",
                    layer_id,
                    "units",
                )
            _check_array(layer, "weight", (widths[layer_id], fan_in))
            _check_array(layer, "bias", (widths[layer_id],))
        elif layer.type in normalization.NORM_TYPES:
            parameters += 2 * widths[layer_id]
            for name in VALUE_FIELDS:
                _check_array(layer, name, (widths[layer_id],))
    _check_loss_fits_output(spec, by_id, widths)
    return order, widths


PROBABILITY_ACTIVATIONS = ("sigmoid", "softmax")


def _check_loss_fits_output(spec: NetworkSpec, by_id: Mapping[str, LayerSpec], widths: Mapping[str, int]) -> None:
    """Losses that only make sense for certain outputs say so now, not as a crash mid-training."""
    out = by_id[spec.output]
    if spec.loss == "bce" and out.activation not in PROBABILITY_ACTIVATIONS:
        raise SpecError(
            f"loss 'bce' needs outputs in (0, 1): give the output layer {quoted(out.id)} a sigmoid "
            f"activation (it has {out.activation}), or use cross_entropy on logits",
            field="loss",
        )
    if spec.loss == "cross_entropy" and widths[out.id] < 2:
        raise SpecError(
            f"loss 'cross_entropy' needs one output unit per class (at least 2); the output layer "
            f"{quoted(out.id)} has {widths[out.id]} (for two classes with one unit use sigmoid and bce)",
            field="loss",
        )
