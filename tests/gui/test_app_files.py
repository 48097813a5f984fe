"""The window's files and lifetime: Save / Save As / Open of whole sessions, the unsaved-changes prompt,
recent files and remembered settings, stopping the training thread when the document goes away, and the
data panel's edits. Every comparison is against the saved JSON or a headless core Session."""

import dataclasses
import json

import numpy as np
import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMessageBox

from bpstudio.core.datasets import resolve_split
from bpstudio.core.io import presets
from bpstudio.core.session import Session
from bpstudio.core.spec import OptimizerSpec
from bpstudio.gui.main_window import PRESENTATION_SCALE
from tests.gui.driving import (
    CTRL,
    LEFT,
    SHIFT,
    click_canvas,
    menu,
    press,
    set_batch_size,
    settle,
    type_into_field,
)
from tests.gui.reference import same_params

Button = QMessageBox.StandardButton


def same_state(a, b):
    assert a["steps"] == b["steps"] and set(a["buffers"]) == set(b["buffers"])
    for key, slots in a["buffers"].items():
        assert set(slots) == set(b["buffers"][key])
        for name, value in slots.items():
            np.testing.assert_array_equal(value, b["buffers"][key][name], err_msg=f"{key}.{name}")


# === 7. save and reopen ===========================================================================================


def test_a_saved_session_reopens_exactly_in_a_fresh_window(qtbot, new_window, dialogs, tmp_path):
    w = new_window()
    panel = w.training_panel
    panel.optimizer.setCurrentIndex(panel.optimizer.findText("adam"))  # pick Adam, then type its rate
    type_into_field(qtbot, panel.fields["lr"], "0.05")
    set_batch_size(qtbot, w, 16)
    assert w.document.spec.optimizer == OptimizerSpec("adam", lr=0.05) and w.document.session.batch_size == 16
    click_canvas(qtbot, w)  # leave the field (E would type there)
    press(qtbot, w, Qt.Key.Key_E)  # two epochs of minibatches
    press(qtbot, w, Qt.Key.Key_E)
    doc = w.document
    steps = doc.session.step_count
    assert steps == 2 * -(-len(doc.train_data) // 16) and doc.session.epoch_count == 2

    # the run is the core's: a headless session with the same settings lands on the same weights
    spec = presets.load("xor")
    reference = Session(
        dataclasses.replace(spec, optimizer=OptimizerSpec("adam", lr=0.05)), resolve_split(spec.data)[0], batch_size=16
    )
    reference.run(steps)
    same_params(doc.params(), reference.params_numpy(), tol=1e-12)

    assert w.windowTitle() == "XOR 2-4-1 * — bpstudio"
    path = tmp_path / "run.json"
    dialogs.save_path = str(path)
    press(qtbot, w, Qt.Key.Key_S, CTRL | SHIFT)  # Save As…
    assert w.windowTitle() == "run.json — bpstudio" and dialogs.shown == []
    raw = json.loads(path.read_text())
    assert raw["format"] == "bpstudio-session"

    other = new_window("other.ini")  # a fresh window opens it
    dialogs.open_path = str(path)
    press(qtbot, other, Qt.Key.Key_O, CTRL)
    again = other.document
    assert other.windowTitle() == "run.json — bpstudio"
    same_params(again.params(), doc.params())  # bit for bit
    assert (again.session.step_count, again.session.epoch_count) == (steps, 2)
    same_state(again.session.optimizer_state(), doc.session.optimizer_state())
    assert again.session.batch_size == 16 and again.spec.optimizer == OptimizerSpec("adam", lr=0.05)
    assert len(again.history) == len(doc.history) == steps
    np.testing.assert_array_equal(again.history.losses(), doc.history.losses())
    # and the other window's panels show it
    assert other.training_panel.optimizer.currentText() == "adam"
    assert other.training_panel.fields["lr"].text() == "0.05"
    assert other.training_panel.batch.value() == 16 and not other.training_panel.full_batch.isChecked()

    press(qtbot, w, Qt.Key.Key_S)
    assert w.windowTitle() == "run.json * — bpstudio"  # an edit: unsaved
    press(qtbot, w, Qt.Key.Key_S, CTRL)  # Save
    assert w.windowTitle() == "run.json — bpstudio"
    assert json.loads(path.read_text())["training"]["step"] == steps + 1


def test_a_reopened_session_trains_on_the_same_batches_as_the_original(qtbot, new_window, dialogs, tmp_path):
    w = new_window()
    set_batch_size(qtbot, w, 16)
    click_canvas(qtbot, w)
    for _ in range(3):  # saved in the middle of an epoch
        press(qtbot, w, Qt.Key.Key_S)
    dialogs.save_path = dialogs.open_path = str(tmp_path / "run.json")
    press(qtbot, w, Qt.Key.Key_S, CTRL | SHIFT)
    other = new_window("other.ini")
    press(qtbot, other, Qt.Key.Key_O, CTRL)
    same_params(other.document.params(), w.document.params())
    press(qtbot, other, Qt.Key.Key_S)
    press(qtbot, w, Qt.Key.Key_S)
    np.testing.assert_array_equal(other.document.trace.batch, w.document.trace.batch)
    same_params(other.document.params(), w.document.params())


def test_after_undo_and_redo_the_next_step_takes_the_batch_the_run_was_at(qtbot, new_window):
    spec = presets.load("xor")
    reference = Session(spec, resolve_split(spec.data)[0], batch_size=16)
    reference.run(3)
    fourth = reference.step()
    w = new_window()
    set_batch_size(qtbot, w, 16)
    click_canvas(qtbot, w)
    for _ in range(3):
        press(qtbot, w, Qt.Key.Key_S)
    press(qtbot, w, Qt.Key.Key_Z, CTRL)  # "Train 3 steps" undone
    assert w.document.session.step_count == 0
    press(qtbot, w, Qt.Key.Key_Z, CTRL | SHIFT)  # and redone: 48 samples into the pass
    assert (w.document.session.step_count, w.document.session.position) == (3, 48)
    press(qtbot, w, Qt.Key.Key_S)
    np.testing.assert_array_equal(w.document.trace.batch, fourth.batch)
    same_params(w.document.params(), reference.params_numpy())


def test_a_failed_save_keeps_the_old_file_and_says_why(qtbot, window, dialogs, tmp_path, monkeypatch):
    w = window
    path = tmp_path / "run.json"
    dialogs.save_path = str(path)
    press(qtbot, w, Qt.Key.Key_S)
    press(qtbot, w, Qt.Key.Key_S, CTRL)  # untitled: Save asks where
    old = path.read_bytes()
    assert json.loads(old)["training"]["step"] == 1

    press(qtbot, w, Qt.Key.Key_S)
    assert w.windowTitle() == "run.json * — bpstudio"

    def full_disk(src, dst):
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr("bpstudio.core.io.fileio.os.replace", full_disk)
        press(qtbot, w, Qt.Key.Key_S, CTRL)
    assert [(k, t) for k, t, _ in dialogs.shown] == [("warning", "Cannot save")]
    assert str(path) in dialogs.shown[0][2] and "No space left on device" in dialogs.shown[0][2]
    assert path.read_bytes() == old  # the old file is intact
    assert [p.name for p in tmp_path.iterdir() if "run.json" in p.name] == ["run.json"]  # no temp file left
    assert w.windowTitle() == "run.json * — bpstudio"  # still unsaved


def test_changing_the_batch_size_is_an_unsaved_change(qtbot, window, dialogs, tmp_path):
    w = window
    dialogs.save_path = str(tmp_path / "run.json")
    press(qtbot, w, Qt.Key.Key_S, CTRL | SHIFT)
    assert w.windowTitle() == "run.json — bpstudio"
    set_batch_size(qtbot, w, 16)
    assert w.document.session.batch_size == 16
    assert w.windowTitle() == "run.json * — bpstudio"


# === 8. unsaved changes, recent files, remembered settings ==================================================


def test_closing_asks_about_unsaved_changes(qtbot, new_window, dialogs, tmp_path):
    clean = new_window()
    assert clean.close() and dialogs.shown == []  # nothing to save: no question

    w = new_window()
    press(qtbot, w, Qt.Key.Key_S)
    dialogs.answer = Button.Cancel
    assert not w.close()
    assert w.isVisible() and dialogs.shown == [("question", "Unsaved changes", "Save the changes to XOR 2-4-1 first?")]
    dialogs.answer = Button.Discard
    assert w.close() and not w.isVisible()

    w = new_window()
    press(qtbot, w, Qt.Key.Key_S)
    dialogs.answer = Button.Save  # Save: asks where, saves, closes
    dialogs.save_path = str(tmp_path / "kept.json")
    assert w.close() and not w.isVisible()
    assert json.loads((tmp_path / "kept.json").read_text())["training"]["step"] == 1


def test_recent_files_and_window_settings_are_remembered_across_windows(qtbot, new_window, dialogs, tmp_path):
    w = new_window()
    assert not w.window_actions.recent_menu.isEnabled()
    dialogs.save_path = str(tmp_path / "run.json")
    press(qtbot, w, Qt.Key.Key_S, CTRL | SHIFT)
    saved = str((tmp_path / "run.json").resolve())
    assert [a.text() for a in w.window_actions.recent_menu.actions()] == [
        saved
    ] and w.window_actions.recent_menu.isEnabled()
    base = QApplication.font().pointSizeF()
    w.resize(1320, 810)
    menu(w, "View", "Gradients per layer").trigger()  # close a dock
    assert not w.docks["gradients"].isVisible()
    press(qtbot, w, Qt.Key.Key_F5)  # presentation mode on
    assert w.close()
    assert QApplication.font().pointSizeF() == pytest.approx(base)  # the app's font is given back

    again = new_window()  # same settings file
    # the geometry is restored, not the default 1500×950 (offscreen, Qt fits it to the 800×800 test screen,
    # so only that it was applied can be checked), and so is the dock layout
    assert again.settings.value("geometry") is not None and again.height() < 950
    assert not again.docks["gradients"].isVisible() and again.docks["loss"].isVisible()
    assert again.window_actions.presentation.isChecked()
    assert QApplication.font().pointSizeF() == pytest.approx(base * PRESENTATION_SCALE)
    recent = again.window_actions.recent_menu.actions()
    assert [a.text() for a in recent] == [saved]
    recent[0].trigger()
    settle(qtbot)
    assert again.windowTitle() == "run.json — bpstudio" and again.document.session.step_count == 0
    press(qtbot, again, Qt.Key.Key_F5)  # off again, and remembered
    assert again.close() and QApplication.font().pointSizeF() == pytest.approx(base)
    assert not new_window().window_actions.presentation.isChecked()


# === 9. the training thread ends with the document ===========================================================


def start_training(qtbot, w, steps=20):
    press(qtbot, w, Qt.Key.Key_P)
    qtbot.waitUntil(lambda: w.document.session.step_count >= steps, timeout=5000)
    worker = w.training.worker
    assert worker is not None and worker.isRunning()
    return worker


def test_loading_an_example_while_training_stops_the_worker(qtbot, window, dialogs):
    w = window
    worker = start_training(qtbot, w)
    menu(w, "File", "Examples", "Mazur 2-2-2").trigger()
    assert worker.isFinished() and w.training.worker is None  # stopped and waited for
    settle(qtbot)
    assert not w.training.running and not w.window_actions.play.isChecked() and w.window_actions.forward.isEnabled()
    assert w.windowTitle().startswith("Mazur") and w.document.session.step_count == 0
    press(qtbot, w, Qt.Key.Key_S)  # the new document steps normally
    assert w.document.trace.loss == pytest.approx(0.298371109, abs=1e-9)


def test_loading_an_example_while_training_asks_about_the_trained_steps(qtbot, window, dialogs):
    w = window
    start_training(qtbot, w)
    dialogs.answer = Button.Cancel
    menu(w, "File", "Examples", "Mazur 2-2-2").trigger()
    assert dialogs.kinds() == ["question"]
    assert w.windowTitle().startswith("XOR")


def test_closing_while_training_stops_the_worker_and_asks_about_the_steps(qtbot, window, dialogs):
    w = window
    worker = start_training(qtbot, w)
    dialogs.answer = Button.Discard
    assert w.close()
    assert worker.isFinished() and w.training.worker is None and not w.isVisible()
    assert dialogs.kinds() == ["question"]  # the trained steps are unsaved work


# === 11. the data panel =============================================================================================


def test_choosing_a_data_set_in_the_panel_is_an_undoable_edit(qtbot, window):
    w = window
    w.docks["dataset"].raise_()
    panel, doc = w.data_panel, w.document
    xor = presets.load("xor").data
    panel.data_set.setFocus()
    qtbot.keyClicks(panel.data_set, "ci")  # type-ahead in the combo: circles
    settle(qtbot)
    assert panel.data_set.currentText() == "circles"
    assert doc.spec.data["builtin"] == "circles"
    train, _ = resolve_split(doc.spec.data)
    np.testing.assert_array_equal(doc.train_data.X, train.X)
    np.testing.assert_array_equal(doc.session.data.X, train.X)  # the session trains on it
    np.testing.assert_array_equal(np.column_stack(panel.plot.train_scatter.getData()), train.X)  # and it is drawn
    assert doc.undo_stack.text(doc.undo_stack.count() - 1) == "Use data: circles"
    assert "*" in w.windowTitle()

    press(qtbot, w, Qt.Key.Key_Z, CTRL)
    assert doc.spec.data == xor and panel.data_set.currentText() == "xor"
    np.testing.assert_array_equal(doc.train_data.X, resolve_split(xor)[0].X)
    np.testing.assert_array_equal(np.column_stack(panel.plot.train_scatter.getData()), resolve_split(xor)[0].X)


def test_a_bad_csv_import_shows_the_reason_and_changes_nothing(qtbot, window, dialogs, tmp_path, monkeypatch):
    w = window
    w.docks["dataset"].raise_()
    panel, doc = w.data_panel, w.document
    bad = tmp_path / "bad.csv"
    bad.write_text("x1,x2,label\n0.1,abc,1\n0.2,0.3,0\n")
    monkeypatch.setattr(
        "bpstudio.gui.panels.data_panel.QFileDialog.getOpenFileName", staticmethod(lambda *a, **k: (str(bad), ""))
    )
    before, X = doc.spec, doc.train_data.X.copy()
    QTest.mouseClick(panel.import_button, LEFT)
    settle(qtbot)
    assert panel.error.isVisible() and "'abc' is not a number" in panel.error.text() and "line 2" in panel.error.text()
    assert doc.spec == before and doc.undo_stack.count() == 0 and "*" not in w.windowTitle()
    np.testing.assert_array_equal(doc.train_data.X, X)
    assert panel.data_set.currentText() == "xor"


def test_a_refused_import_names_what_is_wrong_and_the_panel_keeps_showing_the_data_in_use(
    qtbot, window, dialogs, tmp_path
):
    w, doc = window, window.document
    w.docks["dataset"].raise_()
    panel = w.data_panel
    five = tmp_path / "five.csv"  # readable, but five classes for a network with one sigmoid output
    five.write_text("x1,x2,label\n" + "".join(f"{i},1,{i % 5}\n" for i in range(10)))
    before, train = doc.spec.data, doc.train_data
    dialogs.open_path = str(five)
    QTest.mouseClick(panel.import_button, LEFT)
    settle(qtbot)
    assert panel.data_set.currentText() == "xor"  # the data in use, by name
    np.testing.assert_array_equal(np.column_stack(panel.plot.train_scatter.getData()), train.X)  # and its points
    assert doc.spec.data == before and doc.train_data is train and doc.undo_stack.count() == 0
    assert panel.error.isVisible()
    assert "five.csv" in panel.error.text() and "5 classes" in panel.error.text()
    assert "still using xor" in panel.error.text()
    assert panel.test_fraction.value() == 0.25 and panel.samples.isEnabled()


def test_a_refused_data_set_leaves_the_panel_showing_the_data_in_use(qtbot, window):
    w = window
    w.docks["dataset"].raise_()
    panel, doc = w.data_panel, w.document
    panel.data_set.setFocus()
    qtbot.keyClicks(panel.data_set, "b")  # blobs: 3 classes for a 1-unit output
    settle(qtbot)
    assert "3 classes" in w.canvas.banner.text()
    assert doc.spec.data == presets.load("xor").data and doc.undo_stack.count() == 0
    assert panel.data_set.currentText() == "xor"
    assert panel.error.isVisible() and "3 classes" in panel.error.text() and "still using xor" in panel.error.text()
