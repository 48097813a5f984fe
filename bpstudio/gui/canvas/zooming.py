"""A graphics view that zooms and fits its content, and never jumps.

Until the person zooms or pans it follows the window: the whole content stays fitted as the window resizes (and
after an add, :meth:`ZoomingView.reveal`). The scene rectangle only grows, keeping the same scene point in the
corner, so stepping through a network never moves the picture. To show something off screen the view zooms out
beside what is on screen; it never scrolls away from it.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, QRect, QRectF, Qt
from PySide6.QtGui import QAction, QPainter, QWheelEvent
from PySide6.QtWidgets import QGraphicsView, QWidget

from bpstudio.gui.canvas import style

MIN_SCALE, MAX_SCALE, MAX_FIT_SCALE = 0.05, 6.0, 1.8
MARGINS = (30, 60, 30, 40)  # screen pixels kept round fitted content: left, top (the banner), right, bottom


class ZoomingView(QGraphicsView):
    """Zoom (wheel, :meth:`zoom_by`), fit (Ctrl+0, :meth:`fit_all`) and reveal; subclasses say what their
    content is (:meth:`content_rect`)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.fit_action = QAction("Fit to window", self)
        self.fit_action.setShortcut("Ctrl+0")
        self.fit_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.fit_action.triggered.connect(self.fit_all)
        self.addAction(self.fit_action)
        self._auto_fit = True  # keep fitting the content to the window until the person zooms or pans

    def content_rect(self) -> QRectF:
        """Everything worth showing, in scene coordinates."""
        return self.sceneRect()

    def on_screen(self) -> QRectF:
        """The part of the scene the view shows."""
        return self.mapToScene(self.viewport().rect()).boundingRect()

    def _pixel(self) -> float:
        """A screen pixel in scene units."""
        return 1 / max(self.transform().m11(), 1e-6)

    def _grow_scene_rect(self) -> None:
        """Room to pan around the content. Only ever grows, and the picture stays put while it does."""
        wanted = self.content_rect().adjusted(-2000, -2000, 2000, 2000)
        if not self.sceneRect().contains(wanted):
            corner = self.mapToScene(0, 0)
            self.setSceneRect(self.sceneRect().united(wanted))
            drift = self.mapFromScene(corner)  # (where the top-left scene point went: scroll it back, exactly)
            self._scroll_by(QPointF(-drift.x(), -drift.y()))

    def zoom_by(self, factor: float) -> None:
        self._auto_fit = False
        self._scale_by(factor)

    def _scale_by(self, factor: float) -> None:
        current = self.transform().m11()
        wanted = min(MAX_SCALE, max(MIN_SCALE, current * factor))
        self.scale(wanted / current, wanted / current)

    def fit_all(self) -> None:
        """Show all the content (not bigger than 1.8×); it stays fitted as the window resizes until a zoom."""
        self._auto_fit = True
        rect = self.content_rect()
        if rect.isEmpty():
            return
        left, top, right, bottom = MARGINS
        rect.adjust(-left, -top, right, bottom)
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        if self.transform().m11() > MAX_FIT_SCALE:
            self._scale_by(MAX_FIT_SCALE / self.transform().m11())
        self.centerOn(rect.center())

    def reveal(self, rect: QRectF) -> None:
        """Show ``rect`` without scrolling away from what is on screen: while the view follows the window, by
        fitting all the content again if anything left the screen; otherwise by zooming out until ``rect``
        shows beside what was on screen."""
        on_screen = self.on_screen()
        if self._auto_fit:
            if not on_screen.contains(self.content_rect()):
                self.fit_all()
        elif not on_screen.contains(rect):
            px = self._pixel()
            left, top, right, bottom = MARGINS
            wanted = on_screen.united(rect.adjusted(-left * px, -top * px, right * px, bottom * px))
            self.fitInView(wanted, Qt.AspectRatioMode.KeepAspectRatio)

    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.zoom_by(1.2**steps)
        event.accept()

    def _scroll_by(self, delta: QPointF) -> None:
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - round(delta.x()))
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() - round(delta.y()))

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        if self._auto_fit:
            self.fit_all()

    def drawBackground(self, painter: QPainter, exposed: QRectF | QRect) -> None:
        style.draw_grid(painter, QRectF(exposed), self.transform().m11())
