"""The vanishing-gradients walkthrough: the three lesson examples, one change at a time, with the numbers of the
runs the class watches.

The stops and their texts come from :mod:`bpstudio.core.tools.vanishing_lesson`; the panel carries them out
through the window as a person would: keeps the run on the plots, opens the next example (asking about
unsaved changes, unless the lesson's own run is all that changed), trains it at the watchable pace (the speed
control still rules) and, once the run ends, shows the text with that run's figures. Starting takes earlier
kept runs off the plots. Back looks at the earlier texts again; Next goes forward through them to where the
lesson stands. It docks beside the canvas, so the plots stay in view.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QWidget

from bpstudio.core.errors import BpstudioError
from bpstudio.core.io import presets
from bpstudio.core.tools.vanishing_lesson import RUN_NAMES, LessonStop, RunSummary, lesson, summarize
from bpstudio.gui.docks import fit_corner
from bpstudio.gui.tools.lecture_page import LectureLook, LecturePage
from bpstudio.gui.tools.walkthrough_panel import PLOTS, WalkthroughDock
from bpstudio.gui.training import DEFAULT_SPEED

if TYPE_CHECKING:
    from bpstudio.gui.main_window import MainWindow

# beside the canvas: a little smaller than the Mazur walkthrough's full width
LOOK = LectureLook(
    title_pt=20,
    body_pt=15,
    button_pt=15,
    counter_pt=13,
    note_pt=13,
    padding="5px 16px",
    margins=(12, 8, 12, 8),
    counter_beside_title=False,
)


class LessonPanel(LecturePage):
    """Shows stop ``index`` of the lesson; ``start`` begins again at the first stop."""

    def __init__(self, window: MainWindow, parent: QWidget | None = None):
        super().__init__("lesson", LOOK, parent)
        self.window_ = window
        self.stops: list[LessonStop] = lesson()
        self.texts: list[str] = []  # the text of each stop reached so far
        self.runs: dict[str, RunSummary] = {}  # example -> its run in this lesson
        self.index = -1
        self.example: str | None = None  # the example the lesson has open
        self.training_for: int | None = None  # the stop whose run is training
        self._ran_to: tuple[int, int] | None = None  # (undo index, step) where the lesson's last run ended
        window.training.running_changed.connect(self._on_running_changed)

    # --- driving ----------------------------------------------------------------------------------------

    def start(self) -> None:
        """Begin again: no runs, the first stop (which opens the deep sigmoid example), the watchable pace."""
        self.window_.training.stop()
        self.texts, self.runs, self.index, self.example, self.training_for = [], {}, -1, None, None
        self._ran_to = None
        self.window_.window_actions.speed.setCurrentText(DEFAULT_SPEED)
        self.window_.kept_runs.clear()  # (the plots compare the lesson's own runs)
        self.note.hide()
        self._carry_out(0)

    def next(self) -> None:
        if self.training_for is not None:
            return
        if self.index + 1 < len(self.texts):  # forward through texts already shown
            self.index += 1
            self._show()
        elif self.index + 1 < len(self.stops):
            self._carry_out(self.index + 1)

    def back(self) -> None:
        if self.training_for is None and self.index > 0:
            self.index -= 1
            self._show()

    def _carry_out(self, index: int) -> None:
        stop, w = self.stops[index], self.window_
        if stop.keep_run:
            w.keep_run(RUN_NAMES.get(self.example or ""))
        if stop.example is not None:
            doc = w.document
            if self._ran_to == (doc.undo_stack.index(), doc.session.step_count):
                doc.forget_changes()  # only the lesson's own run changed it: nothing to ask about
            if not w.files.open_example(stop.example):
                self._say("The example was not opened (the unsaved changes question was cancelled). Press Next again.")
                return
            self.example = stop.example
        if not self._example_is_open():
            self._say("Another network is open now. Press Restart to begin the lesson again.")
            return
        self.note.hide()
        if stop.train_steps:
            self.training_for = index
            self.title.setText(stop.title)
            self.counter.setText(f"stop {index + 1} of {len(self.stops)}")
            self.show_text(
                f"Training for {stop.train_steps} steps… Watch the gradient plot below: one curve per layer, on a "
                "logarithmic scale. (The speed control in the toolbar sets the pace.)"
            )
            self._update_buttons()
            w.training.start(max_steps=stop.train_steps)
        else:
            self._finish(index)

    def _on_running_changed(self, running: bool) -> None:
        index = self.training_for
        if running or index is None:
            return
        self.training_for = None
        doc = self.window_.document
        try:
            with doc.lock:
                summary = summarize(doc.history)
        except BpstudioError as exc:
            self._say(f"The run cannot be told: {exc}. Press Restart.")
            return
        assert self.example is not None
        self.runs[self.example] = summary
        self._ran_to = (doc.undo_stack.index(), doc.session.step_count)
        self._finish(index)
        wanted = self.stops[index].train_steps
        if summary.steps < wanted:
            self._say(f"The run was paused after {summary.steps} of {wanted} steps; these are its figures so far.")

    def _finish(self, index: int) -> None:
        stop = self.stops[index]
        try:
            text = stop.text_for(self.window_.document.spec, self.runs)
        except (BpstudioError, KeyError) as exc:
            self._say(f"This stop needs the earlier runs ({exc}). Press Restart.")
            return
        del self.texts[index:]
        self.texts.append(text)
        self.index = index
        self._show()

    def _example_is_open(self) -> bool:
        return self.example is not None and self.window_.document.spec.name == presets.load(self.example).name

    # --- showing ----------------------------------------------------------------------------------------

    def _show(self) -> None:
        self.title.setText(self.stops[self.index].title)
        self.counter.setText(f"stop {self.index + 1} of {len(self.stops)}")
        self.show_text(self.texts[self.index])
        self._update_buttons()

    def _say(self, message: str) -> None:
        self.note.setText(message)
        self.note.show()
        self._update_buttons()

    def _update_buttons(self) -> None:
        idle = self.training_for is None
        self.back_button.setEnabled(idle and self.index > 0)
        self.next_button.setEnabled(idle and self.index + 1 < len(self.stops))


@dataclass
class LessonDock:
    """The lesson's place in a main window, whether it hid the chain-rule panel to have the column's height, and
    the plots' height before it gave them more (0: it has not)."""

    panel: LessonPanel
    dock: QDockWidget
    hid_explanation: bool = False
    plot_height: int = 0


def _make_room(window: MainWindow, placed: LessonDock, open_: bool) -> None:
    """The lesson takes the right column's height: the chain-rule panel under it goes while it is open and
    comes back when it closes. The plots it is about get the larger share of the height under the canvas (at
    their usual share, the legends of three kept runs and twenty layers left the curves a strip and hid the
    heatmap), and their height back when it closes."""
    explanation = window.docks["explanation"]
    if open_ and explanation.toggleViewAction().isChecked():
        placed.hid_explanation = True
        explanation.close()
    elif not open_ and placed.hid_explanation:
        placed.hid_explanation = False
        explanation.show()
    window.text_column = open_
    fit_corner(window, open_)
    plots = [window.docks[key] for key in PLOTS]
    if open_ and not placed.plot_height:
        placed.plot_height = plots[0].height()
        window.resizeDocks(plots, [window.height() * 3 // 5] * 2, Qt.Orientation.Vertical)
    elif not open_ and placed.plot_height:
        window.resizeDocks(plots, [placed.plot_height] * 2, Qt.Orientation.Vertical)
        placed.plot_height = 0


def open_lesson(window: MainWindow) -> LessonPanel:
    """Show the vanishing-gradients walkthrough beside the canvas and begin it (it opens the first example)."""

    def place() -> LessonDock:
        panel = LessonPanel(window)
        dock = QDockWidget("Vanishing gradients", window)
        dock.setObjectName("lesson_dock")
        dock.setWidget(panel)
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        window.tabifyDockWidget(window.docks["inspector"], dock)
        placed = LessonDock(panel, dock)
        dock.toggleViewAction().toggled.connect(lambda shown: _make_room(window, placed, shown))
        return placed

    mazur = window.tools.get(WalkthroughDock)
    if mazur is not None and mazur.dock.isVisible():  # (it put the plots away for Mazur's first step; closing
        mazur.dock.close()  # it brings them back: the lesson is about them)
    for key in PLOTS:
        window.docks[key].show()
    placed = window.tools.get_or_make(LessonDock, place)
    placed.dock.show()
    placed.dock.raise_()
    _make_room(window, placed, True)
    placed.panel.start()
    placed.panel.next_button.setFocus()
    return placed.panel
