"""The canvas tests' helpers (their fixtures, ``view``, ``mazur`` and ``at_rest``, are in conftest.py):
points on the drawing in scene coordinates, mouse gestures and drops as real events on the viewport."""

from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent, QHelpEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QToolTip

from bpstudio.core.io import spec_io

LEFT = Qt.MouseButton.LeftButton
NOMOD = Qt.KeyboardModifier.NoModifier


def shown(view, spec, session, phase=None):
    view.show_network(spec, session.params_numpy(), session.trace and session.trace.to_numpy(), phase)


def at(view, scene_point):  # the viewport pixel of a scene point
    return view.mapFromScene(scene_point)


def neuron_point(view, layer, unit):
    return view.canvas.blocks[layer].pos() + view.canvas.blocks[layer].geometry.neuron_center(unit)


def header_point(view, layer):
    return view.canvas.blocks[layer].pos() + view.canvas.blocks[layer].geometry.header.center() + QPointF(0, 10)


def edges(view):
    return {(e.key, e.index): e for e in view.canvas.weight_edges()}


def edge_point(view, key, index, t=0.5):
    edge = edges(view)[(key, index)]
    return edge.p1 + (edge.p2 - edge.p1) * t


def click(view, scene_point):
    QTest.mouseClick(view.viewport(), LEFT, NOMOD, at(view, scene_point))


def drag(view, start, end, steps=6):
    QTest.mousePress(view.viewport(), LEFT, NOMOD, start)
    for k in range(1, steps + 1):
        QTest.mouseMove(view.viewport(), start + (end - start) * k / steps)
    QTest.mouseRelease(view.viewport(), LEFT, NOMOD, end)


def tooltip(view, scene_point):
    pos = at(view, scene_point)
    QApplication.sendEvent(view.viewport(), QHelpEvent(QEvent.Type.ToolTip, pos, view.viewport().mapToGlobal(pos)))
    return QToolTip.text()


def network(layers, output):
    return spec_io.from_dict(
        {"format": "bpstudio-network", "version": 1, "layers": layers, "output": output, "loss": "mse"}
    )


def drop(view, point, mime):
    """What a drag from the palette delivers to the viewport: enter, move, drop. True if it was accepted."""
    vp, copy = view.viewport(), Qt.DropAction.CopyAction
    events = (
        QDragEnterEvent(point, copy, mime, LEFT, NOMOD),
        QDragMoveEvent(point, copy, mime, LEFT, NOMOD),
        QDropEvent(QPointF(point), copy, mime, LEFT, NOMOD),
    )
    for event in events:
        QApplication.sendEvent(vp, event)
        if not event.isAccepted():
            return False
    return True


def recorder(signal):
    seen = []
    signal.connect(lambda *args: seen.append(args))
    return seen
