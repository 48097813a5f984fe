"""The plots' legends and their empty state in the assembled window, at the sizes people use: every legend
entry is on screen and off the curves (at 1366×768 the loss legend was cut off after its first entry), and
before the first step the plots say what will appear instead of showing tick numbers about nothing."""

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QRectF
from PySide6.QtGui import QImage, QPainter
from PySide6.QtTest import QTest

from tests.gui.driving import LEFT, settle

SIZES = [(1366, 768), (1600, 1000)]


def on_screen(plot, item) -> QRectF:
    """Where ``item`` is drawn, in the plot view's pixels."""
    return plot.view.mapFromScene(item.sceneBoundingRect()).boundingRect().toRectF()


def assert_legend_readable(plot, legend, box, names):
    """Every entry of ``legend`` is named, lies inside the plot's visible area and keeps off ``box`` (the
    plot's data area, where it would cover the curves)."""
    assert [label.text for _, label in legend.items] == names
    visible = QRectF(plot.view.viewport().rect())
    curves = on_screen(plot, box)
    for sample, label in legend.items:
        for item in (sample, label):
            where = on_screen(plot, item)
            assert item.isVisible() and visible.contains(where), (label.text, where, visible)
            assert not where.intersects(curves), (label.text, where, curves)


def drawn_up_to_date(qtbot, w):
    """Wait for the window's timer to draw the plots (they redraw on it, not per step)."""
    version = w.document.history.version
    qtbot.waitUntil(lambda: w.loss_plot._drawn_version == w.gradient_plot._drawn_version == version, timeout=5000)
    settle(qtbot)


def train_and_keep_two_runs(qtbot, w):
    for steps in (3, 2):
        for _ in range(steps):
            w.window_actions.step.trigger()
        drawn_up_to_date(qtbot, w)
        QTest.mouseClick(w.loss_plot.keep_button, LEFT)  # Keep run
        w.window_actions.reset.trigger()
        settle(qtbot)
    w.window_actions.step.trigger()
    drawn_up_to_date(qtbot, w)


@pytest.mark.parametrize("size", SIZES)
def test_every_legend_entry_is_on_screen_and_off_the_curves(qtbot, window, size):
    w = window
    w.resize(*size)
    settle(qtbot)
    train_and_keep_two_runs(qtbot, w)
    kept = ["XOR 2-4-1 · 3 steps", "XOR 2-4-1 · 2 steps"]
    loss, gradients = w.loss_plot, w.gradient_plot
    assert_legend_readable(loss, loss.legend, loss.loss_view, ["train", "test", *kept])
    assert_legend_readable(gradients, gradients.kept_legend, gradients.curve_item.getViewBox(), kept)
    assert_legend_readable(gradients, gradients.legend, gradients.curve_item.getViewBox(), ["h", "y"])


def test_a_narrow_plot_wraps_its_legend_onto_more_rows(qtbot, window):
    w = window
    train_and_keep_two_runs(qtbot, w)
    loss = w.loss_plot
    w.docks["loss"].setFloating(True)
    for width in (900, 380):
        w.docks["loss"].resize(width, 420)
        settle(qtbot)
        assert_legend_readable(
            loss, loss.legend, loss.loss_view, ["train", "test", "XOR 2-4-1 · 3 steps", "XOR 2-4-1 · 2 steps"]
        )
    assert loss.legend.columnCount < 4  # (at 900 pixels the four sit side by side, at 380 they cannot)
    w.docks["loss"].setFloating(False)


def drawn(axis):
    """What pyqtgraph draws on ``axis`` now: the tick marks that have a length, and the tick texts."""
    image = QImage(400, 400, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    try:
        specs = axis.generateDrawSpecs(painter)
    finally:
        painter.end()
    if not specs:
        return [], []
    marks = [(p1, p2) for _, p1, p2 in specs[1] if p1 != p2]
    return marks, [text for _, _, text in specs[2]]


def gradient_axes(plot):
    return [
        plot.curve_item.getAxis("left"),
        plot.curve_item.getAxis("bottom"),
        plot.heat_item.getAxis("left"),
        plot.heat_item.getAxis("bottom"),
        plot.color_bar.getAxis("right"),
    ]


def test_before_the_first_step_the_plots_say_what_will_appear_and_show_no_stray_ticks(qtbot, window):
    w = window
    gradients, loss = w.gradient_plot, w.loss_plot
    for plot, words in ((gradients, "gradient"), (loss, "loss")):
        assert plot.empty_hint.isVisible() and words in plot.empty_hint.text()
        assert "after the first step" in plot.empty_hint.text()
        box = on_screen(plot, gradients.curve_item.getViewBox() if plot is gradients else loss.loss_view)
        assert box.contains(plot.empty_hint.geometry().toRectF().center())  # (in the middle of the plot)
    for axis in [*gradient_axes(gradients), loss.loss_item.getAxis("left"), loss.loss_item.getAxis("bottom")]:
        assert drawn(axis) == ([], []), axis  # no numbers, no marks: there is nothing to measure yet
    assert "h" not in drawn(gradients.heat_item.getAxis("left"))[1]

    w.window_actions.step.trigger()  # the first step: numbers appear, the hint goes
    drawn_up_to_date(qtbot, w)
    assert not gradients.empty_hint.isVisible() and not loss.empty_hint.isVisible()
    marks, texts = drawn(gradients.heat_item.getAxis("left"))
    assert marks and texts[:1] == ["h"]
    for axis in (gradients.curve_item.getAxis("left"), loss.loss_item.getAxis("left")):
        assert all(drawn(axis)), axis

    w.window_actions.reset.trigger()  # back to no steps: empty again
    drawn_up_to_date(qtbot, w)
    assert gradients.empty_hint.isVisible() and drawn(gradients.curve_item.getAxis("left")) == ([], [])


def test_the_step_axis_is_written_once_under_the_plots_that_share_it(qtbot, window):
    w = window
    w.window_actions.step.trigger()
    drawn_up_to_date(qtbot, w)
    gradients, loss = w.gradient_plot, w.loss_plot
    assert loss.accuracy_shown
    for upper, lower in ((gradients.curve_item, gradients.heat_item), (loss.loss_item, loss.accuracy_item)):
        marks, texts = drawn(upper.getAxis("bottom"))
        assert marks and not texts and not upper.getAxis("bottom").label.isVisible()  # ticks line up, no numbers
        assert drawn(lower.getAxis("bottom"))[1] and lower.getAxis("bottom").label.isVisible()
    w.window_actions.presentation.trigger()  # the heatmap and the accuracy plot go: the upper plots say it
    drawn_up_to_date(qtbot, w)
    for upper in (gradients.curve_item, loss.loss_item):
        assert drawn(upper.getAxis("bottom"))[1] and upper.getAxis("bottom").label.isVisible()
    w.window_actions.presentation.trigger()
    settle(qtbot)
