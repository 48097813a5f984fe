"""Inside the layers: the layer-statistics window and the loss-landscape window, driven as a person would."""

import numpy as np
import pytest
from PySide6.QtCore import QRectF
from PySide6.QtGui import QFontMetricsF, QImage, QPainter
from PySide6.QtTest import QTest

from bpstudio.core.datasets import resolve_split
from bpstudio.core.session import Session
from bpstudio.gui.tools.landscape_dialog import open_landscape
from bpstudio.gui.tools.layer_stats_panel import open_layer_stats
from tests.gui.driving import LEFT, menu, open_example, settle, type_into_field


def reference_run(spec, steps):
    """The traces of ``steps`` steps of a fresh session on the example's data, with the example's batch size
    (what a copy trains)."""
    session = Session(spec, resolve_split(spec.data)[0], batch_size=spec.batch_size)
    return [session.step() for _ in range(steps)]


def run_on_copy(qtbot, panel, steps):
    type_into_field(qtbot, panel.steps.lineEdit(), str(steps))
    QTest.mouseClick(panel.run_button, LEFT)
    qtbot.waitUntil(lambda: panel.task is None, timeout=20_000)
    settle(qtbot)


def choose(qtbot, combo, text):
    combo.setCurrentIndex(combo.findText(text))
    settle(qtbot)


def test_a_run_on_a_copy_shows_histograms_and_dead_relus_and_leaves_the_document_alone(qtbot, window):
    open_example(qtbot, window, "deep_relu_he")
    before = {k: v.copy() for k, v in window.document.params().items()}
    panel = open_layer_stats(window)
    assert "Nothing recorded yet" in panel.status.text()
    run_on_copy(qtbot, panel, 30)
    assert panel.source.currentText() == "a run on a copy"
    assert panel.status.text().startswith("30 steps trained on a copy")
    assert window.document.session.step_count == 0
    assert all(np.array_equal(before[k], v) for k, v in window.document.params().items())
    traces = reference_run(window.document.spec, 30)
    for lid in ("h2", "h8", "h10"):  # dead: a unit whose output is 0 on every sample
        expected = [np.mean([not t.layers[lid].out[:, j].any() for j in range(8)]) for t in traces]
        steps, shown = panel.curves[lid].getData()
        assert list(steps) == list(range(1, 31)) and np.allclose(shown, expected)
    h8 = round(100 * np.mean([not traces[-1].layers["h8"].out[:, j].any() for j in range(8)]))
    assert f"h8 {h8} %" in panel.summary.text() and "Saturated sigmoid/tanh (latest): out" in panel.summary.text()
    choose(qtbot, panel.layer, "h3")
    choose(qtbot, panel.quantity, "pre-activation z")
    shares, edges = panel.mesh.z, panel.mesh.y[0]
    assert shares.shape[1] == 64 and np.allclose(shares.sum(axis=1), 1.0)
    last = np.histogram(traces[-1].layers["h3"].pre, bins=edges)[0]
    assert np.allclose(shares[-1], last / last.sum())
    assert panel.heat_plot.getAxis("left").labelText == "pre-activation z"


def test_gradients_are_drawn_on_a_log_scale_labelled_with_values(qtbot, window):
    open_example(qtbot, window, "deep_sigmoid")
    panel = open_layer_stats(window)
    run_on_copy(qtbot, panel, 5)
    choose(qtbot, panel.layer, "h1")
    choose(qtbot, panel.quantity, "weight gradient ∂L/∂W")
    assert panel.heat_plot.getAxis("left").labelText == "∂L/∂W, log scale"
    labels = [text for value, text in panel.heat_plot.getAxis("left")._tickLevels[0]]
    assert "0" in labels and any("e-0" in t for t in labels)  # deep sigmoid: gradients of order 1e-8
    assert "Saturated sigmoid/tanh (latest): h1 0 %" in panel.summary.text()
    assert set(panel.curves) == {f"h{i}" for i in range(1, 11)} | {"out"}


def test_steps_taken_in_the_window_are_recorded_and_undo_rewinds_them(qtbot, window):
    open_example(qtbot, window, "xor")
    panel = open_layer_stats(window)
    assert panel.source.currentText() == "recorded training"
    for _ in range(3):
        menu(window, "Step", "Full step").trigger()
    qtbot.waitUntil(lambda: panel.status.text().startswith("3 steps recorded"), timeout=2000)
    choose(qtbot, panel.layer, "h")
    steps, shown = panel.curves["h"].getData()
    assert list(steps) == [1, 2, 3] and np.all((0 <= shown) & (shown <= 1))
    window.window_actions.undo.trigger()  # Edit > Undo: back to step 2; a new step 3 replaces the old one
    menu(window, "Step", "Full step").trigger()
    qtbot.waitUntil(lambda: list(panel.curves["h"].getData()[0]) == [1, 2, 3], timeout=2000)
    open_example(qtbot, window, "spiral")  # another network: a fresh record
    qtbot.waitUntil(lambda: "Nothing recorded yet" in panel.status.text(), timeout=2000)
    assert [panel.layer.itemText(i) for i in range(panel.layer.count())] == ["h1", "h2", "logits"]


def test_cancel_stops_a_long_run_on_a_copy(qtbot, window):
    open_example(qtbot, window, "spiral")
    panel = open_layer_stats(window)
    type_into_field(qtbot, panel.steps.lineEdit(), "100000")
    QTest.mouseClick(panel.run_button, LEFT)
    assert not panel.run_button.isEnabled() and panel.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: panel.progress.value() > 0, timeout=5000)
    QTest.mouseClick(panel.cancel_button, LEFT)
    qtbot.waitUntil(lambda: panel.task is None, timeout=5000)
    settle(qtbot)
    assert panel.run_button.isEnabled() and not panel.cancel_button.isEnabled()
    done = int(panel.status.text().split()[0])
    assert 0 < done < 100_000


def test_the_landscape_is_centred_on_the_current_loss_with_the_path_on_top(qtbot, window):
    open_example(qtbot, window, "spiral")
    for _ in range(2):
        menu(window, "Step", "Full step").trigger()
    doc = window.document
    before, loss = {k: v.copy() for k, v in doc.params().items()}, doc.session.evaluate(doc.train_data)
    dialog = open_landscape(window)
    type_into_field(qtbot, dialog.points.lineEdit(), "7")
    type_into_field(qtbot, dialog.steps.lineEdit(), "20")
    QTest.mouseClick(dialog.compute_button, LEFT)
    qtbot.waitUntil(lambda: dialog.task is None, timeout=20_000)
    settle(qtbot)
    shown = dialog.image.image
    assert shown.shape == (7, 7) and shown[3, 3] == pytest.approx(np.log10(loss), abs=1e-12)
    assert shown.min() == pytest.approx(np.log10(dialog.exploration.cut.losses.min()))
    xs, ys = dialog.path.getData()
    assert len(xs) == 5 and (xs[0], ys[0]) == (0.0, 0.0)  # the start and every 5th of 20 steps
    assert f"Loss at the current weights (+): {loss:.4g}" in dialog.status.text()
    assert doc.session.step_count == 2 and all(np.array_equal(before[k], v) for k, v in doc.params().items())
    assert len(dialog.contours) > 0

    choose(qtbot, dialog.plane, "the path's own plane (PCA)")
    assert not dialog.seed.isEnabled()
    QTest.mouseClick(dialog.compute_button, LEFT)
    qtbot.waitUntil(lambda: dialog.task is None, timeout=20_000)
    settle(qtbot)
    xs, ys = dialog.path.getData()
    assert max(np.abs(xs).max(), np.abs(ys).max()) == pytest.approx(0.75)
    assert "the path's plane, capturing" in dialog.status.text()


def test_a_landscape_computation_can_be_cancelled_and_bad_settings_are_explained(qtbot, window):
    open_example(qtbot, window, "spiral")
    dialog = open_landscape(window)
    type_into_field(qtbot, dialog.points.lineEdit(), "201")
    QTest.mouseClick(dialog.compute_button, LEFT)
    qtbot.waitUntil(lambda: dialog.progress.value() > 0, timeout=10_000)
    QTest.mouseClick(dialog.cancel_button, LEFT)
    qtbot.waitUntil(lambda: dialog.task is None, timeout=10_000)
    settle(qtbot)
    assert dialog.status.text().startswith("Cancelled") and dialog.exploration is None
    assert dialog.compute_button.isEnabled()
    choose(qtbot, dialog.plane, "the path's own plane (PCA)")
    type_into_field(qtbot, dialog.steps.lineEdit(), "0")
    QTest.mouseClick(dialog.compute_button, LEFT)
    qtbot.waitUntil(lambda: dialog.task is None, timeout=10_000)
    settle(qtbot)
    assert "a PCA plane needs a training path: give at least 2 steps" in dialog.status.text()


def assert_label_clear_of_numbers(axis):
    """The axis title does not cover any of its tick numbers (as pyqtgraph lays them out to draw)."""
    image = QImage(10, 10, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    try:
        _, _, texts = axis.generateDrawSpecs(painter)
    finally:
        painter.end()
    assert texts, "no numbers on the colour bar"
    label = axis.label.mapRectToParent(axis.label.boundingRect())
    ink = QFontMetricsF(axis.label.font()).height()  # (the label's box has blank padding; its line of text)
    title = QRectF(label.center().x() - ink / 2, label.top(), ink, label.height())
    for rect, _, text in texts:
        assert not rect.intersects(title), (text, rect, title)


@pytest.mark.parametrize("presenting", [False, True])  # presentation mode's type is 1.5 times larger
def test_the_colour_bar_title_leaves_its_numbers_readable(qtbot, window, presenting):
    open_example(qtbot, window, "xor")
    if presenting:
        window.window_actions.presentation.trigger()
        settle(qtbot)
    panel = open_layer_stats(window)
    run_on_copy(qtbot, panel, 40)
    choose(qtbot, panel.quantity, "pre-activation z")
    assert panel.color_bar.axis.labelText == "share of values"
    assert_label_clear_of_numbers(panel.color_bar.axis)
