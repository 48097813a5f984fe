"""The network file format v1: bit-exact round trips, initialisation, immutability, the doc's examples.

Every valid network must survive save→load with bit-identical weights and the same text.
"""

import dataclasses
import math
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bpstudio.core import init
from bpstudio.core.edit.colors import pin_colors
from bpstudio.core.errors import SpecError
from bpstudio.core.io import presets, spec_io
from bpstudio.core.spec import LayerSpec
from tests.core.spec_builders import RESIDUAL, X, bits, dense, mazur_with
from tests.helpers import MAZUR, network

DOC = Path(__file__).resolve().parents[3] / "docs" / "file-format.md"

# --- round trips: bit-exact ---------------------------------------------------------------------------

NET_FIELDS = ("order", "output", "loss", "optimizer", "seed", "name", "data", "batch_size")
LAYER_FIELDS = (
    "id",
    "type",
    "inputs",
    "units",
    "activation",
    "use_bias",
    "weight_init",
    "bias_init",
    "frozen",
    "position",
    "color",
)


def assert_same_network(a, b):
    assert [getattr(a, f) for f in NET_FIELDS] == [getattr(b, f) for f in NET_FIELDS]
    assert len(a.layers) == len(b.layers)
    for la, lb in zip(a.layers, b.layers):
        assert [getattr(la, f) for f in LAYER_FIELDS] == [getattr(lb, f) for f in LAYER_FIELDS]
        for name in ("weight", "bias"):
            x, y = getattr(la, name), getattr(lb, name)
            assert (x is None) == (y is None)
            if x is not None:
                assert x.shape == y.shape and np.array_equal(bits(x), bits(y))


@pytest.mark.parametrize("name", presets.names())
def test_every_preset_round_trips_bit_exactly_with_and_without_weights(name):
    spec = presets.load(name)
    params = init.initial_params(spec)
    for candidate in (spec, pin_colors(spec), spec.with_params(params)):
        text = spec_io.dumps(candidate)
        back = spec_io.loads(text)
        assert_same_network(candidate, back)
        assert spec_io.dumps(back) == text
    reloaded = init.initial_params(back)  # the filled-in weights, read back from text
    assert reloaded.keys() == params.keys()
    assert all(np.array_equal(bits(reloaded[k]), bits(params[k])) for k in params)


SPECIAL = [0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 0.1, 1 / 3]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False, width=64), min_size=9, max_size=9))
@example(SPECIAL + [-1.7976931348623157e308])
def test_drawn_weights_round_trip_bit_exactly(values):
    weight = np.array(values[:6]).reshape(3, 2)
    spec = network([X, dense("h", ["x"], 3, weight=weight.tolist(), bias=values[6:])], "h")
    back = spec_io.loads(spec_io.dumps(spec))
    assert np.array_equal(bits(back.layer("h").weight), bits(weight))
    assert np.array_equal(bits(back.layer("h").bias), bits(values[6:]))
    assert spec_io.dumps(back) == spec_io.dumps(spec)


def test_save_then_load_from_disk(tmp_path):
    spec = presets.load("spiral")
    spec = spec.with_params(init.initial_params(spec, seed=7))
    target = tmp_path / "net.json"
    spec_io.save(spec, target)
    assert_same_network(spec, spec_io.load(target))
    assert target.read_text(encoding="utf-8") == spec_io.dumps(spec)
    assert [p.name for p in tmp_path.iterdir()] == ["net.json"]  # no temporary file left behind
    target.write_text(target.read_text().replace('"version": 1', '"version": 9'), encoding="utf-8")
    with pytest.raises(SpecError, match=re.escape(str(target)) + r": field 'version': version 9 is newer"):
        spec_io.load(target)
    with pytest.raises(SpecError, match="cannot read network file"):
        spec_io.load(tmp_path / "missing.json")


# --- initialisation: deterministic per parameter ------------------------------------------------------


def drawn(layers, output="h", seed=None, **extra):
    return init.initial_params(network(layers, output, **({"seed": seed} if seed is not None else {}), **extra))


def test_init_is_deterministic_per_seed_and_per_parameter():
    layers = [X, dense("h", ["x"], 4), dense("o", ["h"], 3)]
    a, b, c = drawn(layers, "o", seed=3), drawn(layers, "o", seed=3), drawn(layers, "o", seed=4)
    assert all(np.array_equal(bits(a[k]), bits(b[k])) for k in a)
    assert not np.array_equal(a["h.weight"], c["h.weight"]) and not np.array_equal(a["o.weight"], c["o.weight"])
    spec = network(layers, "o", seed=3)
    assert np.array_equal(init.initial_params(spec, seed=4)["h.weight"], c["h.weight"])
    grown = drawn([dense("extra", ["x"], 6)] + layers + [dense("tail", ["o"], 2)], "tail", seed=3)
    assert np.array_equal(bits(grown["h.weight"]), bits(a["h.weight"]))
    assert np.array_equal(bits(grown["o.weight"]), bits(a["o.weight"]))


@pytest.mark.parametrize(
    "init_json, check",
    [
        (None, lambda w: math.sqrt(6 / 700) >= np.abs(w).max() > 0.999 * math.sqrt(6 / 700)),  # xavier_uniform
        ("he_normal", lambda w: abs(w.std() / math.sqrt(2 / 400) - 1) < 0.02 and abs(w.mean()) < 0.002),
        (
            "he_uniform",
            lambda w: np.abs(w).max() <= math.sqrt(6 / 400) and abs(w.std() / math.sqrt(2 / 400) - 1) < 0.02,
        ),
        ({"name": "xavier_normal", "gain": 2.0}, lambda w: abs(w.std() / (2 * math.sqrt(2 / 700)) - 1) < 0.02),
        ({"name": "normal", "mean": 1.0, "std": 0.5}, lambda w: abs(w.mean() - 1) < 0.01 and abs(w.std() - 0.5) < 0.01),
        (
            {"name": "uniform", "low": -0.1, "high": 0.3},
            lambda w: w.min() >= -0.1 and w.max() < 0.3 and abs(w.mean() - 0.1) < 0.005,
        ),
        ({"name": "constant", "value": 0.25}, lambda w: np.array_equal(w, np.full((300, 400), 0.25))),
        ("zeros", lambda w: np.array_equal(bits(w), bits(np.zeros((300, 400))))),
    ],
)
def test_initialisers_follow_their_formulas_on_a_big_layer(init_json, check):
    w = drawn([{"id": "x", "type": "input", "units": 400}, dense("h", ["x"], 300, init=init_json)], seed=1)["h.weight"]
    assert w.shape == (300, 400) and check(w)


def test_bias_initialiser_and_values_given_in_the_file_are_kept():
    p = drawn([X, dense("h", ["x"], 2, init={"bias": {"name": "constant", "value": 0.1}}), dense("o", ["h"], 2)], "o")
    assert np.array_equal(p["h.bias"], [0.1, 0.1]) and np.array_equal(bits(p["o.bias"]), bits(np.zeros(2)))
    spec = spec_io.from_dict(MAZUR)
    params = init.initial_params(spec, seed=99)
    assert np.array_equal(params["h.weight"], MAZUR["layers"][1]["weight"])
    assert np.array_equal(params["o.bias"], MAZUR["layers"][2]["bias"])
    params["h.weight"][0, 0] = 5.0  # the caller's copy, not the spec's array
    assert spec.layer("h").weight[0, 0] == 0.15


# --- immutability and edits ---------------------------------------------------------------------------


def test_a_spec_does_not_share_arrays_or_lists_with_its_caller():
    rows = [[0.15, 0.2], [0.25, 0.3]]
    array = np.array(rows)
    from_list = LayerSpec("h", "dense", ["i"], 2, weight=rows)
    from_array = LayerSpec("h", "dense", ["i"], 2, weight=array, bias=np.zeros(2))
    rows[0][0], array[0, 0] = 9.0, 9.0
    assert from_list.weight[0, 0] == 0.15 and from_array.weight[0, 0] == 0.15
    assert not from_array.weight.flags.writeable and not from_array.bias.flags.writeable
    with pytest.raises(ValueError):
        from_array.weight[0, 0] = 1.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        from_array.units = 3  # type: ignore[misc]
    assert isinstance(from_list.inputs, tuple)


def test_the_data_entry_is_not_shared_with_the_callers_dict():
    raw = mazur_with(("data",), {"builtin": "xor", "n": 10})
    spec = spec_io.from_dict(raw)
    raw["data"]["n"] = 99
    assert spec.data["n"] == 10


def test_with_params_and_replace_layer_return_new_validated_specs():
    spec = network(RESIDUAL, "y")
    params = init.initial_params(spec)
    filled = spec.with_params(params)
    assert spec.layer("h1").weight is None and np.array_equal(filled.layer("h1").weight, params["h1.weight"])
    assert filled.layer("h2").bias is None  # use_bias false: nothing written
    wider = spec.replace_layer("side", units=7)
    assert wider.widths["side"] == 7 and spec.widths["side"] == 5
    with pytest.raises(
        SpecError,
        match=r"^layer 'r', field 'inputs': an add layer needs inputs of equal width; "
        r"'h2' has 4, 'h1' has 3$",
    ):
        spec.replace_layer("h2", units=4)
    with pytest.raises(SpecError, match=r"layer 'h', field 'weight': has shape 2×2, expected 3×2"):
        spec_io.from_dict(MAZUR).replace_layer("h", units=3)
    with pytest.raises(SpecError, match="no layer with id 'nope'"):
        spec.replace_layer("nope", units=1)
    with pytest.raises(SpecError, match=r"layer 'y', field 'weight': has shape 1×1"):
        filled.with_params({"y.weight": np.ones((1, 1))})


# --- the documentation's examples ---------------------------------------------------------------------


def test_every_json_example_in_the_format_documentation_loads():
    blocks = re.findall(r"^```json\n(.*?)^```", DOC.read_text(encoding="utf-8"), flags=re.S | re.M)
    assert len(blocks) >= 2
    specs = [spec_io.loads(block) for block in blocks]
    mazur = presets.load("mazur")
    assert any(spec_io.dumps(s) == spec_io.dumps(mazur) for s in specs)
    assert any({"add", "concat"} <= {layer.type for layer in s.layers} for s in specs)
    features = dataclasses.replace(presets.load("circle_features"), name=None)  # the example, as documented
    assert any(spec_io.dumps(s) == spec_io.dumps(features) for s in specs)


def test_a_network_file_may_carry_the_batch_size_it_is_meant_to_train_with(tmp_path):
    spec = spec_io.from_dict({**MAZUR, "batch_size": 8})
    assert spec.batch_size == 8 and spec_io.to_dict(spec)["batch_size"] == 8
    assert "batch_size" not in spec_io.to_dict(spec_io.from_dict(MAZUR))  # absent: the full batch
    spec_io.save(spec, tmp_path / "net.json")
    from bpstudio.core.io import session_io

    assert session_io.load(tmp_path / "net.json").batch_size == 8  # opened as a session that trains with it
    for bad in (0, -1, True, 2.5, "8"):
        with pytest.raises(SpecError, match="batch_size.*positive integer or absent"):
            spec_io.from_dict({**MAZUR, "batch_size": bad})
