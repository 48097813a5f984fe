"""A features layer's terms as toggles, like TF Playground's feature column: one checkbox per term offered for
its input (x1, x2, x1², x2², x1·x2, sin x1, sin x2 for two columns), plus any other term the layer has.

A view: :meth:`FeatureTerms.show_terms` ticks the boxes (signals blocked); a click asks for the change with
``term_requested`` and the box goes back to what the network says until the edit comes back (a refused edit,
such as switching off the last term, leaves it as it was).
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QGridLayout, QLabel, QVBoxLayout, QWidget

from bpstudio.core import features
from bpstudio.gui.qt_utils import signals_blocked

MAX_TOGGLES = 32  # more columns than this: the terms are listed, not offered one box each
COLUMNS = 2  # boxes per row


class FeatureTerms(QWidget):
    term_requested = Signal(str, bool)  # the term ("x1^2"), switched on (True) or off

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.boxes: dict[str, QCheckBox] = {}
        self._terms: tuple[str, ...] = ()
        self.grid_host = QWidget()
        self.grid = QGridLayout(self.grid_host)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setHorizontalSpacing(12)
        self.grid.setVerticalSpacing(2)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: #555555;")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.grid_host)
        layout.addWidget(self.note)

    def show_terms(self, terms: tuple[str, ...], input_width: int) -> None:
        """Boxes for the terms offered for ``input_width`` columns and for the layer's others, ticked where the
        layer has them. Emits nothing."""
        self._terms = tuple(terms)
        offered = features.offered_terms(input_width)
        shown = [*offered, *(t for t in terms if t not in offered)]
        if len(shown) > MAX_TOGGLES:
            shown = list(terms)
        if list(self.boxes) != shown:
            self._rebuild(shown)
        for term, box in self.boxes.items():
            with signals_blocked(box):
                box.setChecked(term in self._terms)
            box.setEnabled(term in offered or term in self._terms)
        self.note.setText(
            f"{len(terms)} term{'s' if len(terms) != 1 else ''}: the layer's width. Switching a term on or off "
            "reshapes the next layer's weights (the other columns keep their values)."
        )

    def _rebuild(self, shown: list[str]) -> None:
        for box in self.boxes.values():
            self.grid.removeWidget(box)
            box.deleteLater()
        self.boxes = {}
        for k, term in enumerate(shown):
            box = QCheckBox(features.parse_term(term).label)
            box.setToolTip(f"the term {term}")
            box.toggled.connect(lambda on, t=term: self._on_toggled(t, bool(on)))
            self.grid.addWidget(box, k // COLUMNS, k % COLUMNS)
            self.boxes[term] = box

    def _on_toggled(self, term: str, on: bool) -> None:
        box = self.boxes[term]
        with signals_blocked(box):  # the network decides: the box shows its answer when the edit comes back
            box.setChecked(term in self._terms)
        self.term_requested.emit(term, on)
