"""The main window: the topology canvas in the middle, dockable panels around it.

It connects views to the document and nothing more: views show what the document holds and send the
user's requests back, which the document carries out as undoable core edits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings, QSize, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QResizeEvent, QShowEvent
from PySide6.QtWidgets import (
    QApplication,
    QMainWindow,
    QMenu,
    QMessageBox,
    QToolBar,
    QUndoView,
    QVBoxLayout,
    QWidget,
)

from bpstudio.core.edit import topology as edit
from bpstudio.core.errors import BpstudioError
from bpstudio.core.modes import loss_modes
from bpstudio.core.normalization import NORM_TYPES
from bpstudio.core.tools.evaluate import data_surface
from bpstudio.core.tools.gradcheck import gradient_check
from bpstudio.core.tools.neuron_maps import NeuronMaps, neuron_maps
from bpstudio.document import Document
from bpstudio.document.kept_runs import KeptRuns, run_label
from bpstudio.gui import docks, presentation
from bpstudio.gui.actions import build_actions
from bpstudio.gui.backend_loader import BackendLoader
from bpstudio.gui.background_task import BackgroundTask
from bpstudio.gui.canvas import LayerPalette, TopologyView
from bpstudio.gui.canvas.neuron_items import BuiltPictures
from bpstudio.gui.colors import network_colors
from bpstudio.gui.document_signals import DocumentSignals, UndoMirror
from bpstudio.gui.edits import EditRequests
from bpstudio.gui.files import FileManager
from bpstudio.gui.inspectors.explanation import ExplanationPanel
from bpstudio.gui.inspectors.gradcheck_dialog import GradientCheckDialog
from bpstudio.gui.inspectors.layer_inspector import LayerInspector
from bpstudio.gui.panels.data_panel import DataPanel
from bpstudio.gui.panels.timeline_panel import TimelinePanel
from bpstudio.gui.panels.training_panel import TrainingPanel
from bpstudio.gui.plots.gradient_plot import GradientPlot
from bpstudio.gui.plots.loss_plot import LossPlot
from bpstudio.gui.qt_utils import bound
from bpstudio.gui.refresh import RefreshPacer, paint_now
from bpstudio.gui.run_view import RunPanel, RunViewer
from bpstudio.gui.step_alarm import StepAlarm
from bpstudio.gui.tool_registry import ToolRegistry
from bpstudio.gui.training import TrainingController
from bpstudio.gui.typing_guard import TypingGuard

PRESENTATION_SCALE = presentation.SCALE
TURNS = 4  # the views the timer's ticks update in turn (see _update_view)
DEFAULT_SIZE = (1500, 950)  # the first window, shrunk to fit smaller screens
# the docks about a network, closed while a watched run is shown (the loss and gradient plots stay)
NETWORK_DOCKS = ("inspector", "explanation", "data", "training", "dataset", "history", "timeline")


class MainWindow(QMainWindow):
    view_menu: QMenu  # made with the menus and the toolbar (gui/actions.py)
    stepping_toolbar: QToolBar
    phase_toolbar: QToolBar

    def __init__(self, settings: QSettings | None = None):
        super().__init__()
        self.settings = settings or QSettings()
        self.tools = ToolRegistry()  # the tool windows, made when first opened (gui/tools/)
        self.open_before_presentation: dict[str, bool] = {}  # the panels presentation mode hid
        self.layout_before_presentation: QByteArray | None = None  # the docks as they were before it
        self.document = Document()
        self.signals = DocumentSignals(self.document, self)  # (widgets connect here, not to the document)
        self.undo_mirror = UndoMirror(self.document.undo_stack, self)  # for the Edit history view and actions
        self.training = TrainingController(self.document, self)
        self.backend_loader = BackendLoader(self.document.set_backend, self)  # (PyTorch loads off this thread)
        self.kept_runs = KeptRuns()  # finished runs the plots keep drawing, faintly, for comparison
        self.runs = RunViewer(self)  # a watched PyTorch run shown in the network's place (File ▸ Open run…)
        self._run_shown = False
        self._open_before_run: dict[str, bool] = {}  # the network's docks that were open when a run took over
        self._plot_height = 0  # the plots' height then
        self.files = FileManager(
            self.document,
            self.training.stop,
            self,
            self.settings,
            recent_changed=lambda: self.refresh_recent_menu(),  # (the menu is made after the file manager)
            show_status=lambda text: self.statusBar().showMessage(text, 4000),
            engines=self.backend_loader,
            watch_run=lambda folder: self.runs.open(folder),
        )
        self.selected_layer: str | None = None
        self._base_font = QApplication.font()
        self.typing_guard = TypingGuard(self)  # (typed letters go to the focused table, not to the shortcuts)
        self._build_views()
        self.edits = EditRequests(self)
        self.window_actions = build_actions(self)
        self._build_docks()
        self.typing_guard.watch(self)
        self._connect()
        self.refresh_recent_menu()
        self._restore_settings()
        self._on_loaded()

    # --- construction -------------------------------------------------------------------------------

    def _build_views(self) -> None:
        self.canvas = TopologyView()
        self.layer_palette = LayerPalette()
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.layer_palette)
        layout.addWidget(self.canvas, 1)
        self.run_panel = RunPanel()
        self.run_panel.hide()
        layout.addWidget(self.run_panel, 1)
        self.setCentralWidget(central)
        self.inspector = LayerInspector()
        self.explanation = ExplanationPanel()
        self.training_panel = TrainingPanel()
        self.data_panel = DataPanel()
        self.data_plot = self.data_panel.plot  # (in a dock of its own, beside the canvas)
        self.loss_plot = LossPlot()
        self.gradient_plot = GradientPlot()
        self.step_alarm = StepAlarm(self.gradient_plot, self.canvas, self.statusBar)  # saturated, not finite…
        self.timeline_panel = TimelinePanel()
        self.undo_view = QUndoView(self.undo_mirror.qt_stack)
        self.undo_view.setEmptyLabel("<opened>")
        self.timer = QTimer(self)
        self.pacer = RefreshPacer()
        self.timer.setInterval(self.pacer.interval_ms)
        self.timer.timeout.connect(self._on_timer)
        self._canvas_pending = False
        self._turn = 0
        self._built_pictures: tuple[NeuronMaps, dict[str, BuiltPictures]] | None = None  # (turn 2 for turn 3)
        self.gradcheck_task: BackgroundTask | None = None  # the gradient check running, if one is
        self.gradcheck_dialog: GradientCheckDialog | None = None
        self._refusal: str | None = None
        self._select_after_redraw: str | None = None

    def _build_docks(self) -> None:
        self.docks = docks.build(self, self.view_menu)
        self.text_column = False  # whether the right column holds a text to read (a lesson): it keeps its height
        screen = QApplication.primaryScreen()
        room = screen.availableGeometry().size() if screen is not None else QSize(*DEFAULT_SIZE)
        self.resize(min(DEFAULT_SIZE[0], room.width()), min(DEFAULT_SIZE[1], room.height()))
        self._docks_arranged = False  # (restoring saved settings arranges them; else the first show does)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        docks.fit_corner(self, self.text_column)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._docks_arranged:  # (only once shown: earlier, Qt 6.11 leaves a stray tab bar)
            docks.arrange_default(self, self.docks, DEFAULT_SIZE)
            self._docks_arranged = True
            if self.runs.active:  # (a run named on the command line: its plots keep the room it gave them)
                self._give_plots_room()

    def _connect(self) -> None:
        doc = self.signals  # (the document's events as Qt signals)
        doc.network_changed.connect(self._on_network_changed)
        doc.params_changed.connect(self._on_params_changed)
        doc.step_changed.connect(self._on_step_changed)
        doc.data_changed.connect(self._on_data_changed)
        doc.settings_changed.connect(self._on_settings_changed)
        doc.file_changed.connect(self._update_title)
        doc.refused.connect(self._on_refused)
        doc.loaded.connect(self._on_document_loaded)
        self.runs.changed.connect(self._on_run_changed)
        self.undo_mirror.qt_stack.indexChanged.connect(lambda _i: self.canvas.banner.clear_message())  # an edit went in
        self.training.running_changed.connect(self._on_running_changed)
        self.training.progressed.connect(lambda _p: self._schedule_canvas())
        self.training.failed.connect(self._on_refused)
        self.training.stopped.connect(lambda why: self.statusBar().showMessage(why))  # (until the next message)
        self.training_panel.stop_rule_requested.connect(self.training.set_stop_rule)
        self.backend_loader.loading_changed.connect(self.training_panel.show_loading)
        self.backend_loader.failed.connect(self._on_refused)
        self.kept_runs.changed.connect(self._show_kept)
        for plot in (self.loss_plot, self.gradient_plot):
            plot.keep_requested.connect(self.keep_run)
            plot.clear_kept_requested.connect(self.kept_runs.clear)
        self.canvas.layer_selected.connect(self._on_layer_selected)
        self.canvas.param_picked.connect(self.explanation.set_target)
        rewind = self.document.rewind
        self.timeline_panel.go_requested.connect(rewind.go_to)
        self.timeline_panel.branch_requested.connect(rewind.switch)
        self.timeline_panel.discard_requested.connect(self._discard_branch)
        self.edits.connect_views()
        self.docks["explanation"].visibilityChanged.connect(self._on_explanation_shown)

    def _discard_branch(self, branch: int) -> None:
        if self.document.rewind.discard(branch):
            self._show_timeline()

    def _on_explanation_shown(self, shown: bool) -> None:
        if shown:
            self._show_explanation()

    # --- document → views -------------------------------------------------------------------------------

    def _on_loaded(self) -> None:
        self._show_history()
        self._on_network_changed()
        self._on_data_changed()
        self._on_settings_changed()
        self._on_step_changed()
        self.canvas.fit_all()

    def _on_document_loaded(self) -> None:
        self.runs.close()  # a network opened: the watched run shown gives it its place back
        self.selected_layer = None
        self.canvas.select_layer(None)  # (a layer of the same name in the new network starts unselected too)
        self._show_history()
        self._canvas_pending = True
        self._redraw()
        self.canvas.fit_all()

    def _show_history(self) -> None:
        history = self.runs.history if self.runs.history is not None else self.document.history  # (an empty one too)
        self.loss_plot.set_history(history)
        self.gradient_plot.set_history(history)

    def _on_run_changed(self) -> None:
        """A watched run opened, grew, finished or closed: while one is shown the canvas gives it its place and
        what steps or edits a network is disabled (the network stays open underneath, as it was)."""
        shown = self.runs.active
        if shown != self._run_shown:
            self._run_shown = shown
            self.canvas.setVisible(not shown)
            self.layer_palette.setVisible(not shown)
            self.run_panel.setVisible(shown)
            for panel in (self.training_panel, self.data_panel, self.timeline_panel, self.inspector, self.explanation):
                panel.setEnabled(not shown)
            self._show_network_docks(not shown)
            self._on_network_changed()
            if shown:
                self.statusBar().showMessage(f"Watching the run in {self.runs.folder}", 8000)
        if shown:
            self.run_panel.show_run(self.runs)
            if self.runs.problem:
                self.statusBar().showMessage(self.runs.problem)
        self._update_title()
        self._update_phase_label()
        self._update_enabled()

    def _give_plots_room(self) -> None:
        """The loss and gradient plots take 3/5 of the window's height (a watched run is about them)."""
        plots = [self.docks["loss"], self.docks["gradients"]]
        self.resizeDocks(plots, [self.height() * 3 // 5] * 2, Qt.Orientation.Vertical)

    def _show_network_docks(self, on: bool) -> None:
        """Close the docks about a network while a run is shown (its plots get the room), and open again those
        that were open."""
        plots = [self.docks["loss"], self.docks["gradients"]]
        if not on:
            self._open_before_run = {key: self.docks[key].toggleViewAction().isChecked() for key in NETWORK_DOCKS}
            self._plot_height = plots[0].height()
        for key, was_open in self._open_before_run.items():
            self.docks[key].setVisible(on and was_open)
        # the plots are what a run is about: the larger share of the height, given back afterwards
        if on:
            self.resizeDocks(plots, [self._plot_height] * 2, Qt.Orientation.Vertical)
        else:
            self._give_plots_room()
        if on:
            for front in ("inspector", "data"):  # the tabs in front as on a first start
                self.docks[front].raise_()

    def keep_run(self, label: str | None = None) -> None:
        """Keep the run on the plots as a faint, labelled curve (the next run, or example, is drawn over it),
        labelled ``label`` or by its network's title and length."""
        doc = self.document
        with doc.lock:
            if self.runs.history is not None:  # the watched run shown
                history, steps = self.runs.history, self.runs.history.steps()
                name, count = Path(self.runs.folder).name, int(steps[-1]) if len(steps) else 0
            else:
                history, name, count = doc.history, doc.spec.name or self.files.display_name(), doc.session.step_count
            self.kept_runs.keep(label or run_label(name, count), history)

    def _show_kept(self) -> None:
        for plot in (self.loss_plot, self.gradient_plot):
            plot.show_kept(self.kept_runs.runs)

    def colors(self) -> dict:
        return network_colors(self.document.spec)

    def _on_network_changed(self) -> None:
        doc = self.document
        if self.selected_layer is not None and self.selected_layer not in doc.spec.order:
            self.selected_layer = None
        self._show_history()
        watched = self.runs.active
        self.loss_plot.show_modes("" if watched else loss_modes(doc.spec))
        self.gradient_plot.set_colors(self.runs.colors() if watched else self.colors())
        self.gradient_plot.set_names(
            {} if watched else {lid: f"{lid} γ" for lid in doc.spec.order if doc.spec.layer(lid).type in NORM_TYPES}
        )
        self.training_panel.show_settings(doc.spec, doc.session.batch_size, *doc.backend_choice)
        self.data_panel.show_source(doc.spec.data, doc.base_dir)
        self.explanation.show_step(doc.spec, doc.trace, doc.session.step_count)
        shapes = doc.spec.param_shapes()
        if self.explanation.target()[0] not in shapes and shapes:
            first = next(iter(shapes))  # the first layer's first weight: w1 in Mazur's example
            self.explanation.set_target(first, (0,) * len(shapes[first]))
        self._update_title()
        self._schedule_canvas()

    def _on_params_changed(self) -> None:
        self._schedule_canvas()
        if not self.document.training:
            self._show_outputs()

    def _on_step_changed(self) -> None:
        self._show_explanation()
        self._show_timeline()
        self._schedule_canvas()

    def _show_timeline(self) -> None:
        doc = self.document
        self.timeline_panel.show_timeline(doc.rewind.timeline, doc.session.step_count, not doc.training)

    def _show_explanation(self) -> None:
        """The chain rule is worked out only while its panel can be seen and training is paused (it can
        take 100 ms on a deep net, and while training the numbers change faster than anyone reads)."""
        if not self.explanation.isVisible():
            return
        if self.document.training:
            self.explanation.show_message("Training… the chain rule is written out when you pause (P) or step.")
        else:
            doc = self.document
            self.explanation.show_step(doc.spec, doc.trace, doc.session.step_count)

    def _on_data_changed(self) -> None:
        doc = self.document
        self.data_panel.plot.show_data(doc.train_data, doc.test_data)
        self._show_outputs()

    def _on_settings_changed(self) -> None:
        doc = self.document
        self.training_panel.show_settings(doc.spec, doc.session.batch_size, *doc.backend_choice)
        self.training_panel.show_stop_rule(doc.stop_rule)
        self._update_phase_label()

    def _show_outputs(self) -> None:
        """Compute and draw what the network does over the input: its output under the data points and, on
        the canvas, each neuron's picture (while training the worker computes them instead)."""
        doc, surface, maps = self.document, None, None
        try:
            with doc.lock:
                surface = data_surface(doc.session, doc.train_data, doc.test_data)
                maps = neuron_maps(doc.session, doc.train_data)
        except BpstudioError as exc:
            self._on_refused(str(exc))
        self._show_surface(surface)
        self.canvas.show_neuron_maps(maps)

    def _show_surface(self, shown: Any) -> None:
        """Draw the network's output under the data points (None clears it)."""
        plot = self.data_panel.plot
        if isinstance(shown, tuple):
            plot.show_curve(*shown)
        else:
            plot.show_surface(shown)

    def _schedule_canvas(self) -> None:
        """Views redraw once per event-loop turn however many changes arrived (or per timer tick)."""
        if self.document.training:
            return  # the timer redraws
        if not self._canvas_pending:
            self._canvas_pending = True
            QTimer.singleShot(0, self._redraw)

    def _redraw(self) -> None:
        self._canvas_pending = False
        doc = self.document
        phase = None if doc.training else doc.session.next_phase
        params, running = doc.params(), doc.running()
        refusal, self._refusal = self._refusal, None
        self.canvas.show_network(doc.spec, params, doc.trace, phase, self.colors(), refused=refusal, running=running)
        if self.runs.active:  # (the hidden network's step says nothing about the run shown)
            self.gradient_plot.show_alarm(None)
        else:
            self.step_alarm.show(doc.spec, doc.trace)
        last = None if doc.trace is None else doc.trace.update
        self.training_panel.show_progress(dict(doc.session.optimizer.counters), last)
        if self._select_after_redraw is not None:
            layer_id, self._select_after_redraw = self._select_after_redraw, None
            self.canvas.select_layer(layer_id)
            self.canvas.keep_in_view(layer_id)
            self.selected_layer = layer_id
        self.inspector.show_layer(doc.spec, self.selected_layer, params, doc.grads(), running)
        self._update_phase_label()
        self._update_enabled()

    def _on_timer(self) -> None:
        """Redraw one view per tick, in turn. While training, a tick is the GUI thread's turn: the worker
        waits while the view updates and paints at once (painted later, it would share the interpreter
        with the worker and take several times as long), and the pacer keeps the turns to a small share
        of the time (bench/bench_gui.py measures both)."""
        self._turn = (self._turn + 1) % TURNS
        training = self.document.training
        if training:
            self.pacer.budget = self.training.redraw_budget()
            self.timer.setInterval(self.pacer.next_interval())
        with self.training.gui_turn():
            for viewport in self._update_view(self._turn, training):
                if training:
                    paint_now(viewport)

    def _update_view(self, turn: int, training: bool) -> list[QWidget]:
        """Bring one view up to date (0: loss plot, 1: gradient plot; while training 2: the decision surface
        and the neuron pictures, built but not yet drawn, 3: the canvas and inspector); the viewports that
        changed. A turn stays short (the window answers within it): new pictures and the canvas's values
        each took half of a deep net's turn, so they have one each (turn 2 with nothing new does turn 3)."""
        if turn < 2:
            plot = self.loss_plot if turn == 0 else self.gradient_plot
            return [plot.view.viewport()] if plot.refresh(self.training.latest_history if training else None) else []
        latest = self.training.latest
        if not training or latest is None:
            return []
        data_view = self.data_panel.plot.plot_widget.viewport()
        if turn == 2 and (latest.surface is not None or latest.neuron_maps is not None):
            if latest.neuron_maps is not None:
                self._built_pictures = (latest.neuron_maps, self.canvas.build_pictures(latest.neuron_maps))
                latest.neuron_maps = None
            if latest.surface is None:
                return []
            self._show_surface(latest.surface)
            latest.surface = None
            return [data_view]
        self.training.latest = None
        changed = [self.canvas.viewport()]
        if latest.surface is not None:
            self._show_surface(latest.surface)
            changed.append(data_view)
        if latest.neuron_maps is not None:
            self.canvas.show_neuron_maps(latest.neuron_maps)
        elif self._built_pictures is not None:
            self.canvas.show_neuron_maps(*self._built_pictures)
        self._built_pictures = None
        self._redraw()
        self._show_timeline()
        return changed

    def _on_running_changed(self, running: bool) -> None:
        self.pacer.budget = self.training.redraw_budget()
        self.pacer.reset()
        self._built_pictures = None  # (stopped, the document's params_changed drew the final pictures)
        self.timer.setInterval(self.pacer.interval_ms)
        with_signals = self.window_actions.play
        with_signals.blockSignals(True)
        with_signals.setChecked(running)
        with_signals.setText("&Pause" if running else "&Play")
        with_signals.blockSignals(False)
        self._update_enabled()
        if running:  # (stopped, the document's step_changed has written the chain rule out already)
            self._show_explanation()
        self._show_timeline()
        if not running:  # the final state at once, not in turn over the next ticks (the surface and the
            self.step_alarm.say_again()  # neuron maps: the document's params_changed drew them when it stopped)
            self._redraw()
            self.loss_plot.refresh()
            self.gradient_plot.refresh()

    def _on_layer_selected(self, layer_id: str | None) -> None:
        self.selected_layer = layer_id
        doc = self.document
        self.inspector.show_layer(doc.spec, layer_id, doc.params(), doc.grads(), doc.running())
        if layer_id is not None:
            self.docks["inspector"].raise_()

    def select_after_redraw(self, layer_id: str) -> None:
        """Select a layer an edit just made, once the canvas has drawn it."""
        self._select_after_redraw = layer_id
        self.selected_layer = layer_id
        self.docks["inspector"].raise_()
        self._schedule_canvas()

    def _on_refused(self, message: str) -> None:
        """Show why, and show again what is in effect, so no control keeps displaying a refused value."""
        self.statusBar().showMessage(message, 8000)
        self._refusal = message
        self.data_panel.show_refusal(message)  # (if it asked for data just now, it says why it is not used)
        self._on_network_changed()
        self._on_settings_changed()
        self._canvas_pending = True
        self._redraw()

    def _update_enabled(self) -> None:
        a, doc = self.window_actions, self.document
        running = doc.training
        kind = doc.session.next_phase.kind
        a.forward.setEnabled(not running and kind in ("forward", "loss"))
        a.backward.setEnabled(not running and kind == "backward")
        a.update.setEnabled(not running and kind == "update")
        for action in (a.step, a.epoch, a.reset, a.gradcheck, a.undo, a.redo, a.tidy):
            action.setEnabled(not running)
        if not running:
            a.undo.setEnabled(doc.undo_stack.can_undo())
            a.redo.setEnabled(doc.undo_stack.can_redo())
        watched = self.runs.active  # nothing to step or edit: the run is another program's
        if watched:
            for action in (*a.stepping(), a.undo, a.redo, a.tidy):
                action.setEnabled(False)
        a.play.setEnabled(not watched)
        a.speed.setEnabled(not watched)
        for menu in a.network_menus:  # (they would work on the network hidden under the run)
            menu.menuAction().setEnabled(not watched)

    def _update_phase_label(self) -> None:
        doc = self.document
        s = doc.session
        if self.runs.active:
            self.window_actions.phase_label.setText("  " + self.runs.summary() + "  ")
            return
        if doc.training:
            text = f"training · after step {s.step_count} · epoch {s.epoch_count}"
        else:  # (step k is the k-th update: "after step k" is where the timeline's "step k" is)
            where = f"in step {s.step_count + 1}" if s.mid_step else f"after step {s.step_count}"
            loss = "" if doc.trace is None or doc.trace.loss is None else f" · loss {doc.trace.loss:.9g}"
            # (the loss has no button of its own: the forward pass's last press computes it)
            button = " (Forward computes it)" if s.next_phase.kind == "loss" else ""
            text = f"{where}{loss} · next: {s.next_phase}{button}"
        self.window_actions.phase_label.setText("  " + text + "  ")

    def _update_title(self) -> None:
        if self.runs.active:
            self.setWindowTitle(f"{Path(self.runs.folder).name} — watched run ({self.runs.state()}) — bpstudio")
            return
        self.setWindowTitle(f"{self.files.display_name()}{' *' if self.document.dirty else ''} — bpstudio")

    def refresh_recent_menu(self) -> None:
        menu = self.window_actions.recent_menu
        menu.clear()
        for path in self.files.recent():
            menu.addAction(path, bound(self.files.open, path))
        menu.setEnabled(bool(menu.actions()))

    # --- commands the actions call ----------------------------------------------------------------------

    def tidy_layout(self) -> None:
        positions = self.canvas.tidy_positions()
        if self.document.edit("Tidy layout", lambda s: edit.move_layers(s, positions)):
            QTimer.singleShot(0, self.canvas.fit_all)

    def show_gradient_check(self) -> None:
        """Check the network's gradients as they are now, off the GUI thread (a deep net takes seconds: the
        window stays usable, the status bar says it is running), then show the dialog."""
        if self.gradcheck_task is not None:
            return
        doc = self.document
        spec, data, params = doc.spec, doc.train_data, doc.params()
        self.gradcheck_task = task = BackgroundTask(
            lambda _progress: gradient_check(spec, data, params, max_entries=200)
        )
        task.succeeded.connect(self._show_gradient_checks)
        task.failed.connect(self._gradient_check_failed)
        self.statusBar().showMessage(f"Gradient check of {spec.name or 'the network'} running…")
        task.start_work()

    def _show_gradient_checks(self, checks: Any) -> None:
        self.gradcheck_task = None
        self.statusBar().clearMessage()
        self.gradcheck_dialog = GradientCheckDialog(checks, len(self.document.train_data), self)
        self.gradcheck_dialog.show()

    def _gradient_check_failed(self, message: str) -> None:
        self.gradcheck_task = None
        self.statusBar().clearMessage()
        QMessageBox.warning(self, "Gradient check", message)

    def toggle_presentation(self) -> None:
        presentation.apply(self, self.window_actions.presentation.isChecked(), self._base_font)
        self.settings.setValue("presentation", self.window_actions.presentation.isChecked())
        QTimer.singleShot(0, self.canvas.fit_all)  # after the docks took their new sizes

    # --- settings and closing ---------------------------------------------------------------------------

    def _restore_settings(self) -> None:
        geometry = self.settings.value("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        state = self.settings.value("window_state")
        if state is not None and self.restoreState(state):
            self._docks_arranged = True
        speed = self.settings.value("speed")
        if isinstance(speed, str) and self.window_actions.speed.findText(speed) >= 0:
            self.window_actions.speed.setCurrentText(speed)
        if str(self.settings.value("presentation", False)).lower() == "true":
            self.window_actions.presentation.setChecked(True)
            self.toggle_presentation()
        self.timer.start()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.training.stop()  # first: the steps trained so far become part of what may need saving
        if not self.files.maybe_save():
            event.ignore()
            return
        self.runs.close()  # (first: the network's docks open again, as the saved layout should have them)
        self.timer.stop()
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("window_state", self.saveState())
        self.settings.setValue("speed", self.window_actions.speed.currentText())
        QApplication.setFont(self._base_font)
        self.document.close()  # (the timeline's spill folder goes now, not at the interpreter's exit)
        event.accept()
