"""Comparing runs on one plot, as a student does it: train the deep sigmoid example, Keep run, open ReLU + He,
train it. The plots show the sigmoid run faint behind the live one, labelled in the legend, with the data of
that run; the kept first layer sits decades below the live one's. Clear kept takes them off."""

import numpy as np

from bpstudio.core.record.smoothing import smoothed_norms, window_for
from tests.gui.driving import LEFT, open_example, settle

STEPS = 200


def train(qtbot, w, name):
    open_example(qtbot, w, name)
    w.window_actions.speed.setCurrentText("max")
    w.training.start(max_steps=STEPS)
    qtbot.waitUntil(lambda: not w.training.running, timeout=60000)
    settle(qtbot)


def legend_names(legend):
    return [label.text for _, label in legend.items]


def test_a_kept_sigmoid_run_stays_on_the_plots_behind_relu(qtbot, window):
    w = window
    train(qtbot, w, "deep_sigmoid")
    kept_history = w.document.history.snapshot()
    qtbot.mouseClick(w.gradient_plot.keep_button, LEFT)
    settle(qtbot)
    label = "Deep sigmoid net · 200 steps"
    assert [r.label for r in w.kept_runs.runs] == [label]

    train(qtbot, w, "deep_relu_he")
    grad, loss = w.gradient_plot, w.loss_plot
    assert legend_names(grad.kept_legend) == [label] and label in legend_names(loss.legend)
    assert label not in legend_names(grad.legend)  # (that one names the live run's layers)
    (kept,) = grad.kept_curves
    assert set(kept) == set(kept_history.layer_ids)
    for lid, curve in kept.items():  # the kept curves are the sigmoid run's own record (log10 on the axis)
        xs, ys = curve.getData()
        np.testing.assert_array_equal(xs, kept_history.steps())
        recorded = kept_history.grad_norms(lid)  # (smoothed, as the live curves are by default)
        np.testing.assert_allclose(ys, np.log10(smoothed_norms(recorded, window_for(len(recorded)))), rtol=1e-12)
        assert curve.opts["pen"].color().alpha() < 255 and curve.zValue() < grad.curves[lid].zValue()
    # the lesson on one plot: the sigmoid net's first layer sits decades below ReLU's, the output layers close
    kept_first = np.nanmean(kept["h1"].getData()[1][STEPS // 2 :])
    live_first = np.nanmean(grad.curves["h1"].getData()[1][STEPS // 2 :])
    assert live_first - kept_first > 3
    xs, ys = loss.kept_curves[0].getData()
    np.testing.assert_allclose(ys, kept_history.losses())

    qtbot.mouseClick(grad.clear_kept_button, LEFT)
    settle(qtbot)
    assert w.kept_runs.runs == [] and grad.kept_curves == [] and loss.kept_curves == []
    assert not grad.kept_legend.isVisible() and not grad.clear_kept_button.isEnabled()


def test_keep_needs_a_run(qtbot, window):
    w = window
    open_example(qtbot, w, "xor")
    assert not w.loss_plot.keep_button.isEnabled()
    w.window_actions.step.trigger()
    qtbot.waitUntil(lambda: w.loss_plot.keep_button.isEnabled() and w.gradient_plot.keep_button.isEnabled())


def test_a_kept_run_of_another_network_keeps_its_layers_apart_in_colour(qtbot, window):
    """Keep the spiral net's run (layers h1, h2, logits), then train XOR (h, y): the kept curves have no live layer
    of their name to borrow a colour from; each gets its own (they were all the ink colour, one grey tangle)."""
    w = window
    w.window_actions.speed.setCurrentText("max")
    open_example(qtbot, w, "spiral")
    w.training.start(max_steps=20)
    qtbot.waitUntil(lambda: not w.training.running, timeout=60000)
    settle(qtbot)
    qtbot.mouseClick(w.gradient_plot.keep_button, LEFT)
    train(qtbot, w, "xor")
    (kept,) = w.gradient_plot.kept_curves
    assert not set(kept) & set(w.gradient_plot.curves)
    colors = {lid: curve.opts["pen"].color().rgb() for lid, curve in kept.items()}
    assert len(set(colors.values())) == len(colors) == 3
