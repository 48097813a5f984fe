"""What the palette's edits do to a network: where a new layer attaches (before the output, or after the selected
layer and in front of what it fed), and the colour every layer keeps for its life (a palette slot written on the
layer) through adds, deletes, reconnections and a save."""

import pytest

from bpstudio.core.edit import topology as edit
from bpstudio.core.edit.colors import color_slots, pin_colors
from bpstudio.core.errors import SpecError
from bpstudio.core.io import presets, spec_io
from tests.core.spec_builders import X, dense
from tests.helpers import network


def inputs(spec):
    return {layer.id: layer.inputs for layer in spec.layers}


def chain():  # x → a → b → y, nothing placed, no colours written down
    return network([X, dense("a", ["x"], 3), dense("b", ["a"], 2), dense("y", ["b"], 1)], "y")


# --- where a new layer goes ------------------------------------------------------------------------------------


def test_with_nothing_selected_a_new_layer_goes_before_the_output():
    spec = chain()
    for selected in (None, "y"):  # (the output selected: the same, a layer after it would compute nothing)
        assert edit.palette_attachment(spec, selected) == ("b", "y")
    new, added = edit.add_layer(spec, "dense", source="b", before="y")
    assert added == "h1" and inputs(new) == {"x": (), "a": ("x",), "b": ("a",), "y": ("h1",), "h1": ("b",)}
    assert new.output == "y" and new.active_order() == ("x", "a", "b", "h1", "y")
    assert new.widths["h1"] == edit.DEFAULT_UNITS and new.layer("h1").activation == "identity"  # as a and b


def test_a_new_layer_goes_after_the_selected_one_and_in_front_of_what_it_fed():
    spec = chain()
    assert edit.palette_attachment(spec, "a") == ("a", "b")
    assert edit.palette_attachment(spec, "x") == ("x", "a")
    new, _ = edit.add_layer(spec, "dense", source="a", before="b")
    assert inputs(new)["b"] == ("h1",) and inputs(new)["h1"] == ("a",)
    branching = network([X, dense("a", ["x"], 2), dense("b", ["a"], 1), dense("c", ["a"], 1)], "b")
    assert edit.palette_attachment(branching, "a") == ("a", None)  # it feeds two: the new one hangs off it
    assert edit.palette_attachment(branching, "c") == ("c", None)  # feeds nothing
    assert edit.palette_attachment(branching, "gone") == ("a", "b")  # (a stale selection counts as none)


def test_inserting_before_an_add_keeps_the_widths_equal_and_a_bad_pair_is_refused():
    spec = network(
        [X, dense("a", ["x"], 3), dense("b", ["a"], 3), {"id": "r", "type": "add", "inputs": ["a", "b"]}], "r"
    )
    new, added = edit.add_layer(spec, "dense", source="b", before="r")
    assert new.layer("r").inputs == ("a", added) and new.widths[added] == 3
    with pytest.raises(SpecError, match="'x' does not feed 'b'"):
        edit.add_layer(spec, "dense", source="x", before="b")
    with pytest.raises(SpecError, match="exactly one .*set its width"):
        edit.add_layer(spec, "input")


# --- colours ---------------------------------------------------------------------------------------------------


def test_colours_follow_the_network_order_until_written_down_and_then_never_move():
    spec = chain()
    assert color_slots(spec) == {"a": 0, "b": 1, "y": 2}  # as before: in topological order, the input none
    new, added = edit.add_layer(spec, "dense", source="b", before="y")
    assert color_slots(new) == {"a": 0, "b": 1, "y": 2, added: 3}  # y stays 2 though h1 now comes before it
    fewer = edit.remove_layers(edit.connect(new, "x", "b"), ["a"])  # b now fed by x, a gone
    assert color_slots(fewer) == {"b": 1, "y": 2, added: 3}
    again, other = edit.add_layer(fewer, "concat", source="x")
    assert color_slots(again)[other] == 0  # the lowest free slot
    renamed = edit.rename_layer(again, "y", "out")
    assert color_slots(renamed)["out"] == 2
    reread = spec_io.loads(spec_io.dumps(renamed))
    assert color_slots(reread) == color_slots(renamed)


def test_reconnecting_unplaced_layers_does_not_recolour_them():
    spec = network([X, dense("a", ["x"], 2), dense("b", ["x"], 2), dense("y", ["a"], 1)], "y")
    before = color_slots(spec)
    rewired = edit.connect(spec, "b", "a")  # a now after b
    assert spec.order.index("a") < spec.order.index("b") and rewired.order.index("b") < rewired.order.index("a")
    assert color_slots(rewired) == before


def test_pinning_writes_the_shown_colours_and_a_bad_colour_is_refused():
    spec = presets.load("xor")
    pinned = pin_colors(spec)
    assert [layer.color for layer in pinned.layers] == [None, 0, 1] and color_slots(pinned) == color_slots(spec)
    assert pin_colors(pinned) is pinned
    raw = spec_io.to_dict(pinned)
    assert [layer.get("color") for layer in raw["layers"]] == [None, 0, 1]
    for bad, reason in ((-1, "got -1"), (1.5, "got 1.5"), (True, "got True")):
        raw["layers"][1]["color"] = bad
        with pytest.raises(SpecError, match=reason):
            spec_io.from_dict(raw)
    raw["layers"][1]["color"] = 0
    raw["layers"][0]["color"] = 3
    with pytest.raises(SpecError, match="unknown field"):
        spec_io.from_dict(raw)
