"""Beside the data plot: what a click on it adds, a class (one button each, in the class's colour) or a
target value, and a line saying what the mouse does there (or why clicking adds nothing to this data)."""

from __future__ import annotations

from PySide6.QtGui import QColor
from PySide6.QtWidgets import QButtonGroup, QDoubleSpinBox, QHBoxLayout, QLabel, QToolButton, QWidget

from bpstudio.core.datasets.points import CLASS, HEIGHT, VALUE

VALUE_RANGE = 1e6
DEFAULT_CLASS = 1  # the positive class of two, as a first click would expect


class PointPicker(QWidget):
    """``show_kind(kind, colors)`` sets it up for the data shown (see ``click_kind`` in core); ``choice()``
    is what a click adds, ``other_choice()`` what a Shift+click adds (the next class)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind: str | None = None
        self._reason = ""
        self.label = QLabel("Add")
        self.group = QButtonGroup(self)
        self.group.setExclusive(True)
        self.buttons: list[QToolButton] = []
        self.value = QDoubleSpinBox()
        self.value.setRange(-VALUE_RANGE, VALUE_RANGE)
        self.value.setDecimals(3)
        self.value.setSingleStep(0.1)
        self.value.setValue(1.0)
        self.value.setPrefix("target ")
        self.value.setToolTip("the target value a click gives the new point")
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color: palette(placeholder-text);")
        self._row = QHBoxLayout()
        self._row.setContentsMargins(0, 0, 0, 0)
        self._row.addWidget(self.label)
        self._row.addWidget(self.value)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self._row)
        self.group.idToggled.connect(self._on_toggled)
        self.show_kind(None, [], "no data")

    def _on_toggled(self, _id: int, on: bool) -> None:
        if on:
            self._update_hint()

    def show_kind(self, kind: str | None, colors: list[QColor], reason: str = "") -> None:
        """Set up for clicks of ``kind`` ("class", "value", "height"; None: clicking adds nothing, ``reason``
        says why); ``colors`` are the classes' colours, one button each."""
        self.kind = kind
        if kind == CLASS:
            self._class_buttons(colors)
        else:
            self._class_buttons([])
        self.value.setVisible(kind == VALUE)
        self.label.setVisible(kind in (CLASS, VALUE))
        self._reason = reason
        self._update_hint()

    def _class_buttons(self, colors: list[QColor]) -> None:
        if [b.property("color") for b in self.buttons] == [c.name() for c in colors]:
            return
        picked = self.group.checkedId()
        for button in self.buttons:
            self.group.removeButton(button)
            self._row.removeWidget(button)
            button.hide()  # (gone now, deleted once back in the event loop)
            button.deleteLater()
        self.buttons = []
        for k, color in enumerate(colors):
            button = QToolButton()
            button.setText(f"● {k}")
            button.setCheckable(True)
            button.setProperty("color", color.name())
            button.setToolTip(f"a click adds a point of class {k}")
            button.setStyleSheet(f"QToolButton {{ color: {color.name()}; font-weight: bold; }}")
            self.group.addButton(button, k)
            self._row.insertWidget(1 + k, button)
            self.buttons.append(button)
        if self.buttons:
            wanted = picked if 0 <= picked < len(self.buttons) else min(DEFAULT_CLASS, len(self.buttons) - 1)
            self.buttons[wanted].setChecked(True)

    def pick(self, choice: float) -> None:
        """Pick the class (or target value) the next click adds."""
        if self.kind == CLASS:
            self.buttons[int(choice)].setChecked(True)
        elif self.kind == VALUE:
            self.value.setValue(choice)

    def choice(self) -> float | None:
        if self.kind == CLASS:
            return self.group.checkedId() if self.buttons else None
        return self.value.value() if self.kind == VALUE else None

    def other_choice(self) -> float | None:
        """What a Shift+click adds: the next class after the picked one (the other of two)."""
        if self.kind == CLASS and self.buttons:
            return (self.group.checkedId() + 1) % len(self.buttons)
        return self.choice()

    def _update_hint(self) -> None:
        if self.kind == CLASS and self.buttons:
            k, other = self.choice(), self.other_choice()
            text = f"Click: add class {k} · Shift+click: class {other} · Right-click: remove"
        elif self.kind == VALUE:
            text = "Click: add a point with the target above · Right-click: remove"
        elif self.kind == HEIGHT:
            text = "Click: add a point (input, target) · Right-click: remove"
        else:
            text = f"No points by clicking: {self._reason}" if self._reason else ""
        self.hint.setText(text)
        self.hint.setToolTip(text)
