"""Batchnorm and layernorm layers through the canvas's and inspector's edits: added after a layer with torch's
defaults, their eps, momentum, affine and activation changed (bad values refused naming the layer and the field),
their running statistics kept through edits that leave their width alone, and a change of p, eps, momentum or
affine compiled into a new session (an edit the session would otherwise run with its old kernels)."""

import numpy as np
import pytest

from bpstudio.core.datasets import resolve_split
from bpstudio.core.edit import topology as edit
from bpstudio.core.edit.carry import renamed_layers, same_structure
from bpstudio.core.edit.layer_fields import update_layer
from bpstudio.core.errors import SpecError
from bpstudio.core.io import presets
from bpstudio.core.session import Session
from tests.core.edit.test_topology import refused


def xor_data(spec):
    return resolve_split(spec.data, str(presets.path("xor").parent))[0]


def xor_with(kind):
    """The xor example with a ``kind`` layer between its hidden layer h and its output y."""
    spec, added = edit.add_layer(presets.load("xor"), kind, source="h", before="y")
    return spec, added


@pytest.mark.parametrize("kind, prefix", [("batchnorm", "bn"), ("layernorm", "ln")])
def test_a_norm_layer_goes_in_between_with_torchs_defaults(kind, prefix):
    spec, added = xor_with(kind)
    layer = spec.layer(added)
    assert added == f"{prefix}1" and layer.inputs == ("h",) and spec.layer("y").inputs == (added,)
    assert spec.widths[added] == spec.widths["h"] and layer.activation == "identity"
    assert layer.eps == 1e-5 and layer.affine is True
    assert layer.momentum == (0.1 if kind == "batchnorm" else None)
    assert spec.param_shapes()[f"{added}.weight"] == (spec.widths["h"],)
    again, second = edit.add_layer(spec, kind, source=added, before="y")
    assert second == f"{prefix}2" and again.layer("y").inputs == (second,)
    other = edit.add_layer(spec, "dense", source="x")[0]
    assert edit.connect(other, "h1", added).layer(added).inputs == ("h1",)  # one input: the new source replaces it


def test_eps_momentum_affine_and_activation_change_and_bad_values_are_refused_naming_the_field():
    spec, bn = xor_with("batchnorm")
    changed = update_layer(spec, bn, eps=0.001, momentum=0.5, activation="relu")
    assert (changed.layer(bn).eps, changed.layer(bn).momentum, changed.layer(bn).activation) == (0.001, 0.5, "relu")
    plain = update_layer(spec, bn, affine=np.bool_(False))
    assert plain.layer(bn).affine is False and f"{bn}.weight" not in plain.param_shapes()
    assert update_layer(plain, bn, affine=True).param_shapes()[f"{bn}.bias"] == (4,)
    assert update_layer(spec, bn, frozen=["weight"]).frozen_params() == {f"{bn}.weight"}
    refused(lambda: update_layer(spec, bn, eps=0), f"layer '{bn}'", "field 'eps'", "must be above 0")
    refused(lambda: update_layer(spec, bn, eps=-1e-3), "field 'eps'", "got -0.001")
    refused(lambda: update_layer(spec, bn, eps="small"), "field 'eps'", "must be a positive number")
    refused(lambda: update_layer(spec, bn, momentum=1.5), f"layer '{bn}'", "field 'momentum'", "[0, 1]")
    refused(lambda: update_layer(spec, bn, momentum=-0.1), "field 'momentum'")
    refused(lambda: update_layer(spec, bn, affine="yes"), "'affine' must be true or false")
    refused(lambda: update_layer(spec, bn, units=3), "batchnorm layer has eps, momentum", "'units' does not apply")
    ln_spec, ln = xor_with("layernorm")
    assert update_layer(ln_spec, ln, eps=0.01).layer(ln).eps == 0.01
    refused(lambda: update_layer(ln_spec, ln, momentum=0.2), "no running statistics", "'momentum' does not apply")
    refused(lambda: update_layer(ln_spec, ln, p=0.2), "'p' does not apply")


def test_running_statistics_stay_through_edits_that_keep_the_width_and_go_when_it_changes():
    spec, bn = xor_with("batchnorm")
    session = Session(spec, xor_data(spec))
    session.run(3)
    trained = session.to_spec()
    moved = trained.layer(bn).running_mean
    assert moved is not None and np.any(moved != 0)
    renamed = edit.rename_layer(trained, bn, "norm")
    np.testing.assert_array_equal(renamed.layer("norm").running_var, trained.layer(bn).running_var)
    assert renamed_layers(trained, renamed) == {bn: "norm"}
    kept = update_layer(trained, bn, eps=0.01)
    np.testing.assert_array_equal(kept.layer(bn).running_mean, moved)
    wider = update_layer(trained, "h", units=5)  # bn's width follows h: its statistics no longer fit
    assert wider.layer(bn).running_mean is None and wider.running_stats()[f"{bn}.running_var"].tolist() == [1.0] * 5


@pytest.mark.parametrize("field, value", [("eps", 0.01), ("momentum", 0.5), ("affine", False)])
def test_a_norm_setting_is_structure_a_session_cannot_keep(field, value):
    spec, bn = xor_with("batchnorm")
    assert same_structure(spec, update_layer(spec, bn, activation="identity"))
    assert not same_structure(spec, update_layer(spec, bn, **{field: value}))
    assert renamed_layers(spec, update_layer(spec, bn, **{field: value})) == {}


def test_a_dropout_layers_p_is_structure_too():
    spec, drop = xor_with("dropout")
    assert not same_structure(spec, update_layer(spec, drop, p=0.25))


def test_a_numpy_trace_keeps_the_batch_statistics():
    spec, bn = xor_with("batchnorm")
    trace = Session(spec, xor_data(spec)).step()
    copy = trace.to_numpy()
    for name in ("mean", "var"):
        np.testing.assert_array_equal(copy.layers[bn].stats[name], np.asarray(trace.layers[bn].stats[name]))
    h = np.asarray(trace.layers["h"].out)
    np.testing.assert_allclose(copy.layers[bn].stats["mean"], h.mean(axis=0), rtol=1e-12)


def test_a_spec_error_from_a_norm_edit_names_layer_and_field_for_the_gui():
    spec, bn = xor_with("batchnorm")
    with pytest.raises(SpecError) as caught:
        update_layer(spec, bn, momentum=2)
    assert (caught.value.layer, caught.value.field) == (bn, "momentum")
