"""Adding layers from the palette as a student does: a click puts the new layer where the network can use it
(before the output, or after the selected layer and in front of what it fed), on a free spot of the part of the
canvas on screen, and the view does not move; every layer keeps its colour on the canvas and in the gradient plot
through adds, deletes, undo, redo and a save."""

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

from tests.gui.canvas_points import blocks, click, drop_from_palette, header_point, topology
from tests.gui.driving import CTRL, LEFT, SHIFT, click_canvas, open_example, press, settle


def seen(w):
    """The part of the scene on screen."""
    return w.canvas.mapToScene(w.canvas.viewport().rect()).boundingRect()


def corners(rect):
    return (rect.left(), rect.top(), rect.right(), rect.bottom())


def click_palette(qtbot, w, layer_type):
    QTest.mouseClick(w.layer_palette.buttons[layer_type], LEFT)
    settle(qtbot)


def check_placed(w, new, before, moved):
    """``new`` is whole on screen on a free spot, where ``moved[0]`` was; the ``moved`` layers went one column
    right together; nothing else moved. ``before``: every block's position before the add."""
    rect = blocks(w)[new].sceneBoundingRect()
    assert seen(w).contains(rect), new
    others = [b.sceneBoundingRect() for lid, b in blocks(w).items() if lid != new]
    assert not any(rect.intersects(other) for other in others), new
    assert blocks(w)[new].pos() == before[moved[0]]
    shifts = {lid: blocks(w)[lid].pos() - before[lid] for lid in before}
    shift = shifts[moved[0]]
    assert shift.x() > 0 and shift.y() == 0
    for lid in before:
        assert shifts[lid] == (shift if lid in moved else QPointF()), lid


def test_a_clicked_layer_lands_between_its_neighbours_on_screen_and_the_view_never_scrolls_away(qtbot, window):
    w = window
    open_example(qtbot, w, "xor")  # fitted to the canvas: it follows the window until the person zooms
    before = {lid: b.pos() for lid, b in blocks(w).items()}
    click_palette(qtbot, w, "dense")  # nothing selected: a hidden layer before the output, where y was
    assert topology(w) == {"x": (), "h": ("x",), "y": ("h1",), "h1": ("h",)}
    check_placed(w, "h1", before, ["y"])
    assert all(seen(w).contains(b.sceneBoundingRect()) for b in blocks(w).values())  # fitted again: all of it

    click_canvas(qtbot, w)
    viewport = w.canvas.viewport()  # (the mouse rests over the middle of the canvas, where a zoom centres)
    QTest.mouseMove(viewport, viewport.rect().center())
    for _ in range(2):
        press(qtbot, w, Qt.Key.Key_Minus)  # the person zooms out: the view stays where they put it
    click(qtbot, w, header_point(w, "h"))
    view_before, before = corners(seen(w)), {lid: b.pos() for lid, b in blocks(w).items()}
    click_palette(qtbot, w, "dense")  # after the selected h, in front of h1
    assert topology(w) == {"x": (), "h": ("x",), "y": ("h1",), "h1": ("h2",), "h2": ("h",)}
    assert w.canvas.selected_layers() == ["h2"] and w.inspector.title.text() == "h2"
    check_placed(w, "h2", before, ["h1", "y"])
    assert corners(seen(w)) == pytest.approx(view_before, abs=0.5)  # the view did not move at all

    click_palette(qtbot, w, "add")  # after h2 (selected now), in front of h1, as wide as h2
    assert topology(w)["h1"] == ("add1",) and w.document.spec.widths["add1"] == 4


def canvas_colors(w):
    return {lid: b.state.color.name() for lid, b in blocks(w).items()}


def check_plot_colors(w, shown):
    """The gradient plot colours each layer as the canvas does."""
    for lid in w.document.history.layer_ids:
        assert w.gradient_plot.color(lid).name() == shown[lid], lid
        assert w.gradient_plot.curves[lid].opts["pen"].color().name() == shown[lid], lid


def test_every_layer_keeps_its_colour_through_adds_deletes_undo_and_a_save(
    qtbot, new_window, dialogs, tmp_path, monkeypatch
):
    w = new_window()
    open_example(qtbot, w, "xor")
    first = canvas_colors(w)
    check_plot_colors(w, first)

    click_palette(qtbot, w, "dense")  # h1 between h and y
    second = canvas_colors(w)
    assert {lid: second[lid] for lid in first} == first  # y comes after h1 now and keeps its colour
    assert second["h1"] not in first.values()
    check_plot_colors(w, second)

    press(qtbot, w, Qt.Key.Key_0, CTRL)
    drop_from_palette(qtbot, w, monkeypatch, "add", header_point(w, "h"))  # add1, fed by h, before h1 and y
    third = canvas_colors(w)
    assert {lid: third[lid] for lid in second} == second and len(set(third.values())) == 5
    check_plot_colors(w, third)

    click(qtbot, w, header_point(w, "add1"))
    press(qtbot, w, Qt.Key.Key_Delete)
    assert "add1" not in topology(w) and canvas_colors(w) == second
    check_plot_colors(w, second)
    press(qtbot, w, Qt.Key.Key_Z, CTRL)  # the add layer comes back in its own colour
    assert canvas_colors(w) == third
    press(qtbot, w, Qt.Key.Key_Z, CTRL | SHIFT)
    assert canvas_colors(w) == second
    press(qtbot, w, Qt.Key.Key_Z, CTRL)
    check_plot_colors(w, third)

    path = tmp_path / "coloured.json"
    dialogs.save_path = str(path)
    press(qtbot, w, Qt.Key.Key_S, CTRL | SHIFT)  # Save As…
    again = new_window("other.ini")
    assert again.files.open(str(path))
    settle(qtbot)
    assert canvas_colors(again) == third
    check_plot_colors(again, third)


def test_a_drop_on_an_empty_spot_hangs_off_the_block_to_its_left(qtbot, window, monkeypatch):
    w = window
    open_example(qtbot, w, "xor")
    press(qtbot, w, Qt.Key.Key_0, CTRL)
    h = blocks(w)["h"]
    port = h.pos() + h.geometry.out_port
    below_h = QPointF(port.x() + 60, w.canvas.canvas.network_rect().bottom() + 300)  # right of h's port, below all
    drop_from_palette(qtbot, w, monkeypatch, "dense", below_h)
    assert topology(w)["h1"] == ("h",) and topology(w)["y"] == ("h",)  # a drop only adds: y is not rewired
    assert w.document.spec.layer("h1").position == pytest.approx((below_h.x(), below_h.y()), abs=2)
