"""The menu entries of the tools: File ▸ Export / Import, a Tools menu and Help ▸ the walkthroughs.

Each tool's module is imported when its entry is first used, so they add nothing to the start-up time
(and none of them imports PyTorch before it is asked for)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QMenuBar

from bpstudio.gui.qt_utils import bound

if TYPE_CHECKING:
    from bpstudio.gui.main_window import MainWindow

# (label, module under bpstudio.gui.tools, function taking the window, tooltip); None: a separator
TOOLS = (
    (
        "Compare &NumPy and PyTorch…",
        "compare_dialog",
        "open_compare",
        "One step on every backend and precision, and the largest differences per layer",
    ),
    (
        "Vanishing-gradient &sweep…",
        "sweep_dialog",
        "open_sweep",
        "Train grids of depth × activation × initialiser × residual and plot the first layer's gradient",
    ),
    None,
    (
        "&Layer statistics…",
        "layer_stats_panel",
        "open_layer_stats",
        "Histograms over time of values, weights and gradients; dead and saturated units",
    ),
    (
        "Loss l&andscape…",
        "landscape_dialog",
        "open_landscape",
        "The loss around the current weights along two random directions, with the training path",
    ),
)
EXPORTS = (
    (
        "Export as &PyTorch script…",
        "export_dialogs",
        "export_torch_script",
        "A runnable nn.Module with the current weights and a training loop for its data",
    ),
    ("Export &metrics (CSV)…", "export_dialogs", "export_metrics_csv", "The plot history: loss, accuracy, gradients"),
    (
        "Export step &trace (NPZ)…",
        "export_dialogs",
        "export_trace_npz",
        "Everything the current step computed, for a notebook",
    ),
    None,
    (
        "&Import weights from a PyTorch state_dict…",
        "export_dialogs",
        "import_state_dict",
        "Weights saved from the exported module (or one with the same layers)",
    ),
)
WALKTHROUGH = (
    "The &Mazur walkthrough",
    "walkthrough_panel",
    "open_walkthrough",
    "Backpropagation step by step on Mazur's 2-2-2 example, each number explained",
)
LESSON = (
    "The &vanishing-gradients walkthrough",
    "lesson_panel",
    "open_lesson",
    "Why deep sigmoid nets stop learning, and three fixes compared, with the numbers of the runs",
)


def run_tool(window: MainWindow, module: str, function: str) -> None:
    getattr(importlib.import_module(f"bpstudio.gui.tools.{module}"), function)(window)


def _fill(window: MainWindow, menu: QMenu, entries: tuple) -> None:
    for entry in entries:
        if entry is None:
            menu.addSeparator()
            continue
        label, module, function, tip = entry
        action = menu.addAction(label, bound(run_tool, window, module, function))
        action.setToolTip(tip)
        action.setStatusTip(tip)
    menu.setToolTipsVisible(True)


def add_menus(
    window: MainWindow, bar: QMenuBar, file_menu: QMenu, before: QAction, help_menu: QMenu
) -> tuple[QMenu, QMenu]:
    """File ▸ Export and import (above ``before``), a Tools menu before Help, and the walkthrough under Help.
    Returns the menus whose entries work on the open network (Export and import, Tools)."""
    exports = QMenu("E&xport and import", file_menu)
    _fill(window, exports, EXPORTS)
    file_menu.insertMenu(before, exports)
    file_menu.insertSeparator(before)
    tools = QMenu("&Tools", bar)
    _fill(window, tools, TOOLS)
    bar.insertMenu(help_menu.menuAction(), tools)
    _fill(window, help_menu, (WALKTHROUGH, LESSON, None))
    help_menu.insertActions(help_menu.actions()[0], help_menu.actions()[-3:])  # (the walkthroughs first)
    return exports, tools
