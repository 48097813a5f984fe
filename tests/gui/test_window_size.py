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
    menu(w, "File", "Examples", "XOR 2-4-1").trigger()
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
        ("Data", "Training", "Data set"),
        ("Layer", "Edit history", "Timeline"),
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
    for name in ("data", "inspector", "explanation", "loss", "gradients"):  # the raised ones
        dock = w.docks[name]
        assert dock.isVisible() and dock.width() > 150 and dock.height() > 100, (name, dock.size())
    canvas = w.canvas
    assert canvas.isVisible() and canvas.width() >= 200 and canvas.height() >= 200, canvas.size()

    assert w.data_plot.plot_widget.width() > 150 and w.data_plot.plot_widget.height() > 100
    w.docks["training"].raise_()
    settle(qtbot)
    panel = w.training_panel
    assert_shown_with_room(panel.fields["lr"], "0.0001")
    assert_shown_with_room(panel.loss, "bce")
    assert_shown_with_room(panel.optimizer, "sgd")
    for plot in (w.loss_plot, w.gradient_plot):
        assert_shown_with_room(plot.export_button, "Export")
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

    w.docks["dataset"].raise_()
    w.docks["history"].raise_()
    settle(qtbot)
    w.grab().save("/tmp/size_1024_data.png")
    data = w.data_panel
    assert_shown_with_room(data.data_set, "xor")
    assert_shown_with_room(data.samples, "200")
    assert_shown_with_room(data.import_button, data.import_button.text())
    assert w.undo_view.isVisible() and w.undo_view.width() > 150


def test_the_narrow_arrangements_are_chosen_only_when_needed(qtbot, window):
    """At the default size nothing wraps: the palette keeps its caption, the data form two pairs a row;
    on a projector they give way."""
    w = window
    w.docks["dataset"].raise_()
    settle(qtbot)
    w.grab().save("/tmp/size_1500.png")
    assert w.layer_palette.caption.isVisible()
    assert w.data_panel.pairs_per_row == 2
    samples, noise = w.data_panel.samples, w.data_panel.noise
    assert samples.y() == noise.y() and noise.x() > samples.x()  # side by side
    shrink(qtbot, w)
    w.resizeDocks([w.docks["dataset"]], [240], Qt.Orientation.Horizontal)
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
    """F5 on a projector: fonts ×1.5, and only what the class looks at — the canvas, the data with its decision
    surface, the loss and the gradients, each with room; the phase indicator on a toolbar row of its own (not
    in the overflow menu); the editing panels and the plots' export buttons out of the way."""
    w = window
    step_xor_and_select(qtbot, w)
    shrink(qtbot, w)
    w.canvas.fit_all()
    scale_before = w.canvas.transform().m11()
    w.window_actions.presentation.trigger()
    settle(qtbot)
    assert QApplication.font().pointSizeF() > w._base_font.pointSizeF()
    hint = w.minimumSizeHint()
    assert fits(hint), hint
    assert (w.width(), w.height()) == PROJECTOR
    w.grab().save("/tmp/size_1024_presentation.png")
    assert w.canvas.width() >= 500 and w.canvas.height() >= 330, w.canvas.size()

    # the network drawn larger than beside the editing panels: fitted again once the docks took their sizes, it
    # fills the larger canvas across its width or its height (how much larger depends on how narrow the canvas was
    # beside the panels: as narrow as the layer palette's most compact look)
    def fills_the_canvas():
        drawn = w.canvas.mapFromScene(w.canvas.content_rect()).boundingRect()
        room = w.canvas.viewport().rect()
        return drawn.width() >= room.width() - 80 or drawn.height() >= room.height() - 120

    qtbot.waitUntil(lambda: w.canvas.transform().m11() >= 1.1 * scale_before and fills_the_canvas(), timeout=3000)
    plot = w.data_plot.plot_widget
    assert plot.isVisible() and plot.width() >= 200 and plot.height() >= 150, plot.size()
    for chart in (w.loss_plot, w.gradient_plot):
        assert chart.view.isVisible() and chart.view.width() >= 300 and chart.view.height() >= 120, chart.view.size()
        assert not chart.export_button.isVisible()
    assert not w.loss_plot.accuracy_shown and not w.gradient_plot.heat_item.isVisible()  # one plot each, tall
    # the gradient readout in one line (wrapped onto three, it took the gradient plot's height)
    readout = w.gradient_plot.ratio_label
    assert readout.text().startswith("first/last: ") and readout.height() < 2 * readout.fontMetrics().lineSpacing()
    assert not w.gradient_plot.clear_kept_button.isVisible()  # (nothing kept: in presentation it waits off the bar)
    assert not w.layer_palette.isVisible()
    phase = w.window_actions.phase_label
    assert phase.isVisible() and phase.width() >= chars(phase, phase.text().strip())
    assert not any(w.docks[key].isVisible() for key in ("training", "dataset", "inspector", "explanation"))
    w.window_actions.presentation.trigger()
    settle(qtbot)
    assert w.training_panel.isVisibleTo(w) and w.loss_plot.export_button.isVisible()
    assert w.gradient_plot.heat_item.isVisible() and w.layer_palette.isVisible()


@pytest.mark.parametrize("size", [(1366, 768), (1920, 1080)])
def test_one_screen_shows_the_canvas_surface_loss_gradients_and_run_controls(qtbot, window, size):
    """A first start on a laptop or a full-HD screen: everything a run is about is in view without switching a
    tab — the canvas, the data with the decision surface beside it, the loss, the per-layer gradients, and the
    run controls — each with room to read."""
    w = window
    menu(w, "File", "Examples", "Spiral classifier (3 classes, softmax cross-entropy)").trigger()
    settle(qtbot)
    w.window_actions.step.trigger()
    shrink(qtbot, w, size)
    w.grab().save(f"/tmp/one_screen_{size[0]}.png")

    def in_view(widget, min_width, min_height):
        region = widget.visibleRegion().boundingRect()
        assert widget.isVisible() and region.width() >= min_width and region.height() >= min_height, (
            widget,
            region,
        )

    in_view(w.canvas.viewport(), 400, 250)
    in_view(w.data_plot.plot_widget.viewport(), 200, 180)  # the points over the decision surface
    qtbot.waitUntil(lambda: w.data_plot.surface is not None and w.data_plot.image.image is not None)
    in_view(w.loss_plot.view.viewport(), 300, 120)
    in_view(w.gradient_plot.view.viewport(), 300, 120)
    curves = w.gradient_plot.curve_item.getViewBox()
    assert curves.height() >= 70 and curves.width() >= 400, (curves.width(), curves.height())  # room for the fan
    bar = w.stepping_toolbar
    for action in (w.window_actions.step, w.window_actions.play, w.window_actions.reset):
        button = bar.widgetForAction(action)
        in_view(button, 20, 10)
    in_view(w.window_actions.speed, 40, 10)
    in_view(w.window_actions.phase_label, 100, 10)
