"""The Training panel's new optimizers, L1 term, clipping and schedule: shown, requested, refused with a
reason, and while training the readouts of the rate in use and of what clipping did; the inspector offers the
new activations."""

import math

import numpy as np
import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from bpstudio.core import backends
from bpstudio.core.io import presets
from bpstudio.core.spec import OptimizerSpec, Schedule
from bpstudio.gui.panels.training_panel import TrainingPanel
from tests.gui.canvas_points import click, header_point
from tests.gui.driving import LEFT, menu, open_example, press, settle
from tests.gui.reference import headless


def retype(qtbot, line, text):
    """Select what a field holds, type over it and press Enter, as a person would."""
    line.selectAll()
    qtbot.keyClick(line, Qt.Key.Key_Delete)
    if text:
        qtbot.keyClicks(line, text)
    qtbot.keyClick(line, Qt.Key.Key_Return)


def choose(qtbot, combo, text):
    """Pick ``text`` in a combo box with the keyboard, as a person would."""
    combo.setFocus()
    while combo.currentText() != text:
        index = combo.currentIndex()
        qtbot.keyClick(combo, Qt.Key.Key_Down)
        assert combo.currentIndex() != index, f"{text!r} is not offered"


@pytest.fixture
def panel(qtbot, monkeypatch):
    monkeypatch.setattr(backends, "available", lambda: {"numpy/cpu": None, "torch/cpu": None, "torch/cuda": "no"})
    widget = TrainingPanel()
    qtbot.addWidget(widget)
    widget.resize(320, 700)
    widget.show()
    seen = []
    widget.optimizer_requested.connect(seen.append)
    widget.show_settings(presets.load("mazur"), 32, "numpy", "cpu", "float64")
    return widget, seen


def shown(widget, field):
    return field.isVisibleTo(widget)


def test_rmsprop_and_adamw_show_their_settings_and_are_requested(qtbot, panel):
    widget, seen = panel
    choose(qtbot, widget.optimizer, "adamw")
    assert [shown(widget, widget.fields[k]) for k in ("beta1", "beta2", "eps", "alpha", "momentum")] == [
        True, True, True, False, False,
    ]  # fmt: skip
    assert widget.fields["weight_decay"].toolTip().endswith("decoupled for adamw (0: none)")
    choose(qtbot, widget.optimizer, "rmsprop")
    assert [shown(widget, widget.fields[k]) for k in ("alpha", "eps", "beta1")] == [True, True, False]
    retype(qtbot, widget.fields["alpha"], "0.9")
    assert seen[-1] == OptimizerSpec("rmsprop", lr=0.5, alpha=0.9)
    assert [s.name for s in seen] == ["momentum", "adam", "adamw", "rmsprop", "rmsprop"]


def test_l1_clipping_and_a_schedule_are_requested(qtbot, panel):
    widget, seen = panel
    extras = widget.extras
    assert extras.l1.text() == "0" and extras.clip.text() == "" and extras.schedule.currentText() == "constant"
    assert not any(shown(widget, f) for f in extras.schedule_fields.values())
    retype(qtbot, extras.l1, "0.001")
    retype(qtbot, extras.clip, "2.5")
    choose(qtbot, extras.schedule, "cosine")  # constant -> step -> exponential -> cosine
    assert [k for k, f in extras.schedule_fields.items() if shown(widget, f)] == ["t_max", "eta_min"]
    retype(qtbot, extras.schedule_fields["t_max"], "40")
    retype(qtbot, extras.clip, "")  # empty: clipping off
    assert seen[0] == OptimizerSpec("sgd", lr=0.5, l1=0.001)
    assert seen[1] == OptimizerSpec("sgd", lr=0.5, l1=0.001, clip_norm=2.5)
    assert seen[-2] == OptimizerSpec("sgd", lr=0.5, l1=0.001, clip_norm=2.5, schedule=Schedule("cosine", t_max=40))
    assert seen[-1] == OptimizerSpec("sgd", lr=0.5, l1=0.001, schedule=Schedule("cosine", t_max=40))
    assert widget.error.isHidden()


@pytest.mark.parametrize(
    "field, text, reason",
    [
        ("clip", "-1", "'clip_norm' must be above 0"),
        ("clip", "lots", "clip norm: 'lots' is not a number (leave it empty for no clipping)"),
        ("l1", "-0.5", "'l1' must not be negative"),
        ("step_size", "2.5", "step size: must be a whole number, got 2.5"),
        ("gamma", "0", "'gamma' must be above 0"),
    ],
)
def test_bad_values_are_refused_with_the_reason(qtbot, panel, field, text, reason):
    widget, seen = panel
    extras = widget.extras
    choose(qtbot, extras.schedule, "step")
    before = list(seen)
    line = extras.schedule_fields[field] if field in extras.schedule_fields else getattr(extras, field)
    retype(qtbot, line, text)
    assert seen == before
    assert reason in widget.error.text() and widget.error.isVisibleTo(widget)


def test_the_panel_shows_the_optimizer_a_file_gives(panel):
    widget, _ = panel
    spec = presets.load("xor")
    opt = OptimizerSpec("rmsprop", lr=0.01, clip_norm=1.0, l1=0.002, schedule=Schedule("step", step_size=7))
    import dataclasses

    widget.show_settings(dataclasses.replace(spec, optimizer=opt), None, "numpy", "cpu", "float64")
    extras = widget.extras
    assert widget.optimizer.currentText() == "rmsprop" and widget.fields["alpha"].text() == "0.99"
    assert (extras.l1.text(), extras.clip.text(), extras.schedule.currentText()) == ("0.002", "1", "step")
    assert [extras.schedule_fields[k].text() for k in ("step_size", "gamma")] == ["7", "0.1"]


def test_training_shows_the_rate_in_use_and_what_clipping_did(qtbot, window):
    """Exponential decay and a clip norm below xor's gradient norms: after each step the panel says the rate the
    next update uses and how many steps were clipped, as the session's own figures say."""
    w = window
    open_example(qtbot, w, "xor")
    extras = w.training_panel.extras
    choose(qtbot, w.training_panel.optimizer, "adam")
    retype(qtbot, extras.clip, "0.01")
    choose(qtbot, extras.schedule, "exponential")
    retype(qtbot, extras.schedule_fields["gamma"], "0.5")
    opt = w.document.spec.optimizer
    assert opt.clip_norm == 0.01 and opt.schedule == Schedule("exponential", gamma=0.5)
    for _ in range(3):
        menu(w, "Step", "Full step").trigger()
        settle(qtbot)
    lr = opt.lr * 0.5**3
    assert extras.lr_readout.text() == f"Learning rate now: {lr:.4g}\nexponential schedule, 3 steps from {opt.lr:.4g}"
    last = w.document.trace.update
    norm = math.sqrt(sum(float(np.sum(g * g)) for g in w.document.grads().values()))  # (no L1 term, none frozen)
    assert last.grad_norm == pytest.approx(norm, rel=1e-12) and last.clipped
    assert extras.clip_readout.text() == (
        f"Clipped 3 of 3 steps (100%)\nlast step ‖g‖ {norm:.4g} → {norm * last.clip_scale:.4g} (×{last.clip_scale:.3g})"
    )
    assert extras.clip_readout.isVisibleTo(w.training_panel)


def test_the_inspector_offers_the_new_activations(qtbot, window):
    w = window
    open_example(qtbot, w, "xor")
    click(qtbot, w, header_point(w, "h"))
    combo = w.inspector.activation
    offered = [combo.itemText(i) for i in range(combo.count())]
    assert {"silu", "mish", "sin"} <= set(offered)
    combo.setCurrentIndex(combo.findText("mish"))
    settle(qtbot)
    assert w.document.spec.layer("h").activation == "mish" and w.inspector.activation.currentText() == "mish"


def test_the_clipped_example_says_how_often_and_how_much_it_clipped_as_it_trains(qtbot, window):
    """Exploding gradients, clipped: Play for 8 passes (stop condition) and the panel says what clipping did over
    them and to the last step, with the rate in use, as a headless run of the example counts it; the first steps'
    gradient norms are hundreds, clipped to 1."""
    w = window
    open_example(qtbot, w, "exploding_clipped")
    extras, stops = w.training_panel.extras, w.training_panel.stops
    assert extras.clip.text() == "1" and extras.clip_readout.text() == "Clips at ‖g‖ 1; no step yet"
    stops.epochs.setValue(8)
    QTest.mouseClick(stops.after_epochs, LEFT)
    w.window_actions.speed.setCurrentText("max")
    press(qtbot, w, Qt.Key.Key_P)  # Play, until the 8 passes are done
    qtbot.waitUntil(lambda: not w.training.running, timeout=60000)
    settle(qtbot)
    session, traces = headless("exploding_clipped", 40, batch_size=32)
    assert session.steps_per_epoch == 5 and w.document.session.step_count == 40
    figures = [t.update for t in traces]
    assert figures[0].grad_norm > 100 and figures[0].clipped  # (the explosion the example is about)
    clipped = sum(f.clipped for f in figures)
    assert 0 < clipped < 40  # (late in the run some steps need no clipping)
    last = figures[-1]
    after = (
        f"{last.grad_norm * last.clip_scale:.4g} (×{last.clip_scale:.3g})"
        if last.clipped
        else (f"{last.grad_norm:.4g}, not clipped")
    )
    assert extras.clip_readout.text() == (
        f"Clipped {clipped} of 40 steps ({100 * clipped / 40:.0f}%)\nlast step ‖g‖ {last.grad_norm:.4g} → {after}"
    )
    assert extras.lr_readout.text() == "Learning rate now: 0.05 (constant)"
    panel = w.training_panel
    assert extras.clip_readout.isVisibleTo(panel) and extras.lr_readout.isVisibleTo(panel)
