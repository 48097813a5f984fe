"""The network file format v1 (docs/file-format.md): validation, ordering and widths.

Every malformed file must fail with one SpecError naming the layer and the field.
"""

import contextlib
import json
import math
import re

import pytest

from bpstudio.core import init
from bpstudio.core.errors import SpecError
from bpstudio.core.io import spec_io
from bpstudio.core.spec import Initializer, LayerSpec, NetworkSpec, OptimizerSpec
from tests.core.spec_builders import DELETE, RESIDUAL, X, dense, mazur_with
from tests.helpers import MAZUR, network

# --- validation: one message naming the layer and the field ------------------------------------------

H, W, B = ("layers", 1), ("layers", 1, "weight"), ("layers", 1, "bias")
FIELD_ERRORS = [
    # (path into MAZUR, new value, expected message)
    *[
        (H + ("units",), v, rf"layer 'h', field 'units': must be a positive integer, got {re.escape(repr(v))}$")
        for v in ("2", True, 0, 2.0)
    ],
    (H + ("units",), DELETE, r"layer 'h', field 'units'.*None"),
    (H + ("wieght",), [[1.0, 2.0]], r"layer 'h', field 'wieght': unknown field for a dense layer"),
    (("layers", 0, "activation"), "relu", r"layer 'i', field 'activation': unknown field"),
    (("layers", 0, "inputs"), ["h"], r"layer 'i', field 'inputs': unknown field"),
    (H + ("activation",), "sigmoidd", r"layer 'h', field 'activation': unknown activation 'sigmoidd'"),
    (H + ("activation",), 3, r"layer 'h', field 'activation': must be an activation name"),
    (H + ("type",), "conv", r"layer 'h', field 'type': unknown type 'conv'"),
    (H + ("inputs",), ["nope"], r"layer 'h', field 'inputs': refers to unknown layer 'nope'"),
    (H + ("inputs",), [], r"layer 'h', field 'inputs': a dense layer takes exactly one input.*got 0"),
    (H + ("inputs",), ["i", "o"], r"layer 'h', field 'inputs': a dense layer takes exactly one input.*got 2"),
    (H + ("inputs",), ["h"], r"layer 'h', field 'inputs': a layer cannot take itself as input"),
    (H + ("inputs",), "i", r"layer 'h', field 'inputs': must be a list of layer ids"),
    (
        W,
        [[0.15, 0.25], [0.2, 0.3], [0.0, 0.0]],
        r"layer 'h', field 'weight': has shape 3×2, expected 2×2 \(units × fan_in, like torch.nn.Linear\)",
    ),
    (W, [[0.15, 0.25, 0.0], [0.2, 0.3, 0.0]], r"layer 'h', field 'weight': has shape 2×3, expected 2×2"),
    (W, [0.15, 0.25], r"layer 'h', field 'weight': expected a list at \[0\], got 0.15"),
    (W, [[1.0, 2.0], [3.0]], r"layer 'h', field 'weight': rows have different lengths"),
    (W, [[1.0, 2.0], 3.0], r"layer 'h', field 'weight': expected a list at \[1\]"),
    (W, [[1.0, "2"], [3.0, 4.0]], r"layer 'h', field 'weight': entry \[0, 1\] must be a number, got '2'"),
    (W, [[1.0, 2.0], [True, 4.0]], r"layer 'h', field 'weight': entry \[1, 0\] must be a number, got True"),
    (B, [0.1, 0.2, 0.3], r"layer 'h', field 'bias': has shape 3, expected 2$"),
    (B, 0.35, r"layer 'h', field 'bias': expected a list, got 0.35"),
    (H + ("use_bias",), False, r"layer 'h', field 'bias': bias values given but use_bias is false"),
    (H + ("use_bias",), "yes", r"layer 'h', field 'use_bias': must be true or false"),
    (H + ("frozen",), "bias", r"layer 'h', field 'frozen': must be true, false or a list"),
    (H + ("frozen",), ["weights"], r"layer 'h', field 'frozen': can only freeze 'weight' and 'bias'"),
    (H + ("init",), "glorot", r"layer 'h', field 'init': unknown initialiser 'glorot'"),
    (H + ("init",), {"name": "he_normal", "gain": 2}, r"layer 'h', field 'init': .*takes no parameter 'gain'"),
    (H + ("init",), {"name": "constant", "value": "1"}, r"layer 'h', field 'init': .*'value' must be a number"),
    (H + ("init",), {"weights": "zeros"}, r"layer 'h', field 'init': unknown keys \['weights'\]"),
    (H + ("init",), {"bias": "glorot"}, r"layer 'h', field 'init': unknown initialiser 'glorot'"),
    (H + ("init",), 5, r"layer 'h', field 'init': an initialiser is a name"),
    (H + ("position",), [1.0], r"layer 'h', field 'position': must be \[x, y\]"),
    (H + ("position",), [0.0, math.inf], r"layer 'h', field 'position': must be \[x, y\] with finite numbers"),
    (H + ("id",), "i", r"layer 'i', field 'id': the id is used by two layers"),
    (H + ("id",), " ", r"field 'id': layer #1 needs a non-empty string id"),
    (H + ("id",), 7, r"field 'id': layer #1 needs a non-empty string id, got 7"),
    (H, "dense", r"field 'layers': layer #1 must be an object"),
    (("output",), "nope", r"field 'output': the output 'nope' is not a layer id"),
    (("output",), "i", r"field 'output': the output must be a computed layer, not the input"),
    (("output",), 3, r"field 'output': must be a string"),
    (("loss",), "hinge", r"field 'loss': unknown loss 'hinge'"),
    (("optimizer", "name"), "adagrad", r"field 'optimizer': unknown optimizer 'adagrad'"),
    (("optimizer", "name"), 1, r"field 'optimizer': optimizer name must be a string"),
    (("optimizer", "learning_rate"), 0.1, r"field 'optimizer': unknown optimizer setting 'learning_rate'"),
    (("optimizer", "lr"), -0.1, r"field 'optimizer': 'lr' must not be negative, got -0.1"),
    (("optimizer", "lr"), "0.1", r"field 'optimizer': 'lr' must be a number, got '0.1'"),
    *[(("optimizer", k), v, rf"field 'optimizer': '{k}' must be below 1") for k, v in (("beta1", 1), ("beta2", 1.5))],
    (("optimizer", "weight_decay"), -1e-4, r"field 'optimizer': 'weight_decay' must not be negative"),
    (("optimizer",), "sgd", r"field 'optimizer': must be an object"),
    *[(("seed",), v, rf"field 'seed': must be a non-negative integer, got {v}$") for v in (-1, True, 1.5)],
    (("name",), 3, r"field 'name': must be a string"),
    (("data",), [[1.0]], r"field 'data': must be an object"),
    (("Layers",), [], r"field 'Layers': unknown top-level field"),
    (("format",), "keras", r"field 'format': expected \"format\": \"bpstudio-network\", got 'keras'"),
    (("version",), 3, r"field 'version': version 3 is newer than this bpstudio reads \(2\); please upgrade"),
    (("version",), 0, r"field 'version': unknown version 0"),
    *[(("version",), v, rf"field 'version': must be an integer, got {v!r}$") for v in ("1", True, 1.0)],
    (("layers",), {}, r"field 'layers': must be a list of layer objects"),
    (("layers",), [], r"field 'layers': a network needs at least one input layer"),
]


@pytest.mark.parametrize(
    "path, value, message", FIELD_ERRORS, ids=[f"{'.'.join(map(str, p))}={v!r:.20}" for p, v, _ in FIELD_ERRORS]
)
def test_a_bad_field_is_refused_with_one_message_naming_layer_and_field(path, value, message):
    with pytest.raises(SpecError, match=message) as caught:
        spec_io.from_dict(mazur_with(path, value))
    assert "\n" not in str(caught.value)


GRAPH_ERRORS = [
    (
        [X, {"id": "x2", "type": "input", "units": 2}, dense("h", ["x"], 1)],
        "h",
        r"^field 'layers': a network takes exactly one input layer, found 'x', 'x2'$",
    ),
    ([dense("a", ["b"], 1), dense("b", ["a"], 1)], "b", r"^field 'layers': .*exactly one input layer, found none"),
    (
        [X, dense("a", ["c"], 2), dense("b", ["a"], 2), dense("c", ["b"], 2)],
        "c",
        r"^field 'inputs': the layers form a cycle: ('a' -> 'b' -> 'c' -> 'a'|'b' -> 'c' -> 'a' -> 'b'"
        r"|'c' -> 'a' -> 'b' -> 'c')$",
    ),
    (
        [X, dense("a", ["x"], 2), {"id": "j", "type": "concat", "inputs": ["a", "b"]}, dense("b", ["j"], 2)],
        "b",
        r"^field 'inputs': the layers form a cycle: .*'j'.*'b'",
    ),
    (
        [X, dense("a", ["x"], 3), dense("b", ["x"], 2), {"id": "r", "type": "add", "inputs": ["a", "b"]}],
        "r",
        r"^layer 'r', field 'inputs': an add layer needs inputs of equal width; 'a' has 3, 'b' has 2$",
    ),
    (
        [X, dense("a", ["x"], 2), {"id": "r", "type": "add", "inputs": ["a", "a"]}],
        "r",
        r"^layer 'r', field 'inputs': lists the same input twice$",
    ),
    ([X, {"id": "r", "type": "add", "inputs": []}], "r", r"^layer 'r', field 'inputs': an add layer needs"),
    (
        [X, {"id": "c", "type": "concat", "inputs": ["x"], "units": 2}],
        "c",
        r"^layer 'c', field 'units': unknown field for a concat layer",
    ),
    (
        [X, {"id": "c", "type": "add", "inputs": ["x"], "weight": [[1.0]]}],
        "c",
        r"^layer 'c', field 'weight': unknown field for an add layer",
    ),
    (
        [X, {"id": "c", "type": "concat", "inputs": ["x", "x2"]}],
        "c",
        r"^layer 'c', field 'inputs': refers to unknown layer 'x2'$",
    ),
    (
        [X, {"id": "c", "type": "concat", "inputs": ["x", "x"]}, dense("h", ["c"], 1, weight=[[1.0, 2.0]])],
        "h",
        r"^layer 'c', field 'inputs': lists the same input twice$",
    ),
    (
        [
            X,
            dense("a", ["x"], 3),
            {"id": "c", "type": "concat", "inputs": ["x", "a"]},
            dense("h", ["c"], 1, weight=[[1.0, 2.0, 3.0]]),
        ],
        "h",
        r"^layer 'h', field 'weight': has shape 1×3, expected 1×5 \(units × fan_in",
    ),
]


@pytest.mark.parametrize("layers, output, message", GRAPH_ERRORS)
def test_a_bad_graph_is_refused(layers, output, message):
    with pytest.raises(SpecError, match=message):
        network(layers, output)


@pytest.mark.parametrize(
    "template, literal, message",
    [
        *[
            ('"weight": [[{}', lit, r"^layer 'h', field 'weight': entry \[0, 0\] must be a finite number")
            for lit in ("NaN", "Infinity", "-Infinity", "1e999")
        ],
        ('"bias": [0.35, {}', "NaN", r"^layer 'h', field 'bias': entry \[1\] must be a finite number, got nan"),
        ('"lr": {}', "Infinity", r"^field 'optimizer': 'lr' must be a finite number"),
    ],
)
def test_non_finite_numbers_in_the_json_text_are_refused(template, literal, message):
    text = json.dumps(MAZUR)
    old = next(template.format(v) for v in ("0.15", "0.35", "0.5") if template.format(v) in text)
    assert text.count(old) == 1
    with pytest.raises(SpecError, match=message):
        spec_io.loads(text.replace(old, template.format(literal)))


@pytest.mark.parametrize(
    "path, value, message",
    [  # JSON integers have no size limit; floats do
        (W + (0, 0), 10**400, r"^layer 'h', field 'weight'"),
        (("optimizer", "lr"), 10**400, r"^field 'optimizer'"),
        (H + ("position",), [10**400, 0], r"^layer 'h', field 'position'"),
        (H + ("init",), {"name": "constant", "value": 10**400}, r"^layer 'h', field 'init'"),
    ],
    ids=["weight", "lr", "position", "init"],
)
def test_an_integer_too_big_for_a_float_is_refused_with_a_spec_error(path, value, message):
    with pytest.raises(SpecError, match=message):
        spec_io.from_dict(mazur_with(path, value))


def test_an_integer_literal_python_will_not_parse_is_a_spec_error():  # more than 4300 digits
    with pytest.raises(SpecError):
        spec_io.loads(json.dumps(MAZUR).replace('"lr": 0.5', '"lr": ' + "1" * 5000))


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"format": "bpstudio-network",\n  "version": 1,,\n}', r"^not valid JSON: .* at line 2, column 16$"),
        ('{"format": "bpstudio-network", "layers": [}', r"^not valid JSON: .* at line 1, column 43$"),
        ("", r"^not valid JSON: Expecting value at line 1, column 1$"),
        ("[1, 2]", r"^a network file holds one JSON object$"),
    ],
)
def test_text_that_is_not_a_network_object_is_refused(text, message):
    with pytest.raises(SpecError, match=message):
        spec_io.loads(text)


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: LayerSpec("r", "add", ("x",), weight=[[1.0]]), r"layer 'r', field 'weight': an add layer has no"),
        (lambda: OptimizerSpec(lr=math.nan), r"field 'optimizer': 'lr' must be a finite number"),
        (lambda: OptimizerSpec(name="adagrad"), r"field 'optimizer': unknown optimizer 'adagrad'"),
        (lambda: Initializer("glorot"), r"unknown initialiser 'glorot'"),
        (lambda: Initializer("uniform", {"low": math.inf}), r"'low' must be a finite number"),
    ],
)
def test_the_python_api_validates_too(build, message):
    with pytest.raises(SpecError, match=message):
        spec = build()
        if isinstance(spec, LayerSpec):
            NetworkSpec((LayerSpec("x", "input", units=1), spec), "r", "mse")


def test_a_file_that_loads_can_be_saved_again():
    text = json.dumps(MAZUR)[:-1] + ', "data": {"X": [[NaN, 0.1]], "Y": [[0.01, 0.99]]}}'
    with contextlib.suppress(SpecError):  # refusing the NaN when loading is fine too; crashing on saving is not
        spec_io.dumps(spec_io.loads(text))


@pytest.mark.parametrize("init_json", [{"name": "normal", "std": -1.0}, {"name": "xavier_normal", "gain": -1.0}])
def test_an_initialiser_that_cannot_draw_is_refused_when_loading(init_json):
    raw = mazur_with(H + ("init",), init_json)
    del raw["layers"][1]["weight"]
    with pytest.raises(SpecError, match=r"layer 'h', field 'init'"):
        init.initial_params(spec_io.from_dict(raw))


# --- ordering, widths and shapes ---------------------------------------------------------------------


def test_layers_listed_out_of_order_are_ordered_topologically():
    spec = network(RESIDUAL, "y")
    assert sorted(spec.order) == sorted(layer["id"] for layer in RESIDUAL)
    for layer in spec.layers:
        assert all(spec.order.index(i) < spec.order.index(layer.id) for i in layer.inputs)
    assert spec.order[0] == "x" and spec.input_id == "x"
    assert network(list(reversed(MAZUR["layers"])), "o").order == ("i", "h", "o")
    # active_order: only what the output depends on
    assert "side" in spec.order
    assert spec.active_order() == tuple(i for i in spec.order if i != "side")
    assert network(RESIDUAL, "h2").active_order() == ("x", "h1", "h2")


def test_widths_fan_in_and_param_shapes():
    spec = network(RESIDUAL, "y")
    assert dict(spec.widths) == {"x": 2, "h1": 3, "h2": 3, "r": 3, "c": 5, "side": 5, "y": 2}
    assert spec.fan_in("y") == 5 and spec.fan_in("r") == 6
    shapes = spec.param_shapes()
    assert shapes == {
        "h1.weight": (3, 2),
        "h1.bias": (3,),
        "h2.weight": (3, 3),
        "side.weight": (5, 2),
        "side.bias": (5,),
        "y.weight": (2, 5),
        "y.bias": (2,),
    }
    owners = list(dict.fromkeys(k.split(".")[0] for k in shapes))
    assert owners == [i for i in spec.order if i in owners]
    assert {k: v.shape for k, v in init.initial_params(spec).items()} == shapes
    spec = network([X, dense("a", ["x"], 2, frozen=True), dense("b", ["a"], 1, frozen=["bias"], use_bias=False)], "b")
    assert spec.frozen_params() == {"a.weight", "a.bias"} and spec.layer("b").param_names == ("weight",)
    with pytest.raises(SpecError, match="no layer with id 'zz'"):
        spec.layer("zz")
