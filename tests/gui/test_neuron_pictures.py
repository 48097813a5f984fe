"""The pictures inside neurons (networks with 2-D inputs): each neuron's circle shows its output over the input
plane, hovering it shows the picture enlarged with its colour scale, and they follow the weights as the
network steps and trains. The maps a picture should show are computed here from the weights, by hand."""

import numpy as np
import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QPoint
from PySide6.QtTest import QTest

from bpstudio.core.tools.boundary import grid
from bpstudio.core.tools.neuron_maps import neuron_maps
from bpstudio.gui.colors import NEGATIVE, NEUTRAL, POSITIVE
from bpstudio.gui.worker import Progress
from tests.gui.canvas_points import neuron_point
from tests.gui.driving import open_example, settle

RES = 24


def xor_maps(w):
    """h's and y's outputs over the 24 × 24 grid of the data's plane, from the window's weights: (units, rows, cols)."""
    doc = w.document
    xs, ys, _ = grid(doc.train_data, RES)
    gx, gy = np.meshgrid(xs, ys)
    points = np.stack([gx, gy], axis=-1)
    p = doc.params()
    h = np.tanh(points @ p["h.weight"].T + p["h.bias"])
    y = 1 / (1 + np.exp(-(h @ p["y.weight"].T + p["y.bias"])))
    return np.moveaxis(h, -1, 0), np.moveaxis(y, -1, 0), xs, ys


def rgb(color):
    return np.array([color.red(), color.green(), color.blue()], dtype=float)


def pixels(image):
    """An image's colours as (rows, cols, 3) floats, row 0 at the top."""
    return np.array(
        [[rgb(image.pixelColor(c, r)) for c in range(image.width())] for r in range(image.height())], dtype=float
    )


def expected_color(value, low, high):
    """The diverging scale written out: low → NEGATIVE, middle → NEUTRAL, high → POSITIVE, linear between."""
    t = np.clip((value - (low + high) / 2) / ((high - low) / 2), -1, 1)
    end = POSITIVE if t >= 0 else NEGATIVE
    return rgb(NEUTRAL) + (rgb(end) - rgb(NEUTRAL)) * abs(t)


def assert_picture_shows(image, values, low, high):
    """Cell (row i, column j) of a map is pixel (j, 23 − i): x1 to the right, x2 upwards. The map's highest
    and lowest cells have their colours on the scale, and no pixel is more orange (blue) than the highest (lowest)."""
    assert (image.width(), image.height()) == (RES, RES)
    got = pixels(image)[::-1]  # rows of ys, as the map
    orange, blue = got[..., 0] - got[..., 2], got[..., 2] - got[..., 0]
    for (i, j), more in (
        (np.unravel_index(values.argmax(), values.shape), orange),
        (np.unravel_index(values.argmin(), values.shape), blue),
    ):
        assert np.abs(got[i, j] - expected_color(values[i, j], low, high)).max() <= 1
        assert more[i, j] == more.max()


def test_xor_neurons_show_their_outputs_over_the_plane(qtbot, window):
    w = window
    open_example(qtbot, w, "xor")
    h_maps, y_maps, xs, ys = xor_maps(w)
    overlays = w.canvas.canvas.overlays
    for k in range(4):
        assert overlays["h"].has_pictures
        assert_picture_shows(overlays["h"].pictures[k], h_maps[k], -1.0, 1.0)  # tanh's range
    assert_picture_shows(overlays["y"].pictures[0], y_maps[0], 0.0, 1.0)  # sigmoid's range
    # the inputs' neurons show x1 and x2 themselves: x1 grows to the right, x2 upwards
    x1, x2 = (pixels(overlays["x"].pictures[k]) for k in (0, 1))
    assert (x1[:, -1, 0] - x1[:, -1, 2] > 150).all() and (x1[:, 0, 2] - x1[:, 0, 0] > 150).all()
    assert (x2[0, :, 0] - x2[0, :, 2] > 150).all() and (x2[-1, :, 2] - x2[-1, :, 0] > 150).all()
    # and on screen, inside h[1]'s circle: where its map is highest the canvas is orange, where lowest blue
    shot = w.canvas.viewport().grab().toImage()
    circle = w.canvas.canvas.neuron_circle("h", 1)
    inner = [(i, j) for i in range(RES) for j in range(RES) if (i - 11.5) ** 2 + (j - 11.5) ** 2 < 8**2]
    for pick in (max, min):
        i, j = pick(inner, key=lambda cell: h_maps[1][cell])
        spot = w.canvas.mapFromScene(
            circle.left() + (j + 0.5) / RES * circle.width(), circle.bottom() - (i + 0.5) / RES * circle.height()
        )
        color = rgb(shot.pixelColor(spot))
        assert np.abs(color - expected_color(h_maps[1][i, j], -1, 1)).max() < 40


def test_hovering_a_neuron_enlarges_its_picture_with_the_colour_scale(qtbot, window):
    w = window
    open_example(qtbot, w, "xor")
    view = w.canvas
    QTest.mouseMove(view.viewport(), view.mapFromScene(neuron_point(w, "h", 2)))
    settle(qtbot)
    preview = view.preview
    assert preview.isVisible() and preview.shown_for == ("h", 2)
    on_screen = view.mapFromScene(view.canvas.neuron_circle("h", 2)).boundingRect()
    assert preview.picture_rect.width() >= 3 * on_screen.width()
    assert preview.content.picture is view.canvas.overlays["h"].pictures[2]
    assert preview.scale_labels() == ("-1", "0", "1") and "tanh's range" in preview.note()
    shown = preview.grab().toImage()  # its enlarged picture, at the map's highest cell, is that cell's colour
    values = xor_maps(w)[0][2]
    i, j = np.unravel_index(values.argmax(), values.shape)
    rect = preview.picture_rect
    spot = QPoint(
        rect.left() + round((j + 0.5) / RES * rect.width()), rect.bottom() - round((i + 0.5) / RES * rect.height())
    )
    assert np.abs(rgb(shown.pixelColor(spot)) - expected_color(values[i, j], -1, 1)).max() < 25
    QTest.mouseMove(view.viewport(), view.mapFromScene(neuron_point(w, "y", 0)))
    settle(qtbot)
    assert preview.shown_for == ("y", 0) and preview.scale_labels() == ("0", "0.5", "1")
    QTest.mouseMove(view.viewport(), QPoint(5, 5))  # off every neuron
    settle(qtbot)
    assert not preview.isVisible()


def test_the_pictures_follow_a_step_and_training(qtbot, window):
    w = window
    open_example(qtbot, w, "xor")
    h = w.canvas.canvas.overlays["h"]
    before = [image.copy() for image in h.pictures]
    w.window_actions.step.trigger()
    settle(qtbot)
    after = h.pictures
    assert all(a != b for a, b in zip(after, before))
    h_maps = xor_maps(w)[0]
    for k in range(4):
        assert_picture_shows(after[k], h_maps[k], -1.0, 1.0)
    # while training, the worker's maps arrive and the pictures change with them
    stepped = [image.copy() for image in h.pictures]
    w.training.start()
    qtbot.waitUntil(lambda: w.document.session.step_count > 200 and h.pictures[0] != stepped[0], timeout=10000)
    assert w.training.running
    w.training.stop()
    settle(qtbot)
    h_maps = xor_maps(w)[0]  # stopped: the pictures show the weights it stopped at
    for k in range(4):
        assert_picture_shows(h.pictures[k], h_maps[k], -1.0, 1.0)


def test_while_training_new_pictures_are_built_in_one_turn_and_shown_in_the_next(qtbot, window):
    """A deep net's new pictures and its canvas redraw each take a turn of the GUI thread's own (one turn
    doing both kept the window from answering for too long): the first builds them, drawing nothing yet;
    the next shows them, built from the maps that arrived, with the values of the step that arrived."""
    w = window
    open_example(qtbot, w, "xor")
    h = w.canvas.canvas.overlays["h"]
    shown = [image.copy() for image in h.pictures]
    w.window_actions.step.trigger()  # new weights: their maps differ from the pictures on the canvas
    settle(qtbot)
    maps = neuron_maps(w.document.session, w.document.train_data)
    w.canvas.show_neuron_maps(None)
    settle(qtbot)
    assert not h.has_pictures
    doc = w.document
    doc.set_training(True)
    try:
        w.training.latest = Progress(trace=doc.trace, neuron_maps=maps, step=doc.session.step_count)
        w._update_view(2, True)
        assert not h.has_pictures  # built, not drawn
        w._update_view(3, True)
        assert h.has_pictures and h.maps is maps.layers["h"]
        assert w.training.latest is None
    finally:
        doc.set_training(False)
    h_maps = xor_maps(w)[0]
    for k in range(4):
        assert_picture_shows(h.pictures[k], h_maps[k], -1.0, 1.0)
        assert h.pictures[k] != shown[k]


def test_big_layers_get_no_pictures_and_small_ones_after_them_do(qtbot, window):
    w = window
    open_example(qtbot, w, "spiral")  # 2 → 32 → 32 → 3: the 32-unit layers are heat strips
    overlays = w.canvas.canvas.overlays
    assert overlays["x"].has_pictures and overlays["logits"].has_pictures
    assert not overlays["h1"].pictures and not overlays["h2"].pictures
    QTest.mouseMove(w.canvas.viewport(), w.canvas.mapFromScene(neuron_point(w, "logits", 1)))
    settle(qtbot)
    assert w.canvas.preview.shown_for == ("logits", 1) and "symmetric" in w.canvas.preview.note()
    open_example(qtbot, w, "mazur")  # 2 inputs, one sample: a small plane around it
    assert all(o.has_pictures for o in overlays.values())
