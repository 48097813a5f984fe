"""Every tool window on a 1024×768 projector: it opens no larger than the screen leaves room for (its frame and
title bar counted), it can be made that small, and it has a Close button a person can see and press."""

import pytest

pytest.importorskip("PySide6")

import shiboken6
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QAbstractButton, QApplication

from bpstudio.gui.screen_fit import room_on
from bpstudio.gui.tools.menu import TOOLS
from tests.gui.driving import LEFT, menu, open_example, settle

PROJECTOR_ROOM = (1024 - 16, 768 - 48)  # a 1024×768 screen less a window manager's borders and title bar


def opened_by(qtbot, window, *path):
    before = {w for w in QApplication.topLevelWidgets() if w.isVisible()}
    menu(window, *path).trigger()
    settle(qtbot)  # (the gradient check opens its dialog when its work in the background is done)
    qtbot.waitUntil(lambda: any(w.isVisible() and w not in before for w in QApplication.topLevelWidgets()))
    opened = [w for w in QApplication.topLevelWidgets() if w.isVisible() and w not in before]
    assert len(opened) == 1, opened
    return opened[0]


def close_button(dialog):
    shown = [b for b in dialog.findChildren(QAbstractButton) if b.isVisible() and b.text().replace("&", "") == "Close"]
    assert len(shown) == 1, [b.text() for b in dialog.findChildren(QAbstractButton) if b.isVisible()]
    return shown[0]


ENTRIES = [("Tools", e[0].replace("&", "")) for e in TOOLS if e is not None] + [
    ("Step", "Gradient check…"),
    ("Help", "About bpstudio"),
]


@pytest.mark.parametrize("path", ENTRIES, ids=lambda p: p[1])
def test_each_dialog_fits_a_projector_and_closes_with_a_button(qtbot, window, path):
    open_example(qtbot, window, "xor")
    window.window_actions.step.trigger()
    settle(qtbot)
    dialog = opened_by(qtbot, window, *path)
    if hasattr(dialog, "torch_checked"):  # (About: its PyTorch rows are looked up off this thread; let them end)
        qtbot.waitUntil(lambda: dialog.torch_is_checked, timeout=20_000)
    room = room_on(dialog)
    assert dialog.width() <= min(room[0], PROJECTOR_ROOM[0]), (dialog.size(), room)
    assert dialog.height() <= min(room[1], PROJECTOR_ROOM[1]), (dialog.size(), room)
    hint = dialog.minimumSizeHint()
    assert hint.width() <= PROJECTOR_ROOM[0] and hint.height() <= PROJECTOR_ROOM[1], hint
    button = close_button(dialog)
    assert dialog.rect().contains(button.mapTo(dialog, button.rect().center()))
    QTest.mouseClick(button, LEFT)
    settle(qtbot)
    assert not shiboken6.isValid(dialog) or not dialog.isVisible()  # (About deletes itself on closing)
