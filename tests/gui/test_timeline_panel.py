"""Rewind and branch in the window: the Timeline panel's slider goes back to a step (canvas, inspector and
plots show it), stepping on from there starts a branch, and the old continuation can be gone back to."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt

from tests.gui.driving import CTRL, click_canvas, open_example, press, settle
from tests.gui.reference import headless


def slide_to(qtbot, w, step):
    """Drag the slider to ``step`` and let go, as a person would (the release asks to go there)."""
    panel = w.timeline_panel
    w.docks["timeline"].raise_()
    settle(qtbot)
    panel.slider.setSliderDown(True)
    panel.slider.setValue(panel.steps.index(step))
    panel.slider.setSliderDown(False)  # (emits sliderReleased)
    settle(qtbot)


def test_going_back_shows_that_step_and_stepping_on_starts_a_branch(qtbot, window):
    w, doc = window, window.document
    open_example(qtbot, w, "mazur")
    click_canvas(qtbot, w)
    for _ in range(5):
        press(qtbot, w, Qt.Key.Key_S)
    panel = w.timeline_panel
    assert panel.steps == [0, 1, 2, 3, 4, 5] and "step 5" in panel.position.text()

    slide_to(qtbot, w, 2)
    session, traces = headless("mazur", 2)
    assert doc.session.step_count == 2
    for key, value in session.params_numpy().items():
        np.testing.assert_allclose(doc.params()[key], value, rtol=0, atol=1e-12)
    assert doc.trace is not None and doc.trace.loss == pytest.approx(traces[1].loss, abs=1e-12)  # step 2's values
    assert len(doc.history) == 2 and w.canvas.canvas.blocks["o"]._loss_text.startswith("loss ")
    assert "Go to step 2" in [doc.undo_stack.text(i) for i in range(doc.undo_stack.count())]

    click_canvas(qtbot, w)
    press(qtbot, w, Qt.Key.Key_S)  # stepping on from step 2 starts a branch
    timeline = doc.rewind.timeline
    assert len(timeline.branches) == 2 and timeline.steps() == [0, 1, 2, 3] and panel.branches.count() == 2
    first = next(b for b in timeline.branches if b != timeline.current)
    assert timeline.steps(first)[-1] == 5  # the old continuation is kept

    panel.branches.setCurrentIndex(panel.branches.findData(first))
    panel.branches.activated.emit(panel.branches.currentIndex())
    settle(qtbot)
    assert timeline.current == first and doc.session.step_count == 5
    press(qtbot, w, Qt.Key.Key_Z, CTRL)  # going is undoable like any edit
    assert doc.session.step_count == 3


def test_the_timeline_refuses_while_training_and_records_as_it_trains(qtbot, window):
    w, doc = window, window.document
    w.window_actions.play.trigger()
    qtbot.waitUntil(lambda: doc.session.step_count > 200, timeout=5000)
    assert not w.timeline_panel.slider.isEnabled()
    assert doc.rewind.go_to(0) is False  # refused while training: pause first
    w.window_actions.play.trigger()
    steps = doc.rewind.timeline.steps()
    assert steps[0] == 0 and steps[-1] == doc.session.step_count and len(steps) >= 2
    assert w.timeline_panel.slider.isEnabled() and doc.rewind.go_to(steps[1])
    assert doc.session.step_count == steps[1]


def test_opening_another_network_starts_the_timeline_again(qtbot, window):
    w, doc = window, window.document
    click_canvas(qtbot, w)
    press(qtbot, w, Qt.Key.Key_S)
    w.timeline_panel.grab().save("/tmp/timeline_panel.png")
    open_example(qtbot, w, "spiral")
    assert doc.rewind.timeline.steps() == [0] and len(doc.rewind.timeline.branches) == 1
