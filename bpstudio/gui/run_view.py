"""A watched PyTorch run (``bpstudio.watch``) shown in the app, live while its training process still writes it.

:class:`RunViewer` holds the open run: core's :class:`~bpstudio.core.record.run_history.RunHistory` feeds the
same bounded history the loss and gradient plots draw for bpstudio's own networks, and a timer tails the
database (a refresh reads only the rows written since the last one: a few per layer and step, a moment of the GUI
thread; the connection belongs to this thread). :class:`RunPanel` takes the canvas's place: what the run is,
whether it is still growing, and core's verdict per layer with its evidence (dead and saturated fractions among
it), in the layers' plot colours.
"""

from __future__ import annotations

import math
from pathlib import Path
from time import monotonic

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QHeaderView, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from bpstudio.core.errors import BpstudioError
from bpstudio.core.limits import one_line
from bpstudio.core.record.history import TrainingHistory
from bpstudio.core.record.run_history import RunHistory, layer_id
from bpstudio.core.tools.run_verdicts import LayerVerdict, layer_verdicts
from bpstudio.gui.colors import HIGHLIGHT, layer_colors
from bpstudio.gui.qt_utils import format_number

TAIL_MS = 500  # how often the database is read for new steps
QUIET_S = 10  # a run not finished that has written no step for this long is said to be quiet, not live
COLUMNS = ("layer", "module", "verdict", "evidence", "‖∂E/∂W‖", "÷ last", "update", "dead", "saturated")
HEADER_TIPS = {  # what a column's figure is (all over the last recorded steps, as bpstudio runs prints them)
    "‖∂E/∂W‖": "The layer's weight-gradient norm: the geometric mean over the last recorded steps",
    "÷ last": "That norm over the last layer's: far below 1, the gradient vanishes on its way back",
    "update": "The update ratio ‖Δw‖ / ‖w‖ of the layer's weight, measured every few steps (1e-3 is typical; "
    "near 1e-1 or above, the learning rate is too high; far below, the layer hardly moves)",
    "dead": "The share of a ReLU's units that are 0 for every sample of a batch",
    "saturated": "The share of a sigmoid's or tanh's inputs beyond the point where its slope is under 1 % of its top",
}


class RunViewer(QObject):
    """The watched run on view, if any. ``changed`` says its state moved (opened, grew, finished, closed, or
    could no longer be read: :attr:`problem`)."""

    changed = Signal()

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.run: RunHistory | None = None
        self.folder = ""
        self.problem = ""  # why the run is no longer read ("" while it is)
        self.timer = QTimer(self)
        self.timer.setInterval(TAIL_MS)
        self.timer.timeout.connect(self.refresh)
        self._part_due = False  # the next part of a long run is to be read in the next turn of the event loop
        self._grew_at = monotonic()  # when the run last grew (or was opened)
        self._quiet_said = 0  # the quiet seconds the state last said, in steps of QUIET_S (0: live)

    @property
    def active(self) -> bool:
        return self.run is not None

    @property
    def history(self) -> TrainingHistory | None:
        return None if self.run is None else self.run.history

    def open(self, folder: str) -> None:
        """Show the run in ``folder``; a folder that holds none raises, and the run shown before stays."""
        run = RunHistory(folder)  # (raises RunError naming the folder)
        self.close()
        self.run, self.folder, self.problem = run, str(Path(folder).resolve()), ""
        self._grew_at, self._quiet_said = monotonic(), 0
        if not run.finished:
            self.timer.start()
        self._read_on()
        self.changed.emit()

    def close(self) -> None:
        self.timer.stop()
        if self.run is not None:
            self.run.close()
            self.run = None
            self.changed.emit()

    def refresh(self) -> int:
        """Read the steps written since the last time; the timer stops once the run says it finished."""
        if self.run is None:
            return 0
        try:
            new = self.run.refresh()
        except BpstudioError as exc:
            self.timer.stop()
            self.problem = one_line(str(exc))
            self.changed.emit()
            return 0
        if self.run.finished:
            self.timer.stop()
        self._read_on()
        if new:
            self._grew_at, self._quiet_said = monotonic(), 0
        quiet = self._quiet_steps()
        if new or self.run.finished or quiet != self._quiet_said:  # (a quiet run's state is said again every 10 s)
            self._quiet_said = quiet
            self.changed.emit()
        return new

    def _quiet_steps(self) -> int:
        """How long the run has written nothing, in whole QUIET_S (0 while it grows, or once it finished)."""
        if self.run is None or self.run.finished:
            return 0
        return int((monotonic() - self._grew_at) // QUIET_S)

    def _read_on(self) -> None:
        """A long run is read a part at a time, each in its own turn of the event loop: the window answers
        meanwhile and the plots grow as the parts come in."""
        if self.run is not None and not self.run.caught_up and not self._part_due:
            self._part_due = True
            QTimer.singleShot(0, self, self._read_part)

    def _read_part(self) -> None:
        self._part_due = False
        self.refresh()

    def colors(self) -> dict[str, QColor]:
        return layer_colors(self.run.layer_ids) if self.run is not None else {}

    def state(self) -> str:
        """ "live", "no new step for 20 s" (not finished, but quiet: its process may have died), "finished",
        "stopped by KeyboardInterrupt" (an exception ended the loop), "reading" (a long
        run's first steps are shown while the rest is read) or "not read" (the database could no longer be
        read)."""
        if self.problem:
            return "not read"
        if self.run is not None and not self.run.caught_up:
            return "reading"
        if self.run is None or not self.run.finished:
            quiet = self._quiet_steps()
            # (a killed training process never says it ended: after a while without steps, that is said)
            return f"no new step for {quiet * QUIET_S} s" if quiet else "live"
        stopped_by = self.run.run.info.stopped_by
        return f"stopped by {stopped_by}" if stopped_by else "finished"

    def summary(self) -> str:
        """One line: the run, its model, how far it got and whether it still grows."""
        if self.run is None:
            return ""
        run = self.run.run
        steps = f"step {int(run.steps[-1])}" if len(run) else "no steps yet"
        loss = run.losses()[-1] if len(run) else math.nan
        loss_text = f" · loss {format_number(float(loss), 4)}" if math.isfinite(loss) else ""
        if len(run) and math.isnan(loss):
            loss_text = " · loss nan (diverged)"
        model = run.info.model_class or "model"
        return f"watched run · {model} · {steps}{loss_text} · {self.state()}"


class RunPanel(QWidget):
    """In the canvas's place while a watched run is shown: its folder and state, then a row per layer."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.heading = QLabel()
        self.heading.setWordWrap(True)
        self.heading.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.note = QLabel(
            "A PyTorch run recorded by bpstudio.watch: its gradient and loss plots are in their docks. "
            "Stepping and editing apply to networks: open one (File ▸ Open, Examples, New) to go back."
        )
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: #606060;")
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        for column, name in enumerate(COLUMNS):
            header_item = self.table.horizontalHeaderItem(column)
            if header_item is not None and name in HEADER_TIPS:
                header_item.setToolTip(HEADER_TIPS[name])
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(False)  # (one line a layer: the evidence's tooltip holds it whole)
        header = self.table.horizontalHeader()
        for column in range(len(COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COLUMNS.index("evidence"), QHeaderView.ResizeMode.Stretch)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.note)
        layout.addWidget(self.table, 1)

    def show_run(self, viewer: RunViewer) -> None:
        run = viewer.run
        if run is None:
            return
        state = viewer.state()
        color = HIGHLIGHT.name() if state == "not read" else "#1a7f37" if state == "live" else "#404040"
        problem = viewer.problem or _divergence(run.run.broken)
        problem = f"<br><span style='color:{HIGHLIGHT.name()}'>{problem}</span>" if problem else ""
        self.heading.setText(
            f"<b>{Path(viewer.folder).name}</b> — {viewer.summary()} "
            f"<span style='color:{color}'>●</span><br><small>{viewer.folder}</small>{problem}"
        )
        self._fill(layer_verdicts(run.run), viewer.colors())

    def _fill(self, verdicts: list[LayerVerdict], colors: dict[str, QColor]) -> None:
        self.table.setRowCount(len(verdicts))
        for row, v in enumerate(verdicts):
            cells = (
                layer_id(v.layer),
                v.module_type,
                v.verdict,
                v.evidence,
                _number(v.grad_norm),
                _number(v.ratio),
                _number(v.update_ratio),
                _share(v.dead_fraction),
                _share(v.saturated_fraction),
            )
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column == 0 and layer_id(v.layer) in colors:
                    item.setForeground(QBrush(colors[layer_id(v.layer)]))
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                if column == 2 and v.problem:
                    item.setForeground(QBrush(HIGHLIGHT))
                if column == 3:
                    item.setToolTip(text)
                self.table.setItem(row, column, item)


def _divergence(broken: dict[str, tuple[int, str]]) -> str:
    """In words, where the run's gradients first stopped being numbers ("" if they never did)."""
    if not broken:
        return ""
    name, (step, value) = min(broken.items(), key=lambda item: item[1][0])
    return (
        f"The run diverged: the gradient norm of {name} became {value} at step {step}. The plots draw finite "
        "numbers only, so they stop before it; the table says which layers broke."
    )


def _number(value: float) -> str:
    return format_number(value, 2) if math.isfinite(value) else "—"


def _share(value: float) -> str:
    return f"{value:.0%}" if math.isfinite(value) else "—"
