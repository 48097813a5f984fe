"""The topology canvas turns mouse gestures into edit requests (it never edits the spec itself): connect,
pick, select, delete, move, rename, zoom, palette drops, context menu. Gestures are real mouse events."""

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import QDrag
from PySide6.QtTest import QTest

from bpstudio.gui.canvas import LayerPalette
from tests.gui.canvas_view import (
    LEFT,
    NOMOD,
    at,
    click,
    drag,
    drop,
    edge_point,
    edges,
    header_point,
    network,
    neuron_point,
    recorder,
    shown,
)


def test_dragging_from_an_output_port_to_an_input_port_requests_a_connection(view):
    spec = network(
        [
            {"id": "i", "type": "input", "units": 2, "position": [0, 0]},
            {"id": "h", "type": "dense", "inputs": ["i"], "units": 2, "position": [250, 0]},
            {"id": "x", "type": "dense", "inputs": ["i"], "units": 1, "position": [520, 120]},
        ],
        "h",
    )
    view.show_network(spec, {})
    requests = recorder(view.connect_requested)
    h, x = view.canvas.blocks["h"], view.canvas.blocks["x"]
    start, end = at(view, h.pos() + h.geometry.out_port), at(view, x.pos() + x.geometry.in_port)
    QTest.mousePress(view.viewport(), LEFT, NOMOD, start)
    QTest.mouseMove(view.viewport(), end)
    assert x.drop_target and not h.drop_target  # the block it would connect to lights up
    QTest.mouseRelease(view.viewport(), LEFT, NOMOD, end)
    assert requests == [("h", "x")] and not x.drop_target and spec.layer("x").inputs == ("i",)
    drag(view, start, at(view, QPointF(400, -300)))  # dropped on nothing
    assert requests == [("h", "x")]


def test_clicking_a_line_picks_its_weight_and_clicking_a_neuron_its_bias(view, at_rest):
    picked = recorder(view.param_picked)
    click(view, edge_point(view, "o.weight", (0, 0), 0.5))
    click(view, edge_point(view, "o.weight", (1, 0), 0.75))
    click(view, neuron_point(view, "h", 1))
    click(view, neuron_point(view, "i", 0))  # inputs have no bias
    assert picked == [("o.weight", (0, 0)), ("o.weight", (1, 0)), ("h.bias", (1,))]
    assert view.canvas.overlays["h"].picked == 1


def test_click_and_rubber_band_select_and_delete_requests_the_selection(view, at_rest):
    selected, deletes = recorder(view.layer_selected), recorder(view.delete_requested)
    click(view, header_point(view, "h"))
    assert selected[-1] == ("h",) and view.selected_layers() == ["h"]
    QTest.keyClick(view.viewport(), Qt.Key.Key_Delete)
    assert deletes == [(["h"],)]
    i, h = view.canvas.blocks["i"], view.canvas.blocks["h"]
    corner = i.mapRectToScene(i.geometry.rect).topLeft() - QPointF(30, 30)
    drag(view, at(view, corner), at(view, h.pos()))
    assert view.selected_layers() == ["i", "h"]
    QTest.keyClick(view.viewport(), Qt.Key.Key_Delete)
    assert deletes[-1] == (["i", "h"],)
    click(view, QPointF(200, 600))
    assert view.selected_layers() == [] and selected[-1] == (None,)


def test_dragging_a_block_requests_one_move_on_release(view, mazur, at_rest):
    moves = recorder(view.move_requested)
    start = at(view, header_point(view, "h"))
    drag(view, start, start + QPoint(60, 90), steps=8)
    assert len(moves) == 1 and list(moves[0][0]) == ["h"]
    x, y = moves[0][0]["h"]
    scale = view.transform().m11()
    assert x == pytest.approx(200 + 60 / scale, abs=1.5) and y == pytest.approx(90 / scale, abs=1.5)
    assert edges(view)[("o.weight", (0, 0))].p1.y() == pytest.approx(neuron_point(view, "h", 0).y())  # lines follow
    shown(view, *mazur)  # the edit was not carried out:
    assert view.canvas.blocks["h"].pos() == QPointF(200, 0)  # the canvas shows the spec again


def test_double_clicking_a_title_renames_inline(view, at_rest):
    renames = recorder(view.rename_requested)
    title = at(view, view.canvas.blocks["h"].pos() + view.canvas.blocks["h"].geometry.title_rect.center())
    QTest.mouseDClick(view.viewport(), LEFT, NOMOD, title)
    editor = view.rename_editor
    assert editor.isVisible() and editor.text() == "h"
    QTest.keyClicks(editor, "hidden")
    QTest.keyClick(editor, Qt.Key.Key_Return)
    assert renames == [("h", "hidden")] and not editor.isVisible()
    QTest.mouseDClick(view.viewport(), LEFT, NOMOD, title)
    QTest.keyClicks(editor, "zzz")
    QTest.keyClick(editor, Qt.Key.Key_Escape)
    assert renames == [("h", "hidden")] and not editor.isVisible()


def test_the_network_stays_fitted_to_the_window_until_the_person_zooms(view, at_rest):
    def all_visible():
        visible = view.mapToScene(view.viewport().rect()).boundingRect()
        return all(visible.contains(b.sceneBoundingRect()) for b in view.canvas.blocks.values())

    view.resize(520, 320)
    assert all_visible()
    QTest.keyClick(view.viewport(), Qt.Key.Key_Plus)
    zoomed = view.transform().m11()
    view.resize(900, 600)
    assert view.transform().m11() == pytest.approx(zoomed)
    centre = view.mapToScene(view.viewport().rect().center())
    QTest.mousePress(view.viewport(), Qt.MouseButton.MiddleButton, NOMOD, QPoint(300, 300))  # middle-drag pans
    QTest.mouseMove(view.viewport(), QPoint(200, 250))
    QTest.mouseRelease(view.viewport(), Qt.MouseButton.MiddleButton, NOMOD, QPoint(200, 250))
    moved = view.mapToScene(view.viewport().rect().center()) - centre
    assert (moved.x(), moved.y()) == pytest.approx((100 / zoomed, 50 / zoomed), abs=1)
    view.zoom_by(3.0)
    assert view.transform().m11() == pytest.approx(3 * zoomed) and not all_visible()
    view.fit_all()
    assert all_visible()


def test_palette_click_and_drop_request_a_new_layer(view, at_rest, qtbot, monkeypatch):
    qtbot.addWidget(palette := LayerPalette())
    palette.show()
    clicked, adds = recorder(palette.add_clicked), recorder(view.add_requested)
    QTest.mouseClick(palette.buttons["dense"], LEFT)
    dragged = []  # a real QDrag.exec would run its own event loop and block the test
    monkeypatch.setattr(QDrag, "exec", lambda drag, *_: dragged.append(drag.mimeData()))
    button = palette.buttons["concat"]
    QTest.mousePress(button, LEFT, NOMOD, QPoint(5, 5))
    QTest.mouseMove(button, QPoint(40, 30))
    QTest.mouseRelease(button, LEFT, NOMOD, QPoint(40, 30))
    assert len(dragged) == 1 and clicked == [("dense",)]
    where = QPointF(300, 400)
    assert drop(view, at(view, where), dragged[0])  # on an empty spot: there
    layer_type, got_source, (x, y) = adds[-1]
    assert (layer_type, got_source) == ("concat", None)
    assert (x, y) == pytest.approx((where.x(), where.y()), abs=2)
    assert drop(view, at(view, header_point(view, "h")), dragged[0])  # onto a block: after it (placed beside it)
    assert adds[-1] == ("concat", "h", None)
    (other := QMimeData()).setText("dense")  # plain text is not a palette button
    assert not drop(view, QPoint(10, 10), other) and len(adds) == 2


def test_context_menu_offers_adding_and_tidying(view, at_rest):
    adds, tidies = recorder(view.add_requested), recorder(view.tidy_requested)
    actions = {a.text(): a for a in view.context_menu(QPointF(200, 500)).actions()}
    actions["Add Dense here"].trigger()
    actions["Tidy layout"].trigger()
    assert adds == [("dense", None, (200.0, 500.0))] and tidies == [()]
    block_menu = {a.text(): a for a in view.context_menu(header_point(view, "o")).actions()}
    block_menu["Add Dense after o"].trigger()
    assert adds[-1][:2] == ("dense", "o") and adds[-1][2][0] > 400
