"""The assembled window as a whole, driven as a person drives it: the gradient check dialog, presentation mode,
and the window's size. (Stepping, building, training and files have their own test_*.py files.)"""

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QMainWindow

from bpstudio.gui.main_window import PRESENTATION_SCALE
from tests.gui.driving import CTRL, menu, press, settle

# === 10. gradient check =========================================================================================


def test_gradient_check_lists_every_parameter_as_passing(qtbot, window):
    w = window
    press(qtbot, w, Qt.Key.Key_S)
    press(qtbot, w, Qt.Key.Key_G, CTRL)
    dialog = w.gradcheck_dialog
    assert dialog.isVisible()
    table = dialog.table
    keys = [table.item(r, 0).text() for r in range(table.rowCount())]
    assert keys == list(w.document.spec.param_shapes())
    assert [table.item(r, table.columnCount() - 1).text() for r in range(table.rowCount())] == ["pass"] * len(keys)
    assert "Every gradient matches" in dialog.summary.text()
    dialog.close()


# === 12. presentation mode =======================================================================================


def test_presentation_mode_enlarges_the_font_and_toggling_back_restores_it(qtbot, window):
    w = window
    base = QApplication.font().pointSizeF()
    press(qtbot, w, Qt.Key.Key_F5)
    assert w.window_actions.presentation.isChecked()
    assert QApplication.font().pointSizeF() == pytest.approx(base * PRESENTATION_SCALE)
    settle(qtbot)  # the canvas re-fits the whole network
    view = w.canvas
    shown = view.mapToScene(view.viewport().rect()).boundingRect()
    assert all(shown.contains(b.sceneBoundingRect()) for b in view.canvas.blocks.values())
    assert w.window_actions.phase_label.font().pointSizeF() == pytest.approx(base * PRESENTATION_SCALE)
    hidden = ("training", "dataset", "inspector", "explanation", "history", "timeline")
    assert not any(w.docks[key].toggleViewAction().isChecked() for key in hidden)
    assert all(w.docks[key].isVisible() for key in ("data", "loss", "gradients"))
    assert QMainWindow.palette(w).color(QPalette.ColorRole.WindowText) == QColor("black")
    menu(w, "View", "Presentation mode").trigger()
    settle(qtbot)
    assert not w.window_actions.presentation.isChecked()
    assert QApplication.font().pointSizeF() == pytest.approx(base)
    assert QMainWindow.palette(w).color(QPalette.ColorRole.WindowText) != QColor(
        "black"
    ) or QApplication.palette().color(QPalette.ColorRole.WindowText) == QColor("black")
    assert all(w.docks[key].toggleViewAction().isChecked() for key in hidden)  # open again
    assert not w.docks["data"].visibleRegion().isEmpty()  # with the data in front, as on a first start


def test_the_window_fits_a_1024_by_768_projector(window):
    hint = window.minimumSizeHint()
    assert hint.width() <= 1024 and hint.height() <= 768
