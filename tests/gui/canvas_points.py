"""Where things are on the main window's canvas, what it shows there, and mouse gestures on it."""

from __future__ import annotations

import re

import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QDrag, QDragEnterEvent, QDragMoveEvent, QDropEvent, QHelpEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QToolTip

from tests.gui.driving import LEFT, NOMOD, settle


def blocks(w):
    return w.canvas.canvas.blocks


def neuron_point(w, layer, unit):
    b = blocks(w)[layer]
    return b.pos() + b.geometry.neuron_center(unit)


def header_point(w, layer):
    b = blocks(w)[layer]
    return b.pos() + b.geometry.header.center() + QPointF(0, 10)


def port_point(w, layer, port):
    b = blocks(w)[layer]
    return b.pos() + getattr(b.geometry, port)


def edges(w):
    return {(e.key, e.index): e for e in w.canvas.canvas.weight_edges()}


def edge_point(w, key, index, t=0.5):
    e = edges(w)[(key, index)]
    return e.p1 + (e.p2 - e.p1) * t


def at(w, scene_point):
    return w.canvas.mapFromScene(scene_point)


def click(qtbot, w, scene_point):
    QTest.mouseClick(w.canvas.viewport(), LEFT, NOMOD, at(w, scene_point))
    settle(qtbot)


def drag(qtbot, w, start, end, steps=6):
    vp = w.canvas.viewport()
    a, b = at(w, start), at(w, end)
    QTest.mousePress(vp, LEFT, NOMOD, a)
    for k in range(1, steps + 1):
        QTest.mouseMove(vp, a + (b - a) * k / steps)
    QTest.mouseRelease(vp, LEFT, NOMOD, b)
    settle(qtbot)


def tooltip(w, scene_point):
    vp, pos = w.canvas.viewport(), at(w, scene_point)
    QApplication.sendEvent(vp, QHelpEvent(QEvent.Type.ToolTip, pos, vp.mapToGlobal(pos)))
    return QToolTip.text()


def tip_number(tip, name):
    """The number a tooltip shows on the row called ``name`` (e.g. "out", "gradient ∂E/∂w")."""
    found = re.search(re.escape(name) + r"</td><td><b>([-+.e0-9]+)</b>", tip)
    assert found, f"no '{name}' row in {tip!r}"
    return float(found.group(1))


def shown(value):
    """A published number as a 9-significant-digit display may show it."""
    return pytest.approx(value, rel=1e-8, abs=1e-9)


def neuron_text(w, layer, unit):
    return w.canvas.canvas.overlays[layer].texts[unit]


def drop_from_palette(qtbot, w, monkeypatch, layer_type, scene_point):
    """Drag a palette button onto the canvas (QDrag.exec would run its own loop: the drop is delivered here)."""
    carried = []
    monkeypatch.setattr(QDrag, "exec", lambda drag, *_: carried.append(drag.mimeData()))
    button = w.layer_palette.buttons[layer_type]
    QTest.mousePress(button, LEFT, NOMOD, QPoint(5, 5))
    QTest.mouseMove(button, QPoint(40, 30))
    QTest.mouseRelease(button, LEFT, NOMOD, QPoint(40, 30))
    assert len(carried) == 1
    vp, pos, copy, mime = w.canvas.viewport(), at(w, scene_point), Qt.DropAction.CopyAction, carried[0]
    for event in (
        QDragEnterEvent(pos, copy, mime, LEFT, NOMOD),
        QDragMoveEvent(pos, copy, mime, LEFT, NOMOD),
        QDropEvent(QPointF(pos), copy, mime, LEFT, NOMOD),
    ):
        QApplication.sendEvent(vp, event)
        assert event.isAccepted()
    settle(qtbot)


def topology(w):
    return {layer.id: layer.inputs for layer in w.document.spec.layers}
