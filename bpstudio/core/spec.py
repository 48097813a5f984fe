"""The network as data: layers, loss, optimizer and seed, validated as a DAG.

A :class:`NetworkSpec` is the single source of truth shared by the GUI, the CLI and the Python API.
Constructing one validates it: unknown ids, cycles, width mismatches, wrong matrix shapes, unknown
names and non-finite numbers raise :class:`~bpstudio.core.errors.SpecError` naming the layer and field.
The rules it is checked against are in :mod:`bpstudio.core.spec_rules`. Specs are immutable; edit one with
:func:`dataclasses.replace` or :meth:`NetworkSpec.replace_layer`.
Reading and writing the JSON form lives in :mod:`bpstudio.core.io.spec_io`.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bpstudio.core import dropout, normalization
from bpstudio.core.checks import is_whole, require_finite
from bpstudio.core.errors import SpecError
from bpstudio.core.limits import brief, quoted
from bpstudio.core.optimizer_spec import OPTIMIZERS as OPTIMIZERS  # (re-exported: the spec holds an optimizer)
from bpstudio.core.optimizer_spec import SCHEDULES as SCHEDULES
from bpstudio.core.optimizer_spec import OptimizerSpec as OptimizerSpec
from bpstudio.core.optimizer_spec import Schedule as Schedule
from bpstudio.core.spec_rules import validate

_require_finite = require_finite  # (the name the readers in io/ use)

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
        order, widths = validate(self)
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
