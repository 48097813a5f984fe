"""A hostile file opened in the app: File ▸ Open says what is wrong in the window and the work in progress stays as
it was (weights, step, unsaved mark); `bpstudio FILE` starts and says it instead of dying."""

import json

import numpy as np
import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt

from bpstudio.core.io import presets
from tests.gui.driving import CTRL, click_canvas, press
from tests.gui.test_smoke import smoke
from tests.hostile_files import _nested_text, _session_tree


def xor_tree():
    return json.loads(presets.path("xor").read_text(encoding="utf-8"))


def layers_of_units(units):
    tree = xor_tree()
    tree["layers"][1]["units"] = units
    return json.dumps(tree)


def renamed(layer_id):
    tree = xor_tree()
    tree["layers"][1]["id"] = layer_id
    tree["layers"][2]["inputs"] = [layer_id]
    return json.dumps(tree)


def backend_list():
    tree = _session_tree()
    tree["training"]["backend"] = ["numpy"]
    return json.dumps(tree)


HOSTILE = {
    "a layer of 10^30 units": (lambda: layers_of_units(10**30), "layer 'h', field 'units'"),
    "JSON nested 100,000 deep": (lambda: _nested_text(100_000), "nested more than 64 levels deep"),
    "a layer id with a lone surrogate": (lambda: renamed("h\ud800"), "field 'id': the id 'h\\ud800' holds a lone"),
    "a session whose backend is a list": (backend_list, "'training.backend' must be one of"),
}


def work_in_progress(qtbot, w):
    """A few steps taken (unsaved work): what must survive a refused Open."""
    click_canvas(qtbot, w)
    for _ in range(3):
        press(qtbot, w, Qt.Key.Key_S)
    doc = w.document
    assert doc.session.step_count == 3 and doc.dirty
    return {key: value.copy() for key, value in doc.params().items()}, w.windowTitle()


@pytest.mark.parametrize("case", list(HOSTILE))
def test_file_open_on_a_hostile_file_says_why_and_keeps_the_work(qtbot, window, dialogs, tmp_path, case):
    make, expected = HOSTILE[case]
    params, title = work_in_progress(qtbot, window)
    path = tmp_path / "hostile.json"
    path.write_text(make(), encoding="utf-8")
    dialogs.open_path = str(path)
    press(qtbot, window, Qt.Key.Key_O, CTRL)  # File ▸ Open…; "Discard" the unsaved steps when asked
    assert dialogs.kinds() == ["question", "warning"]
    _, heading, text = dialogs.shown[-1]
    assert heading == "Cannot open file" and str(path) in text and expected in text
    assert "\n" not in text and len(text) < len(str(path)) + 300
    doc = window.document
    assert doc.session.step_count == 3 and doc.dirty and window.windowTitle() == title  # the work stays
    assert set(doc.params()) == set(params)
    for key, value in params.items():
        np.testing.assert_array_equal(doc.params()[key], value, err_msg=key)


def test_a_failure_core_did_not_foresee_is_said_too(qtbot, window, dialogs, tmp_path, monkeypatch):
    params, title = work_in_progress(qtbot, window)

    def broken(*args, **kwargs):
        raise RuntimeError("something no check foresaw")

    monkeypatch.setattr(window.document, "open_file", broken)
    dialogs.open_path = str(presets.path("mazur"))
    press(qtbot, window, Qt.Key.Key_O, CTRL)
    assert dialogs.shown[-1] == (
        "warning",
        "Cannot open file",
        f"{presets.path('mazur')}: cannot be opened (RuntimeError: something no check foresaw)",
    )
    assert window.document.session.step_count == 3 and window.windowTitle() == title


def test_a_hostile_file_named_at_start_is_said_on_the_canvas(qtbot, window, tmp_path):
    path = tmp_path / "deep.json"
    path.write_text(_nested_text(100_000), encoding="utf-8")
    assert not window.files.open_at_start(str(path))
    assert window.canvas.banner.isVisible()
    assert f"cannot open {path}" in window.canvas.banner.text()
    assert "nested more than 64 levels deep" in window.canvas.banner.text()
    assert window.document.spec.name == "XOR 2-4-1"  # the example it started on


def test_the_app_started_on_a_hostile_file_runs_and_says_why(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text(_nested_text(100_000), encoding="utf-8")
    done = smoke(str(path), "--smoke")
    assert done.returncode == 0 and "Traceback" not in done.stderr
    [line] = [line for line in done.stderr.splitlines() if "cannot open" in line]
    assert line.startswith(f"bpstudio: cannot open {path}: ") and "nested more than 64 levels deep" in line
    assert "network 'XOR 2-4-1'" in done.stdout  # the window came up on the default example
