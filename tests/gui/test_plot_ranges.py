"""The plots' axes follow the run on screen: a new run after Reset or another file starts from its own range,
not the last run's, and a run of one step never shows negative steps or losses."""

import pytest

from tests.gui.driving import menu, open_example, settle


def trained(qtbot, w, steps):
    w.window_actions.speed.setCurrentText("max")  # (an example opens at a watchable pace)
    w.training.start(max_steps=steps)
    qtbot.waitUntil(lambda: not w.training.running)
    settle(qtbot)
    w.loss_plot.refresh()
    w.gradient_plot.refresh()


def x_range(plot_item):
    return plot_item.getViewBox().viewRange()[0]


def y_range(plot_item):
    return plot_item.getViewBox().viewRange()[1]


@pytest.mark.parametrize("zoomed", [False, True])
@pytest.mark.parametrize("how", ["reset", "open"])
def test_a_short_run_after_a_long_one_fills_the_step_axis(qtbot, window, how, zoomed):
    w = window
    open_example(qtbot, w, "xor")
    trained(qtbot, w, 3000)
    assert x_range(w.loss_plot.loss_item)[1] >= 3000
    if zoomed:  # the person zoomed out of both plots with the mouse wheel (as its handler does)
        for item in (w.loss_plot.loss_item, w.gradient_plot.curve_item):
            item.getViewBox().scaleBy((2.0, 2.0))
    if how == "reset":
        menu(w, "Step", "Reset").trigger()
    else:
        open_example(qtbot, w, "spiral")
    settle(qtbot)
    trained(qtbot, w, 28)
    steps = w.document.history.steps()
    assert len(steps) and steps[-1] < 40
    for item in (w.loss_plot.loss_item, w.gradient_plot.curve_item):
        low, high = x_range(item)
        assert low >= 0 and high <= 4 * steps[-1]  # the 28 steps fill at least a quarter of the axis


def test_one_mazur_step_shows_no_negative_step_or_loss(qtbot, window):
    w = window
    open_example(qtbot, w, "mazur")
    trained(qtbot, w, 1)
    assert len(w.document.history.steps()) == 1
    for item in (w.loss_plot.loss_item, w.gradient_plot.curve_item):
        assert x_range(item)[0] >= 0
    assert y_range(w.loss_plot.loss_item)[0] >= 0
