"""A panel that writes one parameter's gradient out as the chain rule, with this step's numbers.

It shows what :func:`bpstudio.core.tools.explain.explain` works out — the equation with symbols, each path
to the loss with its term, their sum and the check against the recorded gradient — in the window's own type
(presentation mode enlarges it with everything else). It starts compact, so one weight's story reads without
scrolling in a short dock: the paths a line each, the few largest only when there are many; a link under it
shows each path's factors and numbers, and another goes back. The target comes from elsewhere
(:meth:`ExplanationPanel.set_target`, e.g. a weight clicked on the canvas) or from the panel's own pickers; a
sample picker appears when the batch holds more than one sample. When nothing can be shown yet the panel says
why, in words. On a narrow dock the pickers wrap onto a second line (each label stays with its box) rather
than widen the window.
"""

from __future__ import annotations

import html

from PySide6.QtCore import QUrl, Signal
from PySide6.QtWidgets import QComboBox, QLabel, QSpinBox, QTextBrowser, QVBoxLayout, QWidget

from bpstudio.core.errors import BpstudioError, SessionError
from bpstudio.core.spec import NetworkSpec
from bpstudio.core.tools.explain import explain
from bpstudio.core.trace import StepTrace
from bpstudio.gui.colors import NEGATIVE, POSITIVE
from bpstudio.gui.flow_layout import GroupFlowLayout
from bpstudio.gui.inspectors.explanation_html import GLUE, SHOW_ALL, SHOW_LESS, to_html
from bpstudio.gui.qt_utils import signals_blocked

COMPACT_PATHS = 4  # the paths listed in the compact form (the others as one sum)
DETAILED_PATHS = 32  # and in the detailed one
PICKER_CHARACTERS = 10  # the parameter picker's narrowest width, in characters ("out.weight")
NO_NETWORK = "Open a network to see how its gradients are computed."
NO_TARGET = "Pick a weight on the canvas or in the inspector to see its gradient written out as the chain rule."
NO_STEP = "No step has run yet: run the forward pass, the loss and the backward pass to see the numbers."
# after steps, the last step's numbers go when the weights or the settings change under them
NO_STEP_SINCE = (
    "After step {steps} the weights or settings changed (an undo, a new setting, an opened file), so that step's "
    "numbers are gone: run the forward pass, the loss and the backward pass to see them for the weights as they "
    "are now."
)
PLACEHOLDER = "choose a parameter…"


class ExplanationPanel(QWidget):
    """Shows ∂E/∂(one parameter) path by path. ``target_changed(key, index)`` is emitted whenever the
    explained parameter changes, whether picked in the panel or set with :meth:`set_target`."""

    target_changed = Signal(str, tuple)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._spec: NetworkSpec | None = None
        self._trace: StepTrace | None = None
        self._steps = 0  # the steps run so far (none: no step has run; some: the last one's numbers are gone)
        self._key: str | None = None
        self._index: tuple[int, ...] = ()
        self.detailed = False  # each path's factors written out (the link under the explanation switches)

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
        self.browser.anchorClicked.connect(self._on_link)

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

    def show_step(self, spec: NetworkSpec | None, trace: StepTrace | None, steps: int = 0) -> None:
        """Show the current network and step (a NumPy trace, or None: no step since the weights last changed)
        after ``steps`` steps."""
        self._spec, self._trace, self._steps = spec, trace, steps
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
        return self.browser.toPlainText().replace(GLUE, "")

    def set_detailed(self, detailed: bool) -> None:
        """Write each path's factors out (True) or keep the compact form (False)."""
        if detailed != self.detailed:
            self.detailed = detailed
            self._refresh()

    def _on_link(self, url: QUrl) -> None:
        if url.toString() in (SHOW_ALL, SHOW_LESS):
            self.set_detailed(url.toString() == SHOW_ALL)

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
            self.set_target(key, (self.row.value(), self.column.value())[: len(shape)])

    # --- the text -------------------------------------------------------------------------------

    def _refresh(self) -> None:
        self.browser.setHtml(self._page())

    def _page(self) -> str:
        if self._spec is None:
            return _message(NO_NETWORK)
        if self._key is None:
            return _message(NO_TARGET)
        if self._trace is None:
            return _message(NO_STEP_SINCE.format(steps=self._steps) if self._steps else NO_STEP)
        try:
            most = DETAILED_PATHS if self.detailed else COMPACT_PATHS
            expl = explain(self._spec, self._trace, self._key, self._index, self.sample.value(), max_paths=most)
        except SessionError as exc:
            return _message(f"Not yet: {exc}.")
        except BpstudioError as exc:
            return _message(f"Cannot explain {self._key}{list(self._index)}: {exc}")
        return to_html(expl, POSITIVE.name(), NEGATIVE.name(), detailed=self.detailed)


def _message(text: str) -> str:
    return f"<p style='color:#444'>{html.escape(text)}</p>"
