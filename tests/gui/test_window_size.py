"""The assembled window on a 1024×768 projector: it can shrink that far, every dock stays open with room
for its controls, and the panels rearrange (wrap, drop decoration) instead of squashing anything."""

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication, QTabBar, QWidget

from bpstudio.gui.main_window import DEFAULT_SIZE, MainWindow
from tests.gui.canvas_points import click, header_point
from tests.gui.driving import menu, settle

PROJECTOR = (1024, 768)
DEFAULT = DEFAULT_SIZE


def chars(widget: QWidget, text: str) -> int:
    """How wide ``text`` is in the widget's own font."""
    return widget.fontMetrics().horizontalAdvance(text)


def fits(hint, size=PROJECTOR) -> bool:
    return hint.width() <= size[0] and hint.height() <= size[1]


def shrink(qtbot, w, size=PROJECTOR):
    w.resize(*size)
    settle(qtbot)
    assert (w.width(), w.height()) == size


def step_xor_and_select(qtbot, w):
    """A run with a batch of many samples (the chain rule gets its sample picker) and a layer selected."""
    menu(w, "File", "Examples", "xor").trigger()
    settle(qtbot)
    w.window_actions.step.trigger()
    settle(qtbot)
    click(qtbot, w, header_point(w, "h"))  # select h as a person does: a click on its header
    assert w.explanation.sample.isVisibleTo(w.explanation)
    assert w.inspector.layer_id == "h"


def assert_shown_with_room(widget: QWidget, text: str):
    """Shown, and at least as wide as ``text`` (in its font): readable, not squashed."""
    assert widget.isVisible(), widget
    assert widget.width() >= chars(widget, text), (widget, widget.width(), text)
    assert widget.height() >= widget.fontMetrics().height(), widget


def test_the_window_can_shrink_to_a_projector(window):
    assert fits(window.minimumSizeHint()), window.minimumSizeHint()


def test_a_first_window_opens_at_the_default_size_or_the_screen_s_if_smaller(qtbot, tmp_path):
    w = MainWindow(QSettings(str(tmp_path / "first.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    room = QApplication.primaryScreen().availableGeometry()
    assert (w.width(), w.height()) == (min(DEFAULT[0], room.width()), min(DEFAULT[1], room.height()))
    w.show()
    qtbot.waitExposed(w)
    settle(qtbot)
    bars = [bar for bar in w.findChildren(QTabBar) if bar.isVisible()]  # one per tabbed group, no stray copy
    assert sorted(tuple(bar.tabText(i) for i in range(bar.count())) for bar in bars) == [
        ("Layer", "Edit history", "Timeline"),
        ("Training", "Data"),
    ]
    w.document.undo_stack.set_clean()
    w.close()


def test_the_minimum_still_fits_after_a_step_with_a_layer_selected(qtbot, window):
    step_xor_and_select(qtbot, window)
    assert fits(window.minimumSizeHint()), window.minimumSizeHint()


def test_at_1024_by_768_every_dock_and_key_control_keeps_its_room(qtbot, window):
    w = window
    step_xor_and_select(qtbot, w)
    shrink(qtbot, w)
    w.grab().save("/tmp/size_1024.png")
    for name in ("training", "inspector", "explanation", "loss", "gradients"):  # the raised ones
        dock = w.docks[name]
        assert dock.isVisible() and dock.width() > 150 and dock.height() > 100, (name, dock.size())
    canvas = w.canvas
    assert canvas.isVisible() and canvas.width() >= 200 and canvas.height() >= 200, canvas.size()

    panel = w.training_panel
    assert_shown_with_room(panel.fields["lr"], "0.0001")
    assert_shown_with_room(panel.loss, "bce")
    assert_shown_with_room(panel.optimizer, "sgd")
    for plot in (w.loss_plot, w.gradient_plot):
        assert_shown_with_room(plot.png_button, "Export PNG…")
        assert_shown_with_room(plot.csv_button, "Export CSV…")
    assert_shown_with_room(w.gradient_plot.ratio_label, "first/last")
    for button in w.layer_palette.buttons.values():
        assert_shown_with_room(button, button.text())
    expl = w.explanation
    assert_shown_with_room(expl.parameter, "h.weight")
    for box in (expl.row, expl.column, expl.sample):
        assert_shown_with_room(box, "0")
    assert expl.browser.isVisible() and expl.browser.height() > 2 * expl.browser.fontMetrics().height()
    inspector = w.inspector
    assert_shown_with_room(inspector.activation, "tanh")
    assert_shown_with_room(inspector.units, "4")

    w.docks["data"].raise_()
    w.docks["history"].raise_()
    settle(qtbot)
    w.grab().save("/tmp/size_1024_data.png")
    data = w.data_panel
    assert_shown_with_room(data.data_set, "xor")
    assert_shown_with_room(data.samples, "200")
    assert_shown_with_room(data.import_button, data.import_button.text())
    assert data.plot.plot_widget.width() > 150 and data.plot.plot_widget.height() > 100
    assert w.undo_view.isVisible() and w.undo_view.width() > 150


def test_the_narrow_arrangements_are_chosen_only_when_needed(qtbot, window):
    """At the default size nothing wraps: the palette keeps its caption, the data form two pairs a row;
    on a projector they give way."""
    w = window
    w.docks["data"].raise_()
    settle(qtbot)
    w.grab().save("/tmp/size_1500.png")
    assert w.layer_palette.caption.isVisible()
    assert w.data_panel.pairs_per_row == 2
    samples, noise = w.data_panel.samples, w.data_panel.noise
    assert samples.y() == noise.y() and noise.x() > samples.x()  # side by side
    shrink(qtbot, w)
    w.resizeDocks([w.docks["data"]], [240], Qt.Orientation.Horizontal)
    settle(qtbot)
    assert w.data_panel.pairs_per_row == 1
    assert noise.y() > samples.y()  # one pair a row


def test_the_chain_rule_pickers_wrap_and_keep_each_label_beside_its_box(qtbot, window):
    w = window
    step_xor_and_select(qtbot, w)
    expl = w.explanation
    expl_dock = w.docks["explanation"]
    for width in (420, 260):
        w.resizeDocks([expl_dock], [width], Qt.Orientation.Horizontal)
        settle(qtbot)
        for label, box in (
            (expl.row_label, expl.row),
            (expl.column_label, expl.column),
            (expl.sample_label, expl.sample),
        ):
            assert abs(label.geometry().center().y() - box.geometry().center().y()) <= 2
            assert 0 < box.x() - label.geometry().right() <= 12
            assert box.geometry().right() <= expl.width()
    assert expl.sample.y() > expl.parameter.y()  # at 260 px the pickers take more than one line


def test_presentation_mode_at_1024_by_768(qtbot, window):
    """F5 scales fonts ×1.5: the window still fits the projector's width (its height is tight: the
    plots get little room) and the key controls keep room for their text in the larger font."""
    w = window
    step_xor_and_select(qtbot, w)
    shrink(qtbot, w)
    w.window_actions.presentation.trigger()
    settle(qtbot)
    assert QApplication.font().pointSizeF() > w._base_font.pointSizeF()
    hint = w.minimumSizeHint()
    assert fits(hint), hint
    assert (w.width(), w.height()) == PROJECTOR
    w.grab().save("/tmp/size_1024_presentation.png")
    assert_shown_with_room(w.training_panel.fields["lr"], "0.0001")
    for plot in (w.loss_plot, w.gradient_plot):
        assert_shown_with_room(plot.png_button, "Export PNG…")
    assert_shown_with_room(w.explanation.parameter, "h.weight")
    w.window_actions.presentation.trigger()
    settle(qtbot)
