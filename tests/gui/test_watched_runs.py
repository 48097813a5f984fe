"""The app shows a watched PyTorch run (File ▸ Open run…, ``bpstudio RUN_DIR``): its layers' gradient curves, heatmap,
first/last ratio and loss in the plots bpstudio's own networks use, the verdict per layer in the canvas's place, live
while another process still writes it; stepping is off until a network is opened again."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QFileDialog

from bpstudio.core.record import run_history
from bpstudio.core.record.history import gradient_health
from bpstudio.core.record.watched_run import WatchedRun
from bpstudio.core.tools.run_verdicts import layer_verdicts
from bpstudio.gui import run_view
from bpstudio.gui.main_window import MainWindow
from bpstudio.gui.qt_utils import format_number
from tests.gui.driving import menu, open_example, settle
from tests.watched_runs import RunBuilder, chain

ROOT = Path(__file__).resolve().parents[2]


def vanishing_run(folder, steps=30):
    """A 4-layer sigmoid chain whose first layers' gradients are ~1e-5 of the last's, saturated at the start."""
    norms = [[1e-5 * (1 + 0.01 * s) for s in range(steps)], [1e-3] * steps, [0.05] * steps, [0.5] * steps]
    fractions = [[0.99] * steps, [0.2] * steps, [0.1] * steps]
    chain(
        folder,
        norms,
        activation="Sigmoid",
        kind="saturated",
        fractions=fractions,
        losses=[2.0 / (s + 1) for s in range(steps)],
    )
    return norms


def curve_data(curve):
    return np.asarray(curve.xData), np.asarray(curve.yData)


def open_run_from_menu(qtbot, window, monkeypatch, folder):
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(folder)))
    menu(window, "File", "Open run…").trigger()
    settle(qtbot)


def test_a_recorded_run_opens_in_the_plots_with_the_databases_numbers(qtbot, window, dialogs, monkeypatch, tmp_path):
    vanishing_run(tmp_path / "run")
    open_run_from_menu(qtbot, window, monkeypatch, tmp_path / "run")
    plot = window.gradient_plot
    plot.smooth_check.setChecked(False)  # every recorded value, as the database holds it
    settle(qtbot)
    with WatchedRun(tmp_path / "run") as run:
        assert tuple(plot.curves) == run.layers == ("0", "2", "4", "6")
        for layer in run.layers:
            steps, norms = curve_data(plot.curves[layer])
            np.testing.assert_array_equal(steps, run.steps)
            np.testing.assert_allclose(norms, run.layer_grad_norms(layer), rtol=1e-12)
        _, losses = curve_data(window.loss_plot.train_curve)
        np.testing.assert_allclose(losses, run.losses(), rtol=1e-12)
        ratio = run.layer_grad_norms("0")[-1] / run.layer_grad_norms("6")[-1]
    assert gradient_health(ratio) == "vanishing"
    assert plot.ratio_label.text().endswith("— vanishing")
    assert window.gradient_plot.heatmap.image.shape == (4, 30)
    # the verdicts in the canvas's place: the saturated sigmoid and the vanishing first layer, with evidence
    table = window.run_panel.table
    rows = {
        table.item(r, 0).text(): [table.item(r, c).text() for c in range(table.columnCount())]
        for r in range(table.rowCount())
    }
    column = {table.horizontalHeaderItem(c).text(): c for c in range(table.columnCount())}
    assert rows["1"][column["verdict"]] == "saturated" and rows["1"][column["saturated"]] == "99%"
    assert rows["0"][column["verdict"]] == "vanishing"

    assert window.run_panel.isVisible() and not window.canvas.isVisible()
    assert not window.docks["data"].isVisible() and not window.docks["inspector"].isVisible()  # about a network
    assert window.docks["gradients"].isVisible() and window.docks["loss"].isVisible()
    assert window.windowTitle() == "run — watched run (finished) — bpstudio"  # (chain() finishes its run)
    a = window.window_actions
    assert not any(action.isEnabled() for action in (*a.stepping(), a.play, a.undo, a.redo))
    assert not window.training_panel.isEnabled()
    titles = {menu.title() for menu in a.network_menus}
    assert titles == {"&Tools", "E&xport and import"}  # (they work on the network hidden under the run)
    assert not any(menu.menuAction().isEnabled() for menu in a.network_menus)
    # a network opened afterwards gets its place and its controls back
    open_example(qtbot, window, "xor")
    assert not window.runs.active and window.canvas.isVisible() and not window.run_panel.isVisible()
    assert a.step.isEnabled() and a.play.isEnabled() and window.training_panel.isEnabled()
    assert all(menu.menuAction().isEnabled() for menu in a.network_menus)
    assert "watched run" not in window.windowTitle()
    assert window.docks["data"].isVisible() and window.docks["inspector"].isVisible()
    assert window.gradient_plot.history is window.document.history


def test_a_long_run_opens_at_once_and_its_steps_come_in_parts_while_the_window_answers(
    qtbot, window, dialogs, monkeypatch, tmp_path
):
    """A run of many steps is not read in one go on the GUI thread: the first part shows at once ("reading" in
    the title), the rest comes a part per turn of the event loop, and other events are served in between."""
    vanishing_run(tmp_path / "run", steps=30)  # 8 parameters and 7 modules: 16 rows a step
    monkeypatch.setattr(run_history, "READ_ROWS", 4 * 16)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(tmp_path / "run")))
    shown = []
    window.runs.changed.connect(lambda: shown.append(len(window.runs.history.steps()) if window.runs.active else 0))
    menu(window, "File", "Open run…").trigger()
    assert window.runs.state() == "reading" and "(reading)" in window.windowTitle()
    assert len(curve_data(window.loss_plot.train_curve)[0]) == 4
    served = []
    QTimer.singleShot(0, lambda: served.append(len(window.runs.history.steps())))  # another event meanwhile
    qtbot.waitUntil(lambda: window.runs.state() == "finished")
    settle(qtbot)
    assert shown == [4, 8, 12, 16, 20, 24, 28, 30] and served and served[0] < 30
    qtbot.waitUntil(lambda: len(curve_data(window.loss_plot.train_curve)[0]) == 30)  # (the plots' next tick)
    assert window.windowTitle() == "run — watched run (finished) — bpstudio"


def test_a_diverged_run_says_where_it_broke_above_its_table(qtbot, window, dialogs, monkeypatch, tmp_path):
    b = RunBuilder(tmp_path / "run", {"0.weight": "0", "1.weight": "1"}, [("0", "Linear", None), ("1", "Linear", None)])
    b.step(1, 0.5, {"0.weight": 1.0, "1.weight": 2.0})
    b.step(2, float("inf"), {"0.weight": float("inf"), "1.weight": 3.0})
    b.step(3, float("nan"), {"0.weight": float("nan"), "1.weight": float("nan")})
    b.finish()
    open_run_from_menu(qtbot, window, monkeypatch, tmp_path / "run")
    heading = window.run_panel.heading.text()
    assert "The run diverged: the gradient norm of 0.weight became inf at step 2" in heading
    assert "loss nan (diverged)" in heading and "loss nan (diverged)" in window.window_actions.phase_label.text()


def test_a_run_opened_before_its_first_step_fills_the_plots_as_its_steps_come(qtbot, window, tmp_path):
    """The natural order: start the training, open its folder at once. The run has no step yet; the plots are the
    run's (empty, not the network's underneath), and they fill as the steps come in."""
    b = RunBuilder(tmp_path / "run", {"0.weight": "0", "1.weight": "1"}, [("0", "Linear", None), ("1", "Linear", None)])
    assert window.files.open_at_start(str(tmp_path / "run"))
    settle(qtbot)
    assert window.runs.active and window.gradient_plot.history is window.runs.history
    assert window.loss_plot.history is window.runs.history and window.gradient_plot.empty
    for step in (1, 2, 3):
        b.step(step, 1.0 / step, {"0.weight": 0.1 * step, "1.weight": 1.0})
    b.finish()
    qtbot.waitUntil(lambda: window.runs.state() == "finished", timeout=10_000)
    settle(qtbot)
    assert tuple(window.gradient_plot.curves) == ("0", "1")
    window.gradient_plot.refresh()
    np.testing.assert_allclose(window.gradient_plot.curves["0"].yData, [0.1, 0.2, 0.3])  # (too few to smooth)
    qtbot.waitUntil(window.loss_plot.keep_button.isEnabled, timeout=5000)  # (drawn in its turn: it can be kept)


def test_a_run_that_stops_growing_without_finishing_is_no_longer_called_live(qtbot, window, tmp_path, monkeypatch):
    """A training process killed (or hung) never marks its run finished. After QUIET_S seconds without a step
    the app says so, in the title and above the table, instead of "live" in green forever; a new step makes it
    live again. (The viewer's clock is set by the test.)"""
    now = [1000.0]
    monkeypatch.setattr(run_view, "monotonic", lambda: now[0])
    b = RunBuilder(tmp_path / "run", {"0.weight": "0"}, [("0", "Linear", None)])
    b.step(1, 0.5, {"0.weight": 1.0})
    assert window.files.open_at_start(str(tmp_path / "run"))
    settle(qtbot)
    assert window.runs.state() == "live" and "(live)" in window.windowTitle()
    now[0] += 2.5 * run_view.QUIET_S
    window.runs.refresh()
    settle(qtbot)
    quiet = f"no new step for {2 * run_view.QUIET_S} s"
    assert window.runs.state() == quiet and f"({quiet})" in window.windowTitle()
    assert quiet in window.run_panel.heading.text()
    b.step(2, 0.4, {"0.weight": 0.9})
    window.runs.refresh()
    settle(qtbot)
    assert window.runs.state() == "live" and "(live)" in window.windowTitle()


def test_the_run_table_shows_the_update_ratio_bpstudio_runs_prints(qtbot, window, tmp_path):
    """A learning rate too high shows as an update ratio near 1e-1: the app's table has the column ``bpstudio
    runs`` prints, with its meaning on the header's tooltip."""
    b = RunBuilder(tmp_path / "run", {"0.weight": "0", "1.weight": "1"}, [("0", "Linear", None), ("1", "Linear", None)])
    for step in (1, 2, 3):
        b.step(step, 1.0, {"0.weight": 0.5, "1.weight": 1.0}, ratios={"0.weight": 0.3, "1.weight": 2e-3})
    b.finish()
    assert window.files.open_at_start(str(tmp_path / "run"))
    settle(qtbot)
    table = window.run_panel.table
    column = {table.horizontalHeaderItem(c).text(): c for c in range(table.columnCount())}
    shown = {table.item(r, 0).text(): table.item(r, column["update"]).text() for r in range(table.rowCount())}
    with WatchedRun(tmp_path / "run") as run:
        expected = {v.layer: format_number(v.update_ratio, 2) for v in layer_verdicts(run)}
    assert shown == expected and shown["0"] == format_number(0.3, 2)
    assert "learning rate is too high" in table.horizontalHeaderItem(column["update"]).toolTip()


def test_opening_a_run_asks_about_unsaved_changes_and_cancel_keeps_the_network(
    qtbot, window, dialogs, monkeypatch, tmp_path
):
    vanishing_run(tmp_path / "run")
    window.document.full_step()  # an unsaved change
    settle(qtbot)
    steps = window.document.session.step_count
    dialogs.answer = dialogs.answer.__class__.Cancel
    open_run_from_menu(qtbot, window, monkeypatch, tmp_path / "run")
    assert dialogs.kinds() == ["question"] and not window.runs.active
    assert window.document.session.step_count == steps and window.canvas.isVisible()


@pytest.mark.parametrize("what", ["empty folder", "corrupt database"])
def test_a_folder_without_a_readable_run_is_said_in_one_message_and_the_network_stays(
    qtbot, window, dialogs, monkeypatch, tmp_path, what
):
    folder = tmp_path / "bad"
    folder.mkdir()
    if what == "corrupt database":
        (folder / "run.sqlite").write_bytes(b"not a database at all" * 100)
    name = window.document.spec.name
    open_run_from_menu(qtbot, window, monkeypatch, folder)
    assert [(kind, title) for kind, title, _ in dialogs.shown] == [("warning", "Cannot open run")]
    message = dialogs.shown[0][2]
    assert "\n" not in message and str(folder) in message
    assert ("holds no run.sqlite" in message) == (what == "empty folder")
    assert not window.runs.active and window.canvas.isVisible() and window.document.spec.name == name
    assert window.window_actions.step.isEnabled()


def test_the_command_line_opens_a_run_folder(qtbot, window, tmp_path):
    vanishing_run(tmp_path / "run")
    assert window.files.open_at_start(str(tmp_path / "run"))
    settle(qtbot)
    assert window.runs.active and tuple(window.gradient_plot.curves) == ("0", "2", "4", "6")
    assert str(tmp_path / "run") in window.files.recent()
    window.runs.close()
    assert window.files.open_at_start(str(tmp_path / "run" / "run.sqlite"))  # the database named: its run
    settle(qtbot)
    assert window.runs.active and Path(window.runs.folder) == (tmp_path / "run").resolve()
    assert window.files.recent()[0] == str(tmp_path / "run")  # (the run's folder is what is remembered)


def test_a_run_named_on_the_command_line_keeps_the_plots_room_when_the_window_first_shows(qtbot, tmp_path):
    """``bpstudio RUN_DIR`` opens the run before the window is first shown, and the first show arranges the docks
    for a network: the plots the run is about kept their usual strip and the layer table took the screen."""
    vanishing_run(tmp_path / "run")
    w = MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    w.resize(1366, 768)
    assert w.files.open_at_start(str(tmp_path / "run"))  # (as bpstudio.gui.app.run does: then it shows)
    w.show()
    qtbot.waitExposed(w)
    settle(qtbot)
    try:
        assert w.runs.active
        assert w.docks["gradients"].height() >= 0.5 * w.height() and w.docks["loss"].height() >= 0.5 * w.height()
    finally:
        w.close()


WRITER = """
import sys
from tests.watched_runs import RunBuilder

builder = RunBuilder(sys.argv[1], {"a.weight": "a", "b.weight": "b"}, [("a", "Linear", None), ("b", "Linear", None)])
step = 0
print("ready", flush=True)
for line in sys.stdin:
    if line.strip() == "finish":
        builder.finish()
        print("finished", flush=True)
        break
    for _ in range(int(line)):
        step += 1
        builder.step(step, 1.0 / step, {"a.weight": 0.01 * step, "b.weight": 1.0 + step})
    print(step, flush=True)
"""


def test_the_app_tails_a_run_another_process_writes(qtbot, window, dialogs, monkeypatch, tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(WRITER), str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert child.stdout.readline() == "ready\n"

        def write(steps):
            child.stdin.write(f"{steps}\n")
            child.stdin.flush()
            return int(child.stdout.readline())

        assert write(3) == 3
        open_run_from_menu(qtbot, window, monkeypatch, tmp_path)
        plot = window.gradient_plot
        plot.smooth_check.setChecked(False)
        for written in (5, 9):
            assert write(written - len(curve_data(plot.curves["a"])[0])) == written
            # the window's own timers read the new rows and redraw: no call from here
            qtbot.waitUntil(lambda n=written: len(curve_data(plot.curves["a"])[0]) == n)
            steps, norms = curve_data(plot.curves["a"])
            np.testing.assert_array_equal(steps, np.arange(1, written + 1))
            np.testing.assert_allclose(norms, 0.01 * steps, rtol=1e-12)
            assert f"step {written}" in window.window_actions.phase_label.text()
            assert "live" in window.windowTitle()
        child.stdin.write("finish\n")
        child.stdin.flush()
        assert child.stdout.readline() == "finished\n"
        qtbot.waitUntil(lambda: "finished" in window.windowTitle())
        assert not window.runs.timer.isActive() and "finished" in window.window_actions.phase_label.text()
    finally:
        child.stdin.close()
        assert child.wait(timeout=60) == 0
