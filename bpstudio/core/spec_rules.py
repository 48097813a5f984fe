"""The rules a network spec obeys: its vocabulary (layer types, parameter names, the arrays a layer holds) and
the checks :class:`~bpstudio.core.spec.NetworkSpec` runs when it is made. Each broken rule raises
:class:`~bpstudio.core.errors.SpecError` naming the layer and field: unknown ids, cycles, width mismatches, wrong
matrix shapes, unknown names, non-finite numbers, fields that belong to another layer type, and a loss that does
not fit the output layer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from bpstudio.core import activations, dropout, features, losses, normalization
from bpstudio.core.checks import is_count
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

if TYPE_CHECKING:
    from bpstudio.core.spec import LayerSpec, NetworkSpec

LAYER_TYPES = ("input", "dense", "add", "concat", "features", "dropout", "batchnorm", "layernorm")
PARAM_NAMES = ("weight", "bias")
# a layer's arrays: its parameters, and a batchnorm layer's running statistics (state the optimizer never touches)
VALUE_FIELDS = ("weight", "bias", *normalization.RUNNING)
PROBABILITY_ACTIVATIONS = ("sigmoid", "softmax")


def check_array(layer: LayerSpec, name: str, expected: tuple[int, ...]) -> None:
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


def check_layer_fields(layer: LayerSpec) -> None:
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


def _check_passing_layer(layer: LayerSpec, outputs: str, width_from: str) -> None:
    """A layer of one input, with no activation of its own (``outputs`` says what its outputs are) and no units
    (its width comes from ``width_from``)."""
    kind = layer.type
    if len(layer.inputs) != 1:
        raise SpecError(f"a {kind} layer takes exactly one input, got {len(layer.inputs)}", layer.id, "inputs")
    if layer.activation != "identity":
        raise SpecError(f"a {kind} layer has no activation ({outputs})", layer.id, "activation")
    if layer.units is not None:
        raise SpecError(f"a {kind} layer takes its width from {width_from}, so it has no units", layer.id, "units")


def _check_features_fields(layer: LayerSpec) -> None:
    """One input, no activation, and a non-empty list of terms each of which parses (columns are checked
    against the input's width once widths are known)."""
    _check_passing_layer(layer, "its terms are its outputs", "its terms")
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
    _check_passing_layer(layer, "it passes its input on", "its input")
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


def validate(spec: NetworkSpec) -> tuple[tuple[str, ...], dict[str, int]]:
    """The layer ids in topological order and each layer's width; raises :class:`SpecError` naming the layer and
    field of the first rule ``spec`` breaks."""
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
        check_layer_fields(layer)
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
            check_array(layer, "weight", (widths[layer_id], fan_in))
            check_array(layer, "bias", (widths[layer_id],))
        elif layer.type in normalization.NORM_TYPES:
            parameters += 2 * widths[layer_id]
            for name in VALUE_FIELDS:
                check_array(layer, name, (widths[layer_id],))
    _check_loss_fits_output(spec, by_id, widths)
    return order, widths


def loss_notes(spec: NetworkSpec) -> list[str]:
    """What is allowed but most likely a mistake in how the loss meets the output (for a note, not a refusal):
    a softmax output under cross_entropy, which applies a softmax of its own."""
    out = spec.layer(spec.output)
    if spec.loss == "cross_entropy" and out.activation == "softmax":
        return [
            f"the output layer {quoted(out.id)} ends in a softmax and cross_entropy applies its own softmax to "
            "what it gets, so the loss and the gradients are those of a softmax taken twice; for training, "
            "leave the final softmax out of the model (its outputs are then logits)"
        ]
    return []


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
