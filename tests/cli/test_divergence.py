"""``bpstudio train`` on a run whose values stop being numbers, or that stops learning: it says so in one line,
stops at that step (exit 3) and never writes a network that is not numbers. Each case is checked against the same
run made here step by step with the engine."""

import csv
import dataclasses
import json

import numpy as np
import pytest

from bpstudio.core.datasets import resolve_split
from bpstudio.core.errors import DivergedError
from bpstudio.core.io import presets, spec_io
from bpstudio.core.session import Session
from tests.cli.running import assert_one_line_error, run


def regression_net(path, activation, lr):
    """A small regression net (1-8-1 on the built-in sine) with plain SGD at ``lr``."""
    path.write_text(
        json.dumps(
            {
                "format": "bpstudio-network",
                "version": 1,
                "layers": [
                    {"id": "x", "type": "input", "units": 1},
                    {"id": "h1", "type": "dense", "inputs": ["x"], "units": 8, "activation": activation},
                    {"id": "y", "type": "dense", "inputs": ["h1"], "units": 1},
                ],
                "output": "y",
                "loss": "mse",
                "optimizer": {"name": "sgd", "lr": lr},
                "data": {"builtin": "sine"},
                "seed": 1,
            }
        )
    )
    return path


def steps_until_refused(spec):
    """The run made here: the steps applied before the first refused one, and the weights they left."""
    session = Session(spec, resolve_split(dict(spec.data))[0])
    with np.errstate(all="ignore"):
        for done in range(10_000):
            try:
                session.step()
            except DivergedError as exc:
                return done, exc, session.params_numpy()
    raise AssertionError("the run never diverged")


@pytest.mark.parametrize(("activation", "lr"), [("tanh", 1e3), ("relu", 1e3), ("sigmoid", 1e6), ("relu", 1e6)])
def test_a_diverging_run_stops_at_that_step_and_saves_the_last_finite_state(capsys, tmp_path, activation, lr):
    net = regression_net(tmp_path / "net.json", activation, lr)
    done, refused, weights = steps_until_refused(spec_io.load(net))
    saved, metrics = tmp_path / "out.json", tmp_path / "m.csv"
    code, out, err = run(capsys, "train", net, "--steps", 200, "--save", saved, "--metrics", metrics, "--quiet")
    line = assert_one_line_error(err, r"bpstudio: stopped at step ")
    assert code == 3 and out == ""
    where = f"layer {refused.layer}: its {refused.quantity}" if refused.layer else f"the {refused.quantity}"
    assert line.startswith(f"bpstudio: stopped at step {done + 1}: {where} became ")
    assert line.endswith(f"{saved} holds the network after step {done}, the last one whose values are all numbers")
    kept = spec_io.load(saved)
    for key, value in weights.items():
        layer, name = key.split(".")
        np.testing.assert_array_equal(getattr(kept.layer(layer), name), value)  # finite: the state before it
    with open(metrics) as f:
        assert [int(row["step"]) for row in csv.DictReader(f)] == list(range(1, done + 1))


def test_a_run_that_saturates_says_so(capsys, tmp_path):
    """xor at lr 1e6: every tanh unit is thrown against ±1 and nothing learns; the run ends (exit 0) with one
    warning naming the layer, checked here against the trained net's own activations."""
    spec = presets.load("xor")
    spec = dataclasses.replace(spec, optimizer=dataclasses.replace(spec.optimizer, lr=1e6))
    session = Session(spec, resolve_split(dict(spec.data))[0], batch_size=spec.batch_size)
    with np.errstate(all="ignore"):
        session.run(50)
    h = session.layer_outputs(session.data.X, ("h",))["h"]
    assert (1 - np.abs(h) <= 1e-6).all()  # (what it must say)
    net = tmp_path / "xor.json"
    net.write_text(spec_io.dumps(spec))
    code, out, err = run(capsys, "train", net, "--steps", 50, "--quiet")
    line = assert_one_line_error(err, r"bpstudio: warning: after step 50, ")
    assert code == 0 and "layer h: all 4 tanh units are saturated at ±1, so its gradients are exactly 0" in line
    assert line.endswith("it has stopped learning; a smaller learning rate may help")
