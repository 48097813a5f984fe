"""Widgets floating over the canvas: the refusal banner, the inline rename editor and the in-place editor of
a weight or bias."""

from __future__ import annotations

from PySide6.QtCore import QEasingCurve, QPoint, QPropertyAnimation, QRect, Qt, QTimer, Signal
from PySide6.QtGui import QFocusEvent, QKeyEvent
from PySide6.QtWidgets import QFrame, QGraphicsOpacityEffect, QHBoxLayout, QLabel, QLineEdit, QWidget

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


class ValueField(QLineEdit):
    """The line edit of :class:`ValueEditor`: Enter hands the text over, Escape cancels (both keys end here:
    passed on, Enter would reach the canvas and open the editor again); losing the focus ends it too."""

    returned = Signal()
    cancelled = Signal()
    left = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Escape):
            event.accept()
            (self.cancelled if key == Qt.Key.Key_Escape else self.returned).emit()
            return
        super().keyPressEvent(event)

    def focusOutEvent(self, event: QFocusEvent) -> None:
        super().focusOutEvent(event)
        if event.reason() != Qt.FocusReason.PopupFocusReason:  # (its own right-click menu keeps it open)
            self.left.emit()


class ValueEditor(QFrame):
    """Edits one weight or bias in place, over its line or neuron: its name, then its exact value to type over.

    Enter hands the text to ``entered``; the view checks it and either asks for the edit and calls
    :meth:`finish`, or refuses it and keeps the editor open. Clicking away hands it over too, as the last word
    (the view finishes either way). Escape finishes at once: nothing changes."""

    entered = Signal(str, bool)  # the typed text, and whether the person left the editor (clicked away)
    finished = Signal()  # the editor closed (committed or cancelled)

    def __init__(self, parent: QWidget, home: QWidget):
        super().__init__(parent)
        self.home = home  # where the keyboard focus goes back to when the editor closes (the canvas)
        self.setObjectName("value_editor")
        self.setStyleSheet(
            "QFrame#value_editor { background: white; border: 2px solid #4e79a7; border-radius: 6px; }"
            " QLabel { color: #495057; font-weight: bold; }"
            " QLineEdit { border: 1px solid #ced4da; border-radius: 3px; padding: 1px 4px; }"
        )
        self.caption = QLabel()
        self.field = ValueField()
        self.field.setMinimumWidth(self.field.fontMetrics().horizontalAdvance("-0.123456789012345678") + 12)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.setSpacing(6)
        layout.addWidget(self.caption)
        layout.addWidget(self.field)
        self.field.returned.connect(lambda: self._enter(False))
        self.field.left.connect(lambda: self._enter(True))
        self.field.cancelled.connect(lambda: self.finish())
        self.target: object = None  # what is being edited (the view's; None when closed)
        self.hide()

    @property
    def editing(self) -> bool:
        return self.target is not None

    def start(self, target: object, caption: str, text: str, at: QPoint) -> None:
        """Edit ``target``, showing ``caption`` and ``text`` (selected), centred on ``at`` (viewport pixels)."""
        self.target = target
        self.caption.setText(caption)
        self.field.setText(text)
        self.adjustSize()
        parent = self.parentWidget()
        room = parent.rect() if parent is not None else QRect()
        box = QRect(QPoint(0, 0), self.size())
        box.moveCenter(at)
        if not room.isEmpty():  # inside the canvas, whole
            box.moveLeft(max(room.left() + 4, min(box.left(), room.right() - box.width() - 4)))
            box.moveTop(max(room.top() + 4, min(box.top(), room.bottom() - box.height() - 4)))
        self.move(box.topLeft())
        self.show()
        self.raise_()
        self.field.setFocus(Qt.FocusReason.MouseFocusReason)
        self.field.selectAll()

    def refused(self) -> None:
        """The text was not taken: keep editing it."""
        self.field.setFocus(Qt.FocusReason.OtherFocusReason)
        self.field.selectAll()

    def finish(self, give_focus_back: bool = True) -> None:
        """Close; the keyboard focus goes back to the canvas unless the person clicked elsewhere."""
        if self.target is None:
            return
        self.target = None  # (first: moving the focus away must not hand the text over again)
        if give_focus_back:
            self.home.setFocus(Qt.FocusReason.OtherFocusReason)
        self.hide()
        self.finished.emit()

    def _enter(self, leaving: bool) -> None:
        if self.target is not None:
            self.entered.emit(self.field.text(), leaving)


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

    def set_content(self, weights: bool, gradients: bool, unlabelled: bool = False, updated: bool = False) -> None:
        """Say what the lines show; ``unlabelled``: some lines carry no value label (too many of them);
        ``updated``: the neurons show the last step's forward pass, whose weights the update has since changed."""
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
        if updated:
            parts.append("<b>neurons</b>: the last step's forward pass, from before its update")
        self.setText("<br>".join(parts))
        self.adjustSize()
        self.place()
        self.show()

    def place(self) -> None:
        parent = self.parentWidget()
        if parent is not None:
            self.move(12, parent.height() - self.height() - 12)
