"""The page the guided walks are read from: a title, a counter, the explanation (selectable, scrolling), a
warning note, and Restart / Back / Next — black on white in large type, for a lecture hall.

:class:`LecturePage` builds it; a walk subclasses it and defines ``start``, ``next`` and ``back`` (the buttons
call them). :class:`LectureLook` holds what differs between the walks: the Mazur walkthrough is read at the full
width under the canvas, the vanishing-gradients walkthrough in the narrower column beside it.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QScrollArea, QVBoxLayout, QWidget

INK, PAPER, ACCENT, WARNING = "#000000", "#ffffff", "#1f3b73", "#a00000"


@dataclass(frozen=True)
class LectureLook:
    """Type sizes (points), button padding, margins, and whether the counter sits beside the title."""

    title_pt: int
    body_pt: int
    button_pt: int
    counter_pt: int
    note_pt: int
    padding: str  # the buttons' CSS padding
    margins: tuple[int, int, int, int]
    counter_beside_title: bool
    back_text: str = "◀ Back"
    next_text: str = "Next ▶"


def lecture_font(points: int, bold: bool = False) -> QFont:
    font = QFont()
    font.setPointSize(points)
    font.setBold(bold)
    return font


class LecturePage(QWidget):
    """The widgets of a walk's page (see the module's docstring); ``name`` is its style sheet's object name."""

    def __init__(self, name: str, look: LectureLook, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName(name)
        self.setAutoFillBackground(True)
        self.setStyleSheet(
            f"#{name}, #{name} QWidget {{ background: {PAPER}; color: {INK}; }}"
            f"QPushButton {{ border: 2px solid {INK}; border-radius: 6px; padding: {look.padding}; }}"
            f"#{name} QPushButton:disabled {{ color: #8a8a8a; border-color: #b0b0b0; }}"
        )
        self.title = QLabel()
        self.title.setFont(lecture_font(look.title_pt, bold=True))
        self.title.setStyleSheet(f"color: {ACCENT};")
        self.title.setWordWrap(True)
        self.counter = QLabel()
        self.counter.setFont(lecture_font(look.counter_pt))
        self.body = QLabel()
        self.body.setFont(lecture_font(look.body_pt))
        self.body.setTextFormat(Qt.TextFormat.PlainText)
        self.body.setWordWrap(True)
        self.body.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.body.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.note = QLabel()
        self.note.setFont(lecture_font(look.note_pt))
        self.note.setStyleSheet(f"color: {WARNING};")
        self.note.setWordWrap(True)
        self.note.hide()
        scroll = self.text_area = QScrollArea()
        scroll.setWidget(self.body)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.restart_button = QPushButton("Restart")
        self.back_button = QPushButton(look.back_text)
        self.next_button = QPushButton(look.next_text)
        for button in (self.restart_button, self.back_button, self.next_button):
            button.setFont(lecture_font(look.button_pt, bold=button is self.next_button))
        self.restart_button.clicked.connect(self.start)
        self.back_button.clicked.connect(self.back)
        self.next_button.clicked.connect(self.next)
        buttons = QHBoxLayout()
        buttons.addWidget(self.restart_button)
        buttons.addStretch(1)
        buttons.addWidget(self.back_button)
        buttons.addWidget(self.next_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(*look.margins)
        if look.counter_beside_title:
            self.counter.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            top = QHBoxLayout()
            top.addWidget(self.title, 1)
            top.addWidget(self.counter)
            layout.addLayout(top)
        else:
            layout.addWidget(self.title)
            layout.addWidget(self.counter)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.note)
        layout.addLayout(buttons)

    def show_text(self, text: str) -> None:
        """A new text from its first line (the last one's scroll position does not carry over; the same text
        again keeps where the reader is)."""
        if text != self.body.text():
            self.body.setText(text)
            self.text_area.verticalScrollBar().setValue(0)

    def start(self) -> object:
        raise NotImplementedError(f"{type(self).__name__} must say how its walk starts")

    def next(self) -> None:
        raise NotImplementedError(f"{type(self).__name__} must say what Next does")

    def back(self) -> None:
        raise NotImplementedError(f"{type(self).__name__} must say what Back does")

    def current_text(self) -> str:
        return self.body.text()
