"""Opening the app where there is no display (an SSH session, a container): one line that says so and how to
run bpstudio there, exit status 2, and Qt never loaded (it would abort with a message about its xcb plugin)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.running import assert_one_line_error, run

REPO = Path(__file__).resolve().parents[2]
DISPLAY_VARIABLES = ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
MESSAGE = (
    "bpstudio: error: no display found (neither DISPLAY nor WAYLAND_DISPLAY is set), so the app cannot open "
    "its window; check the install with 'QT_QPA_PLATFORM=offscreen bpstudio --smoke', or use the headless "
    "commands such as 'bpstudio train' (bpstudio --help lists them)"
)

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11 and Wayland displays are Linux's")


@pytest.fixture
def no_display(monkeypatch):
    """No display variables set, and the app's module made unimportable: reaching it would fail the test."""
    for name in DISPLAY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setitem(sys.modules, "bpstudio.gui.app", None)


@linux_only
@pytest.mark.parametrize("argv", [[], ["--smoke"], ["gui"], ["gui", "net.json"], ["net.json"]])
def test_without_a_display_the_app_is_not_started(capsys, no_display, argv):
    code, out, err = run(capsys, *argv)
    assert (code, out) == (2, "")
    assert assert_one_line_error(err) == MESSAGE


@linux_only
@pytest.mark.parametrize("variable, value", [("DISPLAY", ":0"), ("WAYLAND_DISPLAY", "wayland-0")])
def test_a_display_variable_lets_qt_try(capsys, no_display, monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    code, _, err = run(capsys, "--smoke")
    assert code == 2 and "the desktop app needs PySide6" in assert_one_line_error(err)  # (unimportable here)


@linux_only
def test_a_chosen_qt_platform_lets_qt_try(capsys, no_display, monkeypatch):
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    code, _, err = run(capsys, "--smoke")
    assert code == 2 and "the desktop app needs PySide6" in assert_one_line_error(err)


@linux_only
def test_the_real_command_says_so_before_loading_qt(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in DISPLAY_VARIABLES}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    code = "import sys; from bpstudio.cli import main; c = main([]); print('PySide6' in sys.modules); sys.exit(c)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert (result.returncode, result.stdout) == (2, "False\n")
    assert assert_one_line_error(result.stderr) == MESSAGE


@linux_only
def test_a_run_folder_named_without_a_display_is_pointed_at_bpstudio_runs(capsys, no_display, tmp_path):
    """A practitioner on a training server, over SSH, names the run folder: the way to read it there is
    ``bpstudio runs``, not ``bpstudio train``."""
    from tests.watched_runs import RunBuilder

    RunBuilder(tmp_path / "run", {"0.weight": "0"}, [("0", "Linear", None)]).finish()
    code, out, err = run(capsys, tmp_path / "run")
    assert (code, out) == (2, "")
    said = assert_one_line_error(err)
    assert said.startswith("bpstudio: error: no display found") and said.endswith(
        f"or 'bpstudio runs {tmp_path / 'run'}' prints the run's summary here"
    )
