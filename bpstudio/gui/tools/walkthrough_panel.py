"""The guided walk through Mazur's example, for a lecture: large black-on-white text, Back and Next.

The steps and their texts come from :mod:`bpstudio.core.tools.walkthrough`; the panel only runs each step's
phase through the document (``Document.advance``) and points at the quantity on the canvas (the halo a
click on a neuron or weight line draws) and in the chain-rule panel. Back returns to the state before the
step's phase: the update is undone through the undo stack (it is an undoable training step); a phase
inside a step has no undo entry, so the step in progress is dropped and the earlier phases run again
(the numbers are the same: a phase only reads the weights, which the step has not changed yet).

PageDown / PageUp (what a presenter's clicker sends) and the arrow keys go forward and back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QDockWidget,
    QMessageBox,
    QWidget,
)

from bpstudio.core.errors import BpstudioError
from bpstudio.core.init import initial_params
from bpstudio.core.io import presets
from bpstudio.core.tools.walkthrough import WalkStep, mazur_walkthrough
from bpstudio.document.run_commands import TrainCommand
from bpstudio.gui.canvas.scene import Hit
from bpstudio.gui.tools.lecture_page import LectureLook, LecturePage

if TYPE_CHECKING:
    from bpstudio.gui.main_window import MainWindow

# read from the back of a lecture hall, at the full width under the canvas
LOOK = LectureLook(
    title_pt=24,
    body_pt=19,
    button_pt=17,
    counter_pt=17,
    note_pt=17,
    padding="6px 22px",
    margins=(16, 10, 16, 10),
    counter_beside_title=True,
    back_text="◀  Back",
    next_text="Next  ▶",
)
PRESET = "mazur"
PLOTS = ("loss", "gradients")  # the docks beside it under the canvas


class WalkthroughPanel(LecturePage):
    """Shows step ``index`` of ``steps``; ``start`` (re)begins at step 0 on the window's document."""

    def __init__(self, window: MainWindow, parent: QWidget | None = None):
        super().__init__("walkthrough", LOOK, parent)
        self.window_ = window
        self.steps: list[WalkStep] = []
        self.index = 0
        self.in_sync = False
        self._start_step = 0
        self._params_before: dict[str, np.ndarray] = {}
        self._driving = False
        for keys, slot in (
            ((Qt.Key.Key_PageDown, Qt.Key.Key_Right), self.next),
            ((Qt.Key.Key_PageUp, Qt.Key.Key_Left), self.back),
        ):
            for key in keys:
                shortcut = QShortcut(QKeySequence(key), self)
                shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
                shortcut.activated.connect(slot)
        window.signals.step_changed.connect(self._check_sync)
        window.signals.loaded.connect(self._check_sync)

    # --- driving ----------------------------------------------------------------------------------

    def start(self) -> bool:
        """Back to step 0: the weights the network was opened with, no step in progress."""
        doc = self.window_.document
        self.window_.training.stop()
        try:
            self.steps = mazur_walkthrough(doc.spec, doc.train_data)
        except BpstudioError as exc:
            self._stop_with(f"The walkthrough needs Mazur's network: {exc}")
            return False
        self._driving = True
        try:
            origin = initial_params(doc.origin)
            current = doc.params()
            if doc.session.step_count != 0 or any(not np.array_equal(current[k], origin[k]) for k in origin):
                doc.reset_training()
            self._drop_step_in_progress()
        finally:
            self._driving = False
        self._start_step = doc.session.step_count
        self._params_before = {k: np.array(v) for k, v in doc.params().items()}
        self.index = 0
        self.in_sync = True
        self._show()
        return True

    def next(self) -> None:
        if not self.in_sync or self.index + 1 >= len(self.steps):
            return
        step = self.steps[self.index + 1]
        if step.action is not None and not self._run(step.action):
            return
        self.index += 1
        self._show()

    def back(self) -> None:
        if not self.in_sync or self.index == 0:
            return
        step = self.steps[self.index]
        if step.action is not None:
            doc = self.window_.document
            self._driving = True
            try:
                if step.action == "update":
                    stack = doc.undo_stack
                    made = stack.command(stack.index() - 1)
                    if not isinstance(made, TrainCommand) or made.before.step != self._start_step:
                        self._stop_with("The undo history changed outside the walkthrough. Press Restart.")
                        return
                    stack.undo()  # the training step the update made
                self._drop_step_in_progress()
                for earlier in self.steps[1 : self.index]:
                    if earlier.action is not None:
                        doc.advance(earlier.action)
            finally:
                self._driving = False
        self.index -= 1
        self._show()
        self._check_sync()

    def _run(self, action: str) -> bool:
        doc = self.window_.document
        self._driving = True
        try:
            doc.advance(action)
        finally:
            self._driving = False
        if self._phases_done() != self._phases_through(self.index + 1):
            self._stop_with(f"The {action} phase could not run here (see the canvas). Press Restart.")
            return False
        return True

    def _drop_step_in_progress(self) -> None:
        doc = self.window_.document
        if doc.session.mid_step:
            with doc.lock:
                doc.session.abort_step()
            doc.trace = None
            doc.step_changed.emit()

    # --- keeping in step with the document --------------------------------------------------------

    def _phases_through(self, index: int) -> int:
        return sum(1 for step in self.steps[1 : index + 1] if step.action is not None)

    def _phases_done(self) -> int:
        """Phases the session has run since the walk began, or -1 if it is not where the walk left it."""
        s = self.window_.document.session
        position = s.phases.index(s.next_phase)
        done = (s.step_count - self._start_step) * len(s.phases) + position
        return done if 0 <= done <= len(s.phases) else -1

    def _check_sync(self) -> None:
        if self._driving or not self.in_sync or not self.steps:
            return
        if self._phases_done() != self._phases_through(self.index):
            self._stop_with(
                "The network was stepped, trained or changed outside the walkthrough. Press Restart to begin again."
            )

    def _stop_with(self, message: str) -> None:
        self.in_sync = False
        self.note.setText(message)
        self.note.show()
        self._update_buttons()

    # --- showing ------------------------------------------------------------------------------------

    def _show(self) -> None:
        doc = self.window_.document
        step = self.steps[self.index]
        trace = doc.trace
        after = None if trace is None or trace.params_after is None else dict(trace.params_after)
        self.title.setText(step.title)
        self.counter.setText(f"step {self.index + 1} of {len(self.steps)}")
        try:
            self.show_text(step.text(trace, self._params_before, after))
            self.note.hide()
        except BpstudioError as exc:
            self.show_text("")
            self._stop_with(str(exc))
        self._highlight(step)
        self._update_buttons()

    def _update_buttons(self) -> None:
        self.back_button.setEnabled(self.in_sync and self.index > 0)
        self.next_button.setEnabled(self.in_sync and self.index + 1 < len(self.steps))

    def _highlight(self, step: WalkStep) -> None:
        w = self.window_
        scene = w.canvas.canvas
        kind = step.highlight[0]
        if kind == "neuron":
            _, layer, unit = step.highlight
            w.canvas.select_layer(None)
            scene.set_picked(Hit("neuron", layer, (unit,)))
        elif kind == "edge":
            _, key, index = step.highlight
            w.canvas.select_layer(None)
            scene.set_picked(Hit("edge", key.rpartition(".")[0], tuple(index)))
            w.explanation.set_target(key, tuple(index))
        else:  # a layer, or the loss: the canvas writes the loss under the output block, so that is selected
            scene.set_picked(None)
            w.canvas.select_layer(step.highlight[1] if kind == "layer" else w.document.spec.output)


def _is_mazur(window: MainWindow) -> bool:
    """Mazur's network, data and first weights are open (edits of the learning rate are kept)."""
    doc = window.document
    wanted = presets.load(PRESET)
    if doc.spec.param_shapes() != wanted.param_shapes() or doc.spec.loss != wanted.loss:
        return False
    mine, theirs = doc.origin, wanted
    same_weights = all(
        np.array_equal(np.asarray(getattr(mine.layer(lid), part)), np.asarray(getattr(theirs.layer(lid), part)))
        for lid in wanted.order[1:]
        for part in ("weight", "bias")
    )
    return same_weights and doc.spec.data == wanted.data


START_OVER = "The walkthrough starts Mazur's example from its first step."


def _may_start_over(window: MainWindow) -> bool:
    """Mazur's example is open: going back to its first step throws away the run made since (steps, a step in
    progress, weights edited), so ask first, as opening another file would; True to go ahead."""
    doc = window.document
    origin = initial_params(doc.origin)
    current = doc.params()
    at_start = doc.session.step_count == 0 and not doc.session.mid_step
    if at_start and all(np.array_equal(current[k], origin[k]) for k in origin):
        return True
    if doc.dirty:
        return window.files.maybe_save(START_OVER)
    steps = doc.session.step_count
    done = [f"{steps} step{'s' if steps != 1 else ''} trained" if steps else ""]
    done.append("a step in progress" if doc.session.mid_step else "")
    detail = ", ".join(part for part in done if part) or "weights changed"
    answer = QMessageBox.question(
        window,
        "Start the walkthrough",
        f"{START_OVER} Discard the current run ({detail})?",
        QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
        QMessageBox.StandardButton.Cancel,
    )
    return answer == QMessageBox.StandardButton.Discard


class _CloseFirst(QObject):
    """Closes the walkthrough before the window saves its layout on closing, so the plots it made room
    for are saved as shown and the next start does not open without them."""

    def __init__(self, window: MainWindow):
        super().__init__(window)
        self.window_ = window

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.window_ and event.type() == QEvent.Type.Close:
            _dock(self.window_).close()
            _make_room(self.window_, False)
        return False


@dataclass
class WalkthroughDock:
    """The walkthrough's place in a main window: the panel, its dock, the filter that closes it with the
    window, and the plot docks it hid to make room (None while it is closed)."""

    panel: WalkthroughPanel
    dock: QDockWidget
    closer: QObject
    hid: list[str] | None = None


def _dock(window: MainWindow) -> QDockWidget:
    placed = window.tools.get(WalkthroughDock)
    assert placed is not None
    return placed.dock


def _make_room(window: MainWindow, walking: bool) -> None:
    """The walkthrough takes the width under the canvas: the plots beside it (they have nothing to show
    during the first step) are hidden while it is open and come back as they were when it is closed."""
    placed = window.tools.get(WalkthroughDock)
    if placed is None:
        return
    if walking and placed.hid is None:
        placed.hid = [key for key in PLOTS if window.docks[key].toggleViewAction().isChecked()]
        for key in placed.hid:
            window.docks[key].close()
    elif not walking and placed.hid is not None and not placed.dock.toggleViewAction().isChecked():
        for key in placed.hid:
            window.docks[key].show()
        placed.hid = None


def open_walkthrough(window: MainWindow) -> WalkthroughPanel | None:
    """Open Mazur's example (asking about unsaved changes if another network is open, or before going back to
    the first step of a run of it), go back to its first step and show the walkthrough docked under the canvas.
    None if the person cancelled (then everything stays as it was)."""
    window.training.stop()
    if not _is_mazur(window):
        window.files.open_example(PRESET)
        if not _is_mazur(window):
            return None
    elif not _may_start_over(window):
        return None

    def place() -> WalkthroughDock:
        panel = WalkthroughPanel(window)
        dock = QDockWidget("Walkthrough", window)
        dock.setObjectName("walkthrough_dock")
        dock.setWidget(panel)
        window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
        closer = _CloseFirst(window)
        window.installEventFilter(closer)
        dock.visibilityChanged.connect(lambda shown: _make_room(window, shown))
        return WalkthroughDock(panel, dock, closer)

    placed = window.tools.get_or_make(WalkthroughDock, place)
    panel, dock = placed.panel, placed.dock
    dock.show()
    dock.raise_()
    _make_room(window, True)
    window.resizeDocks([dock], [max(300, window.height() * 2 // 5)], Qt.Orientation.Vertical)
    panel.start()
    panel.next_button.setFocus()
    return panel
