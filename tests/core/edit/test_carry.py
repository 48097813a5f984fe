"""What survives an edit: parameter values (also under random edit sequences), and the names that key the
optimizer state and the plot history across a rename."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bpstudio.core import features
from bpstudio.core.edit import topology as edit
from bpstudio.core.edit.carry import carry_params, rename_keys, renamed_layers
from bpstudio.core.edit.layer_fields import update_layer
from bpstudio.core.edit.terms import toggle_term
from bpstudio.core.errors import SpecError
from bpstudio.core.init import initial_params
from bpstudio.core.io import presets, spec_io
from bpstudio.core.record.history import TrainingHistory
from tests.core.random_nets import nets
from tests.core.spec_builders import X, dense
from tests.helpers import network


def snapshot(spec):
    return spec_io.dumps(spec)


def test_carry_params_keeps_fitting_values_and_initialises_the_rest():
    spec = network(
        [X, dense("h", ["x"], 3, activation="relu"), dense("y", ["h"], 1, activation="sigmoid")], "y", "bce", seed=5
    )
    old = {k: v + 1.0 for k, v in initial_params(spec).items()}  # as if trained
    old_copy = {k: v.copy() for k, v in old.items()}
    grown = update_layer(spec, "h", units=4)
    carried = carry_params(old, grown)
    fresh = initial_params(grown)
    np.testing.assert_array_equal(carried["y.bias"], old["y.bias"])
    for key in ("h.weight", "h.bias", "y.weight"):
        np.testing.assert_array_equal(carried[key], fresh[key])
    assert {k: v.shape for k, v in carried.items()} == grown.param_shapes()
    carried["y.bias"][0] = 99.0  # no array is shared with the caller's mapping
    assert all(np.array_equal(old[k], old_copy[k]) for k in old)
    deeper, new_id = edit.add_layer(spec, "dense", source="h")
    again = carry_params(old, deeper, seed=11)
    np.testing.assert_array_equal(again["h.weight"], old["h.weight"])
    np.testing.assert_array_equal(again[f"{new_id}.weight"], initial_params(deeper, seed=11)[f"{new_id}.weight"])
    assert not np.array_equal(again[f"{new_id}.weight"], initial_params(deeper)[f"{new_id}.weight"])


def test_a_rename_is_recognised_and_nothing_else_is():
    spec = presets.load("deep_sigmoid_residual")
    first = spec.order[1]
    renamed = edit.rename_layer(spec, first, "entry")
    assert renamed_layers(spec, renamed) == {first: "entry"}
    assert renamed_layers(renamed, spec) == {"entry": first}  # undoing it is one too
    out = edit.rename_layer(spec, spec.output, "result")
    assert renamed_layers(spec, out) == {spec.output: "result"}
    assert renamed_layers(spec, spec) == {}
    assert renamed_layers(spec, update_layer(spec, first, use_bias=False)) == {}
    assert renamed_layers(spec, update_layer(renamed, "entry", activation="relu")) == {}
    assert renamed_layers(spec, edit.add_layer(spec, "dense", source=first)[0]) == {}
    mazur = presets.load("mazur")
    assert renamed_layers(mazur, edit.set_output(mazur, "h")) == {}


def test_rename_keys_renames_only_the_renamed_layers_parameters():
    state = {"a.weight": 1, "ab.weight": 2, "a.bias": 3}
    assert rename_keys(state, {"a": "first"}) == {"first.weight": 1, "ab.weight": 2, "first.bias": 3}
    assert state == {"a.weight": 1, "ab.weight": 2, "a.bias": 3}


def test_a_history_follows_its_layers_renames():
    h = TrainingHistory(["h1", "h2", "out"])
    h.record(0, 0.5, {"h1": 0.1, "h2": 0.2, "out": 0.4})
    curves = {lid: h.grad_norms(lid) for lid in h.layer_ids}
    version = h.version
    h.rename_layers({"h1": "entry", "out": "result"})
    assert h.layer_ids == ("entry", "h2", "result") and h.version > version
    np.testing.assert_array_equal(h.grad_norms("entry"), curves["h1"])
    np.testing.assert_array_equal(h.grad_norms("result"), curves["out"])
    assert h.first_last_ratio() == pytest.approx(0.25)
    h.record(1, 0.4, {"entry": 0.1, "h2": 0.2, "result": 0.3})
    header = h.to_csv("gradients").splitlines()[0]
    assert len(h) == 2 and header == "step,entry,h2,result"


OPS = {  # (spec, a, b, i, j) → the edited spec; a and b are layer ids picked by the integers i and j
    "add_dense": lambda s, a, b, i, j: edit.add_layer(s, "dense", source=a)[0],
    "add_add": lambda s, a, b, i, j: edit.add_layer(s, "add", source=a)[0],
    "add_concat": lambda s, a, b, i, j: edit.add_layer(s, "concat", source=a)[0],
    "add_features": lambda s, a, b, i, j: edit.add_layer(s, "features", source=a)[0],
    "terms": lambda s, a, b, i, j: toggle_term(s, a, features.offered_terms(2)[j % 7], bool(i % 2)),
    "connect": lambda s, a, b, i, j: edit.connect(s, a, b),
    "disconnect": lambda s, a, b, i, j: edit.disconnect(s, (s.layer(a).inputs or (b,))[j % 2 - 1], a),
    "remove": lambda s, a, b, i, j: edit.remove_layers(s, [a]),
    "rename": lambda s, a, b, i, j: edit.rename_layer(s, a, f"n{i}"),
    "output": lambda s, a, b, i, j: edit.set_output(s, a),
    "units": lambda s, a, b, i, j: update_layer(s, a, units=1 + j % 3),
    "tidy": lambda s, a, b, i, j: edit.apply_tidy_layout(s),
}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    nets(max_layers=4),
    st.lists(st.tuples(st.sampled_from(sorted(OPS)), st.integers(0, 50), st.integers(0, 50)), max_size=6),
)
def test_random_edits_never_mutate_and_always_validate(net, steps):
    spec, _ = net
    for kind, i, j in steps:
        ids = list(spec.order)
        a, b = ids[i % len(ids)], ids[j % len(ids)]
        before = snapshot(spec)
        old_params = initial_params(spec)
        try:
            new = OPS[kind](spec, a, b, i, j)
        except SpecError as exc:
            assert str(exc).startswith("cannot") or "unknown" in str(exc), str(exc)
            new = spec
        assert snapshot(spec) == before
        carried = carry_params(old_params, new)
        assert {k: v.shape for k, v in carried.items()} == new.param_shapes()
        shapes = new.param_shapes()
        for layer in spec.layers:  # values written in the spec survive where their shape still fits
            for name in ("weight", "bias"):
                value = getattr(layer, name)
                if value is not None and shapes.get(f"{layer.id}.{name}") == value.shape:
                    np.testing.assert_array_equal(getattr(new.layer(layer.id), name), value)
        fresh = initial_params(new)  # the values written in the new spec, or drawn
        for key, value in carried.items():
            fits = key in old_params and old_params[key].shape == value.shape
            np.testing.assert_array_equal(value, old_params[key] if fits else fresh[key])
        spec = new
