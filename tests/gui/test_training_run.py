"""Training in the assembled window: Play/Pause, the plots following the run, undo/redo of training, settings
changed while it trains, and switching backends. Every run is compared with a headless core Session."""

import functools

import numpy as np
import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from bpstudio.core.init import initial_params
from bpstudio.core.io import presets
from bpstudio.core.record.history import TrainingHistory
from bpstudio.core.record.smoothing import smoothed_norms, window_for
from tests.gui import reference
from tests.gui.driving import (
    CTRL,
    LEFT,
    SHIFT,
    history_texts,
    open_example,
    press,
    settle,
    type_into_field,
)
from tests.gui.reference import LOSS, O_WEIGHT_AFTER, headless

# a window's run against a headless one: equal to 1e-12 unless a test asks for more
same_params = functools.partial(reference.same_params, tol=1e-12)


# === 4. training ==============================================================================================


def test_play_trains_the_plots_follow_and_undo_takes_the_run_back(qtbot, window):
    w = window
    doc = w.document
    start = {k: v.copy() for k, v in doc.params().items()}
    same_params(start, initial_params(presets.load("xor")))
    press(qtbot, w, Qt.Key.Key_P)  # Play
    assert w.training.running and w.window_actions.play.isChecked() and not w.window_actions.forward.isEnabled()
    qtbot.waitUntil(
        lambda: len(doc.history) >= 300 and "training · after step" in w.window_actions.phase_label.text(),
        timeout=10000,
    )
    press(qtbot, w, Qt.Key.Key_P)  # Pause
    assert not w.training.running and w.training.worker is None and not w.window_actions.play.isChecked()
    n = doc.session.step_count
    assert n >= 300 and len(doc.history) == n
    assert f"after step {n} · loss" in w.window_actions.phase_label.text()

    # the run is exactly the core's: the same weights, and the plot history of its per-step losses and
    # gradient norms (past the history's capacity, neighbouring steps merge the same way in both)
    session, traces = headless("xor", n)
    same_params(doc.params(), session.params_numpy())
    expected = TrainingHistory(("h", "y"))
    for t in traces:
        expected.record(t.step, t.loss, t.grad_norms())
    np.testing.assert_array_equal(doc.history.steps(), expected.steps())
    np.testing.assert_allclose(doc.history.losses(), expected.losses(), rtol=0, atol=1e-12)
    assert doc.history.losses()[-1] < 0.5 * doc.history.losses()[0]  # the loss fell on XOR

    # the plots received the history's points
    points = len(expected.steps())
    curve = w.loss_plot.train_curve
    qtbot.waitUntil(lambda: curve.xData is not None and len(curve.xData) == points, timeout=3000)
    xs, ys = curve.xData, curve.yData  # (all points: pyqtgraph draws fewer)
    np.testing.assert_array_equal(xs, expected.steps())
    np.testing.assert_allclose(ys, expected.losses(), atol=1e-12)
    assert set(w.gradient_plot.curves) == {"h", "y"}  # one curve per dense layer
    qtbot.waitUntil(
        lambda: all(c.xData is not None and len(c.xData) == points for c in w.gradient_plot.curves.values()),
        timeout=3000,
    )  # (they redraw in turn)
    for lid, curve in w.gradient_plot.curves.items():
        gx, gy = curve.xData, curve.yData  # (drawn on a log axis, smoothed by default)
        np.testing.assert_array_equal(gx, expected.steps())
        recorded = expected.grad_norms(lid)
        np.testing.assert_allclose(gy, smoothed_norms(recorded, window_for(len(recorded))), rtol=1e-9)

    texts = history_texts(w)
    assert texts[-1] == f"Train {n} steps"
    press(qtbot, w, Qt.Key.Key_Z, CTRL)
    same_params(doc.params(), start, tol=0)
    assert doc.session.step_count == 0 and "after step 0 · next: forward h" in w.window_actions.phase_label.text()
    press(qtbot, w, Qt.Key.Key_Z, CTRL | SHIFT)
    assert doc.session.step_count == n


def test_redo_of_a_step_restores_the_weights_after_it(qtbot, window):
    w = window
    open_example(qtbot, w, "mazur")
    press(qtbot, w, Qt.Key.Key_S)
    np.testing.assert_allclose(w.document.params()["o.weight"], O_WEIGHT_AFTER, atol=1e-9)
    press(qtbot, w, Qt.Key.Key_Z, CTRL)
    assert w.document.params()["o.weight"][0, 0] == 0.4
    press(qtbot, w, Qt.Key.Key_Z, CTRL | SHIFT)
    assert w.document.session.step_count == 1
    np.testing.assert_allclose(w.document.params()["o.weight"], O_WEIGHT_AFTER, atol=1e-9)


def test_redo_of_a_training_run_restores_the_trained_weights(qtbot, window):
    w = window
    doc = w.document
    w.window_actions.play.trigger()
    qtbot.waitUntil(lambda: doc.session.step_count >= 50, timeout=5000)
    w.window_actions.play.trigger()
    trained = {k: v.copy() for k, v in doc.session.params_numpy().items()}
    same_params(trained, headless("xor", doc.session.step_count)[0].params_numpy())
    press(qtbot, w, Qt.Key.Key_Z, CTRL)
    press(qtbot, w, Qt.Key.Key_Z, CTRL | SHIFT)
    same_params(doc.params(), trained)


def test_undoing_training_takes_its_points_off_the_plots(qtbot, window):
    w = window
    for _ in range(3):
        press(qtbot, w, Qt.Key.Key_S)
    assert len(w.document.history) == 3
    press(qtbot, w, Qt.Key.Key_Z, CTRL)
    assert w.document.session.step_count == 0
    plot = w.loss_plot
    qtbot.waitUntil(lambda: plot._drawn_version == w.document.history.version, timeout=3000)
    xs = plot.train_curve.xData
    assert xs is None or len(xs) == 0


# === 5. settings that change while training ==================================================================


def test_learning_rate_and_batch_size_change_while_training(qtbot, window):
    w = window
    doc, panel = w.document, w.training_panel
    w.window_actions.play.trigger()
    qtbot.waitUntil(lambda: doc.session.step_count > 20, timeout=5000)

    type_into_field(qtbot, panel.fields["lr"], "0.1")
    assert w.training.running
    assert doc.session.optimizer.spec.lr == 0.1 and doc.spec.optimizer.lr == 0.1
    assert panel.fields["lr"].text() == "0.1" and not panel.error.isVisible()
    assert "Set optimizer settings: sgd lr 0.5 → sgd lr 0.1" in history_texts(w)

    QTest.mouseClick(panel.full_batch, LEFT)  # full batch off: the spin box's 32
    settle(qtbot)
    assert doc.session.batch_size == 32 and panel.batch.isEnabled()
    panel.batch.setFocus()
    panel.batch.lineEdit().selectAll()
    qtbot.keyClicks(panel.batch, "16")
    qtbot.keyClick(panel.batch, Qt.Key.Key_Return)
    settle(qtbot)
    assert doc.session.batch_size == 16 and w.training.running

    now = doc.session.step_count
    qtbot.waitUntil(lambda: doc.session.step_count > now + 20, timeout=5000)  # it goes on training
    w.window_actions.play.trigger()
    assert not w.training.running and w.training.worker is None
    assert doc.session.steps_per_epoch == -(-len(doc.train_data) // 16)


# === 6. backends ===============================================================================================


def choose_backend(qtbot, w, text):
    """Pick ``text`` in the backend list and wait until it is in use (PyTorch loads in the background)."""
    combo = w.training_panel.backend
    combo.setCurrentIndex(combo.findText(text))
    qtbot.waitUntil(lambda: w.backend_loader.pending is None, timeout=60000)
    settle(qtbot)


def test_switching_backends_keeps_the_weights_and_torch_steps_like_numpy(qtbot, window):
    pytest.importorskip("torch")
    w = window
    doc = w.document
    for _ in range(3):
        press(qtbot, w, Qt.Key.Key_S)
    before = {k: v.copy() for k, v in doc.params().items()}
    choose_backend(qtbot, w, "PyTorch CPU")
    assert doc.backend_choice == ("torch", "cpu", "float64")
    same_params(doc.params(), before)
    choose_backend(qtbot, w, "NumPy")
    assert doc.backend_choice == ("numpy", "cpu", "float64")
    same_params(doc.params(), before)

    open_example(qtbot, w, "mazur")
    choose_backend(qtbot, w, "PyTorch CPU")
    assert doc.backend_choice[0] == "torch" and w.training_panel.backend.currentText() == "PyTorch CPU"
    press(qtbot, w, Qt.Key.Key_S)
    assert doc.trace.loss == pytest.approx(LOSS, abs=1e-9)
    assert f"loss {LOSS:.9g}" in w.window_actions.phase_label.text()
    session, traces = headless("mazur", 1)  # NumPy, headless
    assert doc.trace.loss == pytest.approx(traces[0].loss, abs=1e-12)
    same_params(doc.params(), session.params_numpy())

    import torch

    cuda = w.training_panel.backend.model().item(w.training_panel.backend.findText("PyTorch CUDA"))
    if not torch.cuda.is_available():
        assert not cuda.isEnabled() and "CUDA" in cuda.toolTip()
