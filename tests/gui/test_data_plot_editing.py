"""Shaping the data on the plot, in the assembled window: a click adds a point of the picked class where it
lands, a right-click removes the nearest point, Ctrl+Z / Ctrl+Shift+Z take them back and forth, training picks
them up at once; the test-points and discretize toggles change what is drawn."""

import numpy as np
import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QToolButton

from bpstudio.core.data import Dataset
from bpstudio.core.io import presets, spec_io
from bpstudio.gui.plots.data_plot import DataPlot
from tests.gui.driving import CTRL, LEFT, NOMOD, SHIFT, history_texts, on_screen, open_example, press, settle
from tests.helpers import network

RIGHT = Qt.MouseButton.RightButton


def pixel_of(plot, x, y):
    """The viewport pixel where the plot draws the data coordinate (x, y)."""
    view = plot.plot.getViewBox()
    return plot.plot_widget.mapFromScene(view.mapViewToScene(QPointF(x, y)))


def coordinate_of(plot, pixel):
    """The data coordinate a click on ``pixel`` lands on (pixels are whole; the plane is not)."""
    at = plot.plot.getViewBox().mapSceneToView(plot.plot_widget.mapToScene(pixel))
    return at.x(), at.y()


def click_plot(qtbot, plot, pixel, button=LEFT, modifiers=NOMOD):
    """Click ``pixel`` of the plot; the data coordinate it landed on (read first: new data may reframe the view)."""
    at = coordinate_of(plot, pixel)
    QTest.mouseClick(plot.plot_widget.viewport(), button, modifiers, pixel)
    settle(qtbot)
    return at


def scatter(item):
    return np.column_stack(item.getData())


def pixels_apart(plot, pixel, points):
    """How far (in pixels) each of ``points`` is drawn from ``pixel``: the test's own reference."""
    offsets = [pixel_of(plot, *p) - pixel for p in points]
    return np.array([np.hypot(o.x(), o.y()) for o in offsets])


@pytest.fixture
def shown(window):
    """The window with its data panel in front."""
    window.docks["data"].raise_()
    settle()
    return window


def test_a_click_adds_a_point_of_the_picked_class_and_undo_redo_take_it_back_and_forth(qtbot, shown):
    w, doc = shown, shown.document
    plot = w.data_panel.plot
    train, test = doc.train_data, doc.test_data
    assert [b.text() for b in plot.picker.buttons] == ["● 0", "● 1"] and plot.picker.buttons[1].isChecked()
    assert plot.picker.hint.text() == "Click: add class 1 · Shift+click: class 0 · Right-click: remove"

    point = click_plot(qtbot, plot, pixel_of(plot, 0.5, -0.25))
    assert point == pytest.approx((0.5, -0.25), abs=0.02)  # (within a pixel of the coordinate asked for)
    assert len(doc.train_data) == len(train) + 1
    np.testing.assert_array_equal(doc.train_data.X[:-1], train.X)
    assert tuple(doc.train_data.X[-1]) == point and doc.train_data.Y[-1] == 1
    assert doc.session.data is doc.train_data and len(doc.test_data) == len(test)
    assert tuple(scatter(plot.train_scatter)[-1]) == point and len(scatter(plot.train_scatter)) == len(train) + 1
    assert history_texts(w)[-1] == f"Add class 1 point at ({point[0]:.3g}, {point[1]:.3g})"
    assert w.data_panel.data_set.currentText() == "inline data" and "*" in w.windowTitle()

    press(qtbot, w, Qt.Key.Key_Z, CTRL)
    np.testing.assert_array_equal(scatter(plot.train_scatter), train.X)
    assert doc.spec.data == presets.load("xor").data and w.data_panel.data_set.currentText() == "xor"
    press(qtbot, w, Qt.Key.Key_Z, CTRL | SHIFT)
    assert tuple(doc.train_data.X[-1]) == point and tuple(scatter(plot.train_scatter)[-1]) == point


def test_the_new_point_is_drawn_in_its_class_colour(qtbot, shown):
    w, doc = shown, shown.document
    plot = w.data_panel.plot
    click_plot(qtbot, plot, pixel_of(plot, 0.0, 0.0), modifiers=SHIFT)  # Shift: the other class, 0
    assert doc.train_data.Y[-1] == 0
    brushes = [p.brush().color().name() for p in plot.train_scatter.points()]
    colours = {k: {b for b, y in zip(brushes[:-1], doc.train_data.Y[:-1]) if y == k} for k in (0, 1)}
    assert len(colours[0]) == 1 and brushes[-1] in colours[0] - colours[1]


def test_spirals_three_classes_pick_one_beside_the_plot(qtbot, shown):
    w, doc = shown, shown.document
    open_example(qtbot, w, "spiral")
    plot = w.data_panel.plot
    assert [b.text() for b in plot.picker.buttons] == ["● 0", "● 1", "● 2"]
    QTest.mouseClick(plot.picker.buttons[2], LEFT)
    assert plot.picker.hint.text() == "Click: add class 2 · Shift+click: class 0 · Right-click: remove"
    n = len(doc.train_data)
    first = click_plot(qtbot, plot, pixel_of(plot, 0.3, 0.4))
    second = click_plot(qtbot, plot, pixel_of(plot, -0.3, -0.4), modifiers=SHIFT)
    assert doc.train_data.Y[n:].tolist() == [2, 0]
    assert [tuple(x) for x in doc.train_data.X[n:]] == [first, second]
    assert history_texts(w)[-2:] == [
        f"Add class 2 point at ({first[0]:.3g}, {first[1]:.3g})",
        f"Add class 0 point at ({second[0]:.3g}, {second[1]:.3g})",
    ]
    press(qtbot, w, Qt.Key.Key_Z, CTRL)
    press(qtbot, w, Qt.Key.Key_Z, CTRL)
    assert len(doc.train_data) == n and len(scatter(plot.train_scatter)) == n


def test_a_right_click_removes_the_point_drawn_nearest(qtbot, shown):
    w, doc = shown, shown.document
    plot = w.data_panel.plot
    train, test = doc.train_data, doc.test_data
    target = train.X[5]
    pixel = pixel_of(plot, *target) + QPoint(3, -2)
    # the reference: every drawn point's pixel, the nearest to the click
    drawn = [("train", i, x) for i, x in enumerate(train.X)] + [("test", i, x) for i, x in enumerate(test.X)]
    part, index, _ = drawn[int(np.argmin(pixels_apart(plot, pixel, [x for _, _, x in drawn])))]
    click_plot(qtbot, plot, pixel, RIGHT)
    if part == "train":
        np.testing.assert_array_equal(doc.train_data.X, np.delete(train.X, index, axis=0))
        assert len(doc.test_data) == len(test)
    else:
        np.testing.assert_array_equal(doc.test_data.X, np.delete(test.X, index, axis=0))
    assert len(scatter(plot.train_scatter)) + len(scatter(plot.test_scatter)) == len(train) + len(test) - 1
    assert history_texts(w)[-1].startswith("Remove ")
    (left, _), (_, top) = plot.plot.getViewBox().viewRange()
    empty = pixel_of(plot, left, top) + QPoint(4, 4)  # the view's top left corner, away from every point
    assert pixels_apart(plot, empty, np.vstack([doc.train_data.X, doc.test_data.X])).min() > 12
    entries = len(history_texts(w))
    click_plot(qtbot, plot, empty, RIGHT)
    assert w.statusBar().currentMessage() == "no point within 12 pixels of the click to remove"
    assert len(history_texts(w)) == entries
    press(qtbot, w, Qt.Key.Key_Z, CTRL)
    np.testing.assert_array_equal(doc.train_data.X, train.X)
    np.testing.assert_array_equal(doc.test_data.X, test.X)


def test_the_test_points_toggle_hides_them_and_right_clicks_then_spare_them(qtbot, shown):
    w, doc = shown, shown.document
    plot = w.data_panel.plot
    assert plot.show_test.isEnabled() and plot.test_scatter.isVisible() and "test" in plot.legend.text()
    QTest.mouseClick(plot.show_test, LEFT)
    assert not plot.test_scatter.isVisible() and "test" not in plot.legend.text()
    test, train = doc.test_data, doc.train_data
    # a test point with no training point within reach: a right-click on it (hidden) removes nothing
    alone = next(x for x in test.X if pixels_apart(plot, pixel_of(plot, *x), train.X).min() > 12)
    click_plot(qtbot, plot, pixel_of(plot, *alone), RIGHT)
    assert len(doc.test_data) == len(test) and len(doc.train_data) == len(train) and doc.undo_stack.count() == 0
    QTest.mouseClick(plot.show_test, LEFT)
    assert plot.test_scatter.isVisible()


def test_discretize_draws_hard_class_regions(qtbot, shown):
    w = shown
    plot = w.data_panel.plot
    soft = plot.image.image.copy()
    assert len(np.unique(soft.reshape(-1, 4), axis=0)) > 10  # shaded by probability
    QTest.mouseClick(plot.discretize, LEFT)
    hard = plot.image.image
    ones = plot.surface.values >= 0.5  # the reference: P(class 1) thresholded where the net says 1
    assert 0 < ones.sum() < ones.size
    assert len(np.unique(hard[ones].reshape(-1, 4), axis=0)) == 1
    assert len(np.unique(hard[~ones].reshape(-1, 4), axis=0)) == 1
    orange, blue = hard[ones][0].astype(int), hard[~ones][0].astype(int)
    assert orange[0] > orange[2] and blue[2] > blue[0]  # class 1 orange, class 0 blue
    assert "predicted class" in plot.legend.text()
    QTest.mouseClick(plot.discretize, LEFT)
    np.testing.assert_array_equal(plot.image.image, soft)


def test_discretize_on_spirals_gives_one_colour_per_predicted_class(qtbot, shown):
    w = shown
    open_example(qtbot, w, "spiral")
    plot = w.data_panel.plot
    QTest.mouseClick(plot.discretize, LEFT)
    predicted = np.floor(plot.surface.values).astype(int)
    hard = plot.image.image
    colours = {k: np.unique(hard[predicted == k].reshape(-1, 4), axis=0) for k in np.unique(predicted)}
    assert all(len(c) == 1 for c in colours.values())
    assert len({tuple(c[0]) for c in colours.values()}) == len(colours)


def test_data_clicks_cannot_shape_say_why_and_change_nothing(qtbot, shown):
    w, doc = shown, shown.document
    open_example(qtbot, w, "mazur")  # two inputs, but two target columns
    plot = w.data_panel.plot
    assert plot.picker.buttons == [] and "this data has 2 target columns" in plot.picker.hint.text()
    click_plot(qtbot, plot, pixel_of(plot, *doc.train_data.X[0]))
    assert "this data has 2 target columns" in w.statusBar().currentMessage()
    assert doc.undo_stack.count() == 0 and len(doc.train_data) == 1


def test_wide_inputs_hide_the_controls_and_say_why_clicks_add_nothing(qtbot):
    plot = on_screen(qtbot, DataPlot(), (500, 500))
    plot.show_data(Dataset(np.zeros((6, 3)), np.arange(6) % 2))
    assert not plot.plot_widget.isVisible() and not plot.controls.isVisible()
    assert "clicked points need data with 1 or 2 inputs" in plot.message.toolTip()


def test_a_point_added_while_training_goes_in_between_chunks(qtbot, shown):
    w, doc = shown, shown.document
    plot = w.data_panel.plot
    n = len(doc.train_data)
    press(qtbot, w, Qt.Key.Key_P)  # Play
    qtbot.waitUntil(lambda: doc.session.step_count >= 20, timeout=10000)
    point = click_plot(qtbot, plot, pixel_of(plot, 0.2, 0.9), modifiers=SHIFT)
    added_at = doc.session.step_count
    qtbot.waitUntil(lambda: doc.session.step_count >= added_at + 20, timeout=10000)
    press(qtbot, w, Qt.Key.Key_P)  # Pause
    assert len(doc.session.data) == n + 1 and tuple(doc.session.data.X[-1]) == point
    texts = history_texts(w)
    add = texts.index(f"Add class 0 point at ({point[0]:.3g}, {point[1]:.3g})")
    assert texts[add - 1].startswith("Train ") and texts[add + 1].startswith("Train ")
    assert tuple(scatter(plot.train_scatter)[-1]) == point


def test_on_a_curve_of_one_input_the_clicked_height_is_the_target(qtbot, shown, dialogs, tmp_path):
    w, doc = shown, shown.document
    spec = network(
        [
            {"id": "x", "type": "input", "units": 1},
            {"id": "h", "type": "dense", "inputs": ["x"], "units": 8, "activation": "tanh"},
            {"id": "y", "type": "dense", "inputs": ["h"], "units": 1, "activation": "identity"},
        ],
        "y",
        data={"builtin": "sine", "n": 40},
    )
    spec_io.save(spec, tmp_path / "sine.json")
    dialogs.open_path = str(tmp_path / "sine.json")
    press(qtbot, w, Qt.Key.Key_O, CTRL)
    plot = w.data_panel.plot
    assert not [b for b in plot.picker.findChildren(QToolButton) if b.isVisible()]  # xor's class buttons: gone
    assert not plot.picker.value.isVisible()
    assert plot.picker.hint.text() == "Click: add a point (input, target) · Right-click: remove"
    assert not plot.discretize.isEnabled() and "drawn for data with 2 inputs" in plot.discretize.toolTip()
    x, y = click_plot(qtbot, plot, pixel_of(plot, 1.0, 0.5))
    assert doc.train_data.X[-1].tolist() == [x] and doc.train_data.Y[-1].tolist() == [y]
    assert tuple(scatter(plot.train_scatter)[-1]) == (x, y)
