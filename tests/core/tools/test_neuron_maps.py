"""Per-neuron maps over the input plane (core/tools/neuron_maps.py), against a forward pass written out here."""

import numpy as np
import pytest

from bpstudio.core.data import Dataset
from bpstudio.core.datasets import resolve_split
from bpstudio.core.io import presets
from bpstudio.core.session import Session
from bpstudio.core.tools.boundary import grid, output_surface
from bpstudio.core.tools.neuron_maps import MAP_RESOLUTION, neuron_maps
from tests.helpers import network, with_torch


def xor_session(backend="numpy", steps=40):
    spec = presets.load("xor")
    train, _ = resolve_split(dict(spec.data))
    session = Session(spec, train)
    session.run(steps)
    if backend != "numpy":
        session.set_backend(backend, "cpu", "float64")
    return spec, train, session


def plane(xs, ys):
    """The grid's points as (rows, columns, 2): point [i, j] is (xs[j], ys[i])."""
    gx, gy = np.meshgrid(xs, ys)
    return np.stack([gx, gy], axis=-1)


@pytest.mark.parametrize("backend", with_torch("numpy", "torch"))
def test_xor_maps_are_each_units_output_over_the_plane(backend):
    spec, train, session = xor_session(backend)
    maps = neuron_maps(session, train)
    xs, ys, _ = grid(train, MAP_RESOLUTION)
    assert np.allclose(maps.xs, xs) and np.allclose(maps.ys, ys)
    p = session.params_numpy()
    points = plane(maps.xs, maps.ys)  # (24, 24, 2)
    h = np.tanh(points @ p["h.weight"].T + p["h.bias"])  # (24, 24, 4)
    y = 1 / (1 + np.exp(-(h @ p["y.weight"].T + p["y.bias"])))  # (24, 24, 1)
    assert set(maps.layers) == {"x", "h", "y"}
    assert maps.layers["h"].values.shape == (4, 24, 24)
    assert np.allclose(maps.layers["h"].values, np.moveaxis(h, -1, 0), rtol=1e-9, atol=1e-12)
    assert np.allclose(maps.layers["y"].values, np.moveaxis(y, -1, 0), rtol=1e-9, atol=1e-12)
    # the inputs' neurons show x1 and x2 themselves: x1 grows along a row, x2 up a column
    x = maps.layers["x"].values
    assert np.allclose(x[0], np.broadcast_to(maps.xs, (24, 24))) and np.allclose(
        x[1].T, np.broadcast_to(maps.ys, (24, 24))
    )
    # the output layer's map is the decision surface drawn under the data
    surface = output_surface(session.predict, spec, train, resolution=MAP_RESOLUTION)
    assert np.allclose(maps.layers["y"].values[0], surface.values, rtol=1e-9, atol=1e-12)


def test_each_layer_shares_one_scale_bounded_activations_by_their_range_the_rest_symmetric():
    _, train, session = xor_session()
    maps = neuron_maps(session, train)
    h, y, x = maps.layers["h"], maps.layers["y"], maps.layers["x"]
    assert (h.low, h.middle, h.high) == (-1.0, 0.0, 1.0) and "tanh" in h.scale
    assert (y.low, y.middle, y.high) == (0.0, 0.5, 1.0) and "sigmoid" in y.scale
    reach = max(np.abs(maps.xs).max(), np.abs(maps.ys).max())
    assert (x.low, x.high) == pytest.approx((-reach, reach)) and "symmetric" in x.scale


def test_big_layers_get_no_maps_and_unbounded_layers_scale_to_their_largest_value():
    spec = presets.load("spiral")  # 2 → 32 relu → 32 relu → 3 logits
    train, _ = resolve_split(dict(spec.data))
    session = Session(spec, train)
    session.run(5)
    maps = neuron_maps(session, train)
    assert set(maps.layers) == {"x", "logits"}  # h1 and h2 have 32 units: over the limit
    logits = maps.layers["logits"]
    points = plane(maps.xs, maps.ys).reshape(-1, 2)
    want = session.predict(points).T.reshape(3, 24, 24)
    assert np.allclose(logits.values, want, rtol=1e-9, atol=1e-12)
    reach = np.abs(want).max()
    assert (logits.low, logits.high) == pytest.approx((-reach, reach)) and "identity" in logits.scale
    assert set(neuron_maps(session, train, limit=32).layers) == {"x", "h1", "h2", "logits"}


def test_a_layer_of_zeros_still_gets_a_scale_and_other_inputs_get_no_maps():
    spec = network(
        [
            {"id": "x", "type": "input", "units": 2},
            {"id": "r", "type": "dense", "inputs": ["x"], "units": 2, "activation": "relu", "init": "zeros"},
        ],
        "r",
    )
    data = Dataset(np.array([[0.0, 1.0], [2.0, 3.0]]), np.zeros((2, 2)))
    maps = neuron_maps(Session(spec, data), data, resolution=5)
    r = maps.layers["r"]
    assert r.values.shape == (2, 5, 5) and not r.values.any() and (r.low, r.high) == (-1.0, 1.0)
    three = network(
        [{"id": "x", "type": "input", "units": 3}, {"id": "y", "type": "dense", "inputs": ["x"], "units": 1}], "y"
    )
    data3 = Dataset(np.zeros((2, 3)), np.zeros((2, 1)))
    assert neuron_maps(Session(three, data3), data3) is None


def test_layer_outputs_is_one_forward_pass_that_matches_the_step_trace():
    spec, train, session = xor_session(steps=0)
    outputs = session.layer_outputs(train.X)
    trace = Session(spec, train).forward_backward()  # the whole data in one batch (the preset's default)
    assert set(outputs) == {"x", "h", "y"}
    for lid in ("h", "y"):
        assert np.allclose(outputs[lid], trace.to_numpy().layers[lid].out, rtol=1e-12)
    assert np.array_equal(outputs["x"], train.X)
    assert set(session.layer_outputs(train.X, ("h", "nope"))) == {"h"}
