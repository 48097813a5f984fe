"""The Mazur walkthrough in the real window: Next runs each phase and points at the quantity the text
introduces, the texts and the canvas show the same numbers, Back returns to the state before a step."""

import dataclasses
import math
import re

import numpy as np
import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMessageBox

from bpstudio.core.datasets import resolve_split
from bpstudio.core.io import presets
from bpstudio.core.session import Session
from bpstudio.core.tools.walkthrough import mazur_walkthrough, run_through
from bpstudio.gui.tools.walkthrough_panel import WalkthroughDock, open_walkthrough
from tests.gui.driving import LEFT, menu, settle

N_STEPS = len(mazur_walkthrough())


def headless_texts():
    """The texts the core gives for a headless run of the same walk (an independent session)."""
    spec = presets.load("mazur")
    return run_through(Session(spec, resolve_split(spec.data)[0]), mazur_walkthrough(spec))


def numbers(text):
    return [float(n) for n in re.findall(r"-?\d+\.\d+|-?\d+", text)]


def agrees(shown, text):
    """A number the canvas shows (rounded to the digits it draws) is one of the text's numbers."""
    value = float(shown)
    digits = len(shown.lstrip("-").replace(".", "").lstrip("0"))
    tolerance = 0.5 * 10 ** (math.floor(math.log10(abs(value))) - digits + 1)
    return any(abs(n - value) <= tolerance * 1.0001 for n in numbers(text))


def click(qtbot, button):
    QTest.mouseClick(button, LEFT)
    settle(qtbot)


@pytest.fixture
def walk(window, qtbot):
    panel = open_walkthrough(window)
    settle(qtbot)
    return panel


def test_opens_mazur_at_step_zero_in_projector_type(window, walk):
    assert window.document.spec.name.startswith("Mazur") and window.document.session.step_count == 0
    assert walk.counter.text() == f"step 1 of {N_STEPS}" and walk.title.text() == "Mazur's network"
    assert "w1 = 0.15" in walk.current_text() and "w8 = 0.55" in walk.current_text()
    assert not walk.back_button.isEnabled() and walk.next_button.isEnabled()
    for label in (walk.title, walk.body, walk.counter):
        assert label.font().pointSizeF() >= 16
    assert walk.body.palette().color(QPalette.ColorRole.WindowText) == QColor("black")
    assert walk.body.palette().color(QPalette.ColorRole.Window) == QColor("white")
    dock = window.tools.get(WalkthroughDock).dock
    assert dock.isVisible() and not window.docks["loss"].isVisible()  # it takes the plots' room
    dock.close()
    assert window.docks["loss"].isVisible() and window.docks["gradients"].isVisible()


def test_closing_the_window_saves_the_layout_with_the_plots_shown(new_window, qtbot):
    window = new_window("layout.ini")
    open_walkthrough(window)
    settle(qtbot)
    assert not window.docks["loss"].isVisible()
    window.document.forget_changes()
    window.close()
    again = new_window("layout.ini")
    assert again.docks["loss"].isVisible() and again.docks["gradients"].isVisible()


def test_next_through_every_step_the_text_and_the_canvas_agree(window, walk, qtbot):
    expected = headless_texts()
    scene = window.canvas.canvas
    seen = [walk.current_text()]
    for k in range(1, N_STEPS):
        click(qtbot, walk.next_button)
        step = walk.steps[k]
        text = walk.current_text()
        seen.append(text)
        assert walk.counter.text() == f"step {k + 1} of {N_STEPS}" and walk.title.text() == step.title
        kind = step.highlight[0]
        if kind == "neuron":
            _, layer, unit = step.highlight
            assert scene.overlays[layer].picked == unit
            value, net = scene.overlays[layer].texts[unit]
            assert agrees(value, text) or agrees(net.split()[-1], text), (step.title, value, net)
        elif kind == "edge":
            _, key, index = step.highlight
            picked = [e for e in scene.unit_edges.values() if e.picked is not None]
            assert len(picked) == 1 and picked[0].edge_view(picked[0].picked).index == index
            label = picked[0].edge_view(picked[0].picked).label
            assert agrees(label, text), (step.title, label)
            assert window.explanation.target() == (key, index)
            heading = window.explanation.text().splitlines()[0]  # "∂E/∂wo[0,0] = 0.082167041"
            assert heading.split("= ")[-1] in text, (step.title, heading)
        elif kind == "loss":
            assert scene.blocks["o"].isSelected()
            assert agrees(f"{scene.net.layers['o'].loss:.4g}", text)
    assert seen == expected
    assert not walk.next_button.isEnabled() and walk.back_button.isEnabled()
    reference = Session(presets.load("mazur"), resolve_split(presets.load("mazur").data)[0])
    reference.step()
    session = window.document.session
    assert session.step_count == 1 and not session.mid_step
    for key, value in reference.params_numpy().items():
        np.testing.assert_array_equal(window.document.params()[key], value)
    assert "0.35891648" in seen[11] and "0.149780716" in seen[14]


def test_back_returns_to_the_state_before_each_step(window, walk, qtbot):
    doc = window.document
    start = {k: v.copy() for k, v in doc.params().items()}
    shown, phases = [], []
    for _ in range(N_STEPS - 1):
        shown.append(walk.current_text())
        phases.append((doc.session.step_count, str(doc.session.next_phase)))
        click(qtbot, walk.next_button)
    assert doc.session.step_count == 1
    for k in range(N_STEPS - 2, -1, -1):
        walk.back_button.setFocus()
        QTest.keyClick(walk.back_button, Qt.Key.Key_PageUp)  # a presenter's clicker
        settle(qtbot)
        assert walk.index == k and walk.current_text() == shown[k]
        assert (doc.session.step_count, str(doc.session.next_phase)) == phases[k]
    assert doc.trace is None and not doc.session.mid_step
    for key, value in start.items():
        np.testing.assert_array_equal(doc.params()[key], value)
    assert not walk.back_button.isEnabled()
    walk.next_button.setFocus()
    QTest.keyClick(walk.next_button, Qt.Key.Key_PageDown)
    settle(qtbot)
    assert walk.index == 1 and "= 0.3775" in walk.current_text()


def test_another_network_is_replaced_after_asking_about_unsaved_changes(window, dialogs, qtbot):
    doc = window.document
    doc.full_step()  # the xor example with a step trained: an unsaved change
    dialogs.answer = QMessageBox.StandardButton.Cancel
    assert open_walkthrough(window) is None
    assert dialogs.kinds() == ["question"] and doc.spec.name != presets.load("mazur").name
    assert window.tools.get(WalkthroughDock) is None
    dialogs.answer = QMessageBox.StandardButton.Discard
    panel = open_walkthrough(window)
    assert panel is not None and doc.spec.name == presets.load("mazur").name
    assert dialogs.kinds() == ["question", "question"]


def open_from_the_help_menu(qtbot, window):
    menu(window, "Help", "The Mazur walkthrough").trigger()
    settle(qtbot)
    placed = window.tools.get(WalkthroughDock)
    return None if placed is None or not placed.dock.isVisible() else placed.panel


def test_a_trained_mazur_asks_before_going_back_to_its_first_weights(window, dialogs, qtbot):
    doc = window.document
    window.files.open_example("mazur")
    doc.full_step()
    doc.full_step()
    doc.advance("forward")  # and a step in progress
    trained = {k: v.copy() for k, v in doc.params().items()}
    entries = doc.undo_stack.count()
    dialogs.answer = QMessageBox.StandardButton.Cancel
    assert open_from_the_help_menu(qtbot, window) is None
    assert dialogs.kinds() == ["question"]
    assert "starts Mazur's example from its first step" in dialogs.shown[0][2] and "Save" in dialogs.shown[0][2]
    # Cancel: everything as it was
    assert doc.session.step_count == 2 and doc.session.mid_step and str(doc.session.next_phase) == "forward o"
    for key, value in trained.items():
        np.testing.assert_array_equal(doc.params()[key], value)
    assert window.tools.get(WalkthroughDock) is None and doc.undo_stack.count() == entries
    dialogs.answer = QMessageBox.StandardButton.Discard
    panel = open_from_the_help_menu(qtbot, window)
    assert panel is not None and dialogs.kinds() == ["question", "question"]
    assert doc.session.step_count == 0 and not doc.session.mid_step
    np.testing.assert_array_equal(doc.params()["h.weight"], [[0.15, 0.2], [0.25, 0.3]])
    click(qtbot, panel.next_button)
    assert "0.15·0.05 + 0.2·0.1 + 0.35 = 0.3775" in panel.current_text()


def test_a_step_in_progress_with_nothing_to_save_is_not_dropped_unasked(window, dialogs, qtbot):
    doc = window.document
    window.files.open_example("mazur")
    doc.advance("forward")  # a phase is no undoable change: nothing unsaved, but a run under way
    assert not doc.dirty
    dialogs.answer = QMessageBox.StandardButton.Cancel
    assert open_from_the_help_menu(qtbot, window) is None
    assert dialogs.shown == [
        (
            "question",
            "Start the walkthrough",
            "The walkthrough starts Mazur's example from its first step. Discard the current run (a step in progress)?",
        )
    ]
    assert doc.session.mid_step and doc.trace is not None
    dialogs.answer = QMessageBox.StandardButton.Discard
    assert open_from_the_help_menu(qtbot, window) is not None and not doc.session.mid_step


def test_mazur_at_its_first_step_opens_without_a_question(window, dialogs, qtbot):
    window.files.open_example("mazur")
    window.document.set_optimizer(dataclasses.replace(window.document.spec.optimizer, lr=0.25))  # unsaved, kept
    assert open_from_the_help_menu(qtbot, window) is not None
    assert dialogs.kinds() == [] and window.document.spec.optimizer.lr == 0.25


def test_stepping_outside_the_walk_stops_it_until_restart(window, walk, qtbot):
    click(qtbot, walk.next_button)
    window.document.full_step()  # the toolbar's Full step
    settle(qtbot)
    assert walk.note.isVisible() and "outside the walkthrough" in walk.note.text()
    assert not walk.next_button.isEnabled() and not walk.back_button.isEnabled()
    click(qtbot, walk.restart_button)
    assert walk.index == 0 and walk.next_button.isEnabled() and not walk.note.isVisible()
    assert window.document.session.step_count == 0


@pytest.mark.parametrize("presenting", [False, True])
def test_on_a_1024_by_768_projector_every_step_keeps_the_window_and_its_buttons_on_screen(window, qtbot, presenting):
    w = window
    w.resize(1024, 768)
    settle(qtbot)
    if presenting:
        w.window_actions.presentation.trigger()
        settle(qtbot)
    walk = open_walkthrough(w)
    settle(qtbot)
    screen = w.rect()
    for _ in range(N_STEPS):
        assert (w.width(), w.height()) == (1024, 768)
        hint = w.minimumSizeHint()
        assert hint.width() <= 1024 and hint.height() <= 768, (walk.counter.text(), hint)
        for widget in (walk.next_button, walk.back_button, walk.counter, walk.title):
            box = widget.rect().translated(widget.mapTo(w, widget.rect().topLeft()))
            assert widget.isVisible() and screen.contains(box), (walk.counter.text(), widget, box)
        click(qtbot, walk.next_button)
    if presenting:  # and after leaving presentation mode
        w.window_actions.presentation.trigger()
        settle(qtbot)
        assert (w.width(), w.height()) == (1024, 768) and w.minimumSizeHint().width() <= 1024
