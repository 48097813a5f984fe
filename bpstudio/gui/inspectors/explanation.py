"""A panel that writes one parameter's gradient out as the chain rule, with this step's numbers.

It shows what :func:`bpstudio.core.explain.explain` works out — the equation with symbols, each path
to the loss with its numbers, their sum and the check against the recorded gradient — in type large
enough for a projector. The target comes from elsewhere (:meth:`ExplanationPanel.set_target`, e.g. a
weight clicked on the canvas) or from the panel's own pickers; a sample picker appears when the batch
holds more than one sample. When nothing can be shown yet the panel says why, in words. On a narrow
dock the pickers wrap onto a second line (each label stays with its box) rather than widen the window.
"""

from __future__ import annotations

import html

from PySide6.QtCore import QRect, QSize, Qt, Signal
from PySide6.QtWidgets import (QComboBox, QLabel, QLayout, QLayoutItem, QSpinBox, QStyle, QTextBrowser,
                               QVBoxLayout, QWidget)

from bpstudio.core.errors import BpstudioError, SessionError
from bpstudio.core.explain import explain, to_html
from bpstudio.core.spec import NetworkSpec
from bpstudio.core.trace import StepTrace
from bpstudio.gui.colors import NEGATIVE, POSITIVE
from bpstudio.gui.qt_utils import signals_blocked

TEXT_POINT_SIZE = 15   # the explanation
PICKER_POINT_SIZE = 12  # the pickers above it
PICKER_CHARACTERS = 10  # the parameter picker's narrowest width, in characters ("out.weight")
NO_NETWORK = "Open a network to see how its gradients are computed."
NO_TARGET = "Pick a weight on the canvas or in the inspector to see its gradient written out as the chain rule."
NO_STEP = "No step has run yet: run the forward pass, the loss and the backward pass to see the numbers."
PLACEHOLDER = "choose a parameter…"


class ExplanationPanel(QWidget):
    """Shows ∂E/∂(one parameter) path by path. ``target_changed(key, index)`` is emitted whenever the
    explained parameter changes, whether picked in the panel or set with :meth:`set_target`."""

    target_changed = Signal(str, tuple)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._spec: NetworkSpec | None = None
        self._trace: StepTrace | None = None
        self._key: str | None = None
        self._index: tuple[int, ...] = ()
        font = self.font()
        font.setPointSize(PICKER_POINT_SIZE)
        self.setFont(font)

        self.parameter = QComboBox()
        self.parameter.setMinimumContentsLength(PICKER_CHARACTERS)
        self.row = QSpinBox()
        self.column = QSpinBox()
        self.sample = QSpinBox()
        self.row_label, self.column_label = QLabel("row"), QLabel("column")
        self.sample_label = QLabel("sample")
        self.row.setToolTip("the unit the parameter feeds (counting from 0)")
        self.column.setToolTip("the input the weight multiplies (counting from 0)")
        self.sample.setToolTip("which sample of the batch to write out")
        self.browser = QTextBrowser()
        self.browser.setOpenLinks(False)
        font = self.browser.font()
        font.setPointSize(TEXT_POINT_SIZE)
        self.browser.setFont(font)

        pickers = GroupFlowLayout()
        pickers.add_group(QLabel("∂E/∂"), self.parameter)
        pickers.add_group(self.row_label, self.row)
        pickers.add_group(self.column_label, self.column)
        pickers.add_group(self.sample_label, self.sample, right=True)
        layout = QVBoxLayout(self)
        layout.addLayout(pickers)
        layout.addWidget(self.browser, 1)

        self.parameter.currentIndexChanged.connect(self._on_parameter_picked)
        self.row.valueChanged.connect(self._on_index_picked)
        self.column.valueChanged.connect(self._on_index_picked)
        self.sample.valueChanged.connect(self._refresh)
        self._sync_pickers()
        self._refresh()

    # --- what others call -----------------------------------------------------------------------

    def show_step(self, spec: NetworkSpec | None, trace: StepTrace | None) -> None:
        """Show the current network and step (a NumPy trace, or None before any step has run)."""
        self._spec, self._trace = spec, trace
        keys = list(spec.param_shapes()) if spec is not None else []
        with signals_blocked(self.parameter, self.sample):
            if [self.parameter.itemData(i) for i in range(1, self.parameter.count())] != keys:
                self.parameter.clear()
                self.parameter.addItem(PLACEHOLDER, None)
                for key in keys:
                    self.parameter.addItem(key, key)
            batch = int(trace.x.shape[0]) if trace is not None else 1
            self.sample.setRange(0, batch - 1)
        self.sample.setVisible(batch > 1)
        self.sample_label.setVisible(batch > 1)
        self._sync_pickers()
        self._refresh()

    def set_target(self, key: str | None, index: tuple[int, ...] = ()) -> None:
        """Explain parameter ``key`` (``"h.weight"``) at ``index`` (``(row, col)`` or ``(unit,)``);
        None clears the target."""
        index = tuple(int(i) for i in index) if key is not None else ()
        changed = (key, index) != (self._key, self._index)
        self._key, self._index = key, index
        self._sync_pickers()
        self._refresh()
        if changed and key is not None:
            self.target_changed.emit(key, index)

    def show_message(self, text: str) -> None:
        """Say something in place of the explanation (e.g. while training runs too fast to read)."""
        self.browser.setHtml(_message(text))

    def target(self) -> tuple[str | None, tuple[int, ...]]:
        return self._key, self._index

    def text(self) -> str:
        """What the panel shows, as plain text."""
        return self.browser.toPlainText()

    # --- the pickers ----------------------------------------------------------------------------

    def _shape(self, key: str | None) -> tuple[int, ...] | None:
        if key is None or self._spec is None:
            return None
        return self._spec.param_shapes().get(key)

    def _sync_pickers(self) -> None:
        """Show the current target in the pickers without their edits echoing back."""
        shape = self._shape(self._key)
        with signals_blocked(self.parameter, self.row, self.column):
            found = self.parameter.findData(self._key) if shape is not None else -1
            self.parameter.setCurrentIndex(max(found, 0))
            self._fit_spin_boxes(shape)
            for box, at in ((self.row, 0), (self.column, 1)):
                if shape is not None and at < len(self._index) and at < len(shape):
                    box.setValue(self._index[at])

    def _fit_spin_boxes(self, shape: tuple[int, ...] | None) -> None:
        self.row.setEnabled(shape is not None)
        self.row.setRange(0, shape[0] - 1 if shape else 0)
        is_weight = shape is not None and len(shape) == 2
        self.column.setVisible(is_weight)
        self.column_label.setVisible(is_weight)
        if shape is not None and len(shape) == 2:
            self.column.setRange(0, shape[1] - 1)
        self.row_label.setText("row" if is_weight or shape is None else "unit")

    def _on_parameter_picked(self) -> None:
        key = self.parameter.currentData()
        shape = self._shape(key)
        with signals_blocked(self.row, self.column):
            self._fit_spin_boxes(shape)
        if key is None:
            self.set_target(None)
        else:
            self._on_index_picked()

    def _on_index_picked(self) -> None:
        key = self.parameter.currentData()
        shape = self._shape(key)
        if key is not None and shape is not None:
            self.set_target(key, (self.row.value(), self.column.value())[:len(shape)])

    # --- the text -------------------------------------------------------------------------------

    def _refresh(self) -> None:
        self.browser.setHtml(self._page())

    def _page(self) -> str:
        if self._spec is None:
            return _message(NO_NETWORK)
        if self._key is None:
            return _message(NO_TARGET)
        if self._trace is None:
            return _message(NO_STEP)
        try:
            expl = explain(self._spec, self._trace, self._key, self._index, self.sample.value())
        except SessionError as exc:
            return _message(f"Not yet: {exc}.")
        except BpstudioError as exc:
            return _message(f"Cannot explain {self._key}{list(self._index)}: {exc}")
        return to_html(expl, POSITIVE.name(), NEGATIVE.name())


class GroupFlowLayout(QLayout):
    """Widgets in a row that wraps onto further lines when the width runs out, like words in a line
    of text. Widgets added as one group (a label and its box) always stay together on one line; hidden
    widgets take no room. As in a box layout, a widget gets between its minimum and its preferred width;
    a line holds as many groups as fit at their minimum widths, so the layout's minimum width is that
    of its widest group. A group added with ``right=True`` sits at the right end of its line (as after
    a box layout's stretch)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self._group_of: list[int] = []  # each item's group number
        self._right: set[int] = set()  # the groups pushed to the right end of their line

    def add_group(self, *widgets: QWidget, right: bool = False) -> None:
        group = self._group_of[-1] + 1 if self._group_of else 0
        for widget in widgets:
            self.addWidget(widget)  # calls addItem
            self._group_of[-1] = group
        if right:
            self._right.add(group)

    # --- QLayout's interface ----------------------------------------------------------------------

    def addItem(self, item: QLayoutItem) -> None:  # noqa: N802 - Qt override
        self._items.append(item)
        self._group_of.append(self._group_of[-1] + 1 if self._group_of else 0)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:  # noqa: N802 - Qt override
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:  # noqa: N802 - Qt override
        if not 0 <= index < len(self._items):
            return None
        del self._group_of[index]
        return self._items.pop(index)

    def expandingDirections(self) -> Qt.Orientation:  # noqa: N802 - Qt override
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:  # noqa: N802 - Qt override
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802 - Qt override
        return self._arrange(QRect(0, 0, width, 0), place=False)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        items = [item for group in self._groups() for item in group]
        width = sum(_hint_width(item) for item in items) + self._gap() * max(len(items) - 1, 0)
        return self._with_margins(width, _line_height(items))

    def minimumSize(self) -> QSize:  # noqa: N802 - Qt override
        groups = self._groups()
        return self._with_margins(max((self._min_width(g) for g in groups), default=0),
                                  _line_height([item for group in groups for item in group]))

    def setGeometry(self, rect: QRect) -> None:  # noqa: N802 - Qt override
        super().setGeometry(rect)
        self._arrange(rect, place=True)

    # --- the arithmetic ---------------------------------------------------------------------------

    def _gap(self) -> int:
        gap = self.spacing()
        if gap < 0:
            parent = self.parentWidget()
            style = parent.style() if parent is not None else None
            gap = style.pixelMetric(QStyle.PixelMetric.PM_LayoutHorizontalSpacing) if style is not None else 6
        return max(gap, 0)

    def _groups(self) -> list[list[QLayoutItem]]:
        """The visible items, grouped; groups with nothing visible are left out."""
        return [items for _, items in self._numbered_groups()]

    def _numbered_groups(self) -> list[tuple[int, list[QLayoutItem]]]:
        groups: dict[int, list[QLayoutItem]] = {}
        for item, group in zip(self._items, self._group_of):
            if not item.isEmpty():
                groups.setdefault(group, []).append(item)
        return list(groups.items())

    def _min_width(self, group: list[QLayoutItem]) -> int:
        return sum(item.minimumSize().width() for item in group) + self._gap() * (len(group) - 1)

    def _with_margins(self, width: int, height: int) -> QSize:
        m = self.contentsMargins()
        return QSize(width + m.left() + m.right(), height + m.top() + m.bottom())

    def _arrange(self, rect: QRect, place: bool) -> int:
        """Fill lines left to right within ``rect`` (placing the items if ``place``); the height used."""
        m = self.contentsMargins()
        left, right = rect.x() + m.left(), rect.right() - m.right()
        gap = self._gap()
        lines: list[list[QLayoutItem]] = []
        pushed: list[int] = []  # per line: how many items at its end are pushed right
        x = left
        for number, group in self._numbered_groups():
            width = self._min_width(group)
            if not lines or (x > left and x + width - 1 > right):
                x = left
                lines.append([])
                pushed.append(0)
            lines[-1].extend(group)
            # pushed right only beside other groups: alone on a line it starts at the left like the rest
            pushed[-1] = len(group) if number in self._right and len(lines[-1]) > len(group) else 0
            x += width + gap
        y = rect.y() + m.top()
        for line, at_right in zip(lines, pushed):
            height = _line_height(line)
            if place:
                room = right - left + 1 - gap * (len(line) - 1)
                widths = _widths(line, room)
                x = left
                for at, (item, width) in enumerate(zip(line, widths)):
                    if at == len(line) - at_right:
                        x += max(room - sum(widths), 0)
                    item_height = min(item.sizeHint().height(), height)
                    item.setGeometry(QRect(x, y + (height - item_height) // 2, width, item_height))
                    x += width + gap
            y += height + gap
        return (y - gap if lines else y) - rect.y() + m.bottom()


def _hint_width(item: QLayoutItem) -> int:
    return max(item.sizeHint().width(), item.minimumSize().width())


def _line_height(items: list[QLayoutItem]) -> int:
    return max((item.sizeHint().height() for item in items), default=0)


def _widths(items: list[QLayoutItem], room: int) -> list[int]:
    """Each item's width on a line with ``room`` pixels for them: its minimum, plus a share of what is
    left, up to its preferred width."""
    mins = [item.minimumSize().width() for item in items]
    wants = [_hint_width(item) - low for item, low in zip(items, mins)]
    spare = max(room - sum(mins), 0)
    wanted = sum(wants)
    if spare >= wanted or wanted == 0:
        return [low + want for low, want in zip(mins, wants)]
    return [low + want * spare // wanted for low, want in zip(mins, wants)]


def _message(text: str) -> str:
    return f"<p style='color:#444'>{html.escape(text)}</p>"
