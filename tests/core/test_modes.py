"""Which layers act differently in training and evaluation, and the words views use to say which mode a number or a
picture is in: the decision surface's label and the neuron pictures' note name evaluation mode where a dropout
layer is in the network, and nothing where the two modes compute the same."""

import dataclasses

import numpy as np

from bpstudio.core.datasets import resolve_split
from bpstudio.core.edit.topology import add_layer
from bpstudio.core.io import presets
from bpstudio.core.modes import eval_tag, loss_modes, mode_layers
from bpstudio.core.session import Session
from bpstudio.core.tools.evaluate import data_surface
from bpstudio.core.tools.neuron_maps import neuron_maps


def xor_with_dropout():
    spec = presets.load("xor")
    return add_layer(spec, "dropout", source="h", before="y")[0]


def test_dropout_layers_are_the_ones_that_differ_and_the_words_say_so():
    spec = presets.load("dropout")
    assert mode_layers(spec) == tuple(lid for lid in spec.active_order() if spec.layer(lid).type == "dropout")
    assert len(mode_layers(spec)) == 2
    assert eval_tag(spec) == "eval mode: dropout off"  # (the type once, however many layers)
    said = loss_modes(spec)
    assert "train: each step's loss on its batch, in training mode (dropout drops units)" in said
    assert "test: the loss over the test set, and both accuracies, in evaluation mode" in said
    plain = presets.load("xor")
    assert mode_layers(plain) == () and eval_tag(plain) == "" and loss_modes(plain) == ""


def test_a_dropout_layer_the_output_does_not_read_changes_nothing():
    spec, _ = add_layer(presets.load("xor"), "dropout", source="h")  # a side branch: y still reads h
    assert spec.layer("y").inputs == ("h",) and any(layer.type == "dropout" for layer in spec.layers)
    assert mode_layers(spec) == () and eval_tag(spec) == ""


def test_the_surface_and_the_neuron_pictures_are_evaluation_mode_and_say_so():
    spec = xor_with_dropout()
    train = resolve_split(spec.data)[0]
    session = Session(spec, train)
    session.run(3)
    surface = data_surface(session, train)
    assert surface.label == "P(class 1) · eval mode: dropout off"
    # the values are the network without its dropout: the same weights with the layer taken out
    without = dataclasses.replace(
        spec,
        layers=tuple(
            dataclasses.replace(layer, inputs=("h",)) if layer.id == "y" else layer
            for layer in spec.layers
            if layer.type != "dropout"
        ),
    )
    plain = Session(without, train, params=session.params_numpy())
    points = np.stack(np.meshgrid(surface.xs, surface.ys), axis=-1).reshape(-1, 2)
    np.testing.assert_allclose(surface.values.ravel(), plain.predict(points)[:, 0], rtol=1e-12)
    maps = neuron_maps(session, train)
    assert maps.mode == "eval mode: dropout off"
    plain_maps = neuron_maps(plain, train)
    np.testing.assert_allclose(maps.layers["y"].values, plain_maps.layers["y"].values, rtol=1e-12)
    assert plain_maps.mode == "" and data_surface(plain, train).label == "P(class 1)"


def test_batchnorm_differs_between_the_modes_and_layernorm_does_not():
    spec = presets.load("deep_sigmoid_batchnorm")
    assert mode_layers(spec) == tuple(f"bn{k}" for k in range(1, 11))
    assert eval_tag(spec) == "eval mode: batchnorm running stats"
    layernorm = spec
    for k in range(1, 11):
        layernorm = layernorm.replace_layer(f"bn{k}", type="layernorm", momentum=None)
    assert mode_layers(layernorm) == () and eval_tag(layernorm) == ""
