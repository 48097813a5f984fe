"""The training worker and the GUI thread's turns: while the window redraws, the worker waits between
steps; at slow speeds it sleeps and a turn needs no waiting; stopping ends a wait at once."""

from __future__ import annotations

import itertools
import threading

import numpy as np
import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QCoreApplication

from bpstudio.document import Document
from bpstudio.gui import worker as worker_module
from bpstudio.gui.refresh import FULL_SPEED, PACED
from bpstudio.gui.training import SPARE_TIME, TrainingController
from bpstudio.gui.worker import EVAL_INTERVAL, EVAL_SHARE, PARAM_COPY_LIMIT, Progress, TrainWorker, evaluation_gap
from tests.helpers import wide_net_file


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


def test_the_window_redraws_more_often_while_a_set_pace_leaves_the_worker_time_to_spare(qtbot, controller):
    """As fast as it goes, or at a pace its steps cannot keep with time to spare, the worker needs the core and
    the window keeps to the small budget; at a pace a class watches it idles between steps and the views may
    follow closely."""
    assert controller.redraw_budget() == FULL_SPEED  # (not training)
    controller.set_speed(None)
    controller.start()
    wait_for_steps(qtbot, controller, 5)
    assert controller.redraw_budget() == FULL_SPEED
    controller.set_speed(10)
    worker = controller.worker
    qtbot.waitUntil(lambda: worker.step_seconds * 10 < SPARE_TIME, timeout=5000)
    assert controller.redraw_budget() == PACED
    controller.set_speed(1000)
    with controller.document.lock:  # (the worker measures its steps under the lock: it cannot overwrite this)
        worker.step_seconds = 0.004  # steps of 4 ms: 1000 a second would take 4 seconds of every second
        assert controller.redraw_budget() == FULL_SPEED


def test_a_turn_without_a_worker_just_runs(controller):
    ran = []
    with controller.gui_turn():
        ran.append(True)
    assert ran == [True]


def test_a_report_carries_the_neuron_maps_of_the_weights_it_trained_to(qtbot, controller):
    reports = []
    controller.progressed.connect(reports.append)
    controller.set_speed(30)  # (a watchable pace: one step a chunk, each reported with its trace)
    controller.start(max_steps=3)  # the first chunk is evaluated at once
    qtbot.waitUntil(lambda: controller.worker is None, timeout=10000)
    report = next(r for r in reports if r.neuron_maps is not None)
    maps, p = report.neuron_maps, report.trace.params_after  # the weights after the report's step
    gx, gy = np.meshgrid(maps.xs, maps.ys)
    h = np.tanh(np.stack([gx, gy], axis=-1) @ p["h.weight"].T + p["h.bias"])
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


def test_an_expensive_evaluation_is_spaced_to_a_small_share_of_the_time():
    assert evaluation_gap(0.001) == EVAL_INTERVAL  # a small net's: four times a second
    assert evaluation_gap(0.2) == pytest.approx(0.2 / EVAL_SHARE)  # a 1000-wide net's surface: seconds apart
    assert 0.2 / evaluation_gap(0.2) <= EVAL_SHARE


@pytest.fixture
def wide(qtbot, tmp_path):
    """A controller on a 2-300-300-1 net (its 300×300 matrix is bigger than reports copy)."""
    doc = Document()
    doc.open_file(wide_net_file(tmp_path))
    controller = TrainingController(doc)
    yield controller
    controller.stop()


class SteppedBlocks:
    """Wraps a session's step: the ``at``-th step, once done, waits until ``release`` is set (``entered`` says
    it got there), so a test acts while the worker is inside a step."""

    def __init__(self, session, at):
        self.entered, self.release, self.at, self.steps = threading.Event(), threading.Event(), at, 0
        self.real = session.step
        session.step = self

    def __call__(self):
        trace = self.real()
        self.steps += 1
        if self.steps == self.at:
            self.entered.set()
            self.release.wait(timeout=60)
        return trace


def big_params(trace):
    sizes = {k: np.size(v) for k, v in {**trace.params_before, **(trace.params_after or {}), **trace.grads}.items()}
    return {k for k, size in sizes.items() if size > PARAM_COPY_LIMIT}


def seconds_per_call(monkeypatch):
    """The worker's clock moves a second each time it is read: every chunk is one step and is reported."""
    ticks = itertools.count()
    monkeypatch.setattr(TrainWorker, "clock", staticmethod(lambda: float(next(ticks))))


@pytest.mark.parametrize("speed", [30, None])
def test_a_wide_nets_reports_carry_no_copies_of_its_big_weight_matrices(qtbot, wide, speed, monkeypatch):
    seconds_per_call(monkeypatch)
    reports = []
    wide.progressed.connect(reports.append)
    wide.set_speed(speed)  # a watchable pace (a trace every step) and as fast as it goes
    wide.start(max_steps=4)
    qtbot.waitUntil(lambda: wide.worker is None, timeout=20000)
    *during, last = reports
    assert during and all(r.trace is None or not big_params(r.trace) for r in during)
    if speed is not None:  # what the canvas shows: each layer's values, the gradient norms of all three
        assert all(r.trace is not None and set(r.trace.grad_norms()) == {"h1", "h2", "y"} for r in during)
    # the last report, for the window paused, has the last step whole
    assert big_params(last.trace) == {"h2.weight"} and last.step == 4
    np.testing.assert_array_equal(last.trace.params_after["h2.weight"], wide.document.params()["h2.weight"])


def test_stopping_while_a_step_runs_ends_after_that_step(qtbot, wide, monkeypatch):
    computed = []
    for name in ("data_surface", "neuron_maps"):
        real = getattr(worker_module, name)
        monkeypatch.setattr(worker_module, name, lambda *a, real=real, name=name: computed.append(name) or real(*a))
    reports = []
    wide.progressed.connect(reports.append)
    wide.set_speed(None)
    steps = SteppedBlocks(wide.document.session, at=3)
    wide.start()
    qtbot.waitUntil(steps.entered.is_set, timeout=20000)
    pictures_before = len(computed)
    wide.worker.stop()  # Pause, while the third step runs
    steps.release.set()
    qtbot.waitUntil(lambda: wide.worker is None, timeout=20000)
    assert steps.steps == 3 and wide.document.session.step_count == 3  # no step after the one running
    assert len(computed) == pictures_before  # nor a surface or neuron maps: the window draws them, paused
    assert reports[-1].step == 3 and reports[-1].trace.step == 3  # (the third step: steps count from 1)


def test_a_turn_does_not_wait_for_a_long_step(qtbot, wide, monkeypatch):
    seconds_per_call(monkeypatch)  # (each step "takes" a second)
    wide.set_speed(None)
    steps = SteppedBlocks(wide.document.session, at=3)
    wide.start()
    qtbot.waitUntil(steps.entered.is_set, timeout=20000)
    worker = wide.worker
    watchdog = threading.Timer(10, steps.release.set)  # (were the turn waited for, it would come after this)
    watchdog.start()
    try:
        assert not worker.begin_gui_turn(timeout=60)  # no turn: the redraw runs beside the step
        assert not steps.release.is_set()  # and it did not wait for the step to end
    finally:
        worker.end_gui_turn()
        steps.release.set()
        watchdog.cancel()
