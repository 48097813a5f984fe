"""File ▸ Examples lists the examples by their titles, as people read them; the ids stay internal keys."""

import pytest

pytest.importorskip("PySide6")

from bpstudio.core.io import presets
from tests.gui.driving import menu, settle


def test_examples_are_listed_by_title_not_by_id(qtbot, window):
    entries = menu(window, "File", "Examples").menu().actions()
    shown = [a.text() for a in entries]
    names = presets.names()
    # each example's own name (read through the spec), up to its colon
    assert shown == [presets.load(name).name.split(":")[0].strip() for name in names]
    assert "Mazur 2-2-2" in shown and "Deep ReLU net with He initialisation" in shown
    assert not any("_" in text or text in names for text in shown)  # no raw id such as deep_relu_he
    mazur = entries[shown.index("Mazur 2-2-2")]
    assert mazur.toolTip() == "the step-by-step backpropagation example"  # the rest of its name, on hover
    mazur.trigger()
    settle(qtbot)
    assert window.document.spec.name == presets.load("mazur").name
    assert window.windowTitle().startswith("Mazur 2-2-2") and "mazur" not in window.windowTitle()
