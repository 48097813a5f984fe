"""The vanishing-gradients walkthrough as a teacher runs it: Help ▸ the walkthrough, Next through the stops. Each
run trains in the window (the class watches the plots), the text then gives that run's figures — the ones
recomputed here from the run's own record — and the earlier runs stay on the plots, faint and labelled."""

import math

import numpy as np
from PySide6.QtWidgets import QDockWidget

from bpstudio.core.io import presets
from bpstudio.core.tools import vanishing_lesson as vl
from bpstudio.gui.tools.lesson_panel import LessonPanel, open_lesson
from tests.gui.driving import LEFT, menu, settle


def next_stop(qtbot, w, panel):
    qtbot.mouseClick(panel.next_button, LEFT)
    settle(qtbot)
    qtbot.waitUntil(lambda: panel.training_for is None and not w.training.running, timeout=120000)
    settle(qtbot)


def first_last(history):
    """The run's first/last gradient ratio as the lesson states it, from the recorded norms."""
    first, last = history.grad_norms(history.layer_ids[0]), history.grad_norms(history.layer_ids[-1])

    def tail(v):
        v = v[-vl.TAIL :]
        v = v[np.isfinite(v) & (v > 0)]
        return math.exp(np.mean(np.log(v)))

    return tail(first) / tail(last)


def test_the_teacher_runs_the_lesson_and_the_class_sees_each_runs_numbers(qtbot, window, dialogs):
    w = window
    menu(w, "Help", "The vanishing-gradients walkthrough").trigger()
    settle(qtbot)
    panel = w.findChild(LessonPanel)
    assert panel.isVisible() and "deep sigmoid" in w.document.spec.name.lower()
    assert not w.docks["explanation"].isVisible()  # (the lesson has the right column's height)
    assert "0.25^10" in panel.current_text()
    assert w.window_actions.speed.currentText() == "100 steps/s"  # the watchable pace
    w.window_actions.speed.setCurrentText("max")  # (this test need not watch)

    ratios = {}
    fixes = ("deep_relu_he", "deep_sigmoid_residual", "deep_sigmoid_batchnorm")
    for example in ("deep_sigmoid", *fixes):
        next_stop(qtbot, w, panel)
        assert w.document.session.step_count == vl.STEPS
        assert w.document.spec.name == presets.load(example).name
        ratios[example] = first_last(w.document.history)
        assert vl.times(ratios[example]) in panel.current_text()
    assert ratios["deep_sigmoid"] < 1e-3 < 1e-2 < min(ratios[fix] for fix in fixes)
    assert [run.label.split(" ·")[0] for run in w.kept_runs.runs] == [
        "Deep sigmoid net",
        "Deep ReLU net with He initialisation",
        "Deep sigmoid net with residual connections",
    ]
    assert len(w.gradient_plot.kept_curves) == 3
    assert dialogs.shown == []  # the lesson's own runs are no unsaved work to ask about

    next_stop(qtbot, w, panel)  # side by side
    text = panel.current_text()
    assert all(vl.times(r) in text for r in ratios.values())
    assert not panel.next_button.isEnabled()

    qtbot.mouseClick(panel.back_button, LEFT)  # looking back shows the earlier text again
    assert "batch normalization" in panel.title.text().lower()
    qtbot.mouseClick(panel.next_button, LEFT)
    assert panel.current_text() == text and w.document.session.step_count == vl.STEPS  # nothing ran again
    panel.parentWidget().close()  # closing the lesson gives the chain-rule panel its place back
    settle(qtbot)
    assert w.docks["explanation"].isVisible()


def test_pausing_a_lesson_run_says_so(qtbot, window):
    w = window
    panel = open_lesson(w)
    w.window_actions.speed.setCurrentText("10 steps/s")
    qtbot.mouseClick(panel.next_button, LEFT)
    qtbot.waitUntil(lambda: w.document.session.step_count >= 2, timeout=10000)
    assert not panel.next_button.isEnabled() and "Training for" in panel.current_text()
    w.window_actions.play.trigger()  # the teacher pauses it
    qtbot.waitUntil(lambda: panel.training_for is None, timeout=10000)
    assert panel.note.isVisible() and "paused after" in panel.note.text()
    steps = w.document.session.step_count
    assert f"{steps} of {vl.STEPS}" in panel.note.text()


def test_the_lesson_after_the_mazur_walkthrough_has_the_plots_it_points_at(qtbot, window, dialogs):
    """A student goes from the Mazur walkthrough (which had the plots put away for its first step) straight to
    the vanishing-gradients lesson: the Mazur panel goes, and the loss and gradient plots the lesson talks about
    are on screen."""
    w = window
    menu(w, "Help", "The Mazur walkthrough").trigger()
    settle(qtbot)
    walkthrough = w.findChild(QDockWidget, "walkthrough_dock")
    assert walkthrough.isVisible() and not w.docks["gradients"].isVisible()
    menu(w, "Help", "The vanishing-gradients walkthrough").trigger()
    settle(qtbot)
    assert w.findChild(LessonPanel).isVisible() and not walkthrough.isVisible()
    assert w.docks["gradients"].isVisible() and w.docks["loss"].isVisible()
    assert "plot of the gradients per layer" in w.findChild(LessonPanel).current_text()
