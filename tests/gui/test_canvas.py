"""The topology canvas draws what the spec, the parameters and the trace say, and turns mouse gestures
into edit requests (it never edits the spec itself). Gestures are real mouse events on the viewport."""

import dataclasses
import time

import numpy as np
import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QEvent, QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import QDrag, QDragEnterEvent, QDragMoveEvent, QDropEvent, QHelpEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QToolTip

from bpstudio.core import presets, spec_io
from bpstudio.core.data import Dataset
from bpstudio.core.datasets import resolve_split
from bpstudio.core.session import Phase, Session
from bpstudio.gui.canvas import LayerPalette, TopologyView
from bpstudio.gui.colors import HIGHLIGHT, NEGATIVE, POSITIVE, signed_color

LEFT = Qt.MouseButton.LeftButton
NOMOD = Qt.KeyboardModifier.NoModifier


@pytest.fixture
def mazur():
    spec = presets.load("mazur")
    return spec, Session(spec, resolve_split(spec.data)[0])


@pytest.fixture
def view(qtbot):
    v = TopologyView()
    qtbot.addWidget(v)
    v.resize(1000, 620)
    v.show()
    qtbot.waitExposed(v)
    return v


@pytest.fixture
def at_rest(view, mazur):  # the view showing Mazur's network before any step
    shown(view, *mazur)
    return view


def shown(view, spec, session, phase=None):
    view.show_network(spec, session.params_numpy(), session.trace and session.trace.to_numpy(), phase)


def at(view, scene_point):  # the viewport pixel of a scene point
    return view.mapFromScene(scene_point)


def neuron_point(view, layer, unit):
    return view.canvas.blocks[layer].pos() + view.canvas.blocks[layer].geometry.neuron_center(unit)


def header_point(view, layer):
    return view.canvas.blocks[layer].pos() + view.canvas.blocks[layer].geometry.header.center() + QPointF(0, 10)


def edges(view):
    return {(e.key, e.index): e for e in view.canvas.weight_edges()}


def edge_point(view, key, index, t=0.5):
    edge = edges(view)[(key, index)]
    return edge.p1 + (edge.p2 - edge.p1) * t


def click(view, scene_point):
    QTest.mouseClick(view.viewport(), LEFT, NOMOD, at(view, scene_point))


def drag(view, start, end, steps=6):
    QTest.mousePress(view.viewport(), LEFT, NOMOD, start)
    for k in range(1, steps + 1):
        QTest.mouseMove(view.viewport(), start + (end - start) * k / steps)
    QTest.mouseRelease(view.viewport(), LEFT, NOMOD, end)


def tooltip(view, scene_point):
    pos = at(view, scene_point)
    QApplication.sendEvent(view.viewport(), QHelpEvent(QEvent.Type.ToolTip, pos, view.viewport().mapToGlobal(pos)))
    return QToolTip.text()


def network(layers, output):
    return spec_io.from_dict({"format": "bpstudio-network", "version": 1, "layers": layers, "output": output,
                              "loss": "mse"})


def drop(view, point, mime):
    """What a drag from the palette delivers to the viewport: enter, move, drop. True if it was accepted."""
    vp, copy = view.viewport(), Qt.DropAction.CopyAction
    events = (QDragEnterEvent(point, copy, mime, LEFT, NOMOD), QDragMoveEvent(point, copy, mime, LEFT, NOMOD),
              QDropEvent(QPointF(point), copy, mime, LEFT, NOMOD))
    for event in events:
        QApplication.sendEvent(vp, event)
        if not event.isAccepted():
            return False
    return True


def recorder(signal):
    seen = []
    signal.connect(lambda *args: seen.append(args))
    return seen


def test_mazur_draws_six_neurons_and_eight_weight_lines_labelled_with_their_weights(view, at_rest):
    assert view.canvas.neuron_count() == 6
    lines = edges(view)
    assert len(view.canvas.weight_edges()) == len(lines) == 8
    assert lines[("h.weight", (0, 0))].label == "0.15" and lines[("o.weight", (1, 1))].label == "0.55"
    # w5 = o.weight[0, 0] runs from h[0] to o[0]: it starts at h[0]'s circle and ends at o[0]'s
    w5 = lines[("o.weight", (0, 0))]
    assert (w5.p1.y(), w5.p2.y()) == pytest.approx((neuron_point(view, "h", 0).y(), neuron_point(view, "o", 0).y()))
    assert w5.p1.x() > neuron_point(view, "h", 0).x() and w5.p2.x() < neuron_point(view, "o", 0).x()
    # the bias is no separate node: it sits under its neuron and in the tooltip
    assert view.canvas.overlays["h"].texts[0] == ("", "b 0.35")
    assert "0.35" in tooltip(view, neuron_point(view, "h", 0)) and "frozen" in QToolTip.text()


def test_line_colour_follows_the_sign_and_thickness_follows_the_magnitude(view, mazur):
    spec, session = mazur
    params = session.params_numpy()
    params["o.weight"] = np.array([[0.4, -0.9], [0.01, 0.55]])
    view.show_network(spec, params)
    lines = edges(view)
    negative, positive, tiny = lines[("o.weight", (0, 1))], lines[("o.weight", (0, 0))], lines[("o.weight", (1, 0))]
    assert negative.color.rgb() == NEGATIVE.rgb() and positive.color.rgb() == POSITIVE.rgb()
    assert negative.width == pytest.approx(5.0)                       # the network's largest |w| is 5 px
    assert positive.width == pytest.approx(5 * 0.4 / 0.9, abs=0.13)
    assert lines[("h.weight", (0, 0))].width == pytest.approx(5 * 0.15 / 0.9, abs=0.13)  # one scale per network
    assert tiny.width == pytest.approx(0.5)                           # never thinner than 0.5 px
    # and on screen: a point on the negative line (away from crossings and labels) is blue
    image = view.viewport().grab().toImage()
    pixel = image.pixelColor(at(view, edge_point(view, "o.weight", (0, 1), 0.15)))
    assert pixel.blue() > 150 and pixel.red() < 120


def test_after_the_forward_of_h_its_neurons_show_their_values(view, mazur):
    spec, session = mazur
    session.advance()                                                  # forward h
    shown(view, spec, session, session.next_phase)
    h = view.canvas.overlays["h"]
    assert h.texts[0] == ("0.5933", "net 0.3775") and h.texts[1][0] == "0.5969"
    assert view.canvas.overlays["i"].texts[0][0] == "0.05"
    assert view.canvas.overlays["o"].texts[0][0] == ""                 # o's forward has not run yet
    text = tooltip(view, neuron_point(view, "h", 0))
    assert "0.593269992" in text and "0.3775" in text and "sample" not in text   # a batch of one
    assert view.canvas.blocks["o"].state.phase_label == "forward →"    # the next phase is o's forward
    assert view.canvas.blocks["o"]._border.color() == HIGHLIGHT
    shown(view, spec, session, Phase("loss"))                          # during the loss: the output layer
    assert [b.state.phase_label for b in view.canvas.blocks.values()] == [None, None, "loss"]


def test_after_the_backward_of_o_its_lines_show_gradients(view, mazur):
    spec, session = mazur
    for _ in range(4):                                                 # forward h, forward o, loss, backward o
        session.advance()
    shown(view, spec, session, session.next_phase)
    lines = edges(view)
    w5, w7 = lines[("o.weight", (0, 0))], lines[("o.weight", (1, 0))]
    assert w5.label == "0.0822" and w7.label == "-0.0226" and w7.color.rgb() == NEGATIVE.rgb()
    # thickness now follows |gradient| (w6 = 0.08266763 is the largest), colour its sign
    assert w5.width == pytest.approx(5 * 0.082167041 / 0.082667628, abs=0.13) and w5.color.rgb() == POSITIVE.rgb()
    assert lines[("h.weight", (0, 0))].label == "0.15"                 # h's backward has not run: still weights
    assert "0.08216704" in tooltip(view, edge_point(view, "o.weight", (0, 0)))
    assert view.canvas.blocks["h"].state.phase_label == "← backward"
    assert view.canvas.blocks["o"]._loss_text == "loss 0.2984"
    assert view.legend.isVisible() and "gradients" in view.legend.text()


def test_after_the_update_the_lines_show_the_new_weights_and_the_tooltip_the_change(view, mazur):
    spec, session = mazur
    session.step()                                                     # ... backward h, update
    shown(view, spec, session, session.next_phase)
    lines = edges(view)
    assert lines[("o.weight", (0, 0))].label == "0.359"                # Mazur's w5+ = 0.35891648
    assert "0.1497807" in tooltip(view, edge_point(view, "h.weight", (0, 0)))   # w1+ = 0.149780716
    assert not any(e.showing_grad for e in view.canvas.unit_edges.values())
    tip = tooltip(view, edge_point(view, "o.weight", (0, 0)))
    assert "0.35891648" in tip and "before the update" in tip and "0.4" in tip and "0.08216704" in tip
    assert "weights" in view.legend.text() and "gradients ∂E/∂w —" not in view.legend.text()


def test_big_layers_are_blocks_with_a_heat_strip_joined_by_arrows(view):
    spec = presets.load("spiral")
    session = Session(spec, data := resolve_split(spec.data)[0])
    shown(view, spec, session)
    assert set(view.canvas.arrows) == {("x", "h1"), ("h1", "h2"), ("h2", "logits")} and not view.canvas.unit_edges
    assert view.canvas.neuron_count() == 2 + 3
    h1 = view.canvas.blocks["h1"]
    assert h1.heat_caption.startswith("bias")
    session.advance()
    shown(view, spec, session, session.next_phase)
    assert h1.heat_caption.startswith("out, sample 1")
    out = session.trace.to_numpy().layers["h1"].out[0]
    scale = np.abs(out).max()
    image = view.viewport().grab().toImage()
    for unit in (0, 5, 17, 31):
        geo = h1.geometry
        cell = QPointF(geo.heat_rect.left() + (unit % 16 + 0.5) * 11, geo.heat_rect.top() + (unit // 16 + 0.5) * 11)
        want, got = signed_color(float(out[unit]), scale), image.pixelColor(at(view, h1.pos() + cell))
        assert abs(want.red() - got.red()) + abs(want.green() - got.green()) + abs(want.blue() - got.blue()) < 30
    text = tooltip(view, h1.pos() + QPointF(geo.heat_rect.left() + 5.5 * 11, geo.heat_rect.top() + 5))
    assert "h1[5]" in text and f"sample 1 of {len(data)}" in text    # the batch is the whole data set


def test_concat_and_add_link_units_one_to_one(view):
    spec = network([{"id": "x", "type": "input", "units": 2}, {"id": "a", "type": "dense", "inputs": ["x"], "units": 2},
                    {"id": "b", "type": "dense", "inputs": ["x"], "units": 3},
                    {"id": "c", "type": "concat", "inputs": ["a", "b"]},
                    {"id": "s", "type": "add", "inputs": ["a", "x"]}], "c")
    view.show_network(spec, {})
    def links(source, target):  # (target unit, source unit) of each line
        item = view.canvas.unit_edges[(source, target)]
        return list(zip(item.rows.tolist(), item.cols.tolist()))

    assert links("b", "c") == [(2, 0), (3, 1), (4, 2)] and links("a", "c") == [(0, 0), (1, 1)]
    assert links("a", "s") == [(0, 0), (1, 1)]
    assert view.canvas.neuron_count() == 2 + 2 + 3 + 5 + 2
    # positions were not given: laid out left to right by depth
    xs = {lid: b.pos().x() for lid, b in view.canvas.blocks.items()}
    assert xs["x"] < xs["a"] == xs["b"] < xs["c"] == xs["s"]
    # x → s skips over the column of a and b: one arrow arching above them instead of lines through them
    assert ("x", "s") in view.canvas.arrows
    top_of_middle = min(view.canvas.blocks[i].sceneBoundingRect().top() for i in ("a", "b"))
    assert view.canvas.arrows[("x", "s")].sceneBoundingRect().top() < top_of_middle


def test_a_deep_network_redraws_in_well_under_50_ms(view):
    spec = network([{"id": "h0", "type": "input", "units": 16}] + [
        {"id": f"h{k}", "type": "dense", "inputs": [f"h{k - 1}"], "units": 16, "activation": "sigmoid"}
        for k in range(1, 11)], "h10")
    session = Session(spec, Dataset(np.random.default_rng(0).normal(size=(8, 16)), np.zeros((8, 16))))
    for _ in range(15):
        session.advance()
    trace, params = session.trace.to_numpy(), session.params_numpy()
    view.show_network(spec, params, trace, session.next_phase)
    assert len(view.canvas.weight_edges()) == 10 * 256
    assert min(timed(view, lambda: view.show_network(spec, params, trace, session.next_phase)) for _ in range(5)) < 0.05
    preset = presets.load("deep_sigmoid")
    preset_session = Session(preset, resolve_split(preset.data)[0])
    assert min(timed(view, lambda: shown(view, preset, preset_session)) for _ in range(5)) < 0.05


def timed(view, redraw):
    start = time.perf_counter()  # the redraw, painting the whole viewport included
    redraw()
    view.viewport().update()
    QApplication.processEvents()
    return time.perf_counter() - start


def test_dragging_from_an_output_port_to_an_input_port_requests_a_connection(view):
    spec = network([{"id": "i", "type": "input", "units": 2, "position": [0, 0]},
                    {"id": "h", "type": "dense", "inputs": ["i"], "units": 2, "position": [250, 0]},
                    {"id": "x", "type": "dense", "inputs": ["i"], "units": 1, "position": [520, 120]}], "h")
    view.show_network(spec, {})
    requests = recorder(view.connect_requested)
    h, x = view.canvas.blocks["h"], view.canvas.blocks["x"]
    start, end = at(view, h.pos() + h.geometry.out_port), at(view, x.pos() + x.geometry.in_port)
    QTest.mousePress(view.viewport(), LEFT, NOMOD, start)
    QTest.mouseMove(view.viewport(), end)
    assert x.drop_target and not h.drop_target                         # the block it would connect to lights up
    QTest.mouseRelease(view.viewport(), LEFT, NOMOD, end)
    assert requests == [("h", "x")] and not x.drop_target and spec.layer("x").inputs == ("i",)
    drag(view, start, at(view, QPointF(400, -300)))                    # dropped on nothing
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
    shown(view, *mazur)                                                 # the edit was not carried out:
    assert view.canvas.blocks["h"].pos() == QPointF(200, 0)             # the canvas shows the spec again


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


def test_non_finite_and_stale_values_are_drawn_without_failing(view, mazur):
    spec, session = mazur
    stale = np.zeros((3, 2))                                           # the wrong shape: the spec's weights are drawn
    view.show_network(spec, {"o.weight": np.array([[np.nan, np.inf], [-np.inf, 0.5]]), "h.weight": stale})
    lines = edges(view)
    assert (lines[("o.weight", (0, 0))].label, lines[("o.weight", (0, 0))].width) == ("nan", 0.5)
    assert (lines[("o.weight", (0, 1))].label, lines[("o.weight", (0, 1))].width) == ("inf", 5.0)
    assert lines[("h.weight", (0, 0))].label == "0.15"
    session.advance()
    wider = dataclasses.replace(spec, layers=tuple(
        dataclasses.replace(lay, units=3, weight=None, bias=None) if lay.id == "h"
        else dataclasses.replace(lay, weight=None) if lay.id == "o" else lay for lay in spec.layers))
    shown(view, wider, session)                                        # a trace from before h got a third unit
    assert [t for t, _ in view.canvas.overlays["h"].texts] == ["", "", ""]
    assert view.canvas.overlays["i"].texts[0][0] == "0.05"


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
    for where, source in ((QPointF(300, 400), None), (header_point(view, "h"), "h")):
        assert drop(view, at(view, where), dragged[0])
        layer_type, got_source, (x, y) = adds[-1]
        assert (layer_type, got_source) == ("concat", source)
        assert (x, y) == pytest.approx((where.x(), where.y()), abs=2)
    (other := QMimeData()).setText("dense")                            # plain text is not a palette button
    assert not drop(view, QPoint(10, 10), other) and len(adds) == 2


def test_refusal_banner_shows_the_reason_until_cleared(view, mazur):
    spec, session = mazur
    view.show_refusal("the network already has an input layer ('i')")    # a strip along the top:
    assert view.banner.isVisible() and "already has an input layer" in view.banner.text() and view.banner.y() < 40
    shown(view, spec, session)                                           # a redraw keeps the reason up
    assert view.banner.isVisible()
    view.banner.clear_message()                                          # (the window does this on a good edit)
    assert not view.banner.isVisible()
    view.show_network(spec, session.params_numpy(), refused="an add layer needs inputs of equal width")
    assert view.banner.isVisible() and "equal width" in view.banner.text()


def test_context_menu_offers_adding_and_tidying(view, at_rest):
    adds, tidies = recorder(view.add_requested), recorder(view.tidy_requested)
    actions = {a.text(): a for a in view.context_menu(QPointF(200, 500)).actions()}
    actions["Add Dense here"].trigger()
    actions["Tidy layout"].trigger()
    assert adds == [("dense", None, (200.0, 500.0))] and tidies == [()]
    block_menu = {a.text(): a for a in view.context_menu(header_point(view, "o")).actions()}
    block_menu["Add Dense after o"].trigger()
    assert adds[-1][:2] == ("dense", "o") and adds[-1][2][0] > 400
