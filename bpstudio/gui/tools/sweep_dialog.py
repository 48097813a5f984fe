"""The vanishing-gradient sweep dialog: a form for the grid (depths × activations × initialisers × residual,
dropout, the optimizers and their settings (:mod:`bpstudio.gui.tools.sweep_rows`), other settings, seeds, steps,
data), Run with a progress bar and Cancel, the plot of gradient norm against depth, and Export CSV.

The sweep runs in worker processes (or on a Dask cluster) driven by :func:`bpstudio.core.tools.sweep.run_sweep`
on a :class:`SweepWorker` thread, so the window stays responsive; results come back as plain data.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QThread, Signal
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from bpstudio.core import activations
from bpstudio.core.datasets import TOY_SETS
from bpstudio.core.errors import BpstudioError
from bpstudio.core.spec import INITIALISERS
from bpstudio.core.tools import sweep
from bpstudio.core.tools.sweep_result import SweepResult
from bpstudio.gui.colors import HIGHLIGHT
from bpstudio.gui.plots.export import export_csv_dialog
from bpstudio.gui.screen_fit import fit_to_screen
from bpstudio.gui.tools.sweep_plot import METRICS, SweepPlot
from bpstudio.gui.tools.sweep_rows import SettingRows
from bpstudio.gui.tools.window import raise_tool

ExecutorFactory = Callable[[], Any]  # () -> a concurrent.futures.Executor
HIDDEN_ACTIVATIONS = tuple(a for a in activations.NAMES if a != "softmax")
OPEN_NETWORK_DATA = "the open network's data"
RESIDUAL_CHOICES = {"off and on": (False, True), "off": (False,), "on": (True,)}
DEFAULTS: dict[str, Any] = {
    "depths": "2, 4, 8, 16",
    "activations": ("sigmoid", "relu"),
    "inits": ("xavier_uniform", "he_normal"),
    "seeds": 3,
    "steps": 50,
    "data": "xor",
}


class SweepWorker(QThread):
    """Runs one sweep: makes the executor, runs the grid on it, releases it, then reports."""

    progressed = Signal(int, int)  # runs done, runs in all
    completed = Signal(object)  # SweepResult (possibly cancelled part-way)
    failed = Signal(str)

    def __init__(self, grid: sweep.SweepGrid, make_executor: ExecutorFactory):
        super().__init__()
        self.grid = grid
        self.make_executor = make_executor
        self.cancel = threading.Event()

    def run(self) -> None:
        result: SweepResult | None = None
        error = ""
        try:
            executor = self.make_executor()
            try:
                result = sweep.run_sweep(self.grid, executor, self.progressed.emit, self.cancel)
            finally:
                sweep.close_executor(executor)
        except BpstudioError as exc:
            error = str(exc)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
        if result is None:
            self.failed.emit(error or "the sweep stopped without a result")
        else:
            self.completed.emit(result)


def _check_boxes(
    names: tuple[str, ...], checked: tuple[str, ...], columns: int
) -> tuple[QWidget, dict[str, QCheckBox]]:
    box = QWidget()
    grid = QGridLayout(box)
    grid.setContentsMargins(0, 0, 0, 0)
    boxes = {}
    for i, name in enumerate(names):
        boxes[name] = QCheckBox(name)
        boxes[name].setChecked(name in checked)
        grid.addWidget(boxes[name], i // columns, i % columns)
    return box, boxes


class SweepDialog(QDialog):
    """The form, the run controls and the plot. ``executor_factory`` (None: a local process pool of
    ``workers`` processes, or the Dask scheduler's executor when an address is given) can be replaced,
    e.g. by a thread pool in tests."""

    def __init__(self, window: Any = None):
        super().__init__(window)
        self.setWindowTitle("Vanishing-gradient sweep")
        self.window_ = window
        self.executor_factory: ExecutorFactory | None = None
        self.worker: SweepWorker | None = None
        self.sweep_result: SweepResult | None = None
        self._build_form()
        self._build_controls()
        fit_to_screen(self, 1000, 700)
        self._set_running(False)
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.stop)  # never leave a sweep thread running as the app ends

    # --- construction -------------------------------------------------------------------------------------

    def _build_form(self) -> None:
        self.depths = QLineEdit(DEFAULTS["depths"])
        self.depths.setToolTip("Numbers of hidden layers, separated by commas")
        activation_box, self.activation_checks = _check_boxes(HIDDEN_ACTIVATIONS, DEFAULTS["activations"], 3)
        init_box, self.init_checks = _check_boxes(tuple(INITIALISERS), DEFAULTS["inits"], 2)
        self.residual = QComboBox()
        self.residual.addItems(list(RESIDUAL_CHOICES))
        self.residual.setToolTip("A skip connection around each hidden layer after the first (r = h + input)")
        self.seeds = QSpinBox()
        self.seeds.setRange(1, 100)
        self.seeds.setValue(DEFAULTS["seeds"])
        self.seeds.setToolTip("Each configuration runs from seeds 0, 1, …; the plot shows their mean and spread")
        self.steps = QSpinBox()
        self.steps.setRange(1, 100_000)
        self.steps.setValue(DEFAULTS["steps"])
        self.data = QComboBox()
        document = getattr(self.window_, "document", None)
        if getattr(document, "train_data", None) is not None:
            self.data.addItem(OPEN_NETWORK_DATA)
        self.data.addItems(sorted(TOY_SETS))
        self.data.setCurrentText(DEFAULTS["data"])
        self.rows = SettingRows()
        self.settings = QLineEdit()
        self.settings.setPlaceholderText("e.g. units=4,8; momentum=0.5")
        self.settings.setToolTip(
            "Other settings, separated by ';'. One value fixes a setting, several make it "
            "another axis:\n" + "\n".join(f"{n}: {t}" for n, t in sweep.SETTINGS.items())
        )
        self.workers = QSpinBox()
        self.workers.setRange(1, 256)
        self.workers.setValue(sweep.default_workers())
        self.workers.setToolTip("Worker processes on this computer")
        self.scheduler = QLineEdit()
        self.scheduler.setPlaceholderText("empty: this computer; or tcp://host:8786")
        self.scheduler.setToolTip("The address of a Dask scheduler to run the sweep on a cluster")
        self.form = QFormLayout()
        fields = self.rows.fields
        for label, widget in (
            ("Depths", self.depths),
            ("Activations", activation_box),
            ("Initialisers", init_box),
            ("Residual", self.residual),
            *((self.rows.label(name), fields[name]) for name in ("dropout",)),
            ("Optimizers", self.rows.optimizer_box),
            *((self.rows.label(name), field) for name, field in fields.items() if name != "dropout"),
            ("Other settings", self.settings),
            ("Seeds", self.seeds),
            ("Steps per run", self.steps),
            ("Data", self.data),
            ("Workers", self.workers),
            ("Dask scheduler", self.scheduler),
        ):
            self.form.addRow(label, widget)
        self.inputs: list[QWidget] = [
            self.depths,
            activation_box,
            init_box,
            self.residual,
            *self.rows.inputs,
            self.seeds,
            self.steps,
            self.data,
            self.settings,
            self.workers,
            self.scheduler,
        ]

    def _build_controls(self) -> None:
        self.plot = SweepPlot()
        self.metric_box = QComboBox()
        for name, label in METRICS.items():
            self.metric_box.addItem(label, name)
        self.metric_box.currentIndexChanged.connect(self._on_metric_changed)
        self.progress = QProgressBar()
        self.progress.setFormat("%v / %m runs")
        self.status = QLabel("Set up the grid and press Run.")
        self.status.setWordWrap(True)
        self.run_button = QPushButton("Run")
        self.run_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel")
        self.export_button = QPushButton("Export CSV…")
        self.export_button.setToolTip("One row per run and seed, and one row per configuration (mean, std, min, max)")
        self.close_button = QPushButton("Close")
        self.run_button.clicked.connect(self.run)
        self.cancel_button.clicked.connect(self.cancel)
        self.export_button.clicked.connect(self._on_export)
        self.close_button.clicked.connect(self.reject)
        left = QVBoxLayout()
        left.addLayout(self.form)
        left.addStretch(1)
        right = QVBoxLayout()
        metric_row = QHBoxLayout()
        metric_row.addWidget(QLabel("Show"))
        metric_row.addWidget(self.metric_box, 1)
        right.addLayout(metric_row)
        right.addWidget(self.plot, 1)
        right.addWidget(self.status)
        top = QHBoxLayout()
        top.addLayout(left, 0)
        top.addLayout(right, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.progress, 1)
        for button in (self.run_button, self.cancel_button, self.export_button, self.close_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addLayout(top, 1)
        layout.addLayout(buttons)

    # --- the grid -----------------------------------------------------------------------------------------

    def grid(self) -> sweep.SweepGrid:
        """The grid the form describes (core checks it; a BpstudioError says what is wrong)."""
        data: Any = self.data.currentText()
        if data == OPEN_NETWORK_DATA:
            data = self.window_.document.train_data
        return sweep.SweepGrid(
            depths=sweep.parse_ints(self.depths.text(), "Depths"),
            activations=[n for n, box in self.activation_checks.items() if box.isChecked()],
            inits=[n for n, box in self.init_checks.items() if box.isChecked()],
            residual=RESIDUAL_CHOICES[self.residual.currentText()],
            seeds=tuple(range(self.seeds.value())),
            steps=self.steps.value(),
            data=data,
            settings=self._settings(),
        )

    def _settings(self) -> dict[str, tuple[Any, ...]]:
        """The rows' settings and the other settings typed; a setting named in both is refused."""
        settings = self.rows.read()
        for name, values in sweep.parse_settings(self.settings.text()).items():
            if name in settings:
                raise BpstudioError(
                    f"'{name}' is set twice: in {self.rows.label(name)} and in Other settings; give it in one place"
                )
            settings[name] = values
        return settings

    def _make_executor(self) -> ExecutorFactory:
        if self.executor_factory is not None:
            return self.executor_factory
        address, workers = self.scheduler.text().strip(), self.workers.value()
        if address:
            return lambda: sweep.dask_executor(address)
        return lambda: sweep.local_executor(workers)

    # --- running ------------------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.worker is not None and self.worker.isRunning()

    def run(self) -> None:
        """Start the sweep the form describes, or say what in the form is wrong."""
        if self.running:
            return
        try:
            grid = self.grid()
            total = len(grid)
        except BpstudioError as exc:
            self._say(str(exc), error=True)
            return
        self.sweep_result = None  # the last run's lines would read as this run's until it ends
        self.plot.show_result(None)
        self.worker = SweepWorker(grid, self._make_executor())
        self.worker.progressed.connect(self._on_progressed)
        self.worker.completed.connect(self._on_completed)
        self.worker.failed.connect(self._on_failed)
        self.worker.finished.connect(lambda: self._set_running(False))
        self.progress.setRange(0, total)
        self.progress.setValue(0)
        self._say(f"Running {total} runs ({total // len(grid.seeds)} configurations × {len(grid.seeds)} seeds)…")
        self._set_running(True)
        self.worker.start()

    def cancel(self) -> None:
        """Cancel the runs not yet started; those under way finish, and the finished ones are shown."""
        if self.running:
            assert self.worker is not None
            self.worker.cancel.set()
            self.cancel_button.setEnabled(False)
            self._say("Cancelling: the runs under way finish first…")

    def _set_running(self, running: bool) -> None:
        for widget in self.inputs:
            widget.setEnabled(not running)
        self.run_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.export_button.setEnabled(not running and self.sweep_result is not None)

    def _say(self, text: str, error: bool = False) -> None:
        self.status.setStyleSheet(f"color: {HIGHLIGHT.name()};" if error else "")
        self.status.setText(text)

    def _on_progressed(self, done: int, total: int) -> None:
        self.progress.setMaximum(total)
        self.progress.setValue(done)

    def _on_completed(self, result: SweepResult) -> None:
        self.sweep_result = result
        self.plot.show_result(result, self.metric_box.currentData())
        configs = len(result.aggregate())
        if result.cancelled:
            self._say(
                f"Cancelled after {result.done} of {result.total} runs; the plot shows those "
                f"({configs} configurations)."
            )
        else:
            self._say(
                f"{result.total} runs ({configs} configurations) in {result.seconds:.1f} s. Lines: mean over "
                "seeds; shading: from the smallest to the largest seed's value."
            )

    def _on_failed(self, message: str) -> None:
        self._say(f"The sweep failed: {message}", error=True)

    def _on_metric_changed(self) -> None:
        self.plot.show_result(self.sweep_result, self.metric_box.currentData())

    def _on_export(self) -> None:
        if self.sweep_result is not None:
            path = export_csv_dialog(self, self.sweep_result.to_csv(), "sweep.csv")
            if path is not None:
                self._say(f"Wrote {path}")

    def stop(self) -> None:
        """Cancel a running sweep and wait for the runs under way (called when the dialog closes)."""
        if self.worker is not None:
            self.worker.cancel.set()
            self.worker.wait()

    def done(self, code: int) -> None:  # also reached by close() and Esc
        self.stop()
        super().done(code)


def open_sweep(window: Any) -> SweepDialog:
    """Open (or bring forward) the sweep dialog of ``window`` (non-modal; kept in ``window.tools``)."""
    return raise_tool(window, SweepDialog)
