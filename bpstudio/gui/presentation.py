"""Presentation mode, for a projector: larger type (x1.5), black text on white, and only what a class looks at:
the canvas (with the larger share of the height, and its own larger numbers: see gui/canvas/style.py), the data
with its decision surface, the loss and the per-layer gradients. Hidden: the panels for editing (training
settings, data set, layer inspector, chain rule, edit history, timeline; the View menu brings one back), the layer
palette, the plots' export buttons, the accuracy plot and the gradient heatmap. The phase indicator gets a toolbar
row of its own, so the larger type never pushes it into the toolbar's overflow menu. Switching back restores
fonts, colours and panels."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication

if TYPE_CHECKING:
    from bpstudio.gui.main_window import MainWindow

SCALE = 1.5
PLOTS_HEIGHT = 235  # the loss and gradient plots' panels, at most (on a 1024×768 projector the canvas takes the rest)
HIDDEN = ("training", "dataset", "inspector", "explanation", "history", "timeline")  # docks a lecture does not need


def high_contrast(palette: QPalette) -> QPalette:
    """Black text on white, for a projector's washed-out colours."""
    contrast = QPalette(palette)
    for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive):
        for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
            contrast.setColor(group, role, QColor("black"))
    for role in (QPalette.ColorRole.Base, QPalette.ColorRole.Window):
        contrast.setColor(role, QColor("white"))
    return contrast


def apply(window: MainWindow, on: bool, base_font: QFont) -> None:
    """Switch ``window`` (a MainWindow, with its ``docks``) into or out of presentation mode."""
    font = QFont(base_font)
    docks = window.docks
    if on:
        size = base_font.pointSizeF()
        font.setPointSizeF((size if size > 0 else 10) * SCALE)
        window.layout_before_presentation = window.saveState()  # (docks' places and sizes, to give back after)
        window.open_before_presentation = {key: docks[key].toggleViewAction().isChecked() for key in HIDDEN}
        for key in HIDDEN:
            docks[key].hide()
        docks["data"].raise_()
        window.insertToolBarBreak(window.phase_toolbar)
        # the canvas gets the larger share of the height: its numbers are what the back row reads
        plots = min(PLOTS_HEIGHT, window.height() * 7 // 20)
        window.resizeDocks([docks["loss"], docks["gradients"]], [plots] * 2, Qt.Orientation.Vertical)
    else:
        for key, was_open in window.open_before_presentation.items():
            docks[key].setVisible(was_open)
        for front in ("inspector", "data"):  # the tabs in front as on a first start
            docks[front].raise_()
        window.removeToolBarBreak(window.phase_toolbar)
    for plot in (window.loss_plot, window.gradient_plot):
        plot.set_presenting(on)
    window.canvas.set_presenting(on)  # larger numbers on the canvas, fitted to the height it gets
    window.layer_palette.setVisible(not on)  # (building the network is not what a lecture shows)
    QApplication.setFont(font)
    window.setPalette(high_contrast(QApplication.palette()) if on else QApplication.palette())
    if not on and window.layout_before_presentation is not None:
        # the large font widened the docks; once the normal font has reached every widget (the next turn of the
        # event loop) they take their places and sizes as they were
        saved, window.layout_before_presentation = window.layout_before_presentation, None
        QTimer.singleShot(0, window, lambda: window.restoreState(saved))
