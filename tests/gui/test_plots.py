"""The loss and gradient plots: curves equal to the history, colours, log axis, the vanishing-gradient
readout, the heatmap, exports, and a real deep sigmoid run."""

import dataclasses
import math

import numpy as np
import pytest

pytest.importorskip("PySide6")

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QImage
from PySide6.QtWidgets import QFileDialog, QMessageBox

from bpstudio.core.datasets import resolve_split
from bpstudio.core.io import presets
from bpstudio.core.record.history import TrainingHistory
from bpstudio.core.session import Session
from bpstudio.core.spec import OptimizerSpec
from bpstudio.gui.colors import layer_colors
from bpstudio.gui.plots.export import export_png
from bpstudio.gui.plots.gradient_plot import HEATMAP_COLUMNS, GradientPlot
from bpstudio.gui.plots.loss_plot import LossPlot
from tests.gui.driving import on_screen, settle

LAYERS = ("h1", "h2", "h3", "h4", "out")


def decaying_history(steps=60, first=2.7e-9, last=0.1, accuracy=True, capacity=4096):
    """Norms falling by the same factor per layer towards the input, as in a deep sigmoid net; at every
    step the first layer's norm over the last's is exactly first / last."""
    h = TrainingHistory(LAYERS, capacity=capacity)
    for step in range(steps):
        wobble = 1.0 + 0.2 * math.sin(step)
        norms = {
            lid: wobble * last * (first / last) ** ((len(LAYERS) - 1 - i) / (len(LAYERS) - 1))
            for i, lid in enumerate(LAYERS)
        }
        h.record(step, 0.7 * math.exp(-step / 30) + 0.01, norms, min(1.0, 0.5 + step / 200) if accuracy else None)
        if step % 10 == 9:
            h.record_test(step, 0.75 * math.exp(-step / 30) + 0.02, min(1.0, 0.45 + step / 200) if accuracy else None)
    return h


def shown(qtbot, widget):
    return on_screen(qtbot, widget, (760, 520))


def data(curve):
    """What the curve shows: pyqtgraph clips to the view, whose autorange follows on the next paint."""
    for view in pg.QtWidgets.QApplication.topLevelWidgets():
        try:
            visible = view.isVisible()
        except RuntimeError:  # a window an earlier test closed, whose C++ side is gone
            continue
        if visible:
            view.grab()
    x, y = curve.getData()
    return np.asarray(x), np.asarray(y)


def legend_names(legend):
    return [label.text for _, label in legend.items]


def pick_file(monkeypatch, path):
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(path), ""))


# --- loss plot ------------------------------------------------------------------------------------


def test_loss_curves_draw_the_history_with_accuracy_underneath(qtbot):
    h = decaying_history()
    plot = shown(qtbot, LossPlot())
    plot.set_history(h)
    for curve, xs, ys in [
        (plot.train_curve, h.steps(), h.losses()),
        (plot.test_curve, h.test_steps(), h.test_losses()),
        (plot.train_accuracy_curve, h.steps(), h.accuracies()),
        (plot.test_accuracy_curve, h.test_steps(), h.test_accuracies()),
    ]:
        x, y = data(curve)
        np.testing.assert_array_equal(x, xs)
        np.testing.assert_array_equal(y, ys)
    assert plot.accuracy_shown and plot.accuracy_item in plot.view.ci.items
    assert legend_names(plot.legend) == ["train", "test"]
    assert plot.loss_item.getAxis("left").labelText == "loss"
    assert plot.loss_item.getAxis("bottom").labelText == "step"
    assert plot.accuracy_item.getAxis("left").labelText == "accuracy"


def test_the_accuracy_plot_appears_only_once_there_are_accuracies(qtbot):
    h = decaying_history(steps=5, accuracy=False)
    plot = shown(qtbot, LossPlot())
    plot.set_history(h)
    assert not plot.accuracy_shown and plot.accuracy_item not in plot.view.ci.items
    assert legend_names(plot.legend) == ["train"]  # no test evaluation yet
    h.record(5, 0.3, {}, accuracy=0.8)
    assert plot.refresh()
    assert plot.accuracy_shown and plot.accuracy_item in plot.view.ci.items
    assert data(plot.train_accuracy_curve)[1][-1] == 0.8


def test_accuracies_evaluated_now_and_then_are_joined_by_a_line(qtbot):
    h = TrainingHistory(LAYERS)
    for step in range(200):  # training evaluates the accuracy every 25th step
        h.record(step, 0.3, {}, accuracy=0.5 + step / 1000 if step % 25 == 0 else None)
    plot = shown(qtbot, LossPlot())
    plot.set_history(h)
    x, y = data(plot.train_accuracy_curve)
    np.testing.assert_array_equal(x, [0, 25, 50, 75, 100, 125, 150, 175])
    np.testing.assert_allclose(y, 0.5 + x / 1000)  # (a line through them: every point has a neighbour)


def test_log_checkbox_switches_the_loss_axis(qtbot):
    h = decaying_history()
    plot = shown(qtbot, LossPlot())
    plot.set_history(h)
    axis = plot.loss_item.getAxis("left")
    assert not axis.logMode
    qtbot.mouseClick(plot.log_check, Qt.MouseButton.LeftButton)
    assert plot.log_check.isChecked() and axis.logMode
    np.testing.assert_allclose(data(plot.train_curve)[1], np.log10(h.losses()))
    qtbot.mouseClick(plot.log_check, Qt.MouseButton.LeftButton)
    assert not axis.logMode
    np.testing.assert_array_equal(data(plot.train_curve)[1], h.losses())


def test_refresh_redraws_only_after_the_history_changed(qtbot):
    h = decaying_history(steps=10)
    plot = shown(qtbot, LossPlot())
    plot.set_history(h)
    assert not plot.refresh()  # nothing new since set_history drew
    h.record(10, 0.123, {})
    assert plot.refresh() and not plot.refresh()
    x, y = data(plot.train_curve)
    assert x[-1] == 10 and y[-1] == 0.123


def test_export_buttons_wait_for_data_then_write_png_and_csv(qtbot, tmp_path, monkeypatch):
    plot = shown(qtbot, LossPlot())
    h = TrainingHistory(LAYERS)
    plot.set_history(h)
    assert not plot.export_button.isEnabled() and not plot.csv_action.isEnabled()
    for step in range(30):
        h.record(step, 1.0 / (step + 1), {})
    plot.refresh()
    assert plot.export_button.isEnabled()
    menu = plot.export_button.menu()
    assert [a.text() for a in menu.actions()] == ["Export PNG…", "Export CSV…"]
    assert all(a.isEnabled() for a in menu.actions())
    pick_file(monkeypatch, tmp_path / "run")  # no suffix typed: ".csv" is added
    plot.csv_action.trigger()  # (what choosing it in the Export menu does)
    assert (tmp_path / "run.csv").read_text() == h.to_csv("loss")
    pick_file(monkeypatch, tmp_path / "loss.png")
    plot.png_action.trigger()
    assert (tmp_path / "loss.png").read_bytes().startswith(b"\x89PNG")
    image = QImage(str(tmp_path / "loss.png"))
    assert image.width() == pytest.approx(plot.view.width(), abs=2)
    assert image.pixelColor(3, 3).name() == "#ffffff"  # on white, as on screen


def test_a_failed_export_says_why_and_leaves_nothing(qtbot, tmp_path, monkeypatch):
    plot = shown(qtbot, LossPlot())
    plot.set_history(decaying_history(steps=3))
    warnings = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text: warnings.append(text))
    pick_file(monkeypatch, tmp_path / "missing" / "loss.csv")
    plot.csv_action.trigger()
    assert len(warnings) == 1 and "Could not write" in warnings[0] and "loss.csv" in warnings[0]
    assert not (tmp_path / "missing").exists()


def test_the_right_click_menu_offers_our_exports_and_no_svg(qtbot, tmp_path, monkeypatch):
    plot = shown(qtbot, GradientPlot())
    h = decaying_history(steps=5)
    plot.set_history(h)
    menu = plot.view.scene().contextMenu
    assert [a.text() for a in menu] == ["Export PNG…", "Export CSV…"]
    pick_file(monkeypatch, tmp_path / "g.csv")
    menu[1].trigger()
    assert (tmp_path / "g.csv").read_text() == h.to_csv("gradients")


def test_export_png_takes_a_plot_item_and_refuses_a_widget_without_plots(qtbot, tmp_path):
    plot = shown(qtbot, GradientPlot())
    plot.set_history(decaying_history(steps=5))
    export_png(plot.heat_item, tmp_path / "heat.png")
    image = QImage(str(tmp_path / "heat.png"))
    assert not image.isNull() and image.width() == pytest.approx(plot.heat_item.width(), abs=2)
    with pytest.raises(TypeError, match="shows no pyqtgraph plot"):
        export_png(plot.ratio_label, tmp_path / "label.png")
    assert not (tmp_path / "label.png").exists()


# --- gradient plot --------------------------------------------------------------------------------


def test_gradient_curves_are_the_history_on_a_log_axis_in_the_canvas_colours(qtbot):
    h = decaying_history()
    colors = layer_colors(("x", *LAYERS))  # as the canvas colours them, input layer included
    plot = shown(qtbot, GradientPlot())
    plot.set_history(h)
    plot.set_colors(colors)
    assert plot.curve_item.getAxis("left").logMode
    assert plot.curve_item.getAxis("left").labelText == "‖∂E/∂W‖"
    assert plot.curve_item.getAxis("bottom").labelText == "step"
    assert legend_names(plot.legend) == list(LAYERS)
    for lid in LAYERS:
        curve = plot.curves[lid]
        x, y = data(curve)
        np.testing.assert_array_equal(x, h.steps())
        np.testing.assert_allclose(y, np.log10(h.grad_norms(lid)), rtol=1e-12)  # shown in log10
        np.testing.assert_array_equal(curve.yData, h.grad_norms(lid))
        assert curve.opts["pen"].color().name() == colors[lid].name()
    # colours set before the history arrives are used for the new curves too
    late = shown(qtbot, GradientPlot())
    late.set_colors({"h1": QColor("#123456")})
    late.set_history(h)
    assert late.curves["h1"].opts["pen"].color().name() == "#123456"


@pytest.mark.parametrize(
    "first, last, text",
    [
        (2.7e-9, 0.1, "first/last layer gradient: 2.7e-08 — vanishing"),
        (0.05, 0.1, "first/last layer gradient: 0.5 — healthy"),
        (500.0, 0.1, "first/last layer gradient: 5e+03 — exploding"),
        (3e-9, 5e-9, "first/last layer gradient: 0.6 — stalled (last layer's is only 5e-09)"),
        (0.0, 0.1, f"first/last layer gradient: 0 — layer {LAYERS[0]} gets none"),  # (not a vanishing one: none)
    ],
)
def test_the_ratio_label_names_what_the_gradients_do(qtbot, first, last, text):
    plot = shown(qtbot, GradientPlot())
    assert plot.ratio_label.text() == "first/last layer gradient: —"
    plot.set_history(decaying_history(steps=1, first=first, last=last))
    assert plot.ratio_label.text() == text


def test_heatmap_rows_are_layers_first_to_last_and_columns_are_pooled_steps(qtbot):
    h = decaying_history(steps=60)
    plot = shown(qtbot, GradientPlot())
    plot.set_history(h)
    _, _, matrix = h.grad_matrix(HEATMAP_COLUMNS)
    assert plot.heatmap.image.shape == (len(LAYERS), 60)
    np.testing.assert_array_equal(plot.heatmap.image, matrix)
    ticks = [tick for level in plot.heat_item.getAxis("left")._tickLevels for tick in level]
    assert [label for _, label in sorted(ticks)] == list(LAYERS)  # h1 in row 0, drawn on top
    assert plot.heat_item.getViewBox().yInverted()
    rect = plot.heatmap.mapRectToParent(plot.heatmap.boundingRect())
    assert rect.left() == pytest.approx(-0.5) and rect.right() == pytest.approx(59.5)
    assert plot.color_bar.levels() == pytest.approx((np.nanmin(matrix), np.nanmax(matrix)))
    long = decaying_history(steps=1000, capacity=4096)
    plot.set_history(long)
    pooled = long.grad_matrix(HEATMAP_COLUMNS)[2]
    assert plot.heatmap.image.shape == pooled.shape == (len(LAYERS), 334)  # 1000 steps, 3 to a column
    np.testing.assert_array_equal(plot.heatmap.image, pooled)


def test_the_colour_bar_goes_with_the_heatmap_it_explains(qtbot):
    """A new network (File ▸ Open, New) has no steps: the colour bar does not keep the last run's scale."""
    plot = shown(qtbot, GradientPlot())
    assert not plot.color_bar.isVisible()
    plot.set_history(decaying_history(steps=60))
    assert plot.color_bar.isVisible()
    # its title beside the scale, never over the colours (it was, in a narrow column), and whole in view: on a
    # bar shorter than the title, its first word (the title ran out of the plot, losing its start)
    for size, said in [((760, 520), "log₁₀ ‖∂E/∂W‖"), ((420, 520), "log₁₀ ‖∂E/∂W‖"), ((592, 278), "log₁₀")]:
        plot.window().resize(*size)
        settle(qtbot)
        titled = [plot.color_bar.getAxis(side) for side in ("left", "right") if plot.color_bar.getAxis(side).labelText]
        assert [axis.labelText for axis in titled] == [said], size
        title = titled[0].label.sceneBoundingRect()
        assert not title.intersects(plot.color_bar.bar.sceneBoundingRect()), size
        assert plot.view.sceneRect().contains(title), size
    plot.set_history(TrainingHistory(LAYERS))
    assert not plot.color_bar.isVisible() and plot.heatmap.image is None
    plot.set_presenting(True)
    plot.set_history(decaying_history(steps=60))
    assert not plot.color_bar.isVisible()  # (on a projector the heatmap and its bar are away)
    plot.set_presenting(False)
    assert plot.color_bar.isVisible()


def drawn_row_labels(plot):
    """The heatmap's row labels as pyqtgraph draws them now: (text, rect on the axis)."""
    from PySide6.QtGui import QImage, QPainter

    axis = plot.heat_item.getAxis("left")
    image = QImage(200, 400, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    try:
        specs = axis.generateDrawSpecs(painter)
    finally:
        painter.end()
    return [(text, rect) for rect, _, text in specs[2]] if specs else []


DEEP = tuple(f"h{i}" for i in range(1, 11)) + ("out",)


@pytest.mark.parametrize(("ids", "height"), [(("h1", "h2", "logits"), 200), (DEEP, 220), (DEEP, 900)])
def test_heatmap_row_labels_never_print_over_each_other(qtbot, ids, height):
    """On a short heatmap (a small window) the first layer keeps its name and no two labels overlap; on a
    tall one the last layer is named too."""
    h = TrainingHistory(ids)
    for step in range(30):
        h.record(step, 0.5, {lid: 10.0 ** -(11 - i) for i, lid in enumerate(ids)})
    plot = on_screen(qtbot, GradientPlot(), (760, height))
    plot.set_history(h)
    settle(qtbot)
    labels = drawn_row_labels(plot)
    texts = [t for t, _ in labels]
    assert ids[0] in texts
    rects = [r for _, r in labels]
    assert all(not a.intersects(b) for i, a in enumerate(rects) for b in rects[i + 1 :]), labels
    if height == 900:
        assert ids[-1] in texts


def test_new_layers_rebuild_the_curves_and_the_legend(qtbot):
    h = decaying_history(steps=5)
    plot = shown(qtbot, GradientPlot())
    plot.set_history(h)
    h.clear(["a", "b"])
    h.record(0, 1.0, {"a": 1e-3, "b": 1.0})
    assert plot.refresh()
    assert list(plot.curves) == ["a", "b"] and legend_names(plot.legend) == ["a", "b"]
    assert len(plot.curve_item.listDataItems()) == 2
    assert plot.ratio_label.text() == "first/last layer gradient: 0.001 — shrinking"


def test_a_bigger_font_reaches_the_axes(qtbot):
    plot = shown(qtbot, GradientPlot())
    font = QFont(plot.font())
    font.setPointSizeF(20)
    plot.setFont(font)
    assert plot.curve_item.getAxis("left").style["tickFont"].pointSizeF() == 20
    assert plot.ratio_label.font().pointSizeF() > 20


def deep_sigmoid_run(steps=100, batch_size=None, optimizer=None):
    spec = presets.load("deep_sigmoid")
    if optimizer is not None:
        spec = dataclasses.replace(spec, optimizer=optimizer)
    train, _ = resolve_split(dict(spec.data))
    session = Session(spec, train, batch_size=batch_size)
    layers = [lid for lid in spec.order if spec.layer(lid).type == "dense"]
    h = TrainingHistory(layers)
    for _ in range(steps):
        trace = session.step()
        h.record(trace.step, float(trace.loss), trace.grad_norms())
    return spec, h


@pytest.mark.parametrize("batch_size", [None, 16])
def test_a_deep_sigmoid_run_shows_its_first_layers_far_below_the_last(qtbot, batch_size):
    # full batch with plain SGD (lr 0.5) stalls; batches of 16 with the example's own optimizer keep learning
    stalling = OptimizerSpec("sgd", lr=0.5) if batch_size is None else None
    spec, h = deep_sigmoid_run(batch_size=batch_size, optimizer=stalling)
    plot = shown(qtbot, GradientPlot())
    plot.set_colors(layer_colors(spec.order))
    plot.set_history(h)
    first, last = data(plot.curves["h1"])[1], data(plot.curves["out"])[1]
    assert last[0] - first[0] > 6  # in log10: the first layer starts over a million times smaller
    image = plot.heatmap.image
    assert image[0, 0] < image[-1, 0] - 6  # and the heatmap's top-left cell is dark, bottom-left bright
    if batch_size is None:
        # full-batch SGD settles on the class prior: every gradient dies, which the readout says
        assert plot.ratio_label.text().endswith(")") and "— stalled" in plot.ratio_label.text()
    else:
        assert np.all(first < last - 4)  # mini-batches keep the gap open all run long
        assert plot.ratio_label.text().endswith("— vanishing")


def drawn_ticks(axis, values, spacing):
    """The tick texts the axis draws for ``values`` (as its drawing does: with the scale it applies)."""
    return axis.tickStrings(values, axis.autoSIPrefixScale * axis.scale, spacing)


def test_a_loss_of_0_7_reads_0_7_even_when_the_font_changes_while_it_is_shown(qtbot):
    """A new font (presentation mode, a small screen) restyles the axes while the loss sits between 0.5 and 0.9:
    the ticks still read 0.5 … 0.9 and the label "loss", never 500 … 900 with the scale hidden."""
    h = TrainingHistory(LAYERS)
    for step in range(1, 41):
        h.record(step, 0.7 + 0.15 * math.sin(step), {lid: 0.1 for lid in LAYERS})
    plot = shown(qtbot, LossPlot())
    plot.set_history(h)
    settle(qtbot)
    axis = plot.loss_item.getAxis("left")
    assert 0.5 <= axis.range[0] and axis.range[1] <= 0.9
    font = QFont(plot.font())
    font.setPointSizeF(18)
    plot.setFont(font)
    settle(qtbot)
    assert drawn_ticks(axis, [0.5, 0.7, 0.9], 0.1) == ["0.5", "0.7", "0.9"]
    assert ">loss" in axis.labelString() and "(x" not in axis.labelString()
