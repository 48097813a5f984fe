"""Points added to and removed from the training data by hand (a click on the data plot), as undoable edits.

The data in use then becomes inline data written into the network (``spec.data``), test points included
(:mod:`bpstudio.core.datasets.points`); a :class:`DataCommand` swaps that source and the one before. It may
go in while the worker trains: the worker reads the document's data at every chunk, under the lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from bpstudio.core.data import Dataset
from bpstudio.core.datasets.points import (
    TRAIN,
    clicked_point,
    inline_source,
    nearest_point,
    plane,
    with_point,
    without_point,
)
from bpstudio.core.errors import BpstudioError
from bpstudio.document.command_stack import Command

if TYPE_CHECKING:
    from bpstudio.document.document import Document

NEAR_PIXELS = 12.0  # a right-click removes the nearest point drawn within this many pixels


class DataTarget(Protocol):
    def apply_data(self, source: dict[str, Any]) -> None: ...


class DataCommand(Command):
    """The data changed by hand: undo and redo swap the data source (the network's ``"data"`` entry)."""

    def __init__(self, document: DataTarget, text: str, before: dict[str, Any], after: dict[str, Any]):
        super().__init__(text)
        self.document, self.before, self.after = document, before, after

    def redo(self) -> None:
        self.document.apply_data(self.after)

    def undo(self) -> None:
        self.document.apply_data(self.before)


def _number(value: float) -> str:
    return f"{value:.3g}"


def _describe(data: Dataset, index: int) -> str:
    """A point as the history names it: "class 1 point at (0.5, -0.25)" or "point at (0.5, 1.2)"."""
    where = ", ".join(_number(v) for v in plane(data)[index])
    if data.is_classification:
        return f"class {int(data.Y[index])} point at ({where})"
    target = "" if data.n_inputs == 1 else f" → {_number(float(data.Y[index, 0]))}"
    return f"point at ({where}){target}"


class DataPoints:
    """The document's training data, point by point; each change is one undoable command."""

    def __init__(self, document: Document):
        self.document = document

    def add(self, position: Sequence[float], choice: float | None = None) -> bool:
        """Add a training point where the plot was clicked (``position``: x, y of the plot); ``choice`` is the
        class (or target value) picked beside the plot. A refusal (with its reason on ``refused``) changes
        nothing."""
        doc = self.document
        with doc.lock:
            train, test = doc.train_data, doc.test_data
            try:
                inputs, target = clicked_point(train, position, choice)
                new_train, new_test = with_point(train, test, inputs, target)
            except BpstudioError as exc:
                doc.refused.emit(str(exc))
                return False
            return self._push(f"Add {_describe(new_train, len(new_train) - 1)}", new_train, new_test)

    def remove_near(
        self, position: Sequence[float], per_pixel: Sequence[float], with_test: bool = True, within: float = NEAR_PIXELS
    ) -> bool:
        """Remove the point drawn nearest to ``position`` if one lies within ``within`` pixels (``per_pixel``:
        the plot's size of a pixel, x and y); test points too when ``with_test`` (they are shown)."""
        doc = self.document
        with doc.lock:
            train, test = doc.train_data, doc.test_data
            try:
                found = nearest_point(train, test if with_test else None, position, per_pixel, within)
                if found is None:
                    doc.refused.emit(f"no point within {within:g} pixels of the click to remove")
                    return False
                part, index = found
                new_train, new_test = without_point(train, test, part, index)
            except BpstudioError as exc:
                doc.refused.emit(str(exc))
                return False
            shown = train if part == TRAIN else test
            assert shown is not None
            what = _describe(shown, index)
            return self._push(f"Remove {what if part == TRAIN else 'test ' + what}", new_train, new_test)

    def _push(self, text: str, train: Dataset, test: Dataset | None) -> bool:
        doc = self.document
        before = dict(doc.spec.data or {})
        try:
            doc.push_live(DataCommand(doc, text, before, inline_source(train, test)))
        except BpstudioError as exc:  # (the data does not fit the network: a class it has no output for)
            doc.refused.emit(str(exc))
            return False
        return True
