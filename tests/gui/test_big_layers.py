"""Layers of hundreds of units: the canvas draws them as blocks with a heat strip, the inspector's weight
table asks only for the cells in sight, and the whole of a 300×300 step shows on both."""

import numpy as np
import pytest

pytest.importorskip("PySide6")

from bpstudio.core.datasets import resolve_split
from bpstudio.core.io import spec_io
from bpstudio.core.session import Session
from bpstudio.gui.canvas.style import BACKGROUND, HEAT_COLS
from bpstudio.gui.colors import signed_color
from bpstudio.gui.inspectors.matrix_editor import MatrixEditor, MatrixModel
from bpstudio.gui.qt_utils import format_number
from tests.gui.canvas_view import shown
from tests.helpers import wide_net_file


@pytest.fixture
def wide_step(tmp_path):
    """A 2-300-300-1 session after its forward pass."""
    spec = spec_io.load(wide_net_file(tmp_path))
    session = Session(spec, resolve_split(spec.data)[0], batch_size=32)
    session.forward_layer()
    session.forward_layer()
    return spec, session


def test_a_wide_layers_heat_strip_has_a_cell_per_unit_in_its_colour(view, wide_step):
    spec, session = wide_step
    shown(view, spec, session, session.next_phase)
    block = view.canvas.blocks["h2"]
    out = session.trace.to_numpy().layers["h2"].out[0]
    scale = np.abs(out).max()
    assert block.heat_caption.startswith("out, sample 1")
    for unit in (0, 17, 150, 299):
        want = signed_color(float(out[unit]), scale)
        assert block._heat.pixelColor(unit % HEAT_COLS, unit // HEAT_COLS).rgb() == want.rgb()
    rest = block._heat.pixelColor(300 % HEAT_COLS, 300 // HEAT_COLS)  # (the last row's rest: no unit there)
    assert rest.rgb() == BACKGROUND.rgb()


def test_a_1000_by_1000_weight_table_asks_only_for_the_cells_in_sight(qtbot, monkeypatch):
    asked = []
    real = MatrixModel.data
    monkeypatch.setattr(MatrixModel, "data", lambda self, index, *role: asked.append(1) or real(self, index, *role))
    editor = MatrixEditor()
    qtbot.addWidget(editor)
    editor.resize(420, 400)
    editor.show()
    values = np.random.default_rng(3).normal(size=(1000, 1000))
    values[999, 999] = -123.456  # (the widest number: its column is as wide as the others)
    editor.set_matrix("h2.weight", values, grads=values / 10)
    editor.view.viewport().repaint()
    assert editor.view.model().index(0, 1).data() == format_number(values[0, 1], 4)  # what a person reads
    assert len(asked) < 20_000  # a few screens of cells, not the million (fitting each column asked for all)
    widths = {editor.view.columnWidth(c) for c in range(1000)}
    text = editor.view.fontMetrics().horizontalAdvance(format_number(-123.456, 4))
    assert len(widths) == 1 and widths.pop() >= text  # one width, wide enough for the widest number
