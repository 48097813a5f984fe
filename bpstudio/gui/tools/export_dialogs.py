"""Export and import from the main window: the network as a PyTorch script, weights from a PyTorch
``state_dict``, the current step's trace as NPZ and the training metrics as CSV.

Each function asks for a file (``QFileDialog``), lets core do the work (:mod:`bpstudio.core.io.export_torch`)
and says what happened: a line in the status bar, or a warning box with the reason. Importing weights is
one undoable edit of the network.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QFileDialog, QMessageBox

from bpstudio.core.errors import BpstudioError
from bpstudio.core.io.export_torch import EMBED_LIMIT, export_metrics, export_trace, load_state_dict, write_torch_script

if TYPE_CHECKING:
    from bpstudio.gui.main_window import MainWindow

SCRIPT_FILTER = "Python scripts (*.py);;All files (*)"
STATE_FILTER = "PyTorch weights (*.pt *.pth *.bin);;All files (*)"
TRACE_FILTER = "NumPy archives (*.npz);;All files (*)"
METRICS_FILTER = "CSV tables (*.csv);;All files (*)"
STATUS_MS = 8000


def _suggested(window: MainWindow, ending: str) -> str:
    """A file name next to the open file (or in the working folder), named after it or the network."""
    doc = window.document
    if doc.path:
        return str(Path(doc.path).with_suffix("")) + ending
    name = re.sub(r"[^0-9A-Za-z]+", "_", doc.spec.name or "network").strip("_").lower() or "network"
    return name + ending


def _save_path(window: MainWindow, title: str, ending: str, filters: str) -> str | None:
    """The file the user chose to write (with ``ending``'s suffix added if they gave none); None: cancelled."""
    path, _ = QFileDialog.getSaveFileName(window, title, _suggested(window, ending), filters)
    if not path:
        return None
    return path if Path(path).suffix else path + "." + ending.rsplit(".", 1)[1]


def _refuse(window: MainWindow, title: str, reason: str) -> None:
    QMessageBox.warning(window, title, reason)


def _done(window: MainWindow, message: str) -> None:
    window.statusBar().showMessage(message, STATUS_MS)


def _export(
    window: MainWindow, title: str, ending: str, filters: str, write: Callable[[str], object], what: str
) -> bool:
    """Ask for a file, ``write(path)`` it and say "``what`` to <file>"; a warning with core's reason if it
    could not. True if written."""
    path = _save_path(window, title, ending, filters)
    if path is None:
        return False
    try:
        write(path)
    except BpstudioError as exc:
        _refuse(window, title, str(exc))
        return False
    _done(window, f"{what} to {Path(path).name}")
    return True


def export_torch_script(window: MainWindow) -> list[Path] | None:
    """File > Export as PyTorch script: the network with its current weights, its training data and a
    training loop with its optimizer and batch size. The files written, or None."""
    title = "Export as PyTorch script"
    path = _save_path(window, title, ".py", SCRIPT_FILTER)
    if path is None:
        return None
    doc = window.document
    with doc.lock:  # (a training worker may be between steps)
        spec, params, batch_size = doc.spec, doc.session.params_numpy(), doc.session.batch_size
        running = doc.session.running_numpy()
    try:
        written = write_torch_script(
            path, spec, params, spec.data, base_dir=doc.base_dir, batch_size=batch_size, running=running
        )
    except BpstudioError as exc:
        _refuse(window, title, str(exc))
        return None
    extra = f" and {written[1].name} (more than {EMBED_LIMIT} numbers)" if len(written) > 1 else ""
    _done(window, f"Exported {written[0].name}{extra}: run it with python {written[0].name}")
    return written


def import_state_dict(window: MainWindow) -> bool:
    """File > Import weights: a PyTorch ``state_dict`` that fits the network replaces its weights, as one
    undoable edit. True if the weights were applied."""
    title = "Import weights"
    doc = window.document
    if doc.training:
        _refuse(window, title, "Pause training first: importing weights changes the network.")
        return False
    start = str(Path(doc.path).parent) if doc.path else ""
    path, _ = QFileDialog.getOpenFileName(window, "Import weights from a PyTorch state_dict", start, STATE_FILTER)
    if not path:
        return False
    try:
        params = load_state_dict(doc.spec, path)
    except BpstudioError as exc:
        _refuse(window, title, str(exc))
        return False
    reasons: list[str] = []

    def note(reason: str) -> None:
        reasons.append(reason)

    doc.refused.connect(note)
    try:
        applied = doc.edit(f"Import weights from {Path(path).name}", lambda spec: spec.with_params(params))
    finally:
        doc.refused.disconnect(note)
    if not applied:
        _refuse(window, title, reasons[0] if reasons else "The weights were not applied.")
        return False
    _done(window, f"Imported {len(params)} parameters from {Path(path).name} (Undo takes them back)")
    return True


def export_trace_npz(window: MainWindow) -> bool:
    """File > Export step trace: every recorded layer's values and gradients of the current step, as NPZ
    (names in :func:`bpstudio.core.io.export_torch.trace_arrays`). True if written."""
    title = "Export step trace"
    trace = window.document.trace
    if trace is None:
        _refuse(window, title, "No step to export yet: run a phase or a step first.")
        return False
    return _export(
        window,
        title,
        f"_step{trace.step}.npz",
        TRACE_FILTER,
        lambda path: export_trace(trace, path),
        f"Exported step {trace.step}'s trace",
    )


def export_metrics_csv(window: MainWindow) -> bool:
    """File > Export metrics: loss, accuracy and gradient norms per step, as CSV. True if written."""
    title = "Export metrics"
    history = window.document.history
    if len(history) == 0:
        _refuse(window, title, "No training metrics yet: train a step or more first.")
        return False
    return _export(
        window,
        title,
        "_metrics.csv",
        METRICS_FILTER,
        lambda path: export_metrics(history, path),
        f"Exported {len(history)} steps of metrics",
    )
