"""The training worker and the GUI thread's turns: while the window redraws, the worker waits between
steps; at slow speeds it sleeps and a turn needs no waiting; stopping ends a wait at once."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QCoreApplication

from bpstudio.document import Document
from bpstudio.gui.training import TrainingController
from bpstudio.gui.worker import Progress


@pytest.fixture
def controller(qtbot):
    doc = Document()
    doc.load_preset("xor")
    controller = TrainingController(doc)
    yield controller
    controller.stop()


def wait_for_steps(qtbot, controller, steps):
    qtbot.waitUntil(lambda: controller.document.session.step_count >= steps, timeout=5000)


def test_the_worker_waits_out_a_gui_turn_and_trains_on_after_it(qtbot, controller):
    controller.start()
    wait_for_steps(qtbot, controller, 50)
    worker = controller.worker
    session = controller.document.session
    in_turn, stepped_in_turn = [False], []
    real_step = session.step

    def step():  # records, for each step, whether the GUI thread had its turn
        stepped_in_turn.append(in_turn[0])
        return real_step()

    session.step = step
    with controller.gui_turn():
        in_turn[0] = True
        assert worker._parked  # parked: waiting on the turn's condition, not between checks
        before = session.step_count
        QCoreApplication.processEvents()  # (the GUI thread's own work during its turn)
        assert session.step_count == before
        in_turn[0] = False
    assert not worker._turn_wanted
    wait_for_steps(qtbot, controller, before + 50)
    controller.stop()
    assert stepped_in_turn and not any(stepped_in_turn)  # it trained on after the turn, never during it
    assert controller.worker is None and len(controller.document.history) == session.step_count


def test_a_turn_while_the_worker_sleeps_between_slow_steps_needs_no_wait(qtbot, controller):
    controller.set_speed(1e-7)
    controller.start()
    wait_for_steps(qtbot, controller, 1)
    worker = controller.worker
    qtbot.waitUntil(lambda: worker._parked, timeout=5000)  # in its pause between slow steps
    assert worker.begin_gui_turn(timeout=0.0)  # granted at once: a sleeping worker counts as parked
    worker.end_gui_turn()


def test_stopping_wakes_a_sleeping_worker_instead_of_waiting_out_its_pause(qtbot, controller):
    controller.set_speed(1e-7)  # one step in four months: it pauses "forever"
    controller.start()
    wait_for_steps(qtbot, controller, 1)
    worker = controller.worker
    qtbot.waitUntil(lambda: worker._parked, timeout=5000)  # in its pause
    worker.stop()
    # woken: it ends (and the controller lets it go) instead of sleeping its pause out
    qtbot.waitUntil(lambda: controller.worker is None, timeout=10000)


def test_a_turn_without_a_worker_just_runs(controller):
    ran = []
    with controller.gui_turn():
        ran.append(True)
    assert ran == [True]


def test_a_report_carries_the_neuron_maps_of_the_weights_it_trained_to(qtbot, controller):
    doc = controller.document
    reports = []
    controller.progressed.connect(reports.append)
    controller.set_speed(None)  # (as fast as it goes)
    controller.start(max_steps=5)  # one chunk: it is evaluated after its last step, then the worker ends
    qtbot.waitUntil(lambda: controller.worker is None, timeout=10000)
    maps = next(r.neuron_maps for r in reports if r.neuron_maps is not None)
    assert doc.session.step_count == 5
    gx, gy = np.meshgrid(maps.xs, maps.ys)
    p = doc.params()
    h = np.tanh(np.stack([gx, gy], axis=-1) @ p["h.weight"].T + p["h.bias"])  # the weights after the 5 steps
    assert isinstance(maps.layers["h"].values, np.ndarray)
    assert np.allclose(maps.layers["h"].values, np.moveaxis(h, -1, 0), rtol=1e-12, atol=1e-12)


def test_a_report_the_window_has_not_drawn_keeps_its_maps_when_a_newer_one_has_none(controller):
    maps, surface = object(), object()
    controller._on_progress(Progress(surface=surface, neuron_maps=maps, step=3))  # (as the worker's signal does)
    controller._on_progress(Progress(step=4))  # between evaluations: no new maps or surface
    assert (controller.latest.step, controller.latest.neuron_maps, controller.latest.surface) == (4, maps, surface)
    controller.latest = None  # the window drew it
    controller._on_progress(Progress(step=5))
    assert controller.latest.neuron_maps is None
