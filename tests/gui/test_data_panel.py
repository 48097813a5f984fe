"""The data panel and plot: picking data as a person would, and what the plot shows."""

import numpy as np
import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from bpstudio.core.data import Dataset
from bpstudio.core.datasets import make_toy, resolve_split
from bpstudio.core.io import presets
from bpstudio.core.session import Session
from bpstudio.core.tools.boundary import Surface, output_curve, output_surface
from bpstudio.gui.panels.data_panel import DataPanel
from bpstudio.gui.plots.data_plot import DataPlot, class_colors
from tests.gui.driving import on_screen
from tests.helpers import network

XOR_SOURCE = {"builtin": "xor", "n": 200, "noise": 0.05, "seed": 0, "test_fraction": 0.25}


@pytest.fixture
def panel(qtbot):
    widget = on_screen(qtbot, DataPanel(), (640, 720))
    widget.show_source(XOR_SOURCE)
    emitted = []
    widget.source_requested.connect(emitted.append)
    return widget, emitted


def type_into(qtbot, box, text, enter=True):
    box.setFocus()
    box.lineEdit().selectAll()
    qtbot.keyClicks(box.lineEdit(), text)
    if enter:
        qtbot.keyClick(box.lineEdit(), Qt.Key.Key_Return)


def choose(qtbot, combo, text):
    """Pick an item with the keyboard, as a person tabbing to the combo and typing its name would."""
    combo.setFocus()
    qtbot.keyClicks(combo, text)
    assert combo.currentText() == text


def test_show_source_fills_the_controls_without_emitting(panel):
    widget, emitted = panel
    assert widget.data_set.currentText() == "xor"
    assert widget.samples.value() == 200 and widget.noise.value() == 0.05 and widget.seed.value() == 0
    assert widget.test_fraction.value() == 0.25 and widget.split_seed.value() == 0
    assert not widget.classes.isEnabled() and widget.regenerate.isEnabled()
    widget.show_source("spirals:classes=4,n=90,seed=7")
    assert widget.data_set.currentText() == "spirals" and widget.classes.isEnabled()
    assert (widget.classes.value(), widget.samples.value(), widget.seed.value()) == (4, 90, 7)
    widget.show_source({"file": "points.csv", "test_fraction": 0.1})
    assert widget.data_set.currentText() == "file: points.csv"
    assert not widget.samples.isEnabled() and not widget.regenerate.isEnabled() and widget.test_fraction.isEnabled()
    widget.show_source(None)
    assert widget.data_set.currentIndex() == -1 and not widget.test_fraction.isEnabled()
    assert emitted == []


def test_spirals_with_three_classes_then_regenerate_emits_the_source(qtbot, panel):
    widget, emitted = panel
    choose(qtbot, widget.data_set, "spirals")
    assert widget.classes.isEnabled()
    assert emitted[-1] == {
        "builtin": "spirals",
        "n": 200,
        "noise": 0.05,
        "seed": 0,
        "classes": 2,
        "test_fraction": 0.25,
        "split_seed": 0,
    }
    type_into(qtbot, widget.classes, "3")
    qtbot.mouseClick(widget.regenerate, Qt.MouseButton.LeftButton)
    assert widget.seed.value() == 1
    expected = {
        "builtin": "spirals",
        "n": 200,
        "noise": 0.05,
        "seed": 1,
        "classes": 3,
        "test_fraction": 0.25,
        "split_seed": 0,
    }
    assert emitted[-1] == expected and len(emitted) == 3
    train, test = resolve_split(emitted[-1])
    assert train.n_classes == 3 and len(train) + len(test) == 200
    reference = make_toy("spirals", n=200, noise=0.05, seed=1, classes=3)
    assert np.array_equal(np.sort(np.vstack([train.X, test.X]), axis=0), np.sort(reference.X, axis=0))


def test_the_digits_are_real_data_chosen_whole_with_no_noise_to_set(qtbot, panel):
    widget, emitted = panel
    choose(qtbot, widget.data_set, "digits")
    assert emitted[-1] == {"builtin": "digits", "n": 1797, "seed": 0, "test_fraction": 0.25, "split_seed": 0}
    assert not widget.noise.isEnabled() and not widget.classes.isEnabled() and widget.samples.isEnabled()
    assert not widget.error.isVisible()
    train, test = resolve_split(emitted[-1])
    assert train.X.shape[1] == 64 and len(train) + len(test) == 1797 and train.n_classes == 10


def test_typing_a_number_emits_once_on_enter(qtbot, panel):
    widget, emitted = panel
    type_into(qtbot, widget.samples, "350", enter=False)
    assert emitted == []
    qtbot.keyClick(widget.samples.lineEdit(), Qt.Key.Key_Return)
    assert len(emitted) == 1 and emitted[0]["n"] == 350 and emitted[0]["builtin"] == "xor"
    QTest.keyClick(widget.seed, Qt.Key.Key_Up)  # the arrow key steps and applies
    assert len(emitted) == 2 and emitted[-1]["seed"] == 1


def test_a_source_that_does_not_resolve_shows_why_and_emits_nothing(qtbot, panel):
    widget, emitted = panel
    choose(qtbot, widget.data_set, "blobs")
    emitted.clear()
    type_into(qtbot, widget.classes, "5")
    assert len(emitted) == 1 and emitted[0]["classes"] == 5 and not widget.error.isVisible()
    type_into(qtbot, widget.samples, "3")
    assert len(emitted) == 1 and widget.error.isVisible()
    assert widget.error.text() == "blobs: option 'n' must be at least 5 so every class gets a sample, got 3"
    type_into(qtbot, widget.samples, "30")
    assert not widget.error.isVisible() and emitted[-1]["n"] == 30 and len(emitted) == 2


def test_a_bad_csv_shows_the_reason_and_emits_nothing(qtbot, panel, tmp_path):
    widget, emitted = panel
    bad = tmp_path / "bad.csv"
    bad.write_text("x1,x2,label\n0,1,0\n0,abc,1\n")
    assert widget.import_file(bad) is False
    assert emitted == []
    assert widget.error.isVisible()
    assert "bad.csv" in widget.error.text() and "line 3" in widget.error.text() and "'abc'" in widget.error.text()
    assert widget.data_set.currentText() == "xor"  # nothing else changed


def test_a_good_file_is_offered_in_the_combo_and_emitted(qtbot, panel, tmp_path):
    widget, emitted = panel
    good = tmp_path / "points.csv"
    good.write_text("x1,x2,label\n0,1,0\n1,0,1\n2,2,0\n3,1,1\n")
    assert widget.import_file(good) is True
    assert emitted == [{"file": str(good), "test_fraction": 0.25, "split_seed": 0}]
    assert widget.data_set.currentText() == "file: points.csv"
    assert not widget.samples.isEnabled() and not widget.regenerate.isEnabled()
    choose(qtbot, widget.data_set, "moons")
    assert emitted[-1]["builtin"] == "moons" and emitted[-1]["noise"] == 0.1  # moons' own default noise
    assert widget.data_set.findText("file: points.csv") >= 0


def test_points_edited_on_the_plot_keep_their_test_points_until_the_split_changes(qtbot, panel):
    widget, emitted = panel
    edited = {"X": [[0, 0], [1, 1], [2, 2]], "Y": [0, 1, 0], "test": {"X": [[3, 3]], "Y": [1]}}
    widget.show_source(edited)
    assert widget.data_set.currentText() == "inline data" and widget.test_fraction.value() == 0.25  # 1 of 4
    widget.data_set.activated.emit(widget.data_set.currentIndex())  # chosen again: the same points, as they were
    assert emitted == [edited]
    type_into(qtbot, widget.test_fraction, "0.5")  # a new split: all four points, shuffled afresh
    assert emitted[-1] == {
        "X": [[0, 0], [1, 1], [2, 2], [3, 3]],
        "Y": [0, 1, 0, 1],
        "test_fraction": 0.5,
        "split_seed": 0,
    }


# --- the plot -----------------------------------------------------------------------------------------


@pytest.fixture
def plot(qtbot):
    return on_screen(qtbot, DataPlot(), (500, 500))


def test_scatter_shows_the_points_coloured_by_class_and_the_surface_fills_the_image(plot):
    spec = presets.load("xor")
    train, test = resolve_split(spec.data)
    plot.show_data(train, test)
    x, y = plot.train_scatter.getData()
    assert np.array_equal(x, train.X[:, 0]) and np.array_equal(y, train.X[:, 1])
    x, y = plot.test_scatter.getData()
    assert np.array_equal(x, test.X[:, 0]) and np.array_equal(y, test.X[:, 1])
    colours = class_colors(2)
    brushes = [p.brush().color().name() for p in plot.train_scatter.points()]
    assert brushes == [colours[k].name() for k in train.Y]
    assert all(p.brush().style() == Qt.BrushStyle.NoBrush for p in plot.test_scatter.points())  # hollow
    assert not plot.message.isVisible() and plot.plot.getViewBox().state["aspectLocked"]
    session = Session(spec, train)
    surface = output_surface(session.predict, spec, train, resolution=37)
    plot.show_surface(surface)
    assert plot.image.image.shape[:2] == surface.values.shape == (37, 37)
    rect = plot.image.mapRectToParent(plot.image.boundingRect())
    step = surface.xs[1] - surface.xs[0]
    assert rect.left() == pytest.approx(surface.xs[0] - step / 2) and rect.width() == pytest.approx(37 * step)
    assert "P(class 1)" in plot.legend.text()
    plot.show_surface(None)
    assert plot.image.image is None
    # on a narrow dock the legend wraps between entries, never between a swatch and its words
    for words in ("train", "test", "class&nbsp;0", "class&nbsp;1"):
        assert f"&nbsp;{words}" in plot.legend.text()


def test_class_surface_colours_each_cell_by_its_class(plot):
    data = make_toy("blobs", n=30, classes=3)
    xs, ys = np.linspace(-1, 1, 4), np.linspace(-1, 1, 3)
    values = np.array([[0.0, 1.9, 2.5, 0.5]] * 3)
    plot.show_data(data)
    plot.show_surface(Surface(xs, ys, values, "class", 3, "predicted class"))
    rgba = plot.image.image
    palette = class_colors(3)
    # a sure cell is deeper in its class's colour than an unsure cell of the same class; hues follow the class
    sure, unsure = rgba[0, 1, :3].astype(int), rgba[0, 0, :3].astype(int)
    assert 255 - sure.min() > 255 - unsure.min()
    for col, k in enumerate([0, 1, 2, 0]):
        cell = rgba[1, col, :3].astype(int)
        target = np.array([palette[k].red(), palette[k].green(), palette[k].blue()])
        assert np.argmin(cell) == np.argmin(target) and np.argmax(cell) == np.argmax(target)


def test_wide_inputs_show_a_message_instead_of_a_plot(plot):
    plot.show_data(Dataset(np.zeros((6, 50)), np.arange(6) % 3))
    assert plot.message.isVisible() and not plot.plot_widget.isVisible() and not plot.samples.isVisible()
    assert plot.message.text() == "decision boundary needs 2-D inputs; this data has 50"
    assert plot.train_scatter.getData()[0].size == 0


def test_labelled_square_images_show_as_pictures(plot):
    plot.show_data(Dataset(np.random.default_rng(0).random((30, 784)), np.arange(30) % 3))  # 28 × 28
    assert plot.samples.isVisible() and not plot.message.isVisible() and not plot.plot_widget.isVisible()
    assert len(plot.samples.images) == 24 and plot.samples.images[0].width() == 28
    assert plot.samples.title() == "Training samples and their labels"
    plot.show_data(make_toy("xor", n=20))  # back to points in a plane
    assert plot.plot_widget.isVisible() and not plot.samples.isVisible()


def test_sine_shows_target_against_input_and_the_prediction_curve(plot):
    data = make_toy("sine", n=40)
    spec = network(
        [
            {"id": "x", "type": "input", "units": 1},
            {"id": "y", "type": "dense", "inputs": ["x"], "units": 1, "activation": "identity"},
        ],
        "y",
    )
    plot.show_data(data)
    assert plot.message.isVisible() and "this data has 1" in plot.message.text() and plot.plot_widget.isVisible()
    x, y = plot.train_scatter.getData()
    assert np.array_equal(x, data.X[:, 0]) and np.array_equal(y, data.Y[:, 0])
    xs, ys = output_curve(Session(spec, data).predict, spec, data)
    plot.show_curve(xs, ys)
    cx, cy = plot.curve.getData()
    assert np.array_equal(cx, xs) and np.array_equal(cy, ys)
    assert not plot.plot.getViewBox().state["aspectLocked"]


def test_the_legend_of_targets_that_are_all_positive_names_their_range_from_0(qtbot):
    """Mazur's net has targets 0.01 and 0.99: the legend says what the colours stand for — 0 (neutral) up to
    0.99 (the positive colour) — not "-0.01 … 0.01" from the first target alone, with an end no target has;
    and the surface of outputs near 0.75 is not all the saturated end colour."""
    from bpstudio.gui.colors import NEUTRAL, POSITIVE

    plot = on_screen(qtbot, DataPlot(), (500, 500))
    train = Dataset(np.array([[0.05, 0.10]]), np.array([[0.01, 0.99]]))
    plot.show_data(train, None)
    legend = plot.legend.text()
    assert "0.99" in legend and "-0.01" not in legend and "0.01 …" not in legend
    assert f"color:{NEUTRAL.name()}'>■</span> 0 …" in legend and f"color:{POSITIVE.name()}'>■</span> 0.99" in legend
    xs, ys = np.array([0.0, 0.1]), np.array([0.0, 0.2])
    surface = Surface(xs, ys, np.full((2, 2), 0.75), "value", 0, "output 'o' (unit 1 of 2)")
    plot.show_surface(surface)
    shown = plot.image.image[0, 0, :3].astype(float)
    saturated = np.array([POSITIVE.red(), POSITIVE.green(), POSITIVE.blue()], dtype=float)
    assert np.abs(shown - saturated).max() > 10  # 0.75 of the way to 0.99, not at the end of a ±0.01 scale
