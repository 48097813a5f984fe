"""The right column on a 1600×1000 screen, in the default layout: the reason a typed weight was refused shows
where the person typed it, and the chain rule for one weight reads at a glance — in the window's own type, no
fraction or product broken across lines, no scrolling."""

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtWidgets import QApplication, QScrollArea

from bpstudio.core import datasets
from bpstudio.core.io import presets
from bpstudio.core.session import Session
from bpstudio.core.tools.explain import explain, format_value
from tests.gui.canvas_points import click, header_point
from tests.gui.driving import click_link, open_example, settle, type_into_cell, type_into_field

SCREEN = (1600, 1000)
FONT_STEP = 1.25  # the most the explanation's largest type may exceed the window's


@pytest.fixture
def wide(new_window):
    return new_window(size=SCREEN)


def stepped(qtbot, w, example, layer=None):
    """``example`` open, one full step run, ``layer`` selected with a click on its header."""
    open_example(qtbot, w, example)
    w.window_actions.step.trigger()
    settle(qtbot)
    if layer is not None:
        click(qtbot, w, header_point(w, layer))
        assert w.inspector.layer_id == layer


def rect_in(widget, ancestor) -> QRect:
    return QRect(widget.mapTo(ancestor, QPoint(0, 0)), widget.size())


def in_sight(widget, viewport) -> bool:
    """Shown and wholly inside the part of a scroll area one sees."""
    return widget.isVisible() and viewport.rect().contains(rect_in(widget, viewport))


def cell_rect(editor, row, col, viewport) -> QRect:
    view = editor.view
    rect = view.visualRect(view.model().index(row, col))
    return QRect(view.viewport().mapTo(viewport, rect.topLeft()), rect.size())


# --- a refused entry -------------------------------------------------------------------------------------


def test_a_refused_weight_says_why_in_sight(qtbot, wide):
    w = wide
    stepped(qtbot, w, "xor", "h")
    editor, viewport = w.inspector.weight_editor, w.inspector.findChild(QScrollArea).viewport()
    assert viewport.rect().contains(cell_rect(editor, 0, 1, viewport))  # the cell is where one looks
    type_into_cell(qtbot, editor, 0, 1, "abc")
    settle(qtbot)
    kept = format_value(float(w.document.params()["h.weight"][0, 1]))
    assert editor.error.text() == f"'abc' is not a number: the weight h.weight[0, 1] keeps {kept}"
    assert in_sight(editor.error, viewport), (rect_in(editor.error, viewport), viewport.rect())
    w.window_actions.presentation.trigger()  # F5: the reason grows with the rest of the window's type
    settle(qtbot)
    assert editor.error.font().pointSizeF() == QApplication.font().pointSizeF() > w._base_font.pointSizeF()
    w.window_actions.presentation.trigger()
    settle(qtbot)


def test_the_last_row_of_a_tall_layer_says_why_in_sight_too(qtbot, wide):
    """With twelve neurons the table reaches below the fold; the person scrolls to its last row and types."""
    w = wide
    stepped(qtbot, w, "xor", "h")
    type_into_field(qtbot, w.inspector.units, "12")
    settle(qtbot)
    editor, scroll = w.inspector.bias_editor, w.inspector.findChild(QScrollArea)
    viewport = scroll.viewport()
    assert editor.model.rowCount() == 12
    cell = cell_rect(editor, 11, 0, viewport)
    bar = scroll.verticalScrollBar()
    bar.setValue(bar.value() + cell.bottom() - viewport.height() + 2)  # the cell at the bottom edge
    settle(qtbot)
    assert viewport.rect().contains(cell_rect(editor, 11, 0, viewport))
    type_into_cell(qtbot, editor, 11, 0, "1e400")
    settle(qtbot)
    assert editor.error.text().startswith("'1e400' is not a finite number: the bias h.bias[11] keeps ")
    assert in_sight(editor.error, viewport), (rect_in(editor.error, viewport), viewport.rect())
    assert viewport.rect().contains(cell_rect(editor, 11, 0, viewport))  # and the cell stays in sight


# --- the chain rule ------------------------------------------------------------------------------------


def mazur_reference(key, index):
    spec = presets.load("mazur")
    trace = Session(spec, datasets.resolve_split(spec.data)[0]).forward_backward().to_numpy()
    return explain(spec, trace, key, index)


@pytest.mark.parametrize(
    ("example", "key"), [("mazur", "h.weight"), ("mazur", "o.weight"), ("spiral", None), ("deep_sigmoid", None)]
)
def test_one_weight_s_chain_rule_reads_without_scrolling(qtbot, wide, example, key):
    w = wide
    stepped(qtbot, w, example)
    if key is not None:
        w.explanation.set_target(key, (0, 0))
        settle(qtbot)
    expl = w.explanation
    browser = expl.browser
    assert w.docks["explanation"].isVisible() and "✓ matches" in expl.text()
    if example == "mazur":  # w1 (Mazur's two paths) and w5, with the reference's value in the headline
        reference = mazur_reference(key, (0, 0))
        assert expl.text().splitlines()[0] == f"∂E/∂w{key[0]}[0,0] = {format_value(reference.batch_value)}"
    else:  # many paths (96, and 8⁹ in the deep net): the largest few listed, the others summed on one line
        assert "paths together" in expl.text()
    document, viewport = browser.document(), browser.viewport()
    assert document.size().height() <= viewport.height(), (document.size(), viewport.size())
    assert document.idealWidth() <= viewport.width(), (document.idealWidth(), viewport.size())
    assert browser.verticalScrollBar().maximum() == 0 and browser.horizontalScrollBar().maximum() == 0


def point_sizes(document):
    """The point size of every run of text in a rich-text document."""
    sizes = []
    block = document.begin()
    while block.isValid():
        fragments = block.begin()
        while not fragments.atEnd():
            sizes.append(fragments.fragment().charFormat().font().pointSizeF())
            fragments += 1
        block = block.next()
    return sizes


def test_the_chain_rule_is_in_the_window_s_type_and_grows_with_presentation_mode(qtbot, wide):
    w = wide
    stepped(qtbot, w, "mazur")
    browser = w.explanation.browser
    app = QApplication.font().pointSizeF()
    assert browser.font().pointSizeF() <= FONT_STEP * app and w.explanation.parameter.font().pointSizeF() == app
    sizes = point_sizes(browser.document())
    assert max(sizes) <= FONT_STEP * app, (max(sizes), app)
    assert max(sizes) > browser.font().pointSizeF()  # the headline, one step up

    w.window_actions.presentation.trigger()  # F5: everything larger for a projector, the explanation too
    settle(qtbot)
    larger = QApplication.font().pointSizeF()
    assert larger > app and browser.font().pointSizeF() == larger
    assert larger < max(point_sizes(browser.document())) <= FONT_STEP * larger
    w.window_actions.presentation.trigger()
    settle(qtbot)


def laid_out_lines(document):
    """The text of every line as drawn, and whether it ends its paragraph."""
    lines = []
    block = document.begin()
    while block.isValid():
        layout, text = block.layout(), block.text()
        for i in range(layout.lineCount()):
            line = layout.lineAt(i)
            lines.append((text[line.textStart() : line.textStart() + line.textLength()], i == layout.lineCount() - 1))
        block = block.next()
    return lines


def assert_breaks_only_between_terms(browser):
    lines = laid_out_lines(browser.document())
    wrapped = [text for text, last in lines if not last and not text.endswith("\u2028")]  # (\u2028: a <br>)
    assert wrapped, "nothing wrapped: the check would prove nothing"
    for text in wrapped:  # a soft break only after a space, never after a fraction's slash or inside a number
        assert text.endswith(" "), (text, [t for t, _ in lines])


def test_a_narrow_chain_rule_wraps_between_factors_never_inside_one(qtbot, wide):
    w = wide
    stepped(qtbot, w, "mazur")
    w.resizeDocks([w.docks["explanation"]], [260], Qt.Orientation.Horizontal)
    settle(qtbot)
    browser = w.explanation.browser
    assert browser.verticalScrollBar().isVisible() or browser.viewport().width() < 300
    assert_breaks_only_between_terms(browser)
    click_link(qtbot, browser, "Each path's factors")  # five factors a path: long products wrap too
    assert "∂E/∂outh[0] along this path" in w.explanation.text()
    assert_breaks_only_between_terms(browser)
    for factor in mazur_reference("h.weight", (0, 0)).paths[0].factors:  # every fraction whole on one line
        drawn = factor.symbol.replace("_h", "h").replace("_o", "o")
        assert any(drawn in text.replace("\u2060", "") for text, _ in laid_out_lines(browser.document())), drawn


def test_after_opening_another_example_a_click_on_a_layer_of_the_same_name_shows_it(qtbot, wide):
    """xor and Mazur's network both have an 'h': the new one starts unselected on the canvas as in the
    inspector, so the first click on it shows it."""
    w = wide
    stepped(qtbot, w, "xor", "h")
    open_example(qtbot, w, "mazur")
    assert w.inspector.layer_id is None and w.canvas.selected_layers() == []
    click(qtbot, w, header_point(w, "h"))
    assert w.inspector.layer_id == "h" and w.inspector.weight_editor.model.values.shape == (2, 2)
