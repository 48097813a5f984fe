"""What the app shows beside training (core/tools/evaluate.py), against references computed here."""

import numpy as np

from bpstudio.core.data import Dataset
from bpstudio.core.datasets import make_toy, resolve_split
from bpstudio.core.io import presets, spec_io
from bpstudio.core.session import Session
from bpstudio.core.tools.boundary import Surface
from bpstudio.core.tools.evaluate import (
    LEAST_RESOLUTION,
    SURFACE_RESOLUTION,
    SURFACE_WORK,
    UNIT_COST,
    data_surface,
    held_out_record,
    surface_resolution,
    train_accuracy,
)
from tests.helpers import network, wide_net_file


def xor_run():
    spec = presets.load("xor")
    train, test = resolve_split(dict(spec.data))
    session = Session(spec, train)
    session.run(30)
    return session, train, test


def test_accuracy_and_the_test_record_are_what_the_outputs_say():
    session, train, test = xor_run()
    predicted = session.predict(train.X)[:, 0] > 0.5
    assert train_accuracy(session, train) == np.mean(predicted == (train.Y.ravel() > 0.5))
    assert test is not None
    step, loss, acc = held_out_record(session, test)
    out = session.predict(test.X)[:, 0]
    t = test.Y.ravel()
    bce = -np.mean(t * np.log(out) + (1 - t) * np.log(1 - out))
    assert step == session.step_count and np.isclose(loss, bce, rtol=1e-9)  # (after step k: step k)
    assert acc == np.mean((out > 0.5) == (t > 0.5))
    assert held_out_record(session, None) is None


def test_the_surface_follows_the_input_width():
    session, train, _ = xor_run()
    surface = data_surface(session, train)
    assert isinstance(surface, Surface) and surface.values.shape == (60, 60)
    line = network(
        [{"id": "x", "type": "input", "units": 1}, {"id": "y", "type": "dense", "inputs": ["x"], "units": 1}], "y"
    )
    sine = make_toy("sine", n=20)
    xs, ys = data_surface(Session(line, sine), sine)
    np.testing.assert_allclose(ys, Session(line, sine).predict(xs.reshape(-1, 1))[:, 0])
    three = Dataset(np.random.default_rng(0).normal(size=(20, 3)), np.zeros((20, 1)))
    wide = network(
        [{"id": "x", "type": "input", "units": 3}, {"id": "y", "type": "dense", "inputs": ["x"], "units": 1}], "y"
    )
    assert three.X.shape[1] == 3 and data_surface(Session(wide, three), three) is None


def test_a_big_networks_surface_takes_a_coarser_grid_with_the_same_values(tmp_path):
    spec = spec_io.load(wide_net_file(tmp_path, hidden=(1000, 1000)))
    train = resolve_split(spec.data)[0]
    session = Session(spec, train)
    work = 2 * 1000 + 1000 * 1000 + 1000  # multiply-adds a grid point costs: 60×60 points are 3.6·10⁹
    surface = data_surface(session, train)
    assert surface.values.shape == (32, 32) and 32 * 32 * work <= 1.05 * SURFACE_WORK
    gx, gy = np.meshgrid(surface.xs, surface.ys)
    expected = session.predict(np.column_stack([gx.ravel(), gy.ravel()]))[:, 0].reshape(gx.shape)
    np.testing.assert_allclose(surface.values, expected, rtol=1e-12)
    assert surface_resolution(presets.load("spiral")) == SURFACE_RESOLUTION  # small nets keep the fine grid


def test_a_wide_shallow_networks_surface_counts_its_activations_too(tmp_path):
    # 2-10000-1: 3·10⁴ multiply-adds a point, but 10⁴ tanh evaluations, each costing far more (it took 10 s to open)
    spec = spec_io.load(wide_net_file(tmp_path, hidden=(10_000,)))
    per_point = 2 * 10_000 + 10_000 + UNIT_COST * (10_000 + 1)
    assert SURFACE_RESOLUTION**2 * per_point > SURFACE_WORK  # the fine grid would cost too much
    assert surface_resolution(spec) == LEAST_RESOLUTION
