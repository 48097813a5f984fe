"""The sweep dialog: a person fills in the grid, runs it, sees one line per configuration on a log axis,
cancels a run part-way, exports the CSV; the window stays responsive while worker threads run."""

import concurrent.futures as cf
import csv
import io
import threading

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from bpstudio.core.spec import OptimizerSpec, Schedule
from bpstudio.core.tools import sweep
from bpstudio.core.tools.sweep import Config, SweepCell, run_cell
from bpstudio.gui.tools.sweep_dialog import SweepDialog, open_sweep
from tests.gui.driving import LEFT, NOMOD


def type_text(qtbot, field, text):
    """Replace a field's text by typing (no Return: in a dialog that would press the default button, Run)."""
    field.setFocus()
    field.selectAll()
    if text:
        qtbot.keyClicks(field, text)
    else:  # (typing nothing would leave the selection standing)
        qtbot.keyClick(field, Qt.Key.Key_Backspace)


def tick(box, checked):
    if box.isChecked() != checked:
        QTest.mouseClick(box, LEFT, NOMOD, QPoint(8, box.height() // 2))  # on the box, left of its label
    assert box.isChecked() == checked


def fill(
    qtbot,
    dialog,
    depths="1, 3",
    activations=("sigmoid",),
    inits=("xavier_uniform",),
    residual="off and on",
    seeds="2",
    steps="2",
    data="xor",
    settings="",
):
    type_text(qtbot, dialog.depths, depths)
    for name, box in dialog.activation_checks.items():
        tick(box, name in activations)
    for name, box in dialog.init_checks.items():
        tick(box, name in inits)
    dialog.residual.setCurrentText(residual)
    type_text(qtbot, dialog.seeds, seeds)
    type_text(qtbot, dialog.steps, steps)
    dialog.data.setCurrentText(data)
    type_text(qtbot, dialog.settings, settings)


@pytest.fixture
def dialog(window, qtbot):
    d = open_sweep(window)
    qtbot.waitExposed(d)
    d.executor_factory = lambda: cf.ThreadPoolExecutor(max_workers=1)
    yield d
    d.stop()


def run_to_end(qtbot, dialog):
    QTest.mouseClick(dialog.run_button, LEFT)
    qtbot.waitUntil(lambda: not dialog.running and dialog.run_button.isEnabled(), timeout=20_000)


def test_open_sweep_keeps_one_dialog_on_the_window(window, dialog):
    assert window.tools.get(SweepDialog) is dialog and open_sweep(window) is dialog and dialog.isVisible()
    assert not dialog.isModal()


def test_a_sweep_draws_one_line_per_configuration(qtbot, dialog):
    fill(qtbot, dialog, activations=("sigmoid", "tanh"), settings="units=4")
    run_to_end(qtbot, dialog)
    assert dialog.progress.value() == dialog.progress.maximum() == 16
    labels = {f"{a}, xavier_uniform, {r}" for a in ("sigmoid", "tanh") for r in ("plain", "residual")}
    assert set(dialog.plot.curves) == labels == set(dialog.plot.bands)
    assert [label.text for _, label in dialog.plot.legend.items] == [
        "sigmoid, xavier_uniform, plain",
        "sigmoid, xavier_uniform, residual",
        "tanh, xavier_uniform, plain",
        "tanh, xavier_uniform, residual",
    ]
    assert dialog.plot.item.ctrl.logYCheck.isChecked()  # the gradient axis is logarithmic
    data = sweep.SweepGrid(data="xor").dataset()
    for residual in (False, True):
        x, y = dialog.plot.curves[f"tanh, xavier_uniform, {'residual' if residual else 'plain'}"].getOriginalDataset()
        assert list(x) == [1, 3]
        expected = [
            np.mean(
                [
                    run_cell(
                        SweepCell(Config(d, "tanh", "xavier_uniform", residual, (("units", 4),)), s, 2, data)
                    ).grad_first_start
                    for s in (0, 1)
                ]
            )
            for d in (1, 3)
        ]
        np.testing.assert_allclose(y, expected, rtol=1e-12)
    assert "16 runs (8 configurations)" in dialog.status.text() and dialog.export_button.isEnabled()
    # another metric: the same lines, the final loss now
    dialog.metric_box.setCurrentIndex(dialog.metric_box.findData("final_loss"))
    finals = {r.config: [] for r in dialog.sweep_result.results}
    for r in dialog.sweep_result.results:
        finals[r.config].append(r.final_loss)
    _, y = dialog.plot.curves["sigmoid, xavier_uniform, plain"].getOriginalDataset()
    np.testing.assert_allclose(
        y, [np.mean(finals[Config(d, "sigmoid", "xavier_uniform", False, (("units", 4),))]) for d in (1, 3)], rtol=1e-12
    )
    assert "loss" in dialog.plot.item.getAxis("left").labelText


class RecordingPool(cf.ThreadPoolExecutor):
    """One worker thread, keeping the futures it hands out so a test can see which were cancelled."""

    def __init__(self):
        super().__init__(max_workers=1)
        self.futures = []

    def submit(self, fn, *args, **kwargs):
        self.futures.append(super().submit(fn, *args, **kwargs))
        return self.futures[-1]


def test_cancel_stops_the_sweep_and_shows_what_finished(qtbot, dialog, monkeypatch):
    started, gate = threading.Event(), threading.Event()
    pool = RecordingPool()
    dialog.executor_factory = lambda: pool

    def held(cell):  # each run waits until the test lets them go
        started.set()
        assert gate.wait(10)
        return run_cell(cell)

    monkeypatch.setattr(sweep, "run_cell", held)
    fill(qtbot, dialog, depths="1, 2, 3", seeds="2")
    QTest.mouseClick(dialog.run_button, LEFT)
    qtbot.waitUntil(started.is_set)
    assert dialog.running and not dialog.run_button.isEnabled() and not dialog.depths.isEnabled()
    QTest.mouseClick(dialog.cancel_button, LEFT)  # the window answers while the sweep runs
    assert dialog.status.text().startswith("Cancelling") and not dialog.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: len(pool.futures) == 12 and all(f.cancelled() for f in pool.futures[1:]))
    assert pool.futures[0].running()  # the run under way is left to finish
    gate.set()
    qtbot.waitUntil(lambda: not dialog.running and dialog.run_button.isEnabled(), timeout=10_000)
    assert dialog.sweep_result.cancelled and dialog.sweep_result.done == 1 and dialog.sweep_result.total == 12
    assert dialog.status.text().startswith("Cancelled after 1 of 12 runs")
    assert list(dialog.plot.curves) == ["sigmoid, xavier_uniform, plain"]
    assert dialog.progress.value() == 1 and dialog.depths.isEnabled()


def test_bad_input_is_named_and_nothing_runs(qtbot, dialog):
    fill(qtbot, dialog, depths="2, x")
    QTest.mouseClick(dialog.run_button, LEFT)
    assert dialog.status.text() == "Depths: 'x' is not a whole number" and dialog.worker is None
    fill(qtbot, dialog, activations=())
    QTest.mouseClick(dialog.run_button, LEFT)
    assert dialog.status.text() == "the sweep needs at least one activation" and dialog.worker is None
    fill(qtbot, dialog, settings="lr=fast")
    QTest.mouseClick(dialog.run_button, LEFT)
    assert "'lr' takes numbers, got 'fast'" in dialog.status.text() and dialog.worker is None
    assert dialog.progress.value() <= 0 and not dialog.plot.curves and not dialog.export_button.isEnabled()


def test_the_rows_vary_the_optimizers_and_l1_and_set_clipping_alpha_schedule_and_dropout(qtbot, dialog):
    """What `bpstudio sweep --set` takes, in rows of the dialog's own: two optimizers ticked and two L1 values make
    four lines; each line is the engine's run of a network with that dropout and that update rule."""
    fill(qtbot, dialog, depths="2", activations=("relu",), inits=("he_normal",), residual="off", seeds="1", steps="3")
    for name, box in dialog.rows.optimizer_checks.items():
        tick(box, name in ("adamw", "rmsprop"))
    entries = {"dropout": "0.2", "lr": "0.05", "l1": "0, 0.01", "clip_norm": "0.5", "alpha": "0.9"}
    for name, text in {**entries, "schedule": "step:1:0.5"}.items():
        type_text(qtbot, dialog.rows.fields[name], text)
    run_to_end(qtbot, dialog)
    dialog.metric_box.setCurrentIndex(dialog.metric_box.findData("final_loss"))
    data = sweep.SweepGrid(data="xor").dataset()
    lines = {
        (l1, name): f"relu, he_normal, plain, l1={l1}, optimizer={name}"
        for l1 in (0.0, 0.01)
        for name in ("adamw", "rmsprop")
    }
    assert sorted(dialog.plot.curves) == sorted(lines.values())
    for (l1, name), label in lines.items():
        fixed = (("alpha", 0.9), ("clip_norm", 0.5), ("dropout", 0.2), ("l1", l1), ("lr", 0.05))
        config = Config(2, "relu", "he_normal", False, (*fixed, ("optimizer", name), ("schedule", "step:1:0.5")))
        spec = sweep.build_spec(config, data, 0)
        assert spec.optimizer == OptimizerSpec(
            name, lr=0.05, alpha=0.9, l1=l1, clip_norm=0.5, schedule=Schedule("step", step_size=1, gamma=0.5)
        )
        assert [(layer.id, layer.p) for layer in spec.layers if layer.type == "dropout"] == [("d1", 0.2), ("d2", 0.2)]
        x, y = dialog.plot.curves[label].getOriginalDataset()
        assert list(x) == [2]
        np.testing.assert_allclose(y, [run_cell(SweepCell(config, 0, 3, data)).final_loss], rtol=1e-12)


def test_a_bad_row_is_named_and_a_setting_given_twice_is_refused(qtbot, dialog):
    fill(qtbot, dialog)
    type_text(qtbot, dialog.rows.fields["dropout"], "0.2, 1")
    QTest.mouseClick(dialog.run_button, LEFT)
    assert dialog.status.text() == (
        "Dropout p: sweep setting 'dropout' takes p from 0 (none) up to but not including 1, got '1'"
    )
    type_text(qtbot, dialog.rows.fields["dropout"], "")
    type_text(qtbot, dialog.rows.fields["schedule"], "step")
    QTest.mouseClick(dialog.run_button, LEFT)
    assert dialog.status.text().startswith(
        "Schedules: sweep setting 'schedule' writes a step schedule as step:STEP_SIZE"
    )
    type_text(qtbot, dialog.rows.fields["schedule"], "")
    type_text(qtbot, dialog.rows.fields["l1"], "0.1")
    fill(qtbot, dialog, settings="l1=0.2")
    QTest.mouseClick(dialog.run_button, LEFT)
    assert dialog.status.text() == "'l1' is set twice: in L1 (λ) and in Other settings; give it in one place"
    type_text(qtbot, dialog.rows.fields["l1"], "")
    for box in dialog.rows.optimizer_checks.values():
        tick(box, False)
    QTest.mouseClick(dialog.run_button, LEFT)
    assert dialog.status.text() == "Optimizers: tick at least one"
    assert dialog.worker is None and not dialog.plot.curves


def test_export_csv_writes_every_run_and_configuration(qtbot, dialog, dialogs, tmp_path):
    fill(qtbot, dialog, residual="on")
    run_to_end(qtbot, dialog)
    dialogs.save_path = str(tmp_path / "sweep")
    QTest.mouseClick(dialog.export_button, LEFT)
    text = (tmp_path / "sweep.csv").read_text()
    assert text == dialog.sweep_result.to_csv()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["row"] for r in rows] == ["run"] * 4 + ["mean"] * 2 and {r["residual"] for r in rows} == {"on"}


def test_by_default_the_runs_go_to_worker_processes(qtbot, dialog):
    dialog.executor_factory = None
    fill(qtbot, dialog, depths="2", residual="off", seeds="1")
    type_text(qtbot, dialog.workers, "1")
    run_to_end(qtbot, dialog)
    assert dialog.sweep_result is not None and not dialog.sweep_result.cancelled, dialog.status.text()
    (only,) = dialog.sweep_result.results
    data = sweep.SweepGrid(data="xor").dataset()
    assert only.grad_first_mean == run_cell(SweepCell(only.config, 0, 2, data)).grad_first_mean


def test_a_new_run_clears_the_last_runs_plot_until_its_own_lines_come(qtbot, dialog, monkeypatch):
    fill(qtbot, dialog, activations=("sigmoid",))
    run_to_end(qtbot, dialog)
    assert list(dialog.plot.curves) == ["sigmoid, xavier_uniform, plain", "sigmoid, xavier_uniform, residual"]
    started, gate = threading.Event(), threading.Event()

    def held(cell):
        started.set()
        assert gate.wait(10)
        return run_cell(cell)

    monkeypatch.setattr(sweep, "run_cell", held)
    fill(qtbot, dialog, activations=("tanh",), residual="off")
    QTest.mouseClick(dialog.run_button, LEFT)
    qtbot.waitUntil(started.is_set)
    assert dialog.running
    drawn = [item for item in dialog.plot.item.listDataItems() if item.getData()[0] is not None]
    assert dialog.plot.curves == {} and drawn == []  # no sigmoid lines under a tanh run
    assert not dialog.export_button.isEnabled()
    gate.set()
    qtbot.waitUntil(lambda: not dialog.running and dialog.run_button.isEnabled(), timeout=10_000)
    assert list(dialog.plot.curves) == ["tanh, xavier_uniform, plain"]
