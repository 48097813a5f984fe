"""Topology edits (bpstudio.core.edit.topology): results, refusals, no mutation, weights kept, layout, training."""

import itertools
import math
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from bpstudio.core.datasets import make_toy
from bpstudio.core.edit import layout as places
from bpstudio.core.edit import topology as edit
from bpstudio.core.edit.carry import carry_params
from bpstudio.core.edit.layer_fields import update_layer
from bpstudio.core.errors import SpecError
from bpstudio.core.io import spec_io
from bpstudio.core.session import Session
from bpstudio.core.spec import Initializer
from tests.core.random_nets import nets
from tests.core.spec_builders import X, dense
from tests.helpers import network

W1 = [[0.1, -0.2], [0.3, 0.4], [-0.5, 0.6]]
W2 = [[0.2, 0.1, -0.3], [0.5, -0.4, 0.2], [0.1, 0.1, 0.1]]
WY = [[0.7, -0.8, 0.9]]


def base():
    """x(2) → h1(3, relu) → h2(3, relu) → y(1, sigmoid), bce, every value given."""
    return network(
        [
            X,
            dense("h1", ["x"], 3, activation="relu", weight=W1, bias=[0.1, 0.2, 0.3]),
            dense("h2", ["h1"], 3, activation="relu", weight=W2, bias=[0.0, 0.1, 0.2]),
            dense("y", ["h2"], 1, activation="sigmoid", weight=WY, bias=[0.05]),
        ],
        "y",
        "bce",
        seed=3,
    )


def branched():
    """x → a(2) ; x → b(3) ; cat(a, b) → y(1) ; r = add(a, c) with c(2) from x; 'side' dangles."""
    return network(
        [
            X,
            dense("a", ["x"], 2, weight=[[1, 2], [3, 4]]),
            dense("b", ["x"], 3),
            dense("c", ["x"], 2),
            {"id": "r", "type": "add", "inputs": ["a", "c"]},
            {"id": "cat", "type": "concat", "inputs": ["a", "b"]},
            dense("y", ["cat"], 1, weight=[[1, 1, 1, 1, 1]], bias=[0.5]),
            dense("side", ["r"], 2, weight=[[1, 0], [0, 1]]),
        ],
        "y",
        "mse",
    )


def snapshot(spec):
    return spec_io.dumps(spec)


def refused(call, *pattern_parts):
    """Run ``call``; it must raise SpecError whose message contains every part, in order."""
    with pytest.raises(SpecError) as info:
        call()
    message = str(info.value)
    assert re.search(".*".join(map(re.escape, pattern_parts)), message), message
    return info.value


# --- ids and adding ------------------------------------------------------------------------------


def test_new_layer_id_counts_up_and_never_clashes():
    spec = base()
    assert edit.new_layer_id(spec, "dense") == "h3"
    assert edit.new_layer_id(spec, "add") == "add1"
    assert edit.new_layer_id(spec, "concat") == "cat1"
    odd = network([X, dense("h01", ["x"], 2), dense("h1", ["h01"], 1)], "h1")
    assert edit.new_layer_id(odd, "dense") == "h2"
    refused(lambda: edit.new_layer_id(spec, "conv"), "unknown layer type 'conv'")


def test_add_dense_defaults_follow_the_network():
    spec = base()
    before = snapshot(spec)
    new, new_id = edit.add_layer(spec, "dense")
    assert snapshot(spec) == before
    layer = new.layer(new_id)
    assert (new_id, layer.inputs, layer.units, layer.activation) == ("h3", ("y",), 4, "relu")
    assert layer.weight_init == Initializer("he_normal")
    assert new.output == "y" and new.widths["h3"] == 4
    # tanh hidden layers: the new one is tanh with Xavier
    tanh = network([X, dense("h", ["x"], 4, activation="tanh"), dense("y", ["h"], 1)], "y")
    layer = edit.add_layer(tanh, "dense", source="h")[0].layer("h1")
    assert (layer.activation, layer.weight_init.name) == ("tanh", "xavier_uniform")
    # two sigmoid hidden layers outvote one relu; the output's activation does not count
    mixed = network(
        [
            X,
            dense("a", ["x"], 2, activation="sigmoid"),
            dense("b", ["a"], 2, activation="sigmoid"),
            dense("c", ["b"], 2, activation="relu"),
            dense("y", ["c"], 2, activation="relu"),
        ],
        "y",
    )
    assert edit.add_layer(mixed, "dense")[0].layer("h1").activation == "sigmoid"
    # a tie with relu picks relu; no hidden layer at all picks relu
    tie = network(
        [X, dense("a", ["x"], 2, activation="tanh"), dense("b", ["a"], 2, activation="relu"), dense("y", ["b"], 1)], "y"
    )
    assert edit.add_layer(tie, "dense")[0].layer("h1").activation == "relu"
    bare = network([X, dense("y", ["x"], 1, activation="tanh")], "y")
    assert edit.add_layer(bare, "dense", units=7)[0].layer("h1").units == 7
    assert edit.add_layer(bare, "dense")[0].layer("h1").activation == "relu"


def test_add_layer_places_new_layer_right_of_source_on_a_free_spot():
    spec = edit.move_layers(base(), {"x": (0, 0), "h1": (100, 50), "h2": (320, 50), "y": (540, 50)})
    new, new_id = edit.add_layer(spec, "dense", source="h1")
    # right of h1 is taken by h2, so one row further down
    assert new.layer(new_id).position == (100 + places.COLUMN_GAP, 50 + places.ROW_GAP)
    new, new_id = edit.add_layer(spec, "concat", source="y")
    assert new.layer(new_id).position == (540 + places.COLUMN_GAP, 50)
    new, new_id = edit.add_layer(spec, "add", source="x", position=(7, -8), layer_id="sum")
    assert new_id == "sum" and new.layer("sum").position == (7.0, -8.0) and new.widths["sum"] == 2
    # without stored positions the tidy layout is the reference
    new, new_id = edit.add_layer(base(), "dense", source="y")
    assert new.layer(new_id).position == (4 * places.COLUMN_GAP, 0.0)


def test_add_layer_refusals_name_the_problem():
    spec = base()
    before = snapshot(spec)
    refused(lambda: edit.add_layer(spec, "input"), "cannot add an input layer", "exactly one ('x')")
    refused(lambda: edit.add_layer(spec, "pool"), "unknown type 'pool'")
    refused(
        lambda: edit.add_layer(spec, "dense", source="nope"), "cannot add a dense layer after 'nope'", "no layer 'nope'"
    )
    refused(lambda: edit.add_layer(spec, "dense", layer_id="h2"), "already a layer called 'h2'")
    refused(lambda: edit.add_layer(spec, "dense", layer_id="my layer"), "'my layer' is not a valid layer id")
    refused(lambda: edit.add_layer(spec, "add", units=3), "add layer's width comes from its inputs")
    refused(lambda: edit.add_layer(spec, "dense", units=0), "'h3'", "units", "positive integer, got 0")
    refused(lambda: edit.add_layer(spec, "dense", position=(1, math.nan)), "position is two finite numbers")
    assert snapshot(spec) == before


# --- connect and disconnect ----------------------------------------------------------------------


def test_connect_replaces_a_dense_input_and_keeps_fitting_weights():
    spec = base()
    before = snapshot(spec)
    new = edit.connect(spec, "h1", "y")  # h1 has 3 units like h2: y's weight still fits
    assert snapshot(spec) == before
    assert new.layer("y").inputs == ("h1",)
    np.testing.assert_array_equal(new.layer("y").weight, WY)
    np.testing.assert_array_equal(new.layer("h2").weight, W2)
    new = edit.connect(spec, "x", "y")  # 2 units: y's weight must be drawn again, its bias still fits
    assert new.layer("y").weight is None
    np.testing.assert_array_equal(new.layer("y").bias, [0.05])
    assert new.param_shapes()["y.weight"] == (1, 2)


def test_connect_appends_to_concat_and_drops_downstream_weights():
    spec = branched()
    new = edit.connect(spec, "c", "cat")
    assert new.layer("cat").inputs == ("a", "b", "c") and new.widths["cat"] == 7
    assert new.layer("y").weight is None  # fan-in went from 5 to 7
    np.testing.assert_array_equal(new.layer("y").bias, [0.5])
    np.testing.assert_array_equal(new.layer("a").weight, [[1, 2], [3, 4]])
    new = edit.connect(spec, "x", "r")  # add: same width 2
    assert new.layer("r").inputs == ("a", "c", "x") and new.widths["r"] == 2


def test_what_a_connection_did_beyond_the_new_link_is_said():
    spec = base()  # x → h1 → h2 → y
    assert edit.replaced_input(spec, "h1", "y") == "h2"
    note = edit.connect_note(spec, edit.connect(spec, "h1", "y"), "h1", "y")
    assert note == (
        "'y' takes one input: 'h1' replaces 'h2'; 'h2' no longer reaches the output and is not run. Undo brings the "
        "link back; to join two paths, connect both into an Add or Concat layer"
    )
    note = edit.connect_note(spec, edit.connect(spec, "x", "y"), "x", "y")
    assert note.startswith("'y' takes one input: 'x' replaces 'h2'; 'h1', 'h2' no longer reach the output and are")
    built = edit.connect(edit.connect(spec, "x", "y"), "h2", "y")  # h2 → y again, in place of x → y: nothing cut
    assert edit.replaced_input(edit.connect(spec, "x", "y"), "h2", "y") == "x"
    assert edit.connect_note(edit.connect(spec, "x", "y"), built, "h2", "y") is None
    joined = branched()  # a concat or an add gains an input: nothing replaced, nothing to say
    assert edit.replaced_input(joined, "c", "cat") is None
    assert edit.connect_note(joined, edit.connect(joined, "c", "cat"), "c", "cat") is None


def test_connect_refusals():
    spec = branched()
    before = snapshot(spec)
    refused(lambda: edit.connect(spec, "a", "x"), "'x' is the input layer")
    refused(lambda: edit.connect(spec, "a", "a"), "itself")
    refused(lambda: edit.connect(spec, "a", "cat"), "'a' already feeds 'cat'")
    refused(lambda: edit.connect(spec, "side", "a"), "cycle a → r → side → a")
    refused(lambda: edit.connect(spec, "nope", "y"), "no layer 'nope'")
    err = refused(
        lambda: edit.connect(spec, "b", "r"), "cannot connect 'b' → 'r'", "'r' adds width 2", "'b' has width 3"
    )
    assert err.layer == "r"
    # a concat feeding an add would change width under the add
    add_after_cat = network(
        [
            X,
            {"id": "cat", "type": "concat", "inputs": ["x"]},
            dense("h", ["x"], 2),
            {"id": "r", "type": "add", "inputs": ["cat", "h"]},
        ],
        "r",
    )
    refused(
        lambda: edit.connect(add_after_cat, "h", "cat"),
        "cannot connect 'h' → 'cat'",
        "layer 'r'",
        "equal width",
        "'cat' has 4",
    )
    chain = base()
    refused(lambda: edit.connect(chain, "y", "h1"), "cycle h1 → h2 → y → h1")
    assert snapshot(spec) == before


def test_disconnect():
    spec = branched()
    before = snapshot(spec)
    new = edit.disconnect(spec, "b", "cat")
    assert snapshot(spec) == before
    assert new.layer("cat").inputs == ("a",) and new.widths["cat"] == 2
    assert new.layer("y").weight is None and new.param_shapes()["y.weight"] == (1, 2)
    assert edit.disconnect(spec, "c", "r").layer("r").inputs == ("a",)
    refused(lambda: edit.disconnect(spec, "a", "side"), "'a' does not feed 'side'")
    refused(
        lambda: edit.disconnect(spec, "r", "side"),
        "'side' would have no input left",
        "connect another source to 'side' first",
    )
    one = edit.disconnect(spec, "b", "cat")
    refused(lambda: edit.disconnect(one, "a", "cat"), "'cat' would have no input left")


# --- remove, rename, output ----------------------------------------------------------------------


def test_remove_layers():
    spec = branched()
    before = snapshot(spec)
    new = edit.remove_layers(spec, ["side"])
    assert "side" not in new.order and snapshot(spec) == before
    new = edit.remove_layers(spec, ["b"])  # cat keeps 'a': width 2, y's weight redrawn
    assert new.layer("cat").inputs == ("a",) and new.layer("y").weight is None
    np.testing.assert_array_equal(new.layer("a").weight, [[1, 2], [3, 4]])
    new = edit.remove_layers(spec, ["c", "r", "side"])  # r loses c but goes too, as does its consumer
    assert set(new.order) == {"x", "a", "b", "cat", "y"}
    assert edit.remove_layers(spec, []) is spec


def test_remove_refusals():
    spec = branched()
    refused(lambda: edit.remove_layers(spec, ["x"]), "'x' is the network's input layer")
    refused(lambda: edit.remove_layers(spec, ["y"]), "'y' is the output layer", "make another layer the output first")
    refused(lambda: edit.remove_layers(spec, ["r"]), "cannot remove 'r'", "'side' would lose its only input")
    refused(lambda: edit.remove_layers(spec, ["a", "b"]), "'cat' would lose")
    refused(lambda: edit.remove_layers(spec, ["a", "c", "b"]), "'r' and 'cat' would lose all their inputs")
    refused(lambda: edit.remove_layers(spec, ["zz"]), "no layer 'zz'")


def test_rename_updates_every_reference():
    spec = branched()
    before = snapshot(spec)
    new = edit.rename_layer(spec, "a", "first")
    assert snapshot(spec) == before
    assert new.layer("cat").inputs == ("first", "b") and new.layer("r").inputs == ("first", "c")
    np.testing.assert_array_equal(new.layer("first").weight, [[1, 2], [3, 4]])
    assert edit.rename_layer(spec, "y", "out-1").output == "out-1"
    assert edit.rename_layer(spec, "a", "a") is spec
    refused(lambda: edit.rename_layer(spec, "a", ""), "must be non-empty")
    refused(lambda: edit.rename_layer(spec, "a", "a.b"), "'a.b' is not a valid layer id")
    refused(lambda: edit.rename_layer(spec, "a", "b"), "already a layer called 'b'")
    refused(lambda: edit.rename_layer(spec, "q", "z"), "no layer 'q'")


def test_set_output():
    spec = branched()
    assert edit.set_output(spec, "side").output == "side" and spec.output == "y"
    refused(lambda: edit.set_output(spec, "x"), "cannot make 'x' the output", "input layer")
    refused(lambda: edit.set_output(base(), "h2"), "cannot make 'h2' the output", "loss 'bce'", "sigmoid")
    refused(lambda: edit.set_output(spec, "nope"), "no layer 'nope'")


# --- update --------------------------------------------------------------------------------------


def test_update_units_drops_only_reshaped_values():
    spec = base()
    before = snapshot(spec)
    new = update_layer(spec, "h2", units=5)
    assert snapshot(spec) == before
    assert new.layer("h2").weight is None and new.layer("h2").bias is None
    assert new.layer("y").weight is None and new.layer("y").bias is not None
    np.testing.assert_array_equal(new.layer("h1").weight, W1)
    assert new.param_shapes()["y.weight"] == (1, 5)
    same = update_layer(spec, "h2", activation="tanh", weight_init="he_uniform", frozen=["bias"])
    layer = same.layer("h2")
    assert (layer.activation, layer.weight_init.name, layer.frozen) == ("tanh", "he_uniform", {"bias"})
    np.testing.assert_array_equal(layer.weight, W2)
    no_bias = update_layer(spec, "h2", use_bias=False)
    assert no_bias.layer("h2").bias is None and "h2.bias" not in no_bias.param_shapes()
    assert update_layer(spec, "h2", frozen="weight").layer("h2").frozen == {"weight"}
    assert update_layer(spec, "x", units=3).param_shapes()["h1.weight"] == (3, 3)
    assert update_layer(branched(), "r", activation="relu").layer("r").activation == "relu"


def test_update_refusals():
    spec = branched()
    before = snapshot(spec)
    refused(lambda: update_layer(spec, "a", position=(1, 2)), "'position' is not an editable field")
    refused(lambda: update_layer(spec, "cat", units=3), "a concat layer", "'units' does not apply")
    refused(lambda: update_layer(spec, "r", use_bias=False), "an add layer has no weights", "'use_bias'")
    refused(lambda: update_layer(spec, "x", activation="relu"), "input layer only has units")
    refused(lambda: update_layer(spec, "a", weight_init="magic"), "layer 'a'", "unknown initialiser 'magic'")
    refused(lambda: update_layer(spec, "a", units=-1), "layer 'a'", "units", "got -1")
    refused(lambda: update_layer(spec, "a", activation="swish"), "unknown activation 'swish'")
    refused(lambda: update_layer(spec, "a", use_bias="no"), "'use_bias' must be true or false")
    refused(lambda: update_layer(spec, "a", frozen=["gamma"]), "can only freeze 'weight' and 'bias'")
    refused(lambda: update_layer(spec, "a", frozen=3), "'frozen' must list")
    refused(lambda: update_layer(base(), "y", activation="relu"), "loss 'bce' needs outputs in (0, 1)")
    assert snapshot(spec) == before


# --- layout --------------------------------------------------------------------------------------


def test_move_layers():
    spec = base()
    new = edit.move_layers(spec, {"h1": (10, 20.5)})
    assert new.layer("h1").position == (10.0, 20.5) and spec.layer("h1").position is None
    refused(lambda: edit.move_layers(spec, {"q": (0, 0)}), "no layer 'q'")
    refused(lambda: edit.move_layers(spec, {"h1": (0, math.inf)}), "cannot move 'h1'", "finite")
    refused(lambda: edit.move_layers(spec, {"h1": (0, 1, 2)}), "two finite numbers")


def check_layout(spec, layout):
    assert set(layout) == set(spec.order)
    for layer_id in spec.order:
        x, _ = layout[layer_id]
        assert all(layout[i][0] < x for i in spec.layer(layer_id).inputs), layer_id
    assert len(set(layout.values())) == len(layout)  # no two layers on one spot
    columns = {}
    for x, y in layout.values():
        columns.setdefault(x, []).append(y)
    edges = [(layout[i][0], layout[t][0]) for t in spec.order for i in spec.layer(t).inputs]
    for x, ys in columns.items():  # ROW_GAP apart, centred on 0 counting a row per edge that skips past
        ys.sort()
        assert all(b - a >= places.ROW_GAP - 1e-9 for a, b in itertools.pairwise(ys))
        skipping = sum(a < x < b for a, b in edges)
        assert abs(ys[0] + ys[-1]) <= skipping * places.ROW_GAP + 1e-9


def test_tidy_layout_columns_and_skip_edges():
    spec = branched()
    layout = places.tidy_layout(spec)
    check_layout(spec, layout)
    gap = places.COLUMN_GAP
    assert layout["x"] == (0.0, 0.0)
    assert {i: layout[i][0] for i in spec.order} == {
        "x": 0,
        "a": gap,
        "b": gap,
        "c": gap,
        "r": 2 * gap,
        "cat": 2 * gap,
        "y": 3 * gap,
        "side": 3 * gap,
    }
    assert places.tidy_layout(spec) == layout  # deterministic
    # residual: h1 → h2 → r ← h1; the skip edge holds its own row, so h2 is off the straight line h1–r
    res = network(
        [X, dense("h1", ["x"], 2), dense("h2", ["h1"], 2), {"id": "r", "type": "add", "inputs": ["h1", "h2"]}], "r"
    )
    layout = places.tidy_layout(res)
    assert layout["h1"][1] == layout["r"][1] and abs(layout["h2"][1] - layout["r"][1]) == places.ROW_GAP / 2
    tidy = edit.apply_tidy_layout(spec)
    assert {i: tidy.layer(i).position for i in spec.order} == places.tidy_layout(spec)


def test_tidy_layout_orders_by_inputs_to_avoid_crossings():
    # p comes first in topological order, but only q reads the upper layer a: q goes above p
    spec = network(
        [
            X,
            dense("a", ["x"], 1),
            dense("b", ["x"], 1),
            dense("p", ["b"], 1),
            {"id": "q", "type": "concat", "inputs": ["a", "b"]},
            {"id": "y", "type": "concat", "inputs": ["p", "q"]},
        ],
        "y",
    )
    assert spec.order.index("p") < spec.order.index("q")
    layout = places.tidy_layout(spec)
    assert layout["a"][1] < layout["b"][1] and layout["q"][1] < layout["p"][1]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(nets(max_layers=6))
def test_tidy_layout_on_random_networks(net):
    spec, _ = net
    check_layout(spec, places.tidy_layout(spec))


# --- parameters and a whole editing session ------------------------------------------------------


def reference_loss(spec, params, X, t):
    """Independent forward pass for relu/tanh/sigmoid/identity layers and a bce loss."""
    acts = {
        "relu": lambda z: np.maximum(z, 0),
        "tanh": np.tanh,
        "identity": lambda z: z,
        "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
    }
    values = {spec.input_id: X}
    for layer_id in spec.order[1:]:
        layer = spec.layer(layer_id)
        ins = [values[i] for i in layer.inputs]
        if layer.type == "dense":
            z = ins[0] @ params[f"{layer_id}.weight"].T + params.get(f"{layer_id}.bias", 0.0)
        else:
            z = np.concatenate(ins, axis=1) if layer.type == "concat" else sum(ins)
        values[layer_id] = acts[layer.activation](z)
    y = values[spec.output]
    return float(-np.mean(t * np.log(y) + (1 - t) * np.log(1 - y)))


def test_chain_of_edits_builds_a_trainable_network():
    spec = network(
        [X, dense("out", ["x"], 1, activation="sigmoid")], "out", "bce", optimizer={"name": "sgd", "lr": 0.5}, seed=2
    )
    data = make_toy("xor", n=40)
    session = Session(spec, data)
    session.step()
    trained = session.params_numpy()

    spec, h1 = edit.add_layer(spec, "dense", source="x", units=3)
    spec, h2 = edit.add_layer(spec, "dense", source="x")
    spec = update_layer(spec, h2, activation="tanh", units=3)
    spec, r = edit.add_layer(spec, "add", source=h1)
    spec = edit.connect(spec, h2, r)
    spec, cat = edit.add_layer(spec, "concat", source=r)
    spec = edit.connect(spec, "x", cat)
    spec = edit.connect(spec, cat, "out")
    spec = edit.rename_layer(spec, h1, "left")
    spec, spare = edit.add_layer(spec, "dense", source="left")
    spec = edit.remove_layers(spec, [spare])
    spec = edit.apply_tidy_layout(spec)
    assert spec.active_order() == ("x", "left", h2, r, cat, "out")
    assert spec.widths[cat] == 5

    params = carry_params(trained, spec)
    np.testing.assert_array_equal(params["out.bias"], trained["out.bias"])  # bias shape unchanged
    assert params["out.weight"].shape == (1, 5)
    session = Session(spec, data, params=params)
    trace = session.step()
    expected = reference_loss(spec, params, data.X, data.Y.reshape(-1, 1).astype(float))
    assert trace.loss == pytest.approx(expected, rel=1e-9)
    after = session.params_numpy()
    assert all(np.all(np.isfinite(v)) for v in after.values())
    assert not np.array_equal(after["left.weight"], params["left.weight"])
    saved = spec_io.loads(spec_io.dumps(spec))  # the edited network still round-trips through a file
    assert saved.order == spec.order
