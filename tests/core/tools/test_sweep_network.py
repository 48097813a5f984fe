"""A sweep grid may vary the learning-rate schedule and dropout: the text forms, the networks they build (a
dropout layer after every hidden layer, the schedule in the optimizer) and runs that are the engine's runs of
those networks."""

import csv
import io

import numpy as np
import pytest

from bpstudio.core.datasets import xor
from bpstudio.core.errors import BpstudioError
from bpstudio.core.session import Session
from bpstudio.core.spec import OptimizerSpec, Schedule
from bpstudio.core.tools.sweep import Config, SweepCell, SweepGrid, build_spec, parse_setting, run_cell, run_sweep
from tests.core.tools.test_sweep_runner import TINY, serial


def shape(spec):
    return [(x.id, x.type, x.inputs, x.p) for x in spec.layers]


def test_dropout_puts_a_dropout_layer_after_every_hidden_layer_and_feeds_the_residual_sums():
    data = xor(n=24, seed=1)
    spec = build_spec(Config(3, "relu", "he_normal", True, (("dropout", 0.25),)), data, 0)
    assert shape(spec) == [
        ("x", "input", (), None),
        ("h1", "dense", ("x",), None),
        ("d1", "dropout", ("h1",), 0.25),
        ("h2", "dense", ("d1",), None),
        ("d2", "dropout", ("h2",), 0.25),
        ("r2", "add", ("d1", "d2"), None),
        ("h3", "dense", ("r2",), None),
        ("d3", "dropout", ("h3",), 0.25),
        ("r3", "add", ("r2", "d3"), None),
        ("out", "dense", ("r3",), None),
    ]
    # p = 0: no dropout layer at all, the network of a grid without the setting
    plain = build_spec(Config(3, "relu", "he_normal", True), data, 0)
    assert shape(build_spec(Config(3, "relu", "he_normal", True, (("dropout", 0.0),)), data, 0)) == shape(plain)
    assert all(layer.type != "dropout" for layer in plain.layers)


def test_a_dropout_run_is_the_engines_run_of_that_network_and_drops_units():
    data = xor(n=24, seed=1)
    config = Config(2, "relu", "he_normal", False, (("dropout", 0.5),))
    result = run_cell(SweepCell(config, 3, 4, data))
    session = Session(build_spec(config, data, 3), data)
    firsts = [session.step().grad_norm("h1") for _ in range(4)]
    assert result.grad_first_start == pytest.approx(firsts[0], rel=1e-12)
    assert result.grad_first_mean == pytest.approx(np.mean(firsts), rel=1e-12)
    assert result.final_loss == pytest.approx(session.evaluate(data), rel=1e-12)  # (evaluation mode: nothing dropped)
    # the masks are in use: the first step's gradient differs from the same network's without dropout
    without = run_cell(SweepCell(Config(2, "relu", "he_normal", False, (("dropout", 0.0),)), 3, 4, data))
    assert result.grad_first_start != pytest.approx(without.grad_first_start, rel=1e-6)


def test_a_schedule_setting_is_the_optimizers_schedule():
    data = xor(n=24, seed=1)
    config = Config(2, "tanh", "xavier_uniform", False, (("lr", 0.5), ("schedule", "step:2:0.25")))
    spec = build_spec(config, data, 0)
    assert spec.optimizer == OptimizerSpec("sgd", lr=0.5, schedule=Schedule("step", step_size=2, gamma=0.25))
    result = run_cell(SweepCell(config, 0, 5, data))
    session = Session(spec, data)
    rates = [session.step().update.lr for _ in range(5)]
    assert rates == [0.5, 0.5, 0.125, 0.125, 0.5 * 0.25**2]
    assert result.final_loss == pytest.approx(session.evaluate(data), rel=1e-12)
    assert build_spec(Config(2, "tanh", "xavier_uniform", False, (("schedule", "constant"),)), data, 0).optimizer == (
        OptimizerSpec()
    )


def test_schedules_and_dropout_read_from_text():
    assert parse_setting("schedule=constant, step:10, exponential:0.9, cosine:100:0.001") == (
        "schedule",
        ("constant", "step:10:0.1", "exponential:0.9", "cosine:100:0.001"),
    )
    assert parse_setting("dropout=0, 0.2,0.5") == ("dropout", (0.0, 0.2, 0.5))
    for bad, message in (
        ("schedule=linear:3", r"unknown schedule 'linear' \(known: constant, step, exponential, cosine\)"),
        ("schedule=step", r"writes a step schedule as step:STEP_SIZE\[:GAMMA\], got 'step'"),
        ("schedule=cosine:1:2:3", r"cosine:T_MAX\[:ETA_MIN\]"),
        ("schedule=step:ten", "step_size of .* takes a number, got 'ten'"),
        ("schedule=step:2.5", "'step_size' must be a whole number"),
        ("schedule=exponential:-1", "'gamma' must be above 0"),
        ("schedule=constant:1", "constant takes no settings"),
        ("schedule=step:10,step:10:0.1", "'step:10:0.1' twice"),
        ("dropout=1", r"p from 0 \(none\) up to but not including 1, got '1'"),
        ("dropout=-0.1", "up to but not including 1"),
        ("dropout=half", "'dropout' takes numbers, got 'half'"),
    ):
        with pytest.raises(BpstudioError, match=message):
            name, values = parse_setting(bad)
            SweepGrid(**{**TINY, "settings": {name: values}})


def test_a_grid_varies_dropout_and_the_schedule_as_axes():
    grid = SweepGrid(
        **{**TINY, "depths": (2,), "residual": (False,), "settings": {"dropout": (0, 0.5), "schedule": ("constant",)}}
    )
    assert grid.varied == ("dropout",)
    result = run_sweep(grid, serial())
    assert [s.label for s in result.series("final_loss")] == [
        "sigmoid, xavier_uniform, plain, dropout=0.0",
        "sigmoid, xavier_uniform, plain, dropout=0.5",
    ]
    rows = list(csv.DictReader(io.StringIO(result.to_csv())))
    assert {(row["dropout"], row["schedule"]) for row in rows} == {("0.0", "constant"), ("0.5", "constant")}


def test_norm_puts_a_normalization_layer_between_each_dense_layer_and_its_activation():
    data = xor(n=24, seed=1)
    spec = build_spec(
        Config(2, "sigmoid", "xavier_uniform", False, (("norm", "batchnorm"), ("dropout", 0.25))), data, 0
    )
    assert [(x.id, x.type, x.inputs, x.activation) for x in spec.layers] == [
        ("x", "input", (), "identity"),
        ("h1", "dense", ("x",), "identity"),
        ("n1", "batchnorm", ("h1",), "sigmoid"),
        ("d1", "dropout", ("n1",), "identity"),
        ("h2", "dense", ("d1",), "identity"),
        ("n2", "batchnorm", ("h2",), "sigmoid"),
        ("d2", "dropout", ("n2",), "identity"),
        ("out", "dense", ("d2",), "sigmoid"),
    ]
    plain = build_spec(Config(2, "sigmoid", "xavier_uniform", False), data, 0)
    assert shape(build_spec(Config(2, "sigmoid", "xavier_uniform", False, (("norm", "none"),)), data, 0)) == shape(
        plain
    )
    assert parse_setting("norm=none,batchnorm, layernorm") == ("norm", ("none", "batchnorm", "layernorm"))
    with pytest.raises(BpstudioError, match="'norm' takes one of none, batchnorm, layernorm, got 'groupnorm'"):
        parse_setting("norm=groupnorm")


def test_a_grid_varies_the_normalization_and_batchnorm_closes_the_deep_sigmoid_gap():
    grid = SweepGrid(
        **{
            **TINY,
            "depths": (6,),
            "activations": ("sigmoid",),
            "residual": (False,),
            "settings": {"norm": ("none", "batchnorm"), "batch_size": (8,)},
        }
    )
    assert grid.varied == ("norm",)
    result = run_sweep(grid, serial())
    ratios = {}
    for run in result.results:
        ratios.setdefault(dict(run.config.settings)["norm"], []).append(run.grad_first_mean / run.grad_last_mean)
    assert min(ratios["batchnorm"]) > 100 * max(ratios["none"])
