"""The vanishing-gradients walkthrough as a teacher runs it: Help ▸ the walkthrough, Next through the stops. Each
run trains in the window (the class watches the plots), the text then gives that run's figures — the ones
recomputed here from the run's own record — and the earlier runs stay on the plots, faint and labelled."""

import math

import numpy as np
from PySide6.QtCore import Qt
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
        # the losses it states are means, which the status bar's one-batch loss is told apart from
        assert f"(means over the first {vl.HEAD} and the last {vl.TAIL // 2} steps" in panel.current_text()
    assert ratios["deep_sigmoid"] < 1e-3 < 1e-2 < min(ratios[fix] for fix in fixes)
    # the kept runs are called what the lesson's text calls them
    assert [run.label for run in w.kept_runs.runs] == [vl.RUN_NAMES[e] for e in ("deep_sigmoid", *fixes[:2])]
    assert len(w.gradient_plot.kept_curves) == 3
    assert dialogs.shown == []  # the lesson's own runs are no unsaved work to ask about

    next_stop(qtbot, w, panel)  # side by side
    text = panel.current_text()
    assert all(vl.times(r) in text for r in ratios.values())
    assert not panel.next_button.isEnabled()
    assert "heatmap under the curves" in text
    the_side_by_side_is_readable(w)
    assert w.gradient_plot.kept_legend.columnCount == 3  # the kept runs' legend in one row

    qtbot.mouseClick(panel.back_button, LEFT)  # looking back shows the earlier text again
    assert "batch normalization" in panel.title.text().lower()
    qtbot.mouseClick(panel.next_button, LEFT)
    assert panel.current_text() == text and w.document.session.step_count == vl.STEPS  # nothing ran again
    panel.parentWidget().close()  # closing the lesson gives the chain-rule panel its place back
    settle(qtbot)
    assert w.docks["explanation"].isVisible()


def on_screen(plot, item):
    """The part of ``item`` (a plot in ``plot``'s view) that is on screen, in the view's pixels."""
    shown = plot.view.mapFromScene(item.sceneBoundingRect()).boundingRect()
    return shown.intersected(plot.view.viewport().rect())


def the_side_by_side_is_readable(w):
    """What the class sees at the last stop: the kept runs' legend above the gradient curves, the curves and the
    heatmap the text points at both on screen with room (at the plots' usual share of the height, the legends of
    three kept runs and twenty-one layers pushed the heatmap out and left the loss a strip), and the plots with
    more of the height than the canvas."""
    grad, loss = w.gradient_plot, w.loss_plot
    assert grad.kept_legend.isVisible()
    curves, heat = on_screen(grad, grad.curve_item.getViewBox()), on_screen(grad, grad.heat_item.getViewBox())
    full_heat = grad.heat_item.getViewBox().sceneBoundingRect().height()
    assert heat.height() >= full_heat - 3 and heat.height() >= curves.height() / 3  # (all of it, to the pixel)
    assert on_screen(grad, grad.legend).height() <= curves.height() + 20  # the layers' legend beside the curves
    assert on_screen(loss, loss.loss_item.getViewBox()).height() >= loss.view.height() / 3
    assert w.docks["gradients"].height() > w.centralWidget().height()


def test_on_a_laptop_screen_the_lesson_keeps_its_column_and_the_plots_their_heatmap(qtbot, new_window, dialogs):
    """At 1366×768 the plots usually run the window's full width under the right column; the lesson's text is
    in that column, so while it is open the column keeps the window's height (its text is not cut to a few
    lines) and the plots under the canvas still show the curves and the heatmap. Closing it gives the plots
    their width back."""
    w = new_window(size=(1366, 768))
    assert w.corner(Qt.Corner.BottomRightCorner) == Qt.DockWidgetArea.BottomDockWidgetArea
    panel = open_lesson(w)
    w.window_actions.speed.setCurrentText("max")
    while panel.next_button.isEnabled():
        next_stop(qtbot, w, panel)
    lesson = panel.parentWidget()
    assert w.corner(Qt.Corner.BottomRightCorner) == Qt.DockWidgetArea.RightDockWidgetArea
    assert lesson.height() > 0.8 * w.centralWidget().height() + w.docks["gradients"].height()
    the_side_by_side_is_readable(w)
    bar = panel.text_area.verticalScrollBar()  # read to the end of the last text, then back: the other's top
    assert bar.maximum() > 0
    bar.setValue(bar.maximum())
    qtbot.mouseClick(panel.back_button, LEFT)
    settle(qtbot)
    assert bar.maximum() > 0 and bar.value() == 0
    lesson.close()
    settle(qtbot)
    assert w.corner(Qt.Corner.BottomRightCorner) == Qt.DockWidgetArea.BottomDockWidgetArea


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
