"""The layer palette: one button per layer type. Click to add after the selected layer (with nothing selected,
before the output), or drag a button onto the canvas to add the layer where it is dropped (the canvas turns the
drop into ``add_requested``).

On a narrower window the bar first drops the buttons' colour glyphs (decoration), then (a 1024-px projector,
presentation-sized fonts) its "Add layer:" caption, and last writes the long names short (Input → In, Concat → Cat,
Features → Feat, Dropout → Drop, BatchNorm → BN, LayerNorm → LN; the tooltip keeps the whole name), so no name is
ever cut."""

from __future__ import annotations

from PySide6.QtCore import QMimeData, QPoint, QSize, Qt, Signal
from PySide6.QtGui import QColor, QDrag, QIcon, QMouseEvent, QPainter, QPixmap
from PySide6.QtWidgets import QApplication, QHBoxLayout, QLabel, QToolButton, QWidget

from bpstudio.gui.flow_layout import FitsWidth, minimum_width

MIME_TYPE = "application/x-bpstudio-layer-type"
LAYER_TYPES = (
    ("input", "Input", "the data's features enter here (a network has exactly one)"),
    ("dense", "Dense", "a fully connected layer: weights, bias and an activation"),
    ("add", "Add", "adds its inputs unit by unit (residual connections)"),
    ("concat", "Concat", "joins its inputs side by side"),
    ("features", "Features", "feature inputs of one layer: x1, x1², x1·x2, sin x1 … (switch them in the inspector)"),
    ("dropout", "Dropout", "drops each unit with probability p in training (none in evaluation): less overfitting"),
    (
        "batchnorm",
        "BatchNorm",
        "normalizes each unit over the batch (its running statistics in evaluation), then scales by γ and shifts by "
        "β: keeps deep nets' gradients healthy",
    ),
    ("layernorm", "LayerNorm", "normalizes each sample over its units, then scales by γ and shifts by β"),
)
GLYPH_COLORS = {
    "input": "#4e79a7",
    "dense": "#59a14f",
    "add": "#b07aa1",
    "concat": "#f28e2b",
    "features": "#76b7b2",
    "dropout": "#9c755f",
    "batchnorm": "#e15759",
    "layernorm": "#edc948",
}
SHORT_NAMES = {
    "input": "In",
    "concat": "Cat",
    "features": "Feat",
    "dropout": "Drop",
    "batchnorm": "BN",
    "layernorm": "LN",
}
# the bar's looks from the fullest to the most compact: (caption shown, glyphs shown, short names)
LOOKS = ((True, True, False), (True, False, False), (False, False, False), (False, False, True))


def _glyph(layer_type: str) -> QIcon:
    """A tiny rounded block in the type's colour, so the buttons read as 'things to place'."""
    pixmap = QPixmap(22, 16)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    color = QColor(GLYPH_COLORS[layer_type])
    painter.setPen(color.darker(130))
    painter.setBrush(color.lighter(160))
    painter.drawRoundedRect(1, 1, 20, 14, 4, 4)
    painter.end()
    return QIcon(pixmap)


class PaletteButton(QToolButton):
    """A button that is also a drag source carrying its layer type."""

    def __init__(self, layer_type: str, text: str, hint: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.layer_type = layer_type
        self.setText(text)
        self.setIcon(_glyph(layer_type))
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.setToolTip(
            f"<b>{text}</b>: {hint}<br>Click to add after the selected layer (with nothing selected: before the "
            "output), or drag onto the canvas."
        )
        self.setObjectName(f"palette_{layer_type}")
        self.full_name = text
        self._press: QPoint | None = None

    def show_short_name(self, short: bool) -> None:
        self.setText(SHORT_NAMES.get(self.layer_type, self.full_name) if short else self.full_name)

    def show_glyph(self, shown: bool) -> None:
        """With or without the colour glyph beside the name (without it the button is narrower)."""
        self.setToolButtonStyle(
            Qt.ToolButtonStyle.ToolButtonTextBesideIcon if shown else Qt.ToolButtonStyle.ToolButtonTextOnly
        )

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._press = event.position().toPoint()
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        start = self._press
        if (
            start is not None
            and (event.position().toPoint() - start).manhattanLength() >= QApplication.startDragDistance()
        ):
            self._press = None
            self.setDown(False)
            mime = QMimeData()
            mime.setData(MIME_TYPE, self.layer_type.encode())
            mime.setText(self.layer_type)
            drag = QDrag(self)
            drag.setMimeData(mime)
            drag.setPixmap(self.grab())
            drag.setHotSpot(start)
            drag.exec(Qt.DropAction.CopyAction)
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._press = None
        super().mouseReleaseEvent(event)


class LayerPalette(FitsWidth, QWidget):
    """One button per layer type. ``add_clicked(type)`` on a click; drags go to the canvas."""

    add_clicked = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._row = layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.setSpacing(6)
        self.caption = caption = QLabel("Add layer:")
        caption.setStyleSheet("color: #5f6670; font-weight: bold;")
        layout.addWidget(caption)
        self.buttons: dict[str, PaletteButton] = {}
        for layer_type, text, hint in LAYER_TYPES:
            button = PaletteButton(layer_type, text, hint, self)
            button.clicked.connect(lambda _=False, t=layer_type: self.add_clicked.emit(t))
            layout.addWidget(button)
            self.buttons[layer_type] = button
        layout.addStretch(1)
        self._look = LOOKS[0]
        self._widths: list[int] = []  # each look's minimum width, measured for the current font
        self._measure()

    def minimumSizeHint(self) -> QSize:
        """As narrow as the most compact look: the bar changes its look to fit (see :meth:`resizeEvent`)."""
        hint = super().minimumSizeHint()
        return QSize(self._widths[-1], hint.height())

    def sizeHint(self) -> QSize:
        """No wider than the most compact look: the bar fits whatever width the canvas gets, so it does not ask
        for more (a wide hint would make the window give the canvas's room to the docks when it shrinks)."""
        return QSize(self._widths[-1], super().sizeHint().height())

    def _apply(self, look: tuple[bool, bool, bool]) -> None:
        self._look = look
        self.caption.setVisible(look[0])
        self._row.setSpacing(3 if look[2] else 6)
        for button in self.buttons.values():
            button.show_glyph(look[1])
            button.show_short_name(look[2])

    def _measure(self) -> None:
        """Find each look's minimum width (by laying it out), then show the one that fits."""
        widths = []
        for look in LOOKS:
            self._apply(look)
            widths.append(minimum_width(self._row))
        self._widths = widths
        self.updateGeometry()
        self._fit(self.width())

    def _fit(self, width: int) -> None:
        """Show the fullest look that fits ``width``."""
        look = next((look for look, need in zip(LOOKS, self._widths) if need <= width), LOOKS[-1])
        if look != self._look:
            self._apply(look)
