"""The training worker and the GUI thread's turns: while the window redraws, the worker waits between
steps; at slow speeds it sleeps and a turn needs no waiting; stopping ends a wait at once."""

from __future__ import annotations

import time

import pytest

pytest.importorskip("PySide6")

from bpstudio.gui.document import Document  # noqa: E402
from bpstudio.gui.training import TrainingController  # noqa: E402


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
    with controller.gui_turn():
        assert worker._parked
        before = session.step_count
        time.sleep(0.05)
        assert session.step_count == before   # not one step while the GUI thread has its turn
    assert not worker._turn_wanted
    wait_for_steps(qtbot, controller, before + 50)
    controller.stop()
    assert controller.worker is None and len(controller.document.history) == session.step_count


def test_a_turn_while_the_worker_sleeps_between_slow_steps_needs_no_wait(qtbot, controller):
    controller.set_speed(2)
    controller.start()
    wait_for_steps(qtbot, controller, 1)
    qtbot.wait(50)                                     # the worker is in its half-second pause now
    worker = controller.worker
    assert worker.begin_gui_turn(timeout=0.0)          # granted at once: a sleeping worker counts as parked
    worker.end_gui_turn()


def test_stopping_wakes_a_sleeping_worker_instead_of_waiting_out_its_pause(qtbot, controller):
    controller.set_speed(1 / 60)                       # one step a minute
    controller.start()
    wait_for_steps(qtbot, controller, 1)
    started = time.perf_counter()
    controller.stop()
    assert time.perf_counter() - started < 30 and controller.worker is None  # (not the rest of the minute)


def test_a_turn_without_a_worker_just_runs(controller):
    ran = []
    with controller.gui_turn():
        ran.append(True)
    assert ran == [True]
