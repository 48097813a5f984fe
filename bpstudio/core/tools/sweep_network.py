"""The network of one sweep grid point: a deep MLP like the ``deep_sigmoid`` preset (input → h1 → … → hD → out),
with residual sums when asked, the settings' extra layers after each hidden layer (:data:`BLOCK_SETTINGS`) and an
output layer that fits the data. :mod:`bpstudio.core.tools.sweep` trains it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from bpstudio.core.data import Dataset
from bpstudio.core.errors import BpstudioError, SpecError
from bpstudio.core.spec import Initializer, LayerSpec, NetworkSpec, OptimizerSpec
from bpstudio.core.tools.sweep_result import Config
from bpstudio.core.tools.sweep_settings import CONSTANT, DEFAULT_LR, DEFAULT_UNITS, FLOAT_SETTINGS, schedule_of


def _output_for(data: Dataset) -> tuple[int, str, str]:
    """(units, activation, loss) of an output layer that fits ``data``."""
    if data.is_classification:
        return (1, "sigmoid", "bce") if data.n_classes <= 2 else (data.n_classes, "identity", "cross_entropy")
    return int(data.Y.shape[1]), "identity", "mse"


Block = list[LayerSpec]


def _dropout_after(p: float, k: int, block: Block) -> Block:
    """A dropout layer ``d<k>`` with probability ``p`` after hidden block k (none for p = 0)."""
    return block if p == 0 else [*block, LayerSpec(f"d{k}", "dropout", (block[-1].id,), p=p)]


def _norm_in(kind: str, k: int, block: Block) -> Block:
    """A ``kind`` layer ``n<k>`` after the dense layer h<k>, taking over its activation (Linear → norm → activation,
    as a normalized net is usually built); none for "none"."""
    if kind == "none":
        return block
    dense = block[0]
    linear = dataclasses.replace(dense, activation="identity")
    return [linear, LayerSpec(f"n{k}", kind, (dense.id,), activation=dense.activation), *block[1:]]


# The settings that change every hidden block: block k starts as the dense layer h<k>, and each setting here that
# the grid names reshapes it, in this order (a block's last layer is what the next block reads).
BLOCK_SETTINGS: dict[str, Callable[[Any, int, Block], Block]] = {"norm": _norm_in, "dropout": _dropout_after}


def build_spec(config: Config, data: Dataset, seed: int) -> NetworkSpec:
    """The deep MLP of one grid point on ``data``: ``config.init`` draws the hidden layers' weights (the
    output layer keeps xavier_uniform, as in the presets); ``seed`` seeds every drawn value (and the dropout
    masks). Each hidden block is ``h<k>`` and what :data:`BLOCK_SETTINGS` adds after it."""
    s = dict(config.settings)
    units, use_bias = s.get("units", DEFAULT_UNITS), s.get("use_bias", True)
    init, bias_init = Initializer(config.init), Initializer(s.get("bias_init", "zeros"))
    layers = [LayerSpec("x", "input", units=data.n_inputs)]
    previous = "x"
    for k in range(1, config.depth + 1):
        block = [
            LayerSpec(
                f"h{k}", "dense", (previous,), units, config.activation, use_bias, weight_init=init, bias_init=bias_init
            )
        ]
        for name, reshape in BLOCK_SETTINGS.items():
            if name in s:
                block = reshape(s[name], k, block)
        layers += block
        if config.residual and k > 1:  # r_k = (block k's output) + what h_k read (block 1's output or r_{k-1})
            layers.append(LayerSpec(f"r{k}", "add", (previous, block[-1].id)))
        previous = layers[-1].id
    out_units, out_activation, loss = _output_for(data)
    layers.append(LayerSpec("out", "dense", (previous,), out_units, out_activation, use_bias, bias_init=bias_init))
    optimizer = OptimizerSpec(
        name=s.get("optimizer", "sgd"),
        lr=s.get("lr", DEFAULT_LR),
        schedule=schedule_of(s.get("schedule", CONSTANT)),
        **{k: s[k] for k in FLOAT_SETTINGS if k in s and k != "lr"},
    )
    try:
        return NetworkSpec(
            tuple(layers), "out", loss, optimizer, seed, f"sweep: depth {config.depth}, {config.label(tuple(s))}"
        )
    except SpecError as exc:
        raise BpstudioError(f"sweep configuration {config.label(tuple(s))}: {exc}") from None
