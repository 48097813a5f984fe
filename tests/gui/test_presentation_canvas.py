"""Presentation mode on a 1024×768 projector, read as the back row reads it: the canvas's numbers at their size
on screen (a font's pixel size through the view's scale), the whole network in view, and the plots still shown."""

import pytest

pytest.importorskip("PySide6")

from PySide6.QtWidgets import QApplication

from tests.gui.driving import open_example, settle

PROJECTOR = (1024, 768)
VALUE_PX, OTHER_PX = 14, 11  # neuron values; "net" lines, weight labels and the phase label


def on_screen(w, px):
    """How many screen pixels a canvas font of ``px`` (scene pixels) takes at the view's present scale."""
    return px * w.canvas.transform().m11()


@pytest.mark.parametrize(("example", "phases"), [("xor", ["forward"] * 2), ("mazur", ["forward"] * 3 + ["backward"])])
def test_at_1024_by_768_the_canvas_numbers_read_from_the_back_of_the_room(qtbot, window, example, phases):
    w = window
    w.resize(*PROJECTOR)
    open_example(qtbot, w, example)
    for phase in phases:
        getattr(w.window_actions, phase).trigger()
        settle(qtbot)
    w.window_actions.presentation.trigger()
    settle(qtbot)
    assert (w.width(), w.height()) == PROJECTOR
    scene = w.canvas.canvas
    # the whole network in view, fitted as the docks settled
    qtbot.waitUntil(lambda: w.canvas.on_screen().contains(w.canvas.content_rect()), timeout=3000)
    shown = [o for o in scene.overlays.values() if any(main for main, _ in o.texts)]
    assert len(shown) >= 2
    for overlay in shown:
        assert on_screen(w, overlay.value_px) >= VALUE_PX, (overlay.layer_id, on_screen(w, overlay.value_px))
    nets = [o for o in scene.overlays.values() if any(sub.startswith("net ") for _, sub in o.texts)]
    assert nets
    for overlay in nets:
        assert on_screen(w, overlay.geo.fonts.net.pixelSize()) >= OTHER_PX
        bottom = overlay.geo.rect.bottom() - 1  # (the "net" lines above the block's border, not on or below it)
        lines = [overlay.net_rect(k) for k, (_, sub) in enumerate(overlay.texts) if sub.startswith("net ")]
        assert all(r.bottom() <= bottom for r in lines), (overlay.layer_id, bottom, lines[-1])
    labelled = [e for e in scene.unit_edges.values() if e.labels]
    assert labelled
    for edges in labelled:
        assert on_screen(w, edges.label_set.font.pixelSize()) >= OTHER_PX
        rects = [edges.label_rect(i) for i in edges.label_set.lines]
        assert not any(a.intersects(b) for k, a in enumerate(rects) for b in rects[k + 1 :]), edges.labels
    phased = [b for b in scene.blocks.values() if b.state is not None and b.state.phase_label]
    assert phased and on_screen(w, phased[0].geometry.fonts.phase.pixelSize()) >= OTHER_PX
    for chart in (w.loss_plot, w.gradient_plot):  # the plots stay in view beside it
        assert chart.view.isVisible() and chart.view.width() >= 300 and chart.view.height() >= 80, chart.view.size()
    # and back: the usual look, fonts and sizes as before
    w.window_actions.presentation.trigger()
    settle(qtbot)
    assert not scene.presenting and QApplication.font().pointSizeF() == w._base_font.pointSizeF()
    assert all(o.geo.metrics.digits in (2, 3, 4) and not o.geo.presenting for o in scene.overlays.values())
