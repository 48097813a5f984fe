"""The vanishing-gradient lesson as a student meets it: open the example, press Play, look at the gradient plot.
The deep sigmoid net's curves fan out by depth (each layer's gradient below the next one's, the first ones
thousands of times below the output's) while the output layer's own curve stays up; ReLU + He keeps them
together. Nothing is set by hand: each example trains with the settings its file carries."""

import numpy as np
import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt

from bpstudio.core.record.smoothing import smoothed_norms, window_for
from tests.gui.driving import open_example, press

STEPS = 150


def played(qtbot, w, name):
    """Open ``name`` from File ▸ Examples, Play until ``STEPS`` steps, Pause; the window's gradient curves as
    {layer: (steps, norms)} and the first/last readout."""
    open_example(qtbot, w, name)
    press(qtbot, w, Qt.Key.Key_P)
    qtbot.waitUntil(lambda: w.document.session.step_count >= STEPS, timeout=30000)
    press(qtbot, w, Qt.Key.Key_P)
    points = len(w.document.history.steps())
    qtbot.waitUntil(  # the window's next redraws bring the plot up to the last step
        lambda: all(c.xData is not None and len(c.xData) == points for c in w.gradient_plot.curves.values()),
        timeout=10000,
    )
    curves = {lid: tuple(np.asarray(a) for a in c.getData()) for lid, c in w.gradient_plot.curves.items()}
    assert w.gradient_plot.smooth_check.isChecked()  # (smoothed by default: the batches' noise averaged out)
    for lid, (_, drawn) in curves.items():  # what is drawn is the run's own record, smoothed
        recorded = w.document.history.grad_norms(lid)
        np.testing.assert_allclose(drawn, np.log10(smoothed_norms(recorded, window_for(len(recorded)))), rtol=1e-12)
    return curves, w.gradient_plot.ratio_label.text()


def late_level(curve):
    """Where the curve sits over the second half of the run, in decades: the plot's y axis is logarithmic,
    so the drawn values are log10 of the gradient norms (their mean is robust to the batches' noise)."""
    _, log_norms = curve
    tail = log_norms[len(log_norms) // 2 :]
    return float(np.mean(tail[np.isfinite(tail)]))


def test_the_deep_sigmoid_example_fans_out_by_depth_while_its_output_layer_still_learns(qtbot, window):
    w = window
    curves, readout = played(qtbot, w, "deep_sigmoid")
    depth_order = list(curves)  # h1, h2, …, h10, out: first to last
    assert depth_order[0] == "h1" and depth_order[-1] == "out" and len(depth_order) == 11
    levels = [late_level(curves[lid]) for lid in depth_order]
    assert all(a < b for a, b in zip(levels, levels[1:])), levels  # fanned out: deeper is larger, no overlap
    assert levels[0] < levels[-1] - 3  # the first layer gets under a thousandth of the output's
    assert levels[-1] > -3  # the output layer's own gradient is alive (above 1e-3): not a stall
    assert "vanishing" in readout and "stalled" not in readout
    assert w.document.session.batch_size == 32  # (the lesson's batch size came with the file)


def test_relu_with_he_init_keeps_the_layers_together(qtbot, window):
    w = window
    curves, readout = played(qtbot, w, "deep_relu_he")
    levels = [late_level(c) for c in curves.values()]
    assert max(levels) - min(levels) < 2  # within a hundredfold (two decades) of each other
    assert "vanishing" not in readout


def test_an_example_opens_at_a_pace_a_class_can_follow(qtbot, window):
    """Even after someone chose "max" for another file, an example's first run goes at the watchable pace that
    the speed control shows, and the worker keeps to it."""
    w = window
    speed = w.window_actions.speed
    speed.setCurrentText("max")
    open_example(qtbot, w, "deep_sigmoid")
    assert speed.currentText() == "100 steps/s"
    press(qtbot, w, Qt.Key.Key_P)
    assert w.training.worker is not None and w.training.worker.steps_per_second == 100
    press(qtbot, w, Qt.Key.Key_P)
    speed.setCurrentText("1000 steps/s")  # the person's choice holds while the example stays open
    press(qtbot, w, Qt.Key.Key_P)
    assert w.training.worker.steps_per_second == 1000
    press(qtbot, w, Qt.Key.Key_P)
