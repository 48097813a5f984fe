"""Batchnorm and layernorm layers in the app, driven as a person does: added from the palette after the selected
layer, their eps, momentum and affine edited in the inspector (bad values refused under the fields, naming the
field and the value kept; each edit undoable), γ and β edited in place on the canvas, the running statistics the
canvas shows moving as the network trains (against a headless run of the same steps), the statistics each view
normalizes by said under the layer's title, and the chain-rule panel writing out the three terms of the gradient
through a batchnorm layer that sum to what the backward pass computed."""

import numpy as np
import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest

from bpstudio.core.edit.layer_fields import update_layer
from bpstudio.core.session import Session
from bpstudio.core.tools.explain import explain, format_value
from bpstudio.gui.canvas.style import HEAT_CELL, HEAT_COLS
from bpstudio.gui.qt_utils import format_number
from bpstudio.gui.tools.layer_stats_panel import open_layer_stats
from tests.gui.canvas_points import at, click, header_point, neuron_point, tip_number, tooltip
from tests.gui.driving import (
    CTRL,
    LEFT,
    NOMOD,
    click_canvas,
    history_texts,
    open_example,
    press,
    settle,
    type_into_field,
)


def add_after_h(qtbot, w, kind="batchnorm", reopen=True):
    if reopen:
        open_example(qtbot, w, "xor")
    click(qtbot, w, header_point(w, "h"))
    QTest.mouseClick(w.layer_palette.buttons[kind], LEFT)
    settle(qtbot)
    return "bn1" if kind == "batchnorm" else "ln1"


def norm_lines(w, layer):
    """The lines into a norm layer, one per unit: {unit: (label, middle point)}."""
    (lines,) = [e for (src, dst), e in w.canvas.canvas.unit_edges.items() if dst == layer]
    return {int(lines.rows[i]): (lines.label_set.text_of(i), lines.lines[i].center()) for i in range(len(lines.lines))}


def double_click(qtbot, w, scene_point):
    QTest.mouseDClick(w.canvas.viewport(), LEFT, NOMOD, at(w, scene_point))
    settle(qtbot)


def type_in_canvas_editor(qtbot, w, text):
    field = w.canvas.value_editor.field
    field.selectAll()
    QTest.keyClick(field, Qt.Key.Key_Delete)
    QTest.keyClicks(field, text)
    QTest.keyClick(field, Qt.Key.Key_Return)
    settle(qtbot)


def test_a_batchnorm_layer_from_the_palette_edits_its_fields_undoably_and_refuses_bad_values(qtbot, window):
    w = window
    bn = add_after_h(qtbot, w)
    spec = w.document.spec
    assert spec.layer(bn).inputs == ("h",) and spec.layer("y").inputs == (bn,)
    assert history_texts(w)[-1] == "Add batchnorm layer between 'h' and 'y'"
    insp, norm = w.inspector, w.inspector.norm
    assert insp.title.text() == bn and "torch.nn.BatchNorm1d" in insp.kind.text()
    assert norm.eps.isVisible() and norm.eps.text() == "1e-05" and norm.momentum.text() == "0.1"
    assert norm.affine.isChecked() and insp.activation.isVisible() and not insp.units.isVisible()
    assert insp.width_label.text() == "4 units" and not norm.refusal.isVisible()
    assert "running mean" in norm.running.text() and "by the running statistics below" in norm.note.text()
    assert insp.weight_caption.text() == f"Scale γ {bn}.weight · 4" and insp.weight_editor.isVisible()
    entries = len(history_texts(w))

    for field, text, words in (
        (norm.eps, "0", ["eps must be above 0", f"'{bn}' keeps eps 1e-05"]),
        (norm.eps, "abc", ["eps 'abc' is not a number", "keeps eps 1e-05"]),
        (norm.momentum, "1.5", ["momentum must be in [0, 1]", "got 1.5", "keeps momentum 0.1"]),
    ):
        type_into_field(qtbot, field, text)
        assert norm.refusal.isVisible() and all(word in norm.refusal.text() for word in words), norm.refusal.text()
        top = {label: label.mapTo(insp.body, QPoint(0, 0)).y() for label in (norm.affine, norm.refusal, norm.note)}
        assert top[norm.affine] + norm.affine.height() <= top[norm.refusal]  # under the fields, then the note
        assert top[norm.refusal] + norm.refusal.height() <= top[norm.note]
        for label in (norm.refusal, norm.note):  # each as tall as its wrapped text: nothing cut off
            assert label.height() >= label.heightForWidth(label.width())
        kept = w.document.spec.layer(bn)
        assert len(history_texts(w)) == entries and (kept.eps, kept.momentum) == (1e-5, 0.1)
        assert norm.eps.text() == "1e-05" and norm.momentum.text() == "0.1"  # the value in effect shows again

    type_into_field(qtbot, norm.eps, "0.001")
    assert w.document.spec.layer(bn).eps == 0.001 and history_texts(w)[-1] == f"Change '{bn}': eps 0.001"
    assert not norm.refusal.isVisible() and norm.eps.text() == "0.001"
    type_into_field(qtbot, norm.momentum, "0.25")
    assert w.document.spec.layer(bn).momentum == 0.25
    QTest.mouseClick(norm.affine, LEFT)
    settle(qtbot)
    assert w.document.spec.layer(bn).affine is False and not insp.weight_editor.isVisible()
    assert f"{bn}.weight" not in w.document.params()
    click_canvas(qtbot, w)  # (in a field, Ctrl+Z would undo its typing)
    for _ in range(3):
        press(qtbot, w, Qt.Key.Key_Z, CTRL)
    assert w.document.spec.layer(bn).eps == 1e-5 and w.document.spec.layer(bn).affine
    press(qtbot, w, Qt.Key.Key_Z, CTRL)  # and the insertion
    assert bn not in w.document.spec.widths and bn not in w.canvas.canvas.blocks
    assert w.document.spec.layer("y").inputs == ("h",)


def test_training_moves_the_running_statistics_the_canvas_shows(qtbot, window):
    w = window
    bn = add_after_h(qtbot, w)
    start = w.document.snapshot()
    overlay, block = w.canvas.canvas.overlays[bn], w.canvas.canvas.blocks[bn]
    assert block._subtitle == ("batchnorm · 4 units", "by running μ̄, σ̄²")  # no step yet: what evaluation uses
    assert [sub for _, sub in overlay.texts] == ["μ̄ 0 σ̄² 1"] * 4  # torch's start: mean 0, variance 1
    for _ in range(5):
        press(qtbot, w, Qt.Key.Key_S)  # Step ▸ Full step
    # the same five steps run headless: the running statistics the canvas must show
    doc = w.document
    reference = Session.from_state(start, doc.train_data, batch_size=doc.session.batch_size)
    reference.run(5)
    running = reference.running_numpy()
    mean, var = running[f"{bn}.running_mean"], running[f"{bn}.running_var"]
    assert np.all(mean != 0) and np.all(var != 1)  # they moved
    subs = [sub for _, sub in overlay.texts]
    assert subs == [f"μ̄ {format_number(m, 3)} σ̄² {format_number(v, 3)}" for m, v in zip(mean, var)]
    assert block._subtitle[1] == "by this batch's μ, σ²"  # the values shown are this training step's
    tip = tooltip(w, neuron_point(w, bn, 2))
    assert tip_number(tip, "running μ̄") == pytest.approx(mean[2], rel=1e-8)
    assert tip_number(tip, "running σ̄²") == pytest.approx(var[2], rel=1e-8)
    assert tip_number(tip, "δ = ∂E/∂z") == pytest.approx(doc.trace.layers[bn].grad_pre[0, 2], rel=1e-8)
    assert "∂E/∂bias" not in tip and "∂E/∂net" not in tip  # (β's gradient is ∂E/∂β, said once)
    h = np.asarray(doc.trace.layers["h"].out)
    assert tip_number(tip, "batch μ") == pytest.approx(h[:, 2].mean(), rel=1e-8)
    assert tip_number(tip, "batch σ²") == pytest.approx(h[:, 2].var(), rel=1e-8)
    gamma = doc.params()[f"{bn}.weight"]
    assert {u: label for u, (label, _) in norm_lines(w, bn).items()} == {
        u: f"γ {format_number(g, 3)}" for u, g in enumerate(gamma)
    }
    # the gradient plot follows the layer's ∂E/∂γ beside the dense layers' ∂E/∂W, its legend says γ
    plot = w.gradient_plot
    plot.refresh()
    assert tuple(plot.curves) == ("h", bn, "y")
    assert [label.text for _, label in plot.legend.items] == ["h", f"{bn} γ", "y"]
    assert len(plot.curves[bn].getData()[1]) == 5  # (drawn on a log scale, smoothed)
    gamma_grad = float(np.linalg.norm(doc.trace.grads[f"{bn}.weight"]))
    assert doc.history.grad_norms(bn)[-1] == pytest.approx(gamma_grad, rel=1e-9)
    w.window_actions.presentation.trigger()  # in presentation mode's larger type the lines still fit the block
    settle(qtbot)
    geometry = block.geometry
    assert geometry.presenting
    for _, sub in overlay.texts:
        assert sub.startswith("μ̄ ") and geometry.fonts.net_metrics.horizontalAdvance(sub) <= geometry.width - 8
    w.window_actions.presentation.trigger()
    settle(qtbot)
    w.window_actions.reset.trigger()  # Reset: step 0 again, no step shown
    settle(qtbot)
    assert block._subtitle[1] == "by running μ̄, σ̄²" and [sub for _, sub in overlay.texts] == ["μ̄ 0 σ̄² 1"] * 4


def test_gamma_and_beta_are_edited_in_place_on_the_canvas(qtbot, window):
    w = window
    bn = add_after_h(qtbot, w)
    press(qtbot, w, Qt.Key.Key_S)
    _, middle = norm_lines(w, bn)[1]
    double_click(qtbot, w, middle)
    editor = w.canvas.value_editor
    assert editor.isVisible() and editor.caption.text() == f"{bn}.weight[1] ="
    assert w.explanation.target() == (f"{bn}.weight", (1,))  # picked: the chain rule follows it
    type_in_canvas_editor(qtbot, w, "2")
    assert w.document.params()[f"{bn}.weight"][1] == 2.0
    assert norm_lines(w, bn)[1][0] == "γ 2"
    assert history_texts(w)[-1].startswith(f"Set {bn}.weight[1] = 2 (was ")
    double_click(qtbot, w, neuron_point(w, bn, 3))
    assert editor.isVisible() and editor.caption.text() == f"{bn}.bias[3] ="
    type_in_canvas_editor(qtbot, w, "x")
    assert "the shift β bn1.bias[3] keeps" in w.canvas.banner.text()
    type_in_canvas_editor(qtbot, w, "-0.5")
    assert w.document.params()[f"{bn}.bias"][3] == -0.5


def test_the_chain_rule_through_batchnorm_shows_three_terms_that_sum_to_the_backward_pass(qtbot, window):
    w = window
    bn = add_after_h(qtbot, w)
    for _ in range(3):
        press(qtbot, w, Qt.Key.Key_S)
    w.docks["explanation"].raise_()
    w.explanation.set_target("h.weight", (1, 0))  # (the panel's pickers: h.weight, row 1, column 0)
    settle(qtbot)
    text = w.explanation.text()
    doc = w.document
    (c,) = explain(doc.spec, doc.trace, "h.weight", (1, 0), sample=0).couplings
    backward = float(np.asarray(doc.trace.layers[bn].grad_inputs[0])[0, 1])
    assert sum(t.value for t in c.terms) == pytest.approx(backward, rel=1e-12, abs=1e-15)
    assert f"Through {bn} back to h[1], sample 0" in text
    assert "γ/√(σ²+ε) · (dz_n − mean(dz) − x̂_n·mean(dz⊙x̂))" in text
    lines = [line.strip() for line in text.replace("\u00a0", " ").split("\n")]
    symbols = ("γ/√(σ²+ε) · dz_n", "− γ/√(σ²+ε) · mean(dz)", "− γ/√(σ²+ε) · x̂_n · mean(dz⊙x̂)", "sum")
    for symbol, value in zip(symbols, [t.value for t in c.terms] + [c.total]):
        assert lines[lines.index(symbol) + 1] == f"= {format_value(value)}"  # a term and its value, as a row
    assert f"the backward pass's ∂E/∂outh[1] through {bn} = {format_value(backward)} ✓ matches" in lines
    assert f"via h[1] → {bn}[1] (whole batch) = {format_value(expl_value(doc, bn))}" in lines


def test_a_layernorm_layer_normalizes_each_sample_and_keeps_no_running_statistics(qtbot, window):
    w = window
    ln = add_after_h(qtbot, w, "layernorm")
    norm = w.inspector.norm
    assert w.inspector.title.text() == ln and norm.eps.isVisible() and norm.eps.text() == "1e-05"
    assert (
        not norm.momentum.isVisible() and not norm.running.isVisible() and "no running statistics" in norm.note.text()
    )
    press(qtbot, w, Qt.Key.Key_S)
    assert w.canvas.canvas.blocks[ln]._subtitle == ("layernorm · 4 units", "per sample")
    assert "each sample over its own units" in tooltip(w, header_point(w, ln))
    w.explanation.set_target("h.bias", (2,))
    settle(qtbot)
    text = w.explanation.text().replace("\u00a0", " ")
    assert f"Through {ln} back to h[2], sample 0 (layernorm: every unit of the sample takes part)" in text
    assert "(γ_m·dz_m − mean(γ⊙dz) − x̂_m·mean(γ⊙dz⊙x̂))" in text and "✓ matches" in text


def test_the_layer_statistics_window_histograms_a_norm_layers_scales(qtbot, window):
    w = window
    bn = add_after_h(qtbot, w)
    panel = open_layer_stats(w)
    type_into_field(qtbot, panel.steps.lineEdit(), "5")
    QTest.mouseClick(panel.run_button, LEFT)
    qtbot.waitUntil(lambda: panel.task is None, timeout=20_000)
    settle(qtbot)
    panel.layer.setCurrentIndex(panel.layer.findText(bn))
    settle(qtbot)
    names = [panel.quantity.itemText(i) for i in range(panel.quantity.count())]
    assert names == ["pre-activation z", "activation", "scales γ", "scale gradient ∂L/∂γ"]
    panel.quantity.setCurrentIndex(2)
    settle(qtbot)
    assert panel.heat_plot.getAxis("left").labelText == "scales γ"
    assert np.allclose(panel.mesh.z.sum(axis=1), 1.0)  # each step's histogram of the four γ


def test_a_wide_batchnorm_layer_draws_its_strip_and_each_cell_tells_its_statistics(qtbot, window):
    w = window
    open_example(qtbot, w, "xor")
    assert w.document.edit("h wide", lambda s: update_layer(s, "h", units=40))
    bn = add_after_h(qtbot, w, reopen=False)
    press(qtbot, w, Qt.Key.Key_S)
    block = w.canvas.canvas.blocks[bn]
    assert not block.state.small and block.heat_caption.startswith("out, sample 1")
    assert block._subtitle == ("batchnorm · 40 units", "by this batch's μ, σ²")
    cell = block.pos() + block.geometry.heat_rect.topLeft() + QPointF(3 * HEAT_CELL + 5, HEAT_CELL + 5)  # unit 19
    tip = tooltip(w, cell)
    unit = HEAT_COLS + 3
    assert f"{bn}[{unit}]" in tip
    running = w.document.running()
    assert tip_number(tip, "running μ̄") == pytest.approx(running[f"{bn}.running_mean"][unit], rel=1e-8)
    assert tip_number(tip, "γ (scale)") == pytest.approx(w.document.params()[f"{bn}.weight"][unit], rel=1e-8)


def expl_value(doc, bn):
    """The one path's term: ∂E/∂out_h[1] (through bn) · ∂out_h[1]/∂net_h[1] · x[0] for sample 0."""
    trace = doc.trace
    h = trace.layers["h"]
    slope = 1 - np.asarray(h.out)[0, 1] ** 2  # tanh'
    through = float(np.asarray(trace.layers[bn].grad_inputs[0])[0, 1])
    return through * slope * float(np.asarray(trace.x)[0, 0])
