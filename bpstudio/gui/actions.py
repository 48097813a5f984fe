"""The window's actions, menus and toolbars, with their keyboard shortcuts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QComboBox, QLabel, QMenu, QToolBar

from bpstudio.core.io import presets
from bpstudio.gui.about_dialog import AboutDialog
from bpstudio.gui.qt_utils import bound
from bpstudio.gui.tools import menu as tools_menu
from bpstudio.gui.training import DEFAULT_SPEED, SPEEDS

if TYPE_CHECKING:
    from bpstudio.gui.main_window import MainWindow


@dataclass
class Actions:
    new: QAction
    open: QAction
    open_run: QAction
    save: QAction
    save_as: QAction
    quit: QAction
    undo: QAction
    redo: QAction
    forward: QAction
    backward: QAction
    update: QAction
    step: QAction
    epoch: QAction
    play: QAction
    reset: QAction
    gradcheck: QAction
    tidy: QAction
    fit: QAction
    presentation: QAction
    recent_menu: QMenu
    speed: QComboBox
    phase_label: QLabel
    network_menus: tuple[QMenu, ...] = ()  # the tools that work on the open network (off while a run is shown)

    def stepping(self) -> tuple[QAction, ...]:
        return (self.forward, self.backward, self.update, self.step, self.epoch, self.reset, self.gradcheck)


def _action(
    window: MainWindow,
    text: str,
    slot: Callable[[], object],
    shortcut: str | QKeySequence | QKeySequence.StandardKey | None = None,
    tip: str = "",
) -> QAction:
    action = QAction(text, window)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    tip = tip or text.replace("&", "")
    if shortcut is not None:
        tip += f" ({QKeySequence(shortcut).toString()})"
    action.setToolTip(tip)
    action.setStatusTip(tip)
    action.triggered.connect(lambda _checked=False: slot())
    return action


def build_actions(w: MainWindow) -> Actions:
    doc = w.document
    stack = w.undo_mirror.qt_stack  # (the document's stack, mirrored: its actions keep their texts current)
    undo = stack.createUndoAction(w, "&Undo")
    undo.setShortcut(QKeySequence.StandardKey.Undo)
    redo = stack.createRedoAction(w, "&Redo")
    redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
    play = _action(w, "&Play", w.training.toggle, "P", "Train continuously / pause")
    play.setCheckable(True)
    presentation = _action(w, "&Presentation mode", w.toggle_presentation, "F5", "Larger text for projectors")
    presentation.setCheckable(True)
    w.canvas.fit_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)  # also from the menu
    speed = QComboBox()
    speed.addItems(list(SPEEDS))
    speed.setCurrentText(DEFAULT_SPEED)
    speed.setToolTip("Training speed while playing")
    speed.currentTextChanged.connect(lambda text: w.training.set_speed(SPEEDS[text]))
    a = Actions(
        new=_action(w, "&New", w.files.new, QKeySequence.StandardKey.New),
        open=_action(w, "&Open…", w.files.choose_and_open, QKeySequence.StandardKey.Open),
        open_run=_action(
            w,
            "Open &run…",
            w.files.choose_run_and_open,
            "Ctrl+Shift+O",
            "Show a PyTorch training run recorded by bpstudio.watch (a folder holding run.sqlite), live while it runs",
        ),
        save=_action(w, "&Save", w.files.save, QKeySequence.StandardKey.Save),
        save_as=_action(w, "Save &As…", w.files.save_as, "Ctrl+Shift+S"),
        quit=_action(w, "&Quit", w.close, "Ctrl+Q"),
        undo=undo,
        redo=redo,
        forward=_action(
            w,
            "&Forward",
            lambda: doc.advance("forward"),
            "F",
            "Forward one layer (the last forward phase computes the loss)",
        ),
        backward=_action(w, "&Backward", lambda: doc.advance("backward"), "B", "Backward one layer"),
        update=_action(w, "Apply &update", lambda: doc.advance("update"), "U", "Apply the update to the weights"),
        step=_action(w, "Full &step", doc.full_step, "S", "Finish this step (or run a whole one)"),
        epoch=_action(w, "&Epoch", doc.epoch, "E", "Train to the end of this pass over the data"),
        play=play,
        reset=_action(w, "&Reset", doc.reset_training, "Ctrl+R", "Back to the starting weights, step 0, empty plots"),
        gradcheck=_action(
            w,
            "&Gradient check…",
            w.show_gradient_check,
            "Ctrl+G",
            "Compare backprop's gradients with the complex step and finite differences (runs in the background)",
        ),
        tidy=_action(w, "&Tidy layout", w.tidy_layout, "Ctrl+L"),
        fit=w.canvas.fit_action,
        presentation=presentation,
        recent_menu=QMenu("Open &Recent", w),
        speed=speed,
        phase_label=QLabel(),
    )
    _menus(w, a)
    _toolbar(w, a)
    return a


def _menus(w: MainWindow, a: Actions) -> None:
    bar = w.menuBar()
    file_menu = bar.addMenu("&File")
    file_menu.addActions([a.new, a.open, a.open_run])
    file_menu.addMenu(a.recent_menu)
    examples = file_menu.addMenu("&Examples")
    for name in presets.names():  # (titles for people; the id stays the key)
        action = examples.addAction(presets.title(name).replace("&", "&&"), bound(_open_example, w, a.speed, name))
        action.setData(name)
        action.setStatusTip(presets.description(name))
        action.setToolTip(presets.description(name))
    examples.setToolTipsVisible(True)
    file_menu.addSeparator()
    file_menu.addActions([a.save, a.save_as])
    file_menu.addSeparator()
    file_menu.addAction(a.quit)
    edit_menu = bar.addMenu("&Edit")
    edit_menu.addActions([a.undo, a.redo])
    edit_menu.addSeparator()
    edit_menu.addAction(a.tidy)
    step_menu = bar.addMenu("&Step")
    step_menu.addActions([a.forward, a.backward, a.update])
    step_menu.addSeparator()
    step_menu.addActions([a.step, a.epoch, a.play, a.reset])
    step_menu.addSeparator()
    step_menu.addAction(a.gradcheck)
    w.view_menu = bar.addMenu("&View")
    w.view_menu.addActions([a.fit, a.presentation])
    w.view_menu.addSeparator()
    help_menu = bar.addMenu("&Help")
    about = _action(w, "&About bpstudio", lambda: _show_about(w), tip="Version, backends and system details")
    about.setMenuRole(QAction.MenuRole.AboutRole)
    help_menu.addAction(about)
    a.network_menus = tools_menu.add_menus(w, bar, file_menu, a.quit, help_menu)


def _open_example(w: MainWindow, speed: QComboBox, name: str) -> None:
    """Open an example at the watchable pace: its first run is one a person can follow."""
    if w.files.open_example(name):
        speed.setCurrentText(DEFAULT_SPEED)


def _show_about(w: MainWindow) -> None:
    dialog = AboutDialog(w)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()


def _toolbar(w: MainWindow, a: Actions) -> None:
    bar = QToolBar("Stepping", w)
    bar.setObjectName("stepping_toolbar")
    bar.addActions([a.forward, a.backward, a.update])
    bar.addSeparator()
    bar.addActions([a.step, a.epoch, a.play])
    bar.addWidget(a.speed)
    bar.addAction(a.reset)
    w.addToolBar(bar)
    w.stepping_toolbar = bar
    phase = QToolBar("Phase", w)  # (its own bar: never pushed into the stepping bar's overflow menu)
    phase.setObjectName("phase_toolbar")
    phase.addWidget(a.phase_label)
    w.addToolBar(phase)
    w.phase_toolbar = phase
