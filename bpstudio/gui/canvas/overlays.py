"""Widgets floating over the canvas: the refusal banner and the inline rename editor."""

from __future__ import annotations

from PySide6.QtCore import QEasingCurve, QPropertyAnimation, QRect, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QGraphicsOpacityEffect, QLabel, QLineEdit, QWidget

from bpstudio.gui.colors import NEGATIVE, POSITIVE

BANNER_SECONDS = 6.0
FADE_MS = 700


class RefusalBanner(QLabel):
    """A red strip across the top of the canvas saying why an edit was refused; fades after a while."""

    def __init__(self, parent: QWidget):
        super().__init__(parent)
        self.setObjectName("refusal_banner")
        self.setWordWrap(True)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setStyleSheet(
            "QLabel#refusal_banner { background: rgba(253, 236, 234, 240); color: #b3261e;"
            " border: 1px solid #f1aeb5; border-radius: 8px; padding: 8px 14px;"
            " font-size: 15px; font-weight: bold; }"
        )
        self._effect = QGraphicsOpacityEffect(self)
        self._effect.setOpacity(1.0)
        self.setGraphicsEffect(self._effect)
        self._fade = QPropertyAnimation(self._effect, b"opacity", self)
        self._fade.setDuration(FADE_MS)
        self._fade.setStartValue(1.0)
        self._fade.setEndValue(0.0)
        self._fade.setEasingCurve(QEasingCurve.Type.InQuad)
        self._fade.finished.connect(self.clear_message)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._fade.start)
        self.hide()

    def show_message(self, message: str, seconds: float = BANNER_SECONDS) -> None:
        self._fade.stop()
        self._effect.setOpacity(1.0)
        self.setText(f"⚠  {message}")
        self.place()
        self.show()
        self.raise_()
        self._timer.start(int(seconds * 1000))

    def clear_message(self) -> None:
        self._timer.stop()
        self._fade.stop()
        self.setText("")
        self.hide()

    def place(self) -> None:
        parent = self.parentWidget()
        if parent is None:
            return
        width = max(200, parent.width() - 40)
        height = self.heightForWidth(width) if self.hasHeightForWidth() else self.sizeHint().height()
        self.setGeometry(QRect(20, 12, width, max(height, 36)))


class RenameEditor(QLineEdit):
    """An inline editor over a block's title: Enter (or clicking away) commits, Escape cancels."""

    committed = Signal(str, str)  # old id, new id

    def __init__(self, parent: QWidget):
        super().__init__(parent)
        self.setObjectName("rename_editor")
        self._layer: str | None = None
        self.editingFinished.connect(self._commit)
        self.hide()

    @property
    def layer(self) -> str | None:
        return self._layer

    def start(self, layer_id: str, rect: QRect, font_px: int = 17) -> None:
        """Edit ``layer_id`` over ``rect`` (viewport pixels), in the title's size at the current zoom."""
        self.setStyleSheet(
            f"QLineEdit#rename_editor {{ font-size: {max(font_px, 12)}px; font-weight: bold;"
            " padding: 0px 4px; border: 2px solid #4e79a7; border-radius: 4px; background: white; }"
        )
        self._layer = layer_id
        self.setText(layer_id)
        self.setGeometry(rect.adjusted(-4, -2, 60, 4))
        self.show()
        self.raise_()
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        self.selectAll()

    def cancel(self) -> None:
        self._layer = None
        self.hide()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.cancel()
            event.accept()
            return
        super().keyPressEvent(event)

    def _commit(self) -> None:
        old, new = self._layer, self.text().strip()
        self._layer = None
        self.hide()
        if old is not None and new and new != old:
            self.committed.emit(old, new)


class Legend(QLabel):
    """A small key in the canvas's bottom-left corner: what line colour, thickness and labels mean."""

    def __init__(self, parent: QWidget):
        super().__init__(parent)
        self.setObjectName("canvas_legend")
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setStyleSheet(
            "QLabel#canvas_legend { background: rgba(255, 255, 255, 215); color: #495057;"
            " border: 1px solid #dee2e6; border-radius: 6px; padding: 4px 8px; font-size: 12px; }"
        )
        self.hide()

    def set_content(self, weights: bool, gradients: bool, unlabelled: bool = False) -> None:
        """Say what the lines show; ``unlabelled``: some lines carry no value label (too many of them)."""
        if not weights and not gradients:
            self.hide()
            return
        swatch = (
            f"<span style='color:{POSITIVE.name()}'>━━</span> positive &nbsp;"
            f"<span style='color:{NEGATIVE.name()}'>━━</span> negative, thickness ∝ |value|"
        )
        parts = [f"<b>lines</b>: {'weights' if weights else 'gradients ∂E/∂w'} — {swatch}"]
        if weights and gradients:
            parts.append("once a layer's backward has run, its lines show the gradients ∂E/∂w (framed labels)")
        if unlabelled:
            parts.append("where lines are many, point at one (or click it) to read its value")
        self.setText("<br>".join(parts))
        self.adjustSize()
        self.place()
        self.show()

    def place(self) -> None:
        parent = self.parentWidget()
        if parent is not None:
            self.move(12, parent.height() - self.height() - 12)
