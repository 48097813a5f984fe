"""The explanation panel writes Mazur's derivation out with the step's numbers, and says why when it can't."""

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt

from bpstudio.core import datasets
from bpstudio.core.io import presets
from bpstudio.core.session import Session
from bpstudio.core.tools.explain import explain, format_value
from bpstudio.gui.inspectors.explanation import ExplanationPanel
from bpstudio.gui.inspectors.explanation_html import to_html
from tests.gui.driving import click_link, menu, on_screen, open_example, press, settle

MORE, LESS = "Each path's factors", "Fewer details"


def mazur_session():
    spec = presets.load("mazur")
    return spec, Session(spec, datasets.resolve_split(spec.data)[0])


@pytest.fixture
def panel(qtbot):
    return on_screen(qtbot, ExplanationPanel(), (1000, 700))


@pytest.fixture
def mazur_panel(panel):
    spec, session = mazur_session()
    panel.show_step(spec, session.forward_backward().to_numpy())
    return panel


def type_into(qtbot, spin, text):
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin.lineEdit(), text)
    qtbot.keyClick(spin.lineEdit(), Qt.Key_Return)


def test_w5_is_written_out_with_mazurs_numbers(mazur_panel, qtbot):
    with qtbot.waitSignal(mazur_panel.target_changed) as signal:
        mazur_panel.set_target("o.weight", (0, 0))
    assert signal.args == ["o.weight", (0, 0)]
    text = mazur_panel.text()
    assert "∂E/∂wo[0,0] = 0.082167041" in text  # the heading (the layer id is a subscript)
    assert "o.weight, row 0, column 0: the line h[0] → o[0]" in text  # w5: h1 → o1 in the tutorial's names
    mazur_panel.set_target("o.weight", (0, 1))
    assert "o.weight, row 0, column 1: the line h[1] → o[0]" in mazur_panel.text()  # (rows receive, columns send)
    mazur_panel.set_target("o.weight", (0, 0))
    text = mazur_panel.text()
    assert "= 0.74136507 × 0.186815602 × 0.593269992 = 0.082167041" in text
    assert "Recorded by the backward pass = 0.082167041 ✓ matches" in text
    assert mazur_panel.sample.isHidden() and mazur_panel.sample_label.isHidden()  # a batch of one


def test_picking_w1_in_the_panel_shows_its_two_paths(mazur_panel, qtbot):
    mazur_panel.parameter.setFocus()
    with qtbot.waitSignal(mazur_panel.target_changed) as signal:
        qtbot.keyClicks(mazur_panel.parameter, "h.w")
    assert signal.args == ["h.weight", (0, 0)] and mazur_panel.parameter.currentText() == "h.weight"
    # compact: the chain with its numbers, then a line per path with its term
    text = mazur_panel.text()
    assert "= 0.036350306 × 0.241300709 × 0.05 = 0.000438568" in text
    terms = [line for line in text.splitlines() if line.startswith("via ")]
    assert terms == ["via h[0] → o[0] = 0.000668396", "via h[0] → o[1] = -0.000229828"]
    assert "Sum over paths = 0.000438568" in text and "along this path" not in text

    click_link(qtbot, mazur_panel.browser, MORE)  # each path's factors written out
    lines = mazur_panel.text().splitlines()
    assert [line for line in lines if line.startswith("via ")] == ["via h[0] → o[0]", "via h[0] → o[1]"]
    text = mazur_panel.text()
    assert "= 0.74136507 × 0.186815602 × 0.4 × 0.241300709 × 0.05 = 0.000668396" in text
    assert "∂E/∂outh[0] along this path = 0.055399425" in text
    assert "∂E/∂outh[0] along this path = -0.019049118" in text  # Mazur rounds on the way: -0.019049119
    assert "= 0.036350306 × 0.241300709 × 0.05 = 0.000438568" in text
    assert "Sum over paths = 0.000438568" in text

    # w2: the same chain with i2 = 0.10 at the end, twice w1 (Mazur: 0.20 - 0.5·∂E/∂w2 = 0.19956143)
    with qtbot.waitSignal(mazur_panel.target_changed) as signal:
        type_into(qtbot, mazur_panel.column, "1")
    assert signal.args == ["h.weight", (0, 1)]
    assert "= 0.036350306 × 0.241300709 × 0.1 = 0.000877135" in mazur_panel.text()
    assert "along this path" in mazur_panel.text()  # the detail stays chosen for the next weight
    click_link(qtbot, mazur_panel.browser, LESS)
    assert "along this path" not in mazur_panel.text() and MORE in mazur_panel.text()


def test_a_bias_has_a_unit_and_no_column(mazur_panel, qtbot):
    mazur_panel.set_target("h.bias", (1,))
    assert mazur_panel.column.isHidden() and mazur_panel.row_label.text() == "unit"
    assert mazur_panel.parameter.currentText() == "h.bias" and mazur_panel.row.value() == 1
    text = mazur_panel.text()
    assert "∂E/∂bh[1]" in text and "h.bias, unit 1 · frozen: the update leaves it unchanged" in text
    click_link(qtbot, mazur_panel.browser, MORE)  # core's note in full
    assert "h.bias is frozen: its gradient is computed, but the update leaves it unchanged" in mazur_panel.text()
    mazur_panel.set_target("o.weight", (1, 0))
    assert not mazur_panel.column.isHidden() and mazur_panel.row_label.text() == "row"
    assert "frozen" not in mazur_panel.text()


def test_mid_forward_it_says_what_has_to_run_first(panel):
    spec, session = mazur_session()
    session.advance()  # forward through h only
    panel.show_step(spec, session.trace.to_numpy())
    panel.set_target("h.weight", (0, 0))
    assert panel.text() == "Not yet: run the backward pass through layer 'h' first."
    for _ in range(3):  # forward o, loss, backward o: o is explained, h still is not
        session.advance()
    panel.show_step(spec, session.trace.to_numpy())
    assert "through layer 'h' first" in panel.text()
    session.advance()
    panel.show_step(spec, session.trace.to_numpy())
    assert "0.000438568" in panel.text()


def test_before_anything_is_chosen_it_says_what_to_do(panel, qtbot):
    assert "Open a network" in panel.text()
    spec, session = mazur_session()
    panel.show_step(spec, None)
    assert panel.text().startswith("Pick a weight on the canvas or in the inspector")
    assert not panel.row.isEnabled()
    panel.set_target("o.weight", (0, 1))
    assert panel.text().startswith("No step has run yet")
    panel.show_step(spec, session.forward_backward().to_numpy())
    assert "∂E/∂wo[0,1]" in panel.text()


def test_setting_the_same_target_again_is_not_a_change_and_a_bad_one_is_named(mazur_panel, qtbot):
    seen = []
    mazur_panel.target_changed.connect(lambda key, index: seen.append((key, index)))
    mazur_panel.set_target("o.weight", (1, 1))
    mazur_panel.set_target("o.weight", (1, 1))
    assert seen == [("o.weight", (1, 1))]
    mazur_panel.set_target("z.weight", (0, 0))
    assert mazur_panel.text().startswith("Cannot explain z.weight[0, 0]: no parameter 'z.weight'")
    mazur_panel.set_target("o.weight", (5, 0))
    assert "does not fit a weight of shape 2×2" in mazur_panel.text()


def test_a_batch_gets_a_sample_picker_and_each_sample_its_own_numbers(panel, qtbot):
    spec = presets.load("xor")
    trace = Session(spec, datasets.resolve_split(spec.data)[0], batch_size=4).forward_backward().to_numpy()
    panel.show_step(spec, trace)
    panel.set_target("h.weight", (3, 1))
    assert not panel.sample.isHidden() and panel.sample.maximum() == 3
    type_into(qtbot, panel.sample, "2")
    # reference straight from the trace: sample 2's ∂E/∂net_h[3] times its input x[1]
    share = trace.layers["h"].grad_pre[2, 3] * trace.x[2, 1]
    recorded = trace.layers["h"].grads["weight"][3, 1]
    text = panel.text()
    assert "Chain rule for sample 2 of 4" in text and f"= {format_value(share)}\n" in text + "\n"
    assert f"∂E/∂wh[3,1] = {format_value(recorded)}" in text and "summed over a batch of 4" in text
    assert f"summed over the batch's 4 samples = {format_value(recorded)}" in text
    type_into(qtbot, panel.sample, "0")
    assert f"= {format_value(trace.layers['h'].grad_pre[0, 3] * trace.x[0, 1])}" in panel.text()
    spec, session = mazur_session()
    panel.show_step(spec, session.forward_backward().to_numpy())
    assert panel.sample.isHidden()


def test_the_panels_rich_text_writes_layer_ids_as_subscripts_and_signs_in_colour():
    spec = presets.load("mazur")
    trace = Session(spec, datasets.resolve_split(spec.data)[0]).forward_backward().to_numpy()
    text = to_html(explain(spec, trace, "h.weight", (0, 0)), positive="#aa0000", negative="#0000aa")
    assert "w<sub>h</sub>[0,0]" in text and "<b style='color:#aa0000'>0.000438568</b>" in text


def test_millions_of_paths_show_the_largest_few_and_the_rest_as_one_sum(panel, qtbot):
    spec = presets.load("deep_sigmoid")
    trace = Session(spec, datasets.resolve_split(spec.data)[0]).forward_backward().to_numpy()
    panel.show_step(spec, trace)
    panel.set_target("h1.weight", (0, 0))
    total = 8**9  # h1[0] reaches each of h2's 8 units, each of those each of h3's, and so on through h10
    rows = [line for line in panel.text().splitlines() if line.startswith("via h1[0] → h2[")]
    assert len(rows) == 4 and f"other {total - 4} paths together" in panel.text()
    click_link(qtbot, panel.browser, MORE)
    rows = [line for line in panel.text().splitlines() if line.startswith("via h1[0] → h2[")]
    assert len(rows) == 32 and f"other {total - 32} paths together" in panel.text()
    assert f"the 32 largest of the {total} paths to E are listed" in panel.text()


def test_after_steps_and_an_undo_it_does_not_say_no_step_has_run(qtbot, window):
    """Steps run, then the loss is changed and the change undone: the last step's numbers are gone (they belonged
    to other settings), but steps did run. The panel says what happened and what to do, and the next step's
    numbers come back."""
    w = window
    open_example(qtbot, w, "mazur")
    for _ in range(3):
        menu(w, "Step", "Full step").trigger()
        settle(qtbot)
    w.explanation.set_target("o.weight", (0, 1))
    assert "∂E/∂wo[0,1]" in w.explanation.text()
    other = next(
        name
        for name in (w.training_panel.loss.itemText(i) for i in range(w.training_panel.loss.count()))
        if name != w.training_panel.loss.currentText()
    )
    w.training_panel.loss.setCurrentText(other)
    settle(qtbot)
    press(qtbot, w, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # Edit ▸ Undo (the loss)
    assert w.document.spec.loss == presets.load("mazur").loss
    assert w.document.session.step_count == 3
    text = w.explanation.text()
    assert "No step has run yet" not in text
    assert text.startswith("After step 3 the weights or settings changed") and "forward pass" in text
    menu(w, "Step", "Full step").trigger()
    settle(qtbot)
    assert "∂E/∂wo[0,1]" in w.explanation.text()
