"""The data panel: the data/boundary plot and the controls that pick and shape the training data.

The controls edit a data source in the network file's ``"data"`` format (see
:mod:`bpstudio.core.datasets`): ``{"builtin": name, "n", "noise", "seed", ["classes"], "test_fraction",
"split_seed"}``, ``{"file": path, "test_fraction", "split_seed"}`` or inline ``{"X", "Y", ...}``.
A change is applied at once: choosing a set, a spin box's arrows, or Enter / leaving a spin box that was
typed into (never per keystroke), Regenerate (seed + 1) and Import. The panel first checks the source
resolves; if not it shows why in red and emits nothing, else it emits ``source_requested(dict)``.
The owner carries the request out, then calls ``show_source`` and ``plot.show_data(...)``; if it refuses
the data (it does not fit the network), it shows the data still in use and calls ``show_refusal(message)``
meanwhile, and the panel shows why in red. Inline data with its test points written out (points edited on
the plot) shows their share as the test fraction; changing it or the split seed splits all points afresh.
The form shows two label/field pairs a row, or one a row when the dock is too narrow for two.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from bpstudio.core.datasets import TOY_SETS, resolve_split, toy_options
from bpstudio.core.datasets.points import held_out_share, merged
from bpstudio.core.errors import BpstudioError
from bpstudio.gui.colors import HIGHLIGHT
from bpstudio.gui.flow_layout import FitsWidth, minimum_width
from bpstudio.gui.plots.data_plot import DataPlot
from bpstudio.gui.qt_utils import signals_blocked

CONTROLLED = ("n", "noise", "seed", "classes")  # the toy options the panel has a control for
SPLIT_KEYS = ("test_fraction", "split_seed")
MAX_SEED = 2**31 - 1
WIDE, NARROW = 2, 1  # label/field pairs per row of the form
COMBO_CHARACTERS = 8  # the data set picker's minimum width, in characters ("spirals", "file: a.csv"…)


def toy_defaults(name: str) -> dict[str, Any]:
    """The built-in set's option defaults, read from its signature (n, noise, seed, ...)."""
    return {key: p.default for key, p in inspect.signature(TOY_SETS[name]).parameters.items()}


def _typed(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def source_dict(source: Any) -> dict[str, Any] | None:
    """A data source in its dict form: ``"spirals:classes=3"`` → ``{"builtin": "spirals", "classes": 3}``,
    any other text → ``{"file": text}``; dicts are copied, None stays None."""
    if source is None:
        return None
    if isinstance(source, Mapping):
        return dict(source)
    text = os.fspath(source)
    name, _, rest = text.partition(":")
    if name.strip() not in TOY_SETS:
        return {"file": text}
    result: dict[str, Any] = {"builtin": name.strip()}
    for piece in filter(None, (p.strip() for p in rest.split(","))):
        key, _, value = piece.partition("=")
        result[key.strip()] = _typed(value.strip())
    return result


def _spin(low: int, high: int) -> QSpinBox:
    box = QSpinBox()
    box.setRange(low, high)
    box.setKeyboardTracking(False)  # typing emits valueChanged on Enter / focus out, not per key
    box.setAccelerated(True)
    return box


def _double(low: float, high: float, step: float, decimals: int) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(low, high)
    box.setSingleStep(step)
    box.setDecimals(decimals)
    box.setKeyboardTracking(False)
    return box


class DataPanel(FitsWidth, QWidget):
    source_requested = Signal(dict)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.source: dict[str, Any] | None = None  # what the controls were last filled from or applied
        self.base_dir: str | None = None  # relative file paths resolve against it (the network file's folder)
        self._shown_split: tuple[float, int] = (0.0, 0)  # the split controls as show_source filled them
        self._requesting = False  # while a request is out (the owner may refuse it meanwhile)
        self._refusal: str | None = None
        self.plot = DataPlot()
        self.data_set = QComboBox()
        self.data_set.setPlaceholderText("choose data…")
        # as wide as the form allows, but never wider than a few characters on its own (a long file name)
        self.data_set.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.data_set.setMinimumContentsLength(COMBO_CHARACTERS)
        for name in TOY_SETS:
            self.data_set.addItem(name, ("builtin", name))
        self.samples = _spin(1, 1_000_000)
        self.noise = _double(0.0, 100.0, 0.01, 3)
        self.classes = _spin(2, 100)
        self.seed = _spin(0, MAX_SEED)
        self.test_fraction = _double(0.0, 0.95, 0.05, 2)
        self.split_seed = _spin(0, MAX_SEED)
        self.regenerate = QPushButton("Regenerate")
        self.regenerate.setToolTip("the same data set with the next seed")
        self.import_button = QPushButton("Import .npz/.csv…")
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet(f"color: {HIGHLIGHT.name()}; font-weight: bold;")
        self.error.setVisible(False)
        self._layout()
        self.data_set.activated.connect(self._on_set_chosen)
        for box in (self.samples, self.noise, self.classes, self.seed, self.test_fraction, self.split_seed):
            box.valueChanged.connect(self.apply)
        self.regenerate.clicked.connect(self._on_regenerate)
        self.import_button.clicked.connect(self._choose_file)
        self.show_source(None)

    def _layout(self) -> None:
        self._set_label = QLabel("Data set")
        self._pairs: list[tuple[QLabel, QWidget]] = [
            (QLabel("Samples"), self.samples),
            (QLabel("Noise"), self.noise),
            (QLabel("Classes"), self.classes),
            (QLabel("Seed"), self.seed),
            (QLabel("Test fraction"), self.test_fraction),
            (QLabel("Split seed"), self.split_seed),
        ]
        self.form = QGridLayout()
        buttons = QHBoxLayout()
        buttons.addWidget(self.regenerate)
        buttons.addWidget(self.import_button)
        buttons.addStretch(1)
        self._outer = layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addLayout(buttons)
        layout.addWidget(self.error)
        layout.addStretch(1)
        self.pairs_per_row = 0
        self._min_widths: dict[int, int] = {}  # pairs per row -> the panel's minimum width
        self._measure()

    def _arrange(self, per_row: int) -> None:
        """Lay the form out with ``per_row`` label/field pairs a row, under the data set picker (which
        takes the whole row)."""
        if per_row == self.pairs_per_row:
            return
        self.pairs_per_row = per_row
        widgets = [self._set_label, self.data_set] + [w for pair in self._pairs for w in pair]
        for widget in widgets:
            self.form.removeWidget(widget)
        self.form.addWidget(self._set_label, 0, 0)
        self.form.addWidget(self.data_set, 0, 1, 1, 2 * per_row - 1)
        for at, (label, field) in enumerate(self._pairs):
            row, column = divmod(at, per_row)
            self.form.addWidget(label, row + 1, 2 * column)
            self.form.addWidget(field, row + 1, 2 * column + 1)
        for column in range(2 * WIDE):
            self.form.setColumnStretch(column, 1 if column % 2 and column < 2 * per_row else 0)

    def _measure(self) -> None:
        """Each arrangement's minimum width for the current font; then the one that fits."""
        for per_row in (WIDE, NARROW):
            self._arrange(per_row)
            self._min_widths[per_row] = minimum_width(self._outer)
        self.updateGeometry()
        self._fit(self.width())

    def _fit(self, width: int) -> None:
        self._arrange(WIDE if width >= self._min_widths[WIDE] else NARROW)

    def minimumSizeHint(self) -> QSize:
        """As narrow as one pair a row allows: the form rearranges itself to fit (see :meth:`resizeEvent`)."""
        return QSize(self._min_widths[NARROW], super().minimumSizeHint().height())

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._measure()  # polished now: the style's margins may differ from those measured at construction

    # --- the model's side ---------------------------------------------------------------------------

    def show_source(self, source: Any, base_dir: str | os.PathLike[str] | None = None) -> None:
        """Fill the controls from a data source (dict, text or None); emits nothing."""
        self.source = source_dict(source)
        self.base_dir = None if base_dir is None else os.fspath(base_dir)
        self.error.setVisible(False)
        boxes = (self.data_set, self.samples, self.noise, self.classes, self.seed, self.test_fraction, self.split_seed)
        with signals_blocked(*boxes):
            src = self.source or {}
            if "builtin" in src and src["builtin"] in TOY_SETS:
                self._select(("builtin", src["builtin"]))
                self._fill_toy(src["builtin"], src)
            elif "file" in src:
                self._select(self._other_item("file", str(src["file"])))
            elif "X" in src:
                self._select(self._other_item("inline", None))
            else:
                self.data_set.setCurrentIndex(-1)
            self.test_fraction.setValue(held_out_share(src))
            self.split_seed.setValue(int(_number(src.get("split_seed"), 0)))
        self._shown_split = (self.test_fraction.value(), self.split_seed.value())
        self._update_enabled()

    def _fill_toy(self, name: str, options: Mapping[str, Any]) -> None:
        defaults = toy_defaults(name)
        self.samples.setValue(int(_number(options.get("n"), defaults["n"])))
        if "noise" in defaults:  # (the digits are real data: no noise to add)
            self.noise.setValue(_number(options.get("noise"), defaults["noise"]))
        self.seed.setValue(int(_number(options.get("seed"), defaults["seed"])))
        if "classes" in defaults:
            self.classes.setValue(int(_number(options.get("classes"), defaults["classes"])))

    def _other_item(self, kind: str, path: str | None) -> tuple[str, str | None]:
        """The combo's one file (or inline) entry, added or renamed to show ``path``."""
        key = (kind, path)
        text = f"file: {Path(path).name}" if path is not None else "inline data"
        for index in range(self.data_set.count()):
            if self.data_set.itemData(index)[0] == kind:
                self.data_set.setItemData(index, key)
                self.data_set.setItemText(index, text)
                break
        else:
            self.data_set.addItem(text, key)
        self.data_set.setItemData(
            self._index_of(key), path or "data written in the network file", Qt.ItemDataRole.ToolTipRole
        )
        return key

    def _index_of(self, key: tuple[str, str | None]) -> int:
        """The combo row holding ``key`` (findData compares Python objects by identity, so not that)."""
        return next((i for i in range(self.data_set.count()) if self.data_set.itemData(i) == key), -1)

    def _select(self, key: tuple[str, str | None]) -> None:
        self.data_set.setCurrentIndex(self._index_of(key))

    def _update_enabled(self) -> None:
        key = self.data_set.currentData()
        builtin = key is not None and key[0] == "builtin"
        options = toy_options(key[1]) if builtin else []
        for box, option in ((self.samples, "n"), (self.noise, "noise"), (self.seed, "seed"), (self.classes, "classes")):
            box.setEnabled(option in options)
        self.regenerate.setEnabled(builtin)
        for box in (self.test_fraction, self.split_seed):
            box.setEnabled(key is not None)

    # --- the user's side ----------------------------------------------------------------------------

    def current_source(self) -> dict[str, Any] | None:
        """The data source the controls describe (None before any data set is chosen)."""
        key = self.data_set.currentData()
        if key is None:
            return None
        kind, name = key
        previous = self.source or {}
        if kind == "builtin":
            source: dict[str, Any] = {"builtin": name}
            options = toy_options(name)
            values = {
                "n": self.samples.value(),
                "noise": self.noise.value(),
                "seed": self.seed.value(),
                "classes": self.classes.value(),
            }
            source.update({key: values[key] for key in CONTROLLED if key in options})
            if previous.get("builtin") == name:  # keep options the panel has no control for (circles' factor)
                source.update({k: v for k, v in previous.items() if k in options and k not in CONTROLLED})
        elif kind == "file":
            source = {"file": name}
        else:
            split = (self.test_fraction.value(), self.split_seed.value())
            if "test" in previous and split == self._shown_split:
                return dict(previous)  # (its own test points, as they are)
            source = {key: value for key, value in merged(previous).items() if key in ("X", "Y")}
        source["test_fraction"] = self.test_fraction.value()
        source["split_seed"] = self.split_seed.value()
        return source

    def apply(self) -> bool:
        """Check the controls' source resolves, then request it; on failure show why and emit nothing."""
        self._update_enabled()
        source = self.current_source()
        if source is None:
            return False
        return self._request(source)

    def _request(self, source: dict[str, Any]) -> bool:
        """Emit ``source`` if it resolves; True when the owner took it (it did not call ``show_refusal``)."""
        try:
            resolve_split(source, self.base_dir)
        except BpstudioError as exc:
            self._show_error(str(exc))
            return False
        self.error.setVisible(False)
        self.source = source
        self._requesting, self._refusal = True, None
        try:
            self.source_requested.emit(source)
        finally:
            self._requesting = False
        if self._refusal is not None:  # (the owner has shown the data still in use meanwhile)
            in_use = self.data_set.currentText() or "the data before"
            self._show_error(f"{self._refusal} (still using {in_use})")
            return False
        return True

    def show_refusal(self, message: str) -> None:
        """The owner refused the data just requested, for ``message``; shown once the request returns."""
        if self._requesting:
            self._refusal = message

    def _show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.setVisible(True)

    def _on_set_chosen(self) -> None:
        key = self.data_set.currentData()
        if key is not None and key[0] == "builtin" and (self.source or {}).get("builtin") != key[1]:
            # a new set starts from its own noise (blobs' 0.5 is its spread) and classes
            defaults = toy_defaults(key[1])
            with signals_blocked(self.noise, self.classes, self.samples):
                if "noise" in defaults:
                    self.noise.setValue(defaults["noise"])
                else:  # real data (the digits): all of it, not as many samples as the toy set before had
                    self.samples.setValue(defaults["n"])
                if "classes" in defaults and not self.classes.isEnabled():
                    self.classes.setValue(defaults["classes"])
        self.apply()

    def _on_regenerate(self) -> None:
        with signals_blocked(self.seed):
            self.seed.setValue(min(self.seed.value() + 1, MAX_SEED))
        self.apply()

    def _choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Import data", self.base_dir or "", "Data files (*.npz *.csv);;All files (*)"
        )
        if path:
            self.import_file(path)

    def import_file(self, path: str | os.PathLike[str]) -> bool:
        """Use the data in ``path`` (.npz or .csv), keeping the split settings; False (and the reason
        shown) when it cannot be read."""
        file = os.fspath(path)
        source = {"file": file, "test_fraction": self.test_fraction.value(), "split_seed": self.split_seed.value()}
        if not self._request(source):
            return False
        with signals_blocked(self.data_set):
            self._select(self._other_item("file", file))
        self._update_enabled()
        return True


def _number(value: Any, default: float) -> float:
    """A control's value from the source: its number, or the default when absent or not a number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return float(default)
    return float(value)
