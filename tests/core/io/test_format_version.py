"""Version 2 of the network file: written only when a network uses what version 1 did not have (the
activations silu, mish and sin; the optimizers rmsprop and adamw; l1, clip_norm, a schedule), read back
exactly; version 1 files load as before."""

import dataclasses
import json

import pytest

from bpstudio.core.errors import SpecError
from bpstudio.core.io import presets, spec_io
from bpstudio.core.spec import OptimizerSpec, Schedule

NEW_OPTIMIZERS = [
    {"name": "rmsprop", "lr": 0.01},
    {"name": "adamw", "lr": 0.001, "weight_decay": 0.01},
    {"name": "sgd", "lr": 0.1, "l1": 0.001},
    {"name": "sgd", "lr": 0.1, "clip_norm": 1.0},
    {"name": "adam", "lr": 0.01, "schedule": {"name": "exponential", "gamma": 0.99}},
]


def preset_dict(name="xor"):
    return spec_io.to_dict(presets.load(name))


def test_a_network_that_uses_nothing_new_is_still_saved_as_version_1():
    for name in presets.names():
        spec = presets.load(name)
        uses_new_layers = any(layer.type in ("features", "dropout", "batchnorm", "layernorm") for layer in spec.layers)
        opt = spec.optimizer
        uses_new_updates = opt.l1 > 0 or opt.clip_norm is not None or opt.schedule is not None
        uses_new_updates |= opt.name in ("rmsprop", "adamw")
        assert spec_io.to_dict(spec)["version"] == (2 if uses_new_layers or uses_new_updates else 1), name


@pytest.mark.parametrize("activation", ["silu", "mish", "sin"])
def test_a_new_activation_makes_the_file_version_2_and_reads_back(activation):
    raw = preset_dict()
    raw["layers"][1]["activation"] = activation
    spec = spec_io.from_dict(raw)
    saved = json.loads(spec_io.dumps(spec))
    assert saved["version"] == 2 and saved["layers"][1]["activation"] == activation
    assert spec_io.loads(spec_io.dumps(spec)).layers[1].activation == activation


@pytest.mark.parametrize("optimizer", NEW_OPTIMIZERS, ids=lambda o: "-".join(map(str, o)))
def test_a_new_optimizer_setting_makes_the_file_version_2_and_reads_back(optimizer):
    raw = {**preset_dict(), "optimizer": optimizer}
    spec = spec_io.from_dict(raw)
    saved = json.loads(spec_io.dumps(spec))
    assert saved["version"] == 2
    assert {k: saved["optimizer"][k] for k in optimizer} == optimizer
    assert spec_io.loads(spec_io.dumps(spec)).optimizer == spec.optimizer


def test_every_setting_is_written_with_its_defaults_spelled_out():
    spec = spec_io.from_dict(
        {**preset_dict(), "optimizer": {"name": "rmsprop", "lr": 0.01, "schedule": {"name": "cosine", "t_max": 50}}}
    )
    assert spec.optimizer == OptimizerSpec("rmsprop", lr=0.01, schedule=Schedule("cosine", t_max=50, eta_min=0.0))
    assert spec_io.to_dict(spec)["optimizer"] == {
        "name": "rmsprop",
        "lr": 0.01,
        "alpha": 0.99,
        "eps": 1e-08,
        "schedule": {"name": "cosine", "t_max": 50, "eta_min": 0.0},
    }
    step = Schedule("step", step_size=10)
    sgd = OptimizerSpec("sgd", schedule=step, clip_norm=2.0, l1=0.5)
    assert spec_io.to_dict(dataclasses.replace(spec, optimizer=sgd))["optimizer"] == {
        "name": "sgd",
        "lr": 0.1,
        "l1": 0.5,
        "clip_norm": 2.0,
        "schedule": {"name": "step", "step_size": 10, "gamma": 0.1},
    }


def test_version_1_files_load_unchanged():
    raw = preset_dict("deep_sigmoid")
    assert raw["version"] == 1
    spec = spec_io.from_dict(raw)
    assert spec_io.to_dict(spec) == raw
    assert spec.optimizer.clip_norm is None and spec.optimizer.schedule is None and spec.optimizer.l1 == 0.0
    assert json.loads(spec_io.dumps(spec))["version"] == 1


def test_a_version_newer_than_2_is_refused():
    with pytest.raises(SpecError, match=r"field 'version': version 3 is newer than this bpstudio reads \(2\)"):
        spec_io.from_dict({**preset_dict(), "version": 3})


@pytest.mark.parametrize(
    "optimizer, message",
    [
        ({"name": "rmsprop", "alpha": "0.9"}, "field 'optimizer': 'alpha' must be a number"),
        ({"l1": -1}, "field 'optimizer': 'l1' must not be negative"),
        ({"clip_norm": -2}, "field 'optimizer': 'clip_norm' must be above 0"),
        ({"schedule": "cosine"}, "field 'optimizer.schedule': must be an object such as"),
        ({"schedule": {"name": "step"}}, "field 'optimizer.schedule': a step schedule needs 'step_size'"),
        ({"schedule": {"name": "cosine", "t_max": 9, "tmax": 9}}, "unknown schedule setting 'tmax'"),
        ({"schedule": {"name": "exponential", "gamma": True}}, "'gamma' must be a number, got True"),
        ({"name": "adagrad"}, "unknown optimizer 'adagrad' .known: sgd, momentum, adam, adamw, rmsprop"),
    ],
)
def test_bad_values_in_a_file_are_refused_naming_the_field(optimizer, message):
    with pytest.raises(SpecError, match=message):
        spec_io.from_dict({**preset_dict(), "version": 2, "optimizer": {"name": "sgd", **optimizer}})


@pytest.mark.parametrize(
    "schedule",
    [
        {"name": "cosine", "t_max": 10**400},
        {"name": "step", "step_size": 2**70},
        ["x" * 50] * 100_000,
        {"name": "x" * 1_000_000},
        {"name": "step", "step_size": [1] * 1_000_000},
        {"name": "step", "zz\n" * 10_000: 1},
    ],
)
def test_a_hostile_schedule_is_refused_in_one_short_line(schedule):
    """Out of range or huge: refused when the file is read (a t_max of 10**400 loaded and broke the first
    update), with the bad value cut short, on one line."""
    with pytest.raises(SpecError) as refused:
        spec_io.from_dict({**preset_dict(), "version": 2, "optimizer": {"name": "sgd", "schedule": schedule}})
    message = str(refused.value)
    assert "optimizer.schedule" in message and len(message) < 400 and "\n" not in message


def test_a_hostile_terms_list_is_refused_in_one_short_line():
    raw = preset_dict()
    raw["layers"].insert(1, {"id": "f", "type": "features", "inputs": ["x"], "terms": {"k" * 10**6: 1}})
    with pytest.raises(SpecError) as refused:
        spec_io.from_dict({**raw, "version": 2})
    assert "terms" in str(refused.value) and len(str(refused.value)) < 400


def test_absent_and_null_clip_norm_and_schedule_mean_none():
    raw = {**preset_dict(), "version": 2, "optimizer": {"name": "sgd", "clip_norm": None, "schedule": None}}
    spec = spec_io.from_dict(raw)
    assert spec.optimizer.clip_norm is None and spec.optimizer.schedule is None
    assert spec_io.to_dict(spec)["version"] == 1
