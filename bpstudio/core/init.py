"""Initial parameter values: the file's own numbers, or drawn by the layer's initialiser.

Draws are deterministic: each parameter has its own random stream seeded from the network's seed
and the parameter's key, so adding or renaming one layer does not change the others' values.
Formulas are PyTorch's ``nn.init`` ones (fan_in = columns of the (out, in) weight matrix).
"""

from __future__ import annotations

import math
import zlib

import numpy as np

from bpstudio.core.errors import SpecError
from bpstudio.core.normalization import NORM_TYPES
from bpstudio.core.spec import Initializer, NetworkSpec

DEFAULT_SEED = 0


def draw(init: Initializer, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Values for one parameter of ``shape`` ((out, in) for a weight, (out,) for a bias)."""
    fan_out = shape[0]
    fan_in = shape[1] if len(shape) > 1 else shape[0]
    name = init.name
    if name == "zeros":
        return np.zeros(shape)
    if name == "constant":
        return np.full(shape, init.get("value"))
    if name == "uniform":
        return rng.uniform(init.get("low"), init.get("high"), shape)
    if name == "normal":
        return rng.normal(init.get("mean"), init.get("std"), shape)
    if name == "xavier_uniform":
        # bound = gain·√(6 / (fan_in + fan_out))
        bound = init.get("gain") * math.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-bound, bound, shape)
    if name == "xavier_normal":
        return rng.normal(0.0, init.get("gain") * math.sqrt(2.0 / (fan_in + fan_out)), shape)
    if name == "he_uniform":
        # Kaiming for ReLU: bound = √2·√(3 / fan_in) = √(6 / fan_in)
        return rng.uniform(-math.sqrt(6.0 / fan_in), math.sqrt(6.0 / fan_in), shape)
    if name == "he_normal":
        return rng.normal(0.0, math.sqrt(2.0 / fan_in), shape)
    raise AssertionError(f"initialiser '{name}' passed validation but has no formula")


def param_rng(seed: int | None, key: str) -> np.random.Generator:
    base = DEFAULT_SEED if seed is None else seed
    return np.random.default_rng([base, zlib.crc32(key.encode("utf-8"))])


def initial_params(spec: NetworkSpec, seed: int | None = None) -> dict[str, np.ndarray]:
    """Every parameter of ``spec`` as a new float64 array, keyed ``"<layer id>.weight"`` / ``".bias"``.

    ``seed`` overrides the spec's own seed for the drawn values (the file's fixed values are kept).
    """
    use_seed = spec.seed if seed is None else seed
    params: dict[str, np.ndarray] = {}
    for key, shape in spec.param_shapes().items():
        layer_id, name = key.rsplit(".", 1)
        layer = spec.layer(layer_id)
        given = layer.weight if name == "weight" else layer.bias
        if given is not None:
            params[key] = np.array(given, dtype=np.float64)
        elif layer.type in NORM_TYPES:  # γ = 1, β = 0: the layer starts as plain normalization (torch's default)
            params[key] = np.ones(shape) if name == "weight" else np.zeros(shape)
        else:
            init = layer.weight_init if name == "weight" else layer.bias_init
            try:
                params[key] = draw(init, shape, param_rng(use_seed, key))
            except (OverflowError, ValueError) as exc:
                raise SpecError(
                    f"initialiser '{init.name}' cannot draw {name} values ({exc})", layer_id, "init"
                ) from None
            if not np.all(np.isfinite(params[key])):
                raise SpecError(
                    f"initialiser '{init.name}' drew non-finite {name} values; use smaller settings", layer_id, "init"
                )
    return params
