"""Fixtures for the GUI tests: the assembled main window, with the modal dialogs stood in for."""

import gc

import pytest

pytest.importorskip("PySide6")  # without Qt the whole folder is skipped

import shiboken6
from PySide6.QtCore import QEvent, QSettings
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from bpstudio.core.datasets import resolve_split
from bpstudio.core.io import presets
from bpstudio.core.session import Session
from bpstudio.gui.canvas import TopologyView
from bpstudio.gui.gc_policy import GuiThreadCollector
from bpstudio.gui.main_window import DEFAULT_SIZE, MainWindow
from tests.gui import canvas_view
from tests.gui.driving import activate, on_screen


class Dialogs:
    """Stands in for QMessageBox (a modal box would hang offscreen) and the file dialogs: records what was
    shown, answers questions with ``answer``, and picks ``save_path`` / ``open_path`` ("" cancels)."""

    def __init__(self):
        self.shown: list[tuple[str, str, str]] = []
        self.answer = QMessageBox.StandardButton.Discard
        self.save_path = ""
        self.open_path = ""

    def warning(self, parent, title, text, *args):
        self.shown.append(("warning", title, text))
        return QMessageBox.StandardButton.Ok

    def question(self, parent, title, text, *args):
        self.shown.append(("question", title, text))
        return self.answer

    def kinds(self):
        return [kind for kind, _, _ in self.shown]


@pytest.fixture(scope="session", autouse=True)
def gui_thread_collection(qapp):
    """As in the app: cyclic garbage (closed windows among it) is collected on the GUI thread only."""
    collector = GuiThreadCollector()
    yield collector
    collector.uninstall()


@pytest.fixture
def dialogs(monkeypatch):
    d = Dialogs()
    for name in ("warning", "critical", "information"):
        monkeypatch.setattr(QMessageBox, name, staticmethod(d.warning))
    monkeypatch.setattr(QMessageBox, "question", staticmethod(d.question))
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (d.save_path, "")))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (d.open_path, "")))
    return d


@pytest.fixture
def new_window(qtbot, tmp_path, dialogs):
    """Opens windows (each with the given settings file, a first one at ``size``), shown, exposed, active and
    settled; at the end stops their training, marks their undo stacks clean (no unsaved-changes question) and
    closes them."""
    made = []

    def make(settings="s.ini", size=DEFAULT_SIZE):
        w = MainWindow(QSettings(str(tmp_path / settings), QSettings.Format.IniFormat))
        qtbot.addWidget(w)
        if w.settings.value("geometry") is None:  # (a first window fits the screen: offscreen's is 800 × 800)
            w.resize(*size)
        w.show()
        qtbot.waitExposed(w)
        activate(qtbot, w)
        made.append(w)
        return w

    yield make
    for w in made:
        if shiboken6.isValid(w):
            w.training.stop()
            w.document.undo_stack.set_clean()
            w.close()
            QApplication.setFont(w._base_font)  # (presentation mode enlarges the application's font)
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
    gc.collect()  # the closed windows go now, on this thread


@pytest.fixture
def window(new_window):
    """One window, ready to be driven (see ``new_window``)."""
    return new_window()


# --- the canvas on its own (tests/gui/test_canvas*.py) ---------------------------------------------------


@pytest.fixture
def mazur():
    spec = presets.load("mazur")
    return spec, Session(spec, resolve_split(spec.data)[0])


@pytest.fixture
def view(qtbot):
    return on_screen(qtbot, TopologyView(), (1000, 620))


@pytest.fixture
def at_rest(view, mazur):  # the view showing Mazur's network before any step
    canvas_view.shown(view, *mazur)
    return view
