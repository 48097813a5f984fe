"""Layout helpers for panels that must fit narrow docks: a row of widget groups that wraps like text,
and a layout's true minimum width (to choose between a wide and a compact arrangement)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QRect, QSize, Qt
from PySide6.QtWidgets import QLabel, QLayout, QLayoutItem, QSizePolicy, QStyle, QWidget


class FitsWidth:
    """For a widget that picks one of its arrangements by its width: it defines ``_measure()`` (the widths its
    arrangements need, in the current font) and ``_fit(width)``; this calls them when the size, font or style
    changes. List it before the Qt widget class."""

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)  # type: ignore[misc]
        self._fit(event.size().width())  # type: ignore[attr-defined]

    def changeEvent(self, event: Any) -> None:
        super().changeEvent(event)  # type: ignore[misc]
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self._measure()  # type: ignore[attr-defined]


def minimum_width(layout: QLayout) -> int:
    """The layout's minimum width now, not as cached: nested layouts and widget items keep their size
    hints until a layout pass, which a font change or a rearrangement has not run yet."""
    stack = [layout]
    while stack:
        current = stack.pop()
        current.invalidate()
        for index in range(current.count()):
            item = current.itemAt(index)
            if item is not None:
                item.invalidate()
                inner = item.layout()
                if inner is not None:
                    stack.append(inner)
    return layout.minimumSize().width()


class GroupFlowLayout(QLayout):
    """Widgets in a row that wraps onto further lines when the width runs out, like words in a line
    of text. Widgets added as one group (a label and its box) always stay together on one line; hidden
    widgets take no room. As in a box layout, a widget gets between its minimum and its preferred width;
    a line holds as many groups as fit at their minimum widths, so the layout's minimum width is that
    of its widest group. A group added with ``right=True`` sits at the right end of its line (as after
    a box layout's stretch); one added with ``whole=True`` is fitted at its preferred width (up to a whole
    line), so a wrapping label in it (a :class:`OneLineLabel`) starts a line of its own rather than wrap
    beside other groups. A line is as tall as its tallest item at the width it gets."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self._group_of: list[int] = []  # each item's group number
        self._right: set[int] = set()  # the groups pushed to the right end of their line
        self._whole: set[int] = set()  # the groups fitted at their preferred width

    def add_group(self, *widgets: QWidget, right: bool = False, whole: bool = False) -> None:
        group = self._group_of[-1] + 1 if self._group_of else 0
        for widget in widgets:
            self.addWidget(widget)  # calls addItem
            self._group_of[-1] = group
        if right:
            self._right.add(group)
        if whole:
            self._whole.add(group)

    # --- QLayout's interface ----------------------------------------------------------------------

    def addItem(self, item: QLayoutItem) -> None:
        self._items.append(item)
        self._group_of.append(self._group_of[-1] + 1 if self._group_of else 0)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:
        if not 0 <= index < len(self._items):
            return None
        del self._group_of[index]
        return self._items.pop(index)

    def expandingDirections(self) -> Qt.Orientation:
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return self._arrange(QRect(0, 0, width, 0), place=False)

    def sizeHint(self) -> QSize:
        items = [item for group in self._groups() for item in group]
        width = sum(_hint_width(item) for item in items) + self._gap() * max(len(items) - 1, 0)
        return self._with_margins(width, _line_height(items))

    def minimumSize(self) -> QSize:
        groups = self._groups()
        return self._with_margins(
            max((self._min_width(g) for g in groups), default=0),
            _line_height([item for group in groups for item in group]),
        )

    def setGeometry(self, rect: QRect) -> None:
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
            if number in self._whole:
                wanted = sum(_hint_width(item) for item in group) + gap * (len(group) - 1)
                width = max(width, min(wanted, right - left + 1))
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
            room = right - left + 1 - gap * (len(line) - 1)
            widths = _widths(line, room)
            heights = [_height_at(item, width) for item, width in zip(line, widths)]
            height = max(heights, default=0)
            if place:
                x = left
                for at, (item, width, item_height) in enumerate(zip(line, widths, heights)):
                    if at == len(line) - at_right:
                        x += max(room - sum(widths), 0)
                    item.setGeometry(QRect(x, y + (height - item_height) // 2, width, item_height))
                    x += width + gap
            y += height + gap
        return (y - gap if lines else y) - rect.y() + m.bottom()


def _hint_width(item: QLayoutItem) -> int:
    return max(item.sizeHint().width(), item.minimumSize().width())


def _height_at(item: QLayoutItem, width: int) -> int:
    """The item's height at ``width`` (a wrapping label's lines at that width)."""
    return item.heightForWidth(width) if item.hasHeightForWidth() else item.sizeHint().height()


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


class OneLineLabel(QLabel):
    """A word-wrapped label that prefers its text on one line (a wrapped QLabel prefers a block of two or more
    lines): wider than its minimum only while there is room, then it wraps. Its preferred width is that of the
    widest of its text and the ``reserved`` one, so a readout whose number changes keeps its lines (the
    view below it does not jump as a digit comes and goes)."""

    reserved = ""

    def sizeHint(self) -> QSize:
        m = self.contentsMargins()
        text = max(self.fontMetrics().horizontalAdvance(t) for t in (self.text(), self.reserved))
        one_line = text + m.left() + m.right() + 2 * self.margin() + 1
        width = max(one_line, self.minimumSizeHint().width())
        return QSize(width, self.heightForWidth(width) if self.wordWrap() else super().sizeHint().height())


def expand_across(widget: QWidget) -> None:
    """Let ``widget`` take the room its line has left, keeping the rest of its size policy (a wrapping label's
    height for its width)."""
    policy = widget.sizePolicy()
    policy.setHorizontalPolicy(QSizePolicy.Policy.Expanding)
    widget.setSizePolicy(policy)
