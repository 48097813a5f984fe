"""The Timeline as a teacher uses it in the window: train, go back to a step kept while training (its values on
the canvas and in the chain-rule panel), train on (a branch named after that step), undo and redo across it
(the plots come back whole), switch branches (plots and ratio follow), discard one without switching to it,
and one step numbering on the Timeline, the status bar, the plots, the metrics CSV and the trace export."""

from __future__ import annotations

import csv

import numpy as np
import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt

from bpstudio.gui.inspectors.explanation import NO_STEP
from bpstudio.gui.tools.export_dialogs import export_metrics_csv, export_trace_npz
from tests.gui.canvas_points import neuron_text
from tests.gui.driving import CTRL, SHIFT, click_canvas, press, settle
from tests.gui.reference import headless
from tests.gui.test_timeline_panel import slide_to


def train_until(qtbot, w, at_least):
    """Play at full speed until the run is past step ``at_least``, then Pause."""
    doc = w.document
    w.window_actions.speed.setCurrentText("max")
    w.window_actions.play.trigger()
    qtbot.waitUntil(lambda: doc.session.step_count > at_least, timeout=20000)
    w.window_actions.play.trigger()
    qtbot.waitUntil(lambda: not w.training.running, timeout=5000)
    settle(qtbot)


def loss_curve(w):
    """What the loss plot draws (all its points), after the window's redraw."""
    w.loss_plot.refresh()
    curve = w.loss_plot.train_curve
    if curve.xData is None:  # (nothing drawn)
        return [], []
    return np.asarray(curve.xData).tolist(), np.asarray(curve.yData).tolist()


def pick_branch(qtbot, w, branch):
    panel = w.timeline_panel
    panel.branches.setCurrentIndex(panel.branches.findData(branch))
    panel.branches.activated.emit(panel.branches.currentIndex())
    settle(qtbot)


def metrics_steps(w, dialogs, path):
    dialogs.save_path = str(path)
    assert export_metrics_csv(w)
    return [int(row["step"]) for row in csv.DictReader(open(path, encoding="utf-8"))]


def test_back_to_a_kept_step_branch_undo_redo_and_switch_keep_the_plots_whole(qtbot, window, dialogs, tmp_path):
    w, doc = window, window.document  # the XOR example
    panel, timeline = w.timeline_panel, doc.rewind.timeline
    train_until(qtbot, w, 600)
    while len(panel.steps) < 4:  # (states are kept at the worker's reports, ten a second: a fast machine trains
        train_until(qtbot, w, doc.session.step_count + 2000)  # 600 steps before the first)
    first_curve, first_ratio, end = loss_curve(w), w.gradient_plot.ratio_label.text(), doc.session.step_count
    assert first_curve[0][-1] == end and panel.steps[-1] == end
    w.docks["explanation"].raise_()
    k = next(s for s in panel.steps if s > end // 3 and s - 1 not in panel.steps)  # kept at a report, its
    slide_to(qtbot, w, k)  # step before not kept: the values are recomputed from further back

    assert doc.session.step_count == k and f"step {k}</b> of {end}" in panel.position.text()
    reference = headless("xor", k, batch_size=doc.session.batch_size)[1][-1]
    assert doc.trace is not None and doc.trace.step == k and doc.trace.loss == reference.loss
    out = reference.layers["h"].out[0]
    assert float(neuron_text(w, "h", 0)[0]) == pytest.approx(out[0], rel=1e-3)  # step k's first sample, rounded
    w.docks["explanation"].raise_()
    settle(qtbot)
    shown = w.explanation.text()
    assert NO_STEP not in shown and "Recorded by the backward pass" in shown and "✓ matches" in shown
    assert loss_curve(w)[0][-1] == k

    train_until(qtbot, w, k + 300)  # on from step k: a branch
    branched, branched_end = loss_curve(w), doc.session.step_count
    assert panel.branches.count() == 2
    assert panel.branches.itemText(panel.branches.currentIndex()).endswith(f"from step {k} of branch 0")
    assert metrics_steps(w, dialogs, tmp_path / "branch.csv") == list(range(1, branched_end + 1))

    for expected in (k, end, 0):  # undo the run, the jump and the first run
        press(qtbot, w, Qt.Key.Key_Z, CTRL)
        assert doc.session.step_count == expected
    assert loss_curve(w) == ([], [])
    for _ in range(3):
        press(qtbot, w, Qt.Key.Key_Z, CTRL | SHIFT)
    assert doc.session.step_count == branched_end and loss_curve(w) == branched
    assert metrics_steps(w, dialogs, tmp_path / "redone.csv") == list(range(1, branched_end + 1))  # no gap

    pick_branch(qtbot, w, 0)  # the first run again: its weights, its curves, its gradient ratio
    assert timeline.current == 0 and doc.session.step_count == end
    assert loss_curve(w) == first_curve and w.gradient_plot.ratio_label.text() == first_ratio

    actions = panel.discard.menu().actions()  # branch 1 can go without switching to it
    assert panel.discard.isEnabled() and [a.text() for a in actions] == [
        f"Discard branch 1: steps 0–{branched_end}, from step {k} of branch 0"
    ]
    actions[0].trigger()
    settle(qtbot)
    assert list(timeline.branches) == [0] and doc.session.step_count == end and panel.branches.count() == 1
    assert not panel.discard.isEnabled() and loss_curve(w) == first_curve


def test_one_step_numbering_on_the_timeline_status_bar_plots_csv_and_trace_export(qtbot, window, dialogs, tmp_path):
    w = window
    click_canvas(qtbot, w)
    for _ in range(5):
        press(qtbot, w, Qt.Key.Key_S)
    assert "<b>step 5</b> of 5" in w.timeline_panel.position.text()
    assert "after step 5 ·" in w.window_actions.phase_label.text()
    assert loss_curve(w)[0][-1] == 5
    assert metrics_steps(w, dialogs, tmp_path / "m.csv") == [1, 2, 3, 4, 5]
    dialogs.save_path = str(tmp_path / "trace.npz")
    assert export_trace_npz(w) and "Exported step 5's trace" in w.statusBar().currentMessage()
    with np.load(tmp_path / "trace.npz") as saved:
        assert int(saved["step"]) == 5 and float(saved["loss"]) == loss_curve(w)[1][-1]


def test_a_reopened_session_shows_its_one_kept_step_at_the_end_of_the_slider(qtbot, window, dialogs, tmp_path):
    w, doc = window, window.document
    train_until(qtbot, w, 100)
    end = doc.session.step_count
    doc.save(str(tmp_path / "run.json"))
    w.files.open(str(tmp_path / "run.json"))
    settle(qtbot)
    panel = w.timeline_panel
    assert panel.steps == [end] and f"step {end}</b> of {end}" in panel.position.text()
    assert panel.slider.value() == panel.slider.maximum() > panel.slider.minimum()  # the handle at the end
    assert not panel.slider.isEnabled() and f"Only step {end} is kept" in panel.memory.text()
