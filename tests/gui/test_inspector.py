"""The matrix editor and the layer inspector: what a person sees, and the requests their edits make."""

import pytest

pytest.importorskip("PySide6")

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView

from bpstudio.core import datasets
from bpstudio.core.io import presets
from bpstudio.core.session import Session
from bpstudio.core.spec import Initializer, LayerSpec, NetworkSpec
from bpstudio.gui.colors import NEGATIVE, NEUTRAL, POSITIVE
from bpstudio.gui.inspectors.layer_inspector import LayerInspector
from bpstudio.gui.inspectors.matrix_editor import MatrixEditor
from tests.gui.canvas_points import click, header_point
from tests.gui.driving import click_canvas, open_example, type_into_cell

ALL_SIGNALS = ("fields_requested", "param_requested", "randomize_requested", "reset_requested", "output_requested")


def cell(editor, row, col, role=Qt.ItemDataRole.DisplayRole):
    return editor.view.model().index(row, col).data(role)


def record(widget, names):
    seen = []
    for name in names:
        getattr(widget, name).connect(lambda *args, n=name: seen.append((n, *args)))
    return seen


@pytest.fixture
def mazur():
    spec = presets.load("mazur")
    session = Session(spec, datasets.resolve_split(spec.data)[0])
    return spec, session


@pytest.fixture
def inspector(qtbot, mazur):
    spec, session = mazur
    widget = LayerInspector()
    qtbot.addWidget(widget)
    widget.resize(320, 700)
    widget.show()
    seen = record(widget, ALL_SIGNALS)
    widget.show_layer(spec, "h", session.params_numpy(), None)
    assert seen == []  # showing never asks for anything
    return widget, seen


# --- MatrixEditor --------------------------------------------------------------------------------------


def test_cells_show_values_coloured_by_sign_with_readable_text(qtbot):
    editor = MatrixEditor()
    qtbot.addWidget(editor)
    editor.set_matrix(
        "h.weight",
        np.array([[0.5, -2.0, 0.0], [2.0, 1.25, -0.123456789]]),
        grads=np.array([[0.1, 0.2, 0.3], [0.4, 0.5, -7.5e-5]]),
    )
    assert [[cell(editor, r, c) for c in range(3)] for r in range(2)] == [["0.5", "-2", "0"], ["2", "1.25", "-0.1235"]]
    background = Qt.ItemDataRole.BackgroundRole
    assert cell(editor, 1, 0, background).color() == POSITIVE  # the largest magnitude saturates
    assert cell(editor, 0, 1, background).color() == NEGATIVE
    assert cell(editor, 0, 2, background).color() == NEUTRAL
    half = cell(editor, 0, 0, background).color()  # 0.5 of scale 2: a quarter of the way
    assert half == QColor(
        round(235 + (245 - 235) * 0.25), round(235 + (130 - 235) * 0.25), round(235 + (32 - 235) * 0.25)
    )
    foreground = Qt.ItemDataRole.ForegroundRole
    assert cell(editor, 0, 1, foreground).color() == QColor("white")  # on dark blue
    assert cell(editor, 0, 2, foreground).color() == QColor("black")  # on light grey
    tip = cell(editor, 1, 2, Qt.ItemDataRole.ToolTipRole)
    assert "h.weight[1, 2] = -0.123456789" in tip and "-7.5e-05" in tip
    header = editor.view.model().headerData
    assert header(1, Qt.Orientation.Vertical) == "neuron 1"
    assert header(2, Qt.Orientation.Horizontal) == "in[2]"


def test_a_valid_entry_is_requested_and_shown_only_once_applied(qtbot):
    editor = MatrixEditor()
    qtbot.addWidget(editor)
    editor.show()
    values = np.array([[0.15, 0.2], [0.25, 0.3]])
    editor.set_matrix("h.weight", values)
    with qtbot.waitSignal(editor.value_edited) as blocker:
        type_into_cell(qtbot, editor, 1, 0, "-1.5e-3")
    assert blocker.args == [1, 0, -0.0015]
    assert cell(editor, 1, 0) == "0.25"  # the view does not apply the edit itself
    applied = values.copy()
    applied[1, 0] = -0.0015
    editor.set_matrix("h.weight", applied)
    assert cell(editor, 1, 0) == "-0.0015"


@pytest.mark.parametrize(
    "text, reason",
    [
        ("abc", "'abc' is not a number"),
        ("nan", "'nan' is not a finite number"),
        ("inf", "'inf' is not a finite number"),
        ("1e999", "'1e999' is not a finite number"),
        ("", "an empty entry is not a number"),
    ],
)
def test_text_that_is_not_a_finite_number_is_refused_at_the_cell(qtbot, text, reason):
    editor = MatrixEditor()
    qtbot.addWidget(editor)
    editor.show()
    editor.set_matrix("h.weight", np.array([[0.15, 0.2], [0.25, 0.3]]))
    seen = record(editor, ["value_edited"])
    type_into_cell(qtbot, editor, 0, 1, text)
    assert seen == []
    assert cell(editor, 0, 1) == "0.2"
    assert editor.error.isVisibleTo(editor)
    assert editor.error.text() == f"{reason}: the weight h.weight[0, 1] keeps 0.2"
    type_into_cell(qtbot, editor, 0, 1, "0.25")  # a good entry clears the message
    assert seen == [("value_edited", 0, 1, 0.25)] and editor.error.isHidden()


def test_a_bias_is_one_column_named_by_one_index(qtbot):
    editor = MatrixEditor()
    qtbot.addWidget(editor)
    editor.show()
    editor.set_matrix("o.bias", np.array([0.6, -0.6]), grads=np.array([0.1, 0.2]))
    model = editor.view.model()
    assert (model.rowCount(), model.columnCount()) == (2, 1)
    assert model.headerData(0, Qt.Orientation.Horizontal) == "bias"
    assert cell(editor, 1, 0, Qt.ItemDataRole.ToolTipRole).startswith("o.bias[1] = -0.6")
    seen = record(editor, ["value_edited"])
    type_into_cell(qtbot, editor, 1, 0, "x")
    assert editor.error.text() == "'x' is not a number: the bias o.bias[1] keeps -0.6"
    type_into_cell(qtbot, editor, 1, 0, "0.6")
    assert seen == [("value_edited", 1, 0, 0.6)]


def test_an_unchanged_entry_asks_for_nothing_and_a_read_only_matrix_opens_no_editor(qtbot):
    editor = MatrixEditor()
    qtbot.addWidget(editor)
    editor.show()
    editor.set_matrix("h.weight", np.array([[0.15, 0.2]]))
    seen = record(editor, ["value_edited"])
    type_into_cell(qtbot, editor, 0, 0, "0.15")
    assert seen == []
    editor.set_matrix("h.weight", np.array([[0.15, 0.2]]), editable=False)
    index = editor.view.model().index(0, 0)
    assert not editor.view.edit(index, QAbstractItemView.EditTrigger.DoubleClicked, None)
    editor.clear()
    assert editor.view.model().rowCount() == 0


# --- LayerInspector --------------------------------------------------------------------------------


def test_shows_the_mazur_hidden_layer(inspector):
    widget, _ = inspector
    assert widget.title.text() == "h"
    assert "dense" in widget.kind.text()
    assert widget.units.value() == 2 and widget.activation.currentText() == "sigmoid"
    assert widget.use_bias.isChecked() and widget.frozen_bias.isChecked() and not widget.frozen_weight.isChecked()
    weights = widget.weight_editor
    assert [[cell(weights, r, c) for c in range(2)] for r in range(2)] == [["0.15", "0.2"], ["0.25", "0.3"]]
    assert [weights.view.model().headerData(k, Qt.Orientation.Horizontal) for k in range(2)] == ["i[0]", "i[1]"]
    assert [cell(widget.bias_editor, r, 0) for r in range(2)] == ["0.35", "0.35"]
    assert "frozen" in widget.bias_caption.text() and "frozen" not in widget.weight_caption.text()
    assert widget.make_output.isVisibleTo(widget) and not widget.output_label.isVisibleTo(widget)


def test_tooltips_give_the_gradient_after_a_backward_pass(inspector, mazur):
    widget, seen = inspector
    spec, session = mazur
    session.forward_backward()
    widget.show_layer(spec, "h", session.params_numpy(), session.gradients())
    tip = cell(widget.weight_editor, 0, 0, Qt.ItemDataRole.ToolTipRole)
    grad = float(tip.split("gradient dL/dweight = ")[1])
    assert grad == pytest.approx(0.000438568, abs=1e-9)  # dE/dw1 in Mazur's worked example
    assert seen == []


def test_typing_into_a_cell_requests_the_parameter(qtbot, inspector):
    widget, seen = inspector
    type_into_cell(qtbot, widget.weight_editor, 0, 0, "0.7")
    type_into_cell(qtbot, widget.bias_editor, 1, 0, "-2")
    assert seen == [("param_requested", "h.weight", (0, 0), 0.7), ("param_requested", "h.bias", (1,), -2.0)]


def test_typing_text_asks_for_nothing_and_says_why(qtbot, inspector):
    widget, seen = inspector
    type_into_cell(qtbot, widget.weight_editor, 0, 1, "abc")
    assert seen == []
    assert widget.weight_editor.error.text() == "'abc' is not a number: the weight h.weight[0, 1] keeps 0.2"
    assert widget.weight_editor.error.isVisibleTo(widget)
    assert cell(widget.weight_editor, 0, 1) == "0.2"


def test_field_edits_are_requested(qtbot, inspector):
    widget, seen = inspector
    qtbot.keyClick(widget.activation, Qt.Key.Key_Down)  # sigmoid -> the next entry, tanh
    widget.units.lineEdit().selectAll()
    qtbot.keyClicks(widget.units, "3")
    qtbot.keyClick(widget.units, Qt.Key.Key_Return)
    qtbot.mouseClick(widget.use_bias, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(widget.frozen_weight, Qt.MouseButton.LeftButton)
    widget.weight_init.setCurrentText("he_normal")
    assert seen == [
        ("fields_requested", "h", {"activation": "tanh"}),
        ("fields_requested", "h", {"units": 3}),
        ("fields_requested", "h", {"use_bias": False}),
        ("fields_requested", "h", {"frozen": frozenset({"weight", "bias"})}),
        ("fields_requested", "h", {"weight_init": Initializer("he_normal")}),
    ]


def test_buttons_request_randomize_reset_and_output(qtbot, inspector, mazur):
    widget, seen = inspector
    widget.seed.lineEdit().selectAll()
    qtbot.keyClicks(widget.seed, "7")
    qtbot.mouseClick(widget.randomize, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(widget.reset, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(widget.make_output, Qt.MouseButton.LeftButton)
    assert seen == [("randomize_requested", "h", 7), ("reset_requested", "h"), ("output_requested", "h")]
    spec, session = mazur
    widget.show_layer(spec, "o", session.params_numpy(), None)
    assert widget.output_label.isVisibleTo(widget) and not widget.make_output.isVisibleTo(widget)
    assert cell(widget.weight_editor, 1, 1) == "0.55"
    assert widget.weight_editor.view.model().headerData(0, Qt.Orientation.Horizontal) == "h[0]"


def test_input_and_add_layers_show_what_applies(inspector):
    widget, seen = inspector
    widget.show_layer(presets.load("mazur"), "i", {}, None)
    assert widget.units.isVisibleTo(widget) and widget.units.value() == 2
    assert not widget.activation.isVisibleTo(widget) and not widget.weight_editor.isVisibleTo(widget)
    assert not widget.make_output.isVisibleTo(widget) and not widget.randomize.isVisibleTo(widget)
    residual = presets.load("deep_sigmoid_residual")
    widget.show_layer(residual, "r3", {}, None)
    assert not widget.units.isVisibleTo(widget) and widget.width_label.text() == "8 units"
    assert widget.inputs_label.text() == "r2 (8), h3 (8)"
    assert widget.activation.isVisibleTo(widget) and not widget.weight_editor.isVisibleTo(widget)
    widget.show_layer(None, None, {}, None)
    assert widget.empty.isVisibleTo(widget) and not widget.details.isVisibleTo(widget)
    assert seen == []


def test_weight_columns_name_the_units_a_concat_joins(qtbot):
    spec = NetworkSpec(
        layers=(
            LayerSpec("x", "input", units=2),
            LayerSpec("a", "dense", ("x",), units=3),
            LayerSpec("c", "concat", ("x", "a")),
            LayerSpec("o", "dense", ("c",), units=1),
        ),
        output="o",
        loss="mse",
    )
    widget = LayerInspector()
    qtbot.addWidget(widget)
    params = {"o.weight": np.arange(5.0).reshape(1, 5), "o.bias": np.zeros(1)}
    widget.show_layer(spec, "o", params, None)
    model = widget.weight_editor.view.model()
    assert [model.headerData(k, Qt.Orientation.Horizontal) for k in range(5)] == [
        "x[0]",
        "x[1]",
        "a[0]",
        "a[1]",
        "a[2]",
    ]


def test_a_16_by_16_layer_fits_a_narrow_dock(qtbot):
    spec = presets.load("deep_sigmoid").replace_layer("h2", units=16).replace_layer("h3", units=16)
    session = Session(spec, datasets.resolve_split(spec.data)[0])
    widget = LayerInspector()
    qtbot.addWidget(widget)
    widget.resize(320, 700)
    widget.show()
    params = session.params_numpy()
    widget.show_layer(spec, "h3", params, None)
    model = widget.weight_editor.view.model()
    assert (model.rowCount(), model.columnCount()) == (16, 16)
    assert cell(widget.weight_editor, 15, 15) == f"{params['h3.weight'][15, 15]:.4g}"
    qtbot.waitUntil(lambda: widget.weight_editor.height() >= widget.weight_editor.view.height() > 200)
    assert widget.minimumSizeHint().width() <= 320


def test_weights_the_file_gives_are_not_said_to_come_from_the_initialiser(qtbot, window):
    """Mazur's file fixes every weight: selecting its layer says so beside the initialiser, which only a
    choice of initialiser or Randomize would use; XOR's file gives none, so its layer shows no such note."""
    open_example(qtbot, window, "mazur")
    assert presets.load("mazur").layer("h").weight is not None  # what the file holds
    click(qtbot, window, header_point(window, "h"))
    inspector = window.inspector
    assert inspector.layer_id == "h" and inspector.weight_init.currentText() == "xavier_uniform"
    assert inspector.init_note.isVisibleTo(inspector)
    note = inspector.init_note.text()
    assert note.startswith("The weights are given (by the file") and "xavier_uniform draws new ones only" in note
    open_example(qtbot, window, "xor")
    assert presets.load("xor").layer("h").weight is None
    click_canvas(qtbot, window)  # (a click elsewhere first, so the next is no double-click)
    click(qtbot, window, header_point(window, "h"))
    assert inspector.layer_id == "h" and not inspector.init_note.isVisibleTo(inspector)
