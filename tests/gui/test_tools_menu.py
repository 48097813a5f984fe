"""The tools open from the window's menus as a person opens them: Tools ▸ …, File ▸ Export and import ▸ …,
Help ▸ The Mazur walkthrough; none of them is imported (nor PyTorch) before it is asked for."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytest.importorskip("PySide6")

from PySide6.QtWidgets import QApplication, QWidget

from bpstudio.gui.tools.menu import TOOLS
from tests.gui.driving import menu, settle


def shown_windows():
    return {w for w in QApplication.topLevelWidgets() if w.isVisible()}


@pytest.mark.parametrize("entry", [e for e in TOOLS if e is not None], ids=lambda e: e[2])
def test_each_tool_opens_from_the_tools_menu(qtbot, window, entry):
    label, module, function, _ = entry
    before = shown_windows()
    menu(window, "Tools", label.replace("&", "")).trigger()
    settle(qtbot)
    opened = shown_windows() - before
    assert opened, f"{label} opened nothing"
    assert all(type(w).__module__ == f"bpstudio.gui.tools.{module}" or isinstance(w, QWidget) for w in opened)
    for w in opened:
        w.close()


def test_metrics_export_writes_the_history_as_csv(qtbot, window, dialogs, tmp_path):
    window.document.full_step()
    dialogs.save_path = str(tmp_path / "metrics.csv")
    menu(window, "File", "Export and import", "Export metrics (CSV)…").trigger()
    settle(qtbot)
    text = (tmp_path / "metrics.csv").read_text()
    assert "train_loss" in text and len(text.splitlines()) >= 2


def test_the_walkthrough_opens_from_help(qtbot, window):
    menu(window, "Help", "The Mazur walkthrough").trigger()
    settle(qtbot)
    assert window.document.spec.name.startswith("Mazur")


def test_no_tool_nor_torch_is_imported_at_start():
    code = (
        "import sys; from PySide6.QtWidgets import QApplication; app = QApplication([]); "
        "from bpstudio.gui.main_window import MainWindow; w = MainWindow(); "
        "print(sorted(m for m in sys.modules if m.startswith('bpstudio.gui.tools.') and m != "
        "'bpstudio.gui.tools.menu'), 'torch' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert done.stdout.strip().splitlines()[-1] == "[] False", done.stdout + done.stderr
