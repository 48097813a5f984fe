"""While training, every view paints inside the GUI thread's turns (the worker waits meanwhile): a view that
painted a second time after its turn shared Python's interpreter with the worker and slowed both."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QEvent, QObject

import bpstudio.gui.main_window as main_window
from tests.gui.driving import open_example, settle


class PaintCounter(QObject):
    """Counts a widget's paint events, split by whether they came inside a turn's painting or not."""

    def __init__(self, turn: dict[str, bool]):
        super().__init__()
        self.turn = turn
        self.inside = self.outside = 0

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            if self.turn["painting"]:
                self.inside += 1
            else:
                self.outside += 1
        return False


@pytest.mark.parametrize("example", ["xor", "deep_sigmoid"])
def test_the_canvas_and_the_plots_paint_only_in_their_turns(qtbot, window, monkeypatch, example):
    w = window
    open_example(qtbot, w, example)
    w.training.set_speed(None)
    settle(qtbot)
    turn = {"painting": False}
    paint_now = main_window.paint_now

    def painting_in_turn(viewport):
        turn["painting"] = True
        try:
            paint_now(viewport)
        finally:
            turn["painting"] = False

    monkeypatch.setattr(main_window, "paint_now", painting_in_turn)
    views = {
        "canvas": w.canvas.viewport(),
        "data": w.data_panel.plot.plot_widget.viewport(),
        "loss": w.loss_plot.view.viewport(),
        "gradients": w.gradient_plot.view.viewport(),
    }
    counters = {name: PaintCounter(turn) for name in views}
    for name, viewport in views.items():
        viewport.installEventFilter(counters[name])
    w.training.start()
    try:
        qtbot.waitUntil(lambda: all(c.inside >= 1 for c in counters.values()), timeout=30000)
        for c in counters.values():  # (from here on: the run's own turns, not what starting it painted)
            c.inside = c.outside = 0
        qtbot.waitUntil(lambda: all(c.inside >= 6 for c in counters.values()), timeout=60000)
    finally:
        for name, viewport in views.items():
            viewport.removeEventFilter(counters[name])
        w.training.stop()
    # (a view painted again after each turn; a rare one may still follow a layout change the turn set off, such
    # as the gradient readout's label growing)
    assert all(c.outside <= 1 for c in counters.values()), {name: c.outside for name, c in counters.items()}
