"""A session file keeps the conditions Play stops at (``training.stop``, session format version 2); one without
them is written as version 1 and older files, which have none, open with none."""

import json
import re
from pathlib import Path

import pytest

from bpstudio.core.errors import SessionError
from bpstudio.core.io import session_io
from bpstudio.core.stopping import StopRule
from tests.core.io.test_session_files import saved_from, trained


def test_the_stop_conditions_are_saved_and_come_back(tmp_path):
    session = trained(steps=3)
    rule = StopRule(target_loss=0.05, epochs=3, plateau_steps=50, plateau_fraction=0.02)
    path = tmp_path / "run.json"
    session_io.save(session_io.capture(session, stop_rule=rule), path)
    raw = json.loads(path.read_text())
    assert raw["version"] == 2
    assert raw["training"]["stop"] == {"target_loss": 0.05, "epochs": 3, "plateau_steps": 50, "plateau_fraction": 0.02}
    assert session_io.load(path).stop_rule == rule
    # one condition alone: only it is written
    session_io.save(session_io.capture(session, stop_rule=StopRule(epochs=7)), path)
    assert json.loads(path.read_text())["training"]["stop"] == {"epochs": 7}
    assert session_io.load(path).stop_rule == StopRule(epochs=7)


def test_a_session_without_stop_conditions_is_the_version_1_file_older_releases_read(tmp_path):
    path = tmp_path / "run.json"
    session_io.save(session_io.capture(trained(steps=2)), path)
    raw = json.loads(path.read_text())
    assert raw["version"] == 1 and "stop" not in raw["training"]
    assert set(raw["training"]) == {"backend", "device", "dtype", "batch_size", "step", "epoch", "position"}


def test_an_older_session_file_opens_with_no_stop_conditions(tmp_path):
    session = trained(steps=2)
    old = {  # as bpstudio wrote session files before they kept stop conditions
        "format": "bpstudio-session",
        "version": 1,
        "network": json.loads(json.dumps(session_io.to_dict(saved_from(session))["network"])),
        "training": {"backend": "numpy", "device": "cpu", "dtype": "float64", "batch_size": 16, "step": 2},
        "optimizer_state": {"steps": 2, "buffers": {}},
        "history": None,
    }
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old))
    back = session_io.load(path)
    assert back.stop_rule == StopRule() and not back.stop_rule.active and back.state.step == 2


@pytest.mark.parametrize(
    "stop, message",
    [
        ([1], "'training.stop' must be an object"),
        ({"loss": 0.1}, "unknown field 'loss' in 'training.stop' (known: target_loss, epochs, plateau_steps"),
        ({"target_loss": -1}, "'training.stop': the target loss must be a number 0 or more, got -1"),
        ({"target_loss": "low"}, "'training.stop': the target loss must be a number 0 or more"),
        ({"epochs": 0}, "'training.stop': the number of epochs must be a whole number 1 or more, got 0"),
        ({"epochs": 2.5}, "the number of epochs must be a whole number"),
        ({"plateau_steps": True}, "the plateau window must be a whole number of steps 1 or more, got True"),
        ({"plateau_steps": 10, "plateau_fraction": 1}, "the plateau fraction must be a number in [0, 1), got 1"),
        ({"plateau_steps": 10**30}, "'training.stop': the plateau window must be at most 2**62, got 1"),
        ({"epochs": 10**400}, "'training.stop': the number of epochs must be at most 2**62"),
    ],
)
def test_bad_stop_conditions_are_refused_naming_the_field(tmp_path, stop, message):
    raw = session_io.to_dict(saved_from(trained(steps=1)))
    raw["training"]["stop"] = stop
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(SessionError) as info:
        session_io.load(path)
    text = str(info.value)
    assert text.startswith(f"{path}: session file: ") and message in text and len(text.splitlines()) == 1


def test_a_newer_session_version_is_refused():
    raw = session_io.to_dict(saved_from(trained(steps=1)))
    for version in (3, True, "2"):
        raw["version"] = version
        with pytest.raises(SessionError, match="is not supported .this bpstudio reads versions 1 and 2."):
            session_io.from_dict(raw)


def test_the_documented_training_entry_opens_with_its_stop_conditions():
    doc = (Path(__file__).resolve().parents[3] / "docs" / "file-format.md").read_text(encoding="utf-8")
    (block,) = re.findall(r"^```js\n(.*?)^```", doc, flags=re.S | re.M)
    raw = session_io.to_dict(saved_from(trained(steps=1)))
    raw.update(json.loads("{" + block + "}"))
    back = session_io.from_dict(raw)
    assert back.stop_rule == StopRule(epochs=20, plateau_steps=200, plateau_fraction=0.01)
    assert (back.batch_size, back.state.step, back.state.epoch, back.state.position) == (16, 120, 9, 112)
