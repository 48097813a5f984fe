"""A long session leaves nothing behind: the timeline's states spilled to disk go when the window closes (and stay
while a person cancels the close), and the Timeline panel says what they take."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from bpstudio.core.record.timeline import Timeline
from tests.gui.driving import click_canvas, press


def test_closing_the_window_removes_the_timelines_spill_folder(qtbot, window, dialogs):
    w, doc = window, window.document
    timeline = doc.rewind.timeline
    timeline.memory_bound = Timeline().held_bytes(doc.snapshot(), in_memory=2, spilled=40)  # (a small memory)
    click_canvas(qtbot, w)
    for _ in range(30):
        press(qtbot, w, Qt.Key.Key_S)
    folder = timeline._spill_dir
    assert folder is not None and len(list(folder.iterdir())) > 10
    assert "on disk" in w.timeline_panel.memory.text()

    dialogs.answer = QMessageBox.StandardButton.Cancel  # (the steps are unsaved: the window asks first)
    assert not w.close()
    assert len(list(folder.iterdir())) > 10  # still open: nothing of its timeline gone
    dialogs.answer = QMessageBox.StandardButton.Discard
    assert w.close()
    assert not folder.exists()
