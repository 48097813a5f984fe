"""The wrapping bar above the plots: a readout fitted whole keeps to one line while a line has room for it."""

from PySide6.QtWidgets import QCheckBox, QPushButton, QWidget

from bpstudio.gui.flow_layout import GroupFlowLayout, OneLineLabel, expand_across


def bar_with_readout(qtbot, whole: bool, width: int) -> tuple[QWidget, OneLineLabel, QPushButton]:
    bar = QWidget()
    qtbot.addWidget(bar)
    layout = GroupFlowLayout(bar)
    readout = OneLineLabel("first/last layer gradient: 0.66 — healthy")
    readout.setWordWrap(True)
    expand_across(readout)
    button = QPushButton("Keep run")
    layout.add_group(readout, whole=whole)
    layout.add_group(QCheckBox("Smooth"))
    layout.add_group(button, right=True)
    one_line = readout.fontMetrics().horizontalAdvance(readout.text())
    bar.resize(width or one_line + 40, layout.heightForWidth(width or one_line + 40))
    bar.show()
    qtbot.waitExposed(bar)
    return bar, readout, button


def test_a_whole_readout_takes_a_line_of_its_own_rather_than_wrap_beside_the_buttons(qtbot):
    _, readout, button = bar_with_readout(qtbot, whole=True, width=0)
    line = readout.fontMetrics().lineSpacing()
    assert readout.height() < 2 * line  # one line
    assert button.y() >= readout.geometry().bottom()  # the buttons on the next line

    _, wrapped, beside = bar_with_readout(qtbot, whole=False, width=0)  # fitted at its minimum: squeezed
    assert wrapped.height() >= 2 * line and abs(beside.geometry().center().y() - wrapped.geometry().center().y()) < line


def test_a_line_is_as_tall_as_the_wrapped_readout_it_holds(qtbot):
    bar, readout, _ = bar_with_readout(qtbot, whole=True, width=160)  # narrower than the text: it wraps
    assert readout.height() >= 2 * readout.fontMetrics().lineSpacing()
    assert readout.heightForWidth(readout.width()) <= readout.height()  # no line cut off
