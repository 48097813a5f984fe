"""The training panel: settings shown, changes requested, bad values refused with a reason."""

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication

from bpstudio.core import backends
from bpstudio.core.io import presets
from bpstudio.core.spec import OptimizerSpec
from bpstudio.gui.panels.training_panel import TrainingPanel

ALL_SIGNALS = ("loss_requested", "optimizer_requested", "batch_size_requested", "backend_requested")
NO_CUDA = "no CUDA device is visible to PyTorch"


def record(widget):
    seen = []
    for name in ALL_SIGNALS:
        getattr(widget, name).connect(lambda *args, n=name: seen.append((n, *args)))
    return seen


def retype(qtbot, field, text):
    """Select what a field holds, type over it and press Enter, as a person would."""
    line = field.lineEdit() if hasattr(field, "lineEdit") else field
    line.selectAll()
    qtbot.keyClick(line, Qt.Key.Key_Delete)
    qtbot.keyClicks(line, text)
    qtbot.keyClick(line, Qt.Key.Key_Return)


def entries(combo):
    model = combo.model()
    return [(model.item(r).text(), model.item(r).isEnabled(), model.item(r).toolTip()) for r in range(model.rowCount())]


@pytest.fixture
def panel(qtbot, monkeypatch):
    monkeypatch.setattr(backends, "available", lambda: {"numpy/cpu": None, "torch/cpu": None, "torch/cuda": NO_CUDA})
    widget = TrainingPanel()
    qtbot.addWidget(widget)
    widget.resize(320, 480)
    widget.show()
    seen = record(widget)
    widget.show_settings(presets.load("mazur"), 32, "numpy", "cpu", "float64")
    assert seen == []  # showing never asks for anything
    return widget, seen


def visible(panel, key):
    return panel.fields[key].isVisibleTo(panel)


def test_shows_the_settings_in_effect(panel):
    widget, _ = panel
    assert widget.loss.currentText() == "sse_half" and widget.optimizer.currentText() == "sgd"
    assert widget.fields["lr"].text() == "0.5" and widget.fields["weight_decay"].text() == "0"
    assert [visible(widget, k) for k in ("lr", "momentum", "beta1", "beta2", "weight_decay")] == [
        True,
        False,
        False,
        False,
        True,
    ]
    assert widget.batch.value() == 32 and widget.batch.isEnabled() and not widget.full_batch.isChecked()
    assert widget.backend.currentText() == "NumPy" and widget.dtype.currentText() == "float64"
    assert widget.error.isHidden()


def test_choosing_a_loss_requests_it(qtbot, panel):
    widget, seen = panel
    qtbot.keyClick(widget.loss, Qt.Key.Key_Down)  # sse_half -> mse
    assert seen == [("loss_requested", "mse")]


def test_a_loss_that_does_not_fit_the_output_is_refused(qtbot, panel):
    widget, seen = panel
    widget.show_settings(presets.load("deep_sigmoid"), None, "numpy", "cpu", "float64")  # one sigmoid output, bce
    qtbot.keyClick(widget.loss, Qt.Key.Key_Down)  # bce -> cross_entropy, which needs 2+ outputs
    assert seen == []
    assert "needs one output unit per class" in widget.error.text() and widget.error.isVisibleTo(widget)
    assert widget.loss.currentText() == "bce"


@pytest.mark.parametrize("text, lr", [("1e-4", 1e-4), ("0.05", 0.05), (" 2 ", 2.0)])
def test_typing_a_learning_rate_requests_the_optimizer(qtbot, panel, text, lr):
    widget, seen = panel
    retype(qtbot, widget.fields["lr"], text)
    assert seen == [("optimizer_requested", OptimizerSpec("sgd", lr=lr))]


@pytest.mark.parametrize(
    "field, text, reason",
    [
        ("lr", "-0.1", "Not changed — learning rate must not be negative, got -0.1"),  # (the form's name for it)
        ("lr", "abc", "learning rate: 'abc' is not a number"),
        ("weight_decay", "inf", "weight decay: 'inf' is not a finite number"),
        ("lr", "", "learning rate: an empty entry is not a number"),
    ],
)
def test_bad_optimizer_numbers_are_refused_with_the_reason(qtbot, panel, field, text, reason):
    widget, seen = panel
    retype(qtbot, widget.fields[field], text)
    assert seen == []
    assert reason in widget.error.text() and widget.error.isVisibleTo(widget)
    retype(qtbot, widget.fields[field], "0.25")  # fixing it asks and clears the message
    assert seen == [("optimizer_requested", OptimizerSpec("sgd", **{"lr": 0.5, field: 0.25}))]
    assert widget.error.isHidden()


def test_a_refused_number_is_framed_red_and_its_reason_is_in_view_in_a_short_dock(qtbot, panel):
    """In a dock shorter than the settings (a 1024×768 window), the reason shows where the person is looking and
    the field it is about is framed red, until a value is taken."""
    widget, seen = panel
    widget.resize(320, 300)
    settle_panel(qtbot)
    field = widget.fields["lr"]
    for text in ("abc", "-1"):
        retype(qtbot, field, text)
        settle_panel(qtbot)
        assert seen == [] and field.text() == text
        viewport = widget.settings_area.viewport()
        top_left = widget.error.mapTo(viewport, widget.error.rect().topLeft())
        assert viewport.rect().contains(top_left) and widget.error.text().startswith("Not changed — ")
        assert reddish_border(field)
    retype(qtbot, field, "0.25")
    assert seen and widget.error.isHidden() and not reddish_border(field)


def settle_panel(qtbot):
    QApplication.processEvents()


def reddish_border(field):
    """Whether the field's drawn frame (its top row of pixels, away from the corners) is red."""
    image = field.grab().toImage()
    colors = [QColor(image.pixel(x, 0)) for x in range(4, image.width() - 4)]
    return sum(c.red() > 150 and c.green() < 90 and c.blue() < 90 for c in colors) > len(colors) // 2


def test_switching_optimizer_shows_its_settings_and_requests_it(qtbot, panel):
    widget, seen = panel
    qtbot.keyClick(widget.optimizer, Qt.Key.Key_Down)  # sgd -> momentum
    assert visible(widget, "momentum") and not visible(widget, "beta1")
    retype(qtbot, widget.fields["momentum"], "0.5")
    qtbot.keyClick(widget.optimizer, Qt.Key.Key_Down)  # momentum -> adam
    assert visible(widget, "beta1") and visible(widget, "beta2") and not visible(widget, "momentum")
    retype(qtbot, widget.fields["beta2"], "1")
    assert seen == [
        ("optimizer_requested", OptimizerSpec("momentum", lr=0.5)),
        ("optimizer_requested", OptimizerSpec("momentum", lr=0.5, momentum=0.5)),
        ("optimizer_requested", OptimizerSpec("adam", lr=0.5, momentum=0.5)),
    ]
    assert "Not changed — beta 2 must be below 1, got 1.0" in widget.error.text()


def test_pressing_enter_twice_asks_once(qtbot, panel):
    widget, seen = panel
    retype(qtbot, widget.fields["lr"], "0.1")
    qtbot.keyClick(widget.fields["lr"], Qt.Key.Key_Return)
    assert seen == [("optimizer_requested", OptimizerSpec("sgd", lr=0.1))]


def test_batch_size_and_full_batch(qtbot, panel):
    widget, seen = panel
    retype(qtbot, widget.batch, "16")
    qtbot.mouseClick(widget.full_batch, Qt.MouseButton.LeftButton)
    assert not widget.batch.isEnabled()
    widget.show_settings(presets.load("mazur"), None, "numpy", "cpu", "float64")
    assert widget.full_batch.isChecked() and not widget.batch.isEnabled()
    qtbot.mouseClick(widget.full_batch, Qt.MouseButton.LeftButton)
    assert seen == [("batch_size_requested", 16), ("batch_size_requested", None), ("batch_size_requested", 16)]


def test_backends_core_cannot_use_are_disabled_with_the_reason(qtbot, panel):
    widget, seen = panel
    assert [(text, enabled) for text, enabled, _ in entries(widget.backend)] == [
        ("NumPy", True),
        ("PyTorch CPU", True),
        ("PyTorch CUDA", False),
    ]
    assert entries(widget.backend)[2][2] == NO_CUDA
    qtbot.keyClick(widget.backend, Qt.Key.Key_Down)  # NumPy -> PyTorch CPU
    qtbot.keyClick(widget.backend, Qt.Key.Key_Down)  # the disabled CUDA entry is skipped
    assert widget.backend.currentText() == "PyTorch CPU"
    qtbot.keyClick(widget.dtype, Qt.Key.Key_Down)  # float64 -> float32
    assert seen == [("backend_requested", "torch", "cpu", "float64"), ("backend_requested", "torch", "cpu", "float32")]


def test_a_usable_cuda_is_offered(qtbot, monkeypatch):
    monkeypatch.setattr(backends, "available", lambda: dict.fromkeys(("numpy/cpu", "torch/cpu", "torch/cuda")))
    widget = TrainingPanel()
    qtbot.addWidget(widget)
    widget.show_settings(presets.load("mazur"), None, "torch", "cuda", "float32")
    assert all(enabled for _, enabled, _ in entries(widget.backend))
    assert widget.backend.currentText() == "PyTorch CUDA" and widget.dtype.currentText() == "float32"
