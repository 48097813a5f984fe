"""Choosing PyTorch never freezes the window: the backend is made ready (torch imported) off the GUI thread while
a busy bar says so and the current engine goes on training; the switch happens once it is ready. A load that
fails says why and leaves the engine as it was; choosing NumPy meanwhile wins."""

import threading

import pytest

from bpstudio.core.errors import BackendError
from bpstudio.gui import backend_loader
from tests.gui.driving import open_example, settle
from tests.helpers import needs_torch


class SlowLoad:
    """Stands in for making a backend ready: waits until the test lets it finish, notes the thread it ran on."""

    def __init__(self, real=None, error=None):
        self.release = threading.Event()
        self.threads = []
        self.real, self.error = real, error

    def __call__(self, name, device="cpu", dtype="float64"):
        self.threads.append(threading.current_thread())
        assert self.release.wait(30), "the test never let the load finish"
        if self.error is not None:
            raise BackendError(self.error)
        return self.real(name, device, dtype) if self.real is not None else None


@pytest.fixture
def slow_load(monkeypatch):
    """Nothing but NumPy is ready yet, and making a backend ready waits for the test."""
    monkeypatch.setattr(backend_loader, "_READY", {("numpy", "cpu")})

    def install(**kw):
        load = SlowLoad(**kw)
        monkeypatch.setattr(backend_loader.backends, "get_backend", load)
        return load

    return install


def choose(qtbot, w, text):
    combo = w.training_panel.backend
    combo.setCurrentIndex(combo.findText(text))
    settle(qtbot)


@needs_torch
def test_pytorch_loads_in_the_background_while_training_goes_on(qtbot, window, slow_load):
    from bpstudio.core import backends

    load = slow_load(real=backends.get_backend)
    w, doc, panel = window, window.document, window.training_panel
    open_example(qtbot, w, "xor")
    w.window_actions.play.trigger()
    qtbot.waitUntil(lambda: doc.session.step_count > 5, timeout=10000)

    choose(qtbot, w, "PyTorch CPU")  # returns at once: the load waits on another thread
    qtbot.waitUntil(lambda: bool(load.threads), timeout=10000)
    assert load.threads[0] is not threading.main_thread()
    assert panel.loading_bar.isVisible() and "Loading PyTorch" in panel.loading_label.text()
    assert panel.backend.currentText() == "PyTorch CPU"  # the choice stays shown while it loads
    assert doc.backend_choice[0] == "numpy"
    steps = doc.session.step_count
    qtbot.waitUntil(lambda: doc.session.step_count > steps + 5, timeout=10000)  # training goes on meanwhile
    assert w.training.running

    load.release.set()
    qtbot.waitUntil(lambda: doc.backend_choice[0] == "torch", timeout=60000)
    assert not panel.loading_bar.isVisible() and w.training.running
    steps = doc.session.step_count
    qtbot.waitUntil(lambda: doc.session.step_count > steps + 5, timeout=10000)  # now on PyTorch
    w.window_actions.play.trigger()


def test_a_failed_load_says_why_and_keeps_the_engine(qtbot, window, slow_load):
    load = slow_load(error="PyTorch cannot be loaded (OSError: libtorch_cpu.so: cannot open shared object file)")
    w, doc, panel = window, window.document, window.training_panel
    choose(qtbot, w, "PyTorch CPU")
    assert panel.loading_bar.isVisible()
    load.release.set()
    qtbot.waitUntil(lambda: w.backend_loader.pending is None, timeout=10000)
    settle(qtbot)
    assert doc.backend_choice == ("numpy", "cpu", "float64")
    assert panel.backend.currentText() == "NumPy" and not panel.loading_bar.isVisible()
    assert "libtorch_cpu.so" in w.statusBar().currentMessage()


def test_choosing_numpy_while_pytorch_loads_wins(qtbot, window, slow_load):
    load = slow_load()
    w, doc, panel = window, window.document, window.training_panel
    choose(qtbot, w, "PyTorch CPU")
    choose(qtbot, w, "NumPy")
    assert not panel.loading_bar.isVisible() and panel.backend.currentText() == "NumPy"
    load.release.set()
    qtbot.waitUntil(lambda: not w.backend_loader._tasks, timeout=10000)  # the load ended, unasked for now
    settle(qtbot)
    assert doc.backend_choice == ("numpy", "cpu", "float64") and panel.backend.currentText() == "NumPy"


def saved_on_pytorch(tmp_path):
    """A session file of the xor example saved on PyTorch (written without PyTorch)."""
    import dataclasses

    from bpstudio.core.io import presets, session_io
    from bpstudio.core.run_state import RunState

    spec = presets.load("xor")
    path = tmp_path / "on_torch.json"
    saved = session_io.SavedSession(RunState.start_of(spec), backend="torch", device="cpu", dtype="float64")
    session_io.save(dataclasses.replace(saved), path)
    return path


def test_a_file_saved_on_pytorch_opens_at_once_and_switches_when_pytorch_is_ready(qtbot, window, slow_load, tmp_path):
    from bpstudio.core import backends

    load = slow_load(real=backends.get_backend)
    w, doc, panel = window, window.document, window.training_panel
    assert w.files.open(str(saved_on_pytorch(tmp_path)))  # returns at once, on NumPy meanwhile
    qtbot.waitUntil(lambda: bool(load.threads), timeout=10000)
    assert load.threads[0] is not threading.main_thread()
    assert doc.backend_choice[0] == "numpy" and panel.loading_bar.isVisible()
    assert panel.backend.currentText() == "PyTorch CPU" and not doc.dirty
    load.release.set()
    qtbot.waitUntil(lambda: w.backend_loader.pending is None, timeout=60000)
    settle(qtbot)
    if backend_loader.BackendLoader.is_ready("torch", "cpu"):
        assert doc.backend_choice == ("torch", "cpu", "float64")
    else:  # (no PyTorch here: said why, NumPy stays)
        assert doc.backend_choice[0] == "numpy" and "PyTorch" in w.statusBar().currentMessage()
    assert not doc.dirty and "*" not in w.windowTitle()  # the saved engine is no unsaved change
