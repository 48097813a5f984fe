"""The digits in the data dock: the first test samples as pictures with their labels, and how the network
reads each — the count read right and every wrong one computed here from the network's own outputs."""

import numpy as np
import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt

from tests.gui.driving import open_example, press, settle


def read_right(w):
    """The first 24 test samples the network reads right, from its outputs (argmax of the logits)."""
    test = w.document.test_data
    predicted = w.document.session.predict(test.X[:24]).argmax(axis=1)
    return predicted, int(np.sum(predicted == test.Y[:24]))


def test_the_digits_show_as_pictures_read_right_or_wrong_and_follow_training(qtbot, window):
    w = window
    open_example(qtbot, w, "digits")
    plot = w.data_panel.plot
    view = plot.samples
    assert view.isVisible() and not plot.plot_widget.isVisible()
    assert len(view.images) == 24 and (view.images[0].width(), view.images[0].height()) == (8, 8)
    predicted, right = read_right(w)
    assert view.title() == f"Test samples, never trained on: {right} of 24 read right"
    labels = w.document.test_data.Y[:24]
    for k in range(24):
        text, _ = view.caption(k)
        assert text == (f"{labels[k]} ✓" if predicted[k] == labels[k] else f"{labels[k]} → {predicted[k]}")
    before = right
    for _ in range(3):
        press(qtbot, w, Qt.Key.Key_E)  # an epoch each
    settle(qtbot)
    predicted, right = read_right(w)
    assert right > before and view.title() == f"Test samples, never trained on: {right} of 24 read right"
    shown = view.grab().toImage()
    ink = shown.pixelColor(view.cells()[0].center().toPoint())
    assert ink.red() == ink.green() == ink.blue()  # the picture is drawn, in grey
