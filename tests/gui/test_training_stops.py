"""Play stops by itself at the Training panel's stop conditions: Play unchecks and the status bar says why. Where it
stops is checked against a headless run of the same network."""

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from tests.gui.driving import CTRL, LEFT, SHIFT, open_example, press, settle, type_into_field
from tests.gui.reference import headless


def tick(qtbot, box):
    QTest.mouseClick(box, LEFT)
    settle(qtbot)
    assert box.isChecked()


def play_until_it_stops(qtbot, w):
    w.window_actions.speed.setCurrentText("max")  # (the test need not watch)
    press(qtbot, w, Qt.Key.Key_P)  # Play (a short run may be over already)
    qtbot.waitUntil(lambda: not w.training.running, timeout=30000)
    settle(qtbot)


def test_play_stops_at_the_target_loss_and_says_so(qtbot, window):
    w = window
    open_example(qtbot, w, "mazur")
    stops = w.training_panel.stops
    type_into_field(qtbot, stops.target, "0.01")
    tick(qtbot, stops.at_loss)
    play_until_it_stops(qtbot, w)

    _, traces = headless("mazur", 400)
    losses = [float(t.loss) for t in traces]
    first = next(i + 1 for i, loss in enumerate(losses) if loss <= 0.01)
    assert w.document.session.step_count == first
    assert not w.window_actions.play.isChecked() and w.window_actions.play.text() == "&Play"
    shown = w.statusBar().currentMessage()
    assert shown.startswith("stopped: loss 0.00") and shown.endswith(f"reached the target 0.01 at step {first}")
    # Play again goes on past the target only as far as one step: the condition holds at once
    press(qtbot, w, Qt.Key.Key_P)
    qtbot.waitUntil(lambda: not w.training.running, timeout=30000)
    assert w.document.session.step_count == first + 1


def test_play_stops_after_the_epochs_counted_from_play(qtbot, window):
    w = window
    open_example(qtbot, w, "xor")
    w.training_panel.full_batch.setChecked(False)
    session, _ = headless("xor", batch_size=w.document.session.batch_size)
    per_pass = session.steps_per_epoch
    assert per_pass > 1
    stops = w.training_panel.stops
    stops.epochs.setValue(2)
    tick(qtbot, stops.after_epochs)
    play_until_it_stops(qtbot, w)
    assert w.document.session.step_count == 2 * per_pass
    assert w.statusBar().currentMessage() == f"stopped: 2 epochs done at step {2 * per_pass}"
    play_until_it_stops(qtbot, w)  # two more
    assert w.document.session.step_count == 4 * per_pass


def test_a_condition_ticked_while_training_stops_the_run_in_progress(qtbot, window):
    w = window
    open_example(qtbot, w, "mazur")
    w.window_actions.speed.setCurrentText("max")
    press(qtbot, w, Qt.Key.Key_P)  # Play, with no condition: it runs until paused
    qtbot.waitUntil(lambda: w.document.session.step_count >= 5, timeout=30000)
    assert w.training.running
    stops = w.training_panel.stops
    type_into_field(qtbot, stops.target, "1000")  # (every step's loss is below it)
    QTest.mouseClick(stops.at_loss, LEFT)
    qtbot.waitUntil(lambda: not w.training.running, timeout=30000)
    settle(qtbot)
    n = w.document.session.step_count
    assert not w.window_actions.play.isChecked()
    assert w.statusBar().currentMessage().endswith(f"reached the target 1000 at step {n}")


def test_a_bad_target_is_refused_under_the_fields_and_play_runs_on_the_last_good_rule(qtbot, window):
    w = window
    stops = w.training_panel.stops
    tick(qtbot, stops.at_loss)
    type_into_field(qtbot, stops.target, "small")
    assert w.training_panel.error.isVisible()
    assert w.training_panel.error.text() == "Not changed — target loss: 'small' is not a number"
    assert w.document.stop_rule.target_loss == 0.01  # (ticked with the entry's 0.01, before the bad entry)
    type_into_field(qtbot, stops.target, "-1")
    assert "the target loss must be a number 0 or more" in w.training_panel.error.text()
    type_into_field(qtbot, stops.target, "0.5")
    assert not w.training_panel.error.isVisible() and w.document.stop_rule.target_loss == 0.5


def test_the_stop_conditions_are_saved_with_the_session_and_stop_play_after_it_reopens(
    qtbot, new_window, dialogs, tmp_path
):
    w = new_window()
    open_example(qtbot, w, "xor")
    w.training_panel.full_batch.setChecked(False)
    stops = w.training_panel.stops
    type_into_field(qtbot, stops.target, "0.0001")  # (not reached in two passes)
    tick(qtbot, stops.at_loss)
    stops.epochs.setValue(2)
    tick(qtbot, stops.after_epochs)
    assert w.windowTitle().endswith("* — bpstudio")  # a change to save
    dialogs.save_path = dialogs.open_path = str(tmp_path / "run.json")
    press(qtbot, w, Qt.Key.Key_S, CTRL | SHIFT)  # Save As…
    assert w.windowTitle() == "run.json — bpstudio"

    other = new_window("other.ini")  # a fresh window: nothing ticked
    assert not any(
        box.isChecked() for box in (other.training_panel.stops.at_loss, other.training_panel.stops.after_epochs)
    )
    press(qtbot, other, Qt.Key.Key_O, CTRL)
    shown = other.training_panel.stops
    assert shown.at_loss.isChecked() and shown.target.text() == "0.0001"
    assert shown.after_epochs.isChecked() and shown.epochs.value() == 2 and not shown.on_plateau.isChecked()
    assert other.windowTitle() == "run.json — bpstudio"  # (showing them changed nothing)
    session, _ = headless("xor", batch_size=other.document.session.batch_size)
    play_until_it_stops(qtbot, other)
    assert other.document.session.step_count == 2 * session.steps_per_epoch
    assert other.statusBar().currentMessage() == f"stopped: 2 epochs done at step {2 * session.steps_per_epoch}"

    open_example(qtbot, other, "mazur")  # an example has no stop conditions
    assert not shown.at_loss.isChecked() and not shown.after_epochs.isChecked()
