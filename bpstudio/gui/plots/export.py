"""Saving a plot as a PNG picture or its numbers as CSV, and the file dialogs that ask where.

PNG goes through pyqtgraph's ImageExporter (its SVG exporter fails with Qt 6.11, so none is offered) at
the on-screen size: asked for a larger picture it enlarges the axes but not the legend, so it is not asked.
Presentation mode's larger fonts carry over into the picture.
Both writes are atomic (:func:`bpstudio.core.io.fileio.write_atomic`): a failed export leaves any earlier
file intact.
"""

from __future__ import annotations

import os
from pathlib import Path

import pyqtgraph as pg
from pyqtgraph.exporters import ImageExporter
from PySide6.QtCore import QBuffer, QByteArray, QIODevice
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QFileDialog, QGraphicsItem, QMessageBox, QWidget

from bpstudio.core.io.fileio import write_atomic

PathLike = str | os.PathLike[str]


def _graphics_item(target: object) -> QGraphicsItem:
    """The scene item to draw: a plot item as given, or everything a pyqtgraph view (or a widget holding
    one) shows."""
    if isinstance(target, QGraphicsItem):
        return target
    if isinstance(target, pg.PlotWidget):
        return target.getPlotItem()
    if isinstance(target, pg.GraphicsLayoutWidget):
        return target.ci
    if isinstance(target, QWidget):
        view = target.findChild(pg.GraphicsLayoutWidget) or target.findChild(pg.PlotWidget)
        if view is not None:
            return _graphics_item(view)
    raise TypeError(f"cannot export {type(target).__name__} as a picture: it shows no pyqtgraph plot")


def png_bytes(target: object) -> bytes:
    """The plot drawn on white as on screen, PNG-encoded."""
    exporter = ImageExporter(_graphics_item(target))
    exporter.parameters()["background"] = QColor("white")
    image = exporter.export(toBytes=True)
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise OSError("the picture could not be encoded as PNG")
    buffer.close()
    return bytes(data.data())


def export_png(target: object, path: PathLike) -> None:
    """Save what ``target`` (a PlotItem, a pyqtgraph view or a widget holding one) shows as a PNG file."""
    write_atomic(path, png_bytes(target))


def export_csv(text: str, path: PathLike) -> None:
    """Save CSV text (from :meth:`TrainingHistory.to_csv`) to ``path``."""
    write_atomic(path, text)


def _ask_path(parent: QWidget | None, title: str, suggested: str, pattern: str) -> str | None:
    path, _ = QFileDialog.getSaveFileName(parent, title, suggested, pattern)
    if not path:
        return None
    suffix = Path(suggested).suffix
    return path if Path(path).suffix.lower() == suffix else path + suffix


def _report_failure(parent: QWidget | None, path: str, exc: OSError) -> None:
    reason = exc.strerror or str(exc)
    QMessageBox.warning(parent, "Export failed", f"Could not write {path}: {reason}")


def export_png_dialog(parent: QWidget | None, target: object, suggested: str = "plot.png") -> str | None:
    """Ask where to save a PNG of ``target`` and save it; the path written, or None (cancelled or failed)."""
    path = _ask_path(parent, "Export PNG", suggested, "PNG images (*.png)")
    if path is None:
        return None
    try:
        export_png(target, path)
    except OSError as exc:
        _report_failure(parent, path, exc)
        return None
    return path


def export_csv_dialog(parent: QWidget | None, text: str, suggested: str = "plot.csv") -> str | None:
    """Ask where to save CSV ``text`` and save it; the path written, or None (cancelled or failed)."""
    path = _ask_path(parent, "Export CSV", suggested, "CSV files (*.csv)")
    if path is None:
        return None
    try:
        export_csv(text, path)
    except OSError as exc:
        _report_failure(parent, path, exc)
        return None
    return path
