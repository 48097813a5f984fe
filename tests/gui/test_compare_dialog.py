"""The NumPy vs PyTorch dialog, opened on the main window's document and driven as a person would: the
table (every layer, sortable by clicking its header), the heatmap, Export CSV…, Cancel, torch missing."""

import csv
import importlib.util
import threading

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QPoint
from PySide6.QtTest import QTest

from bpstudio.core.tools.compare import compare_backends
from bpstudio.gui.tools import compare_dialog
from bpstudio.gui.tools.compare_dialog import COLUMNS, open_compare
from tests.gui.driving import LEFT, NOMOD, open_example, set_batch_size, settle
from tests.helpers import needs_torch

REL, ABS = COLUMNS.index("max rel diff"), COLUMNS.index("max abs diff")


def compared(qtbot, w):
    dialog = open_compare(w)
    qtbot.waitUntil(lambda: dialog.worker is None, timeout=15000)
    assert dialog.result_ is not None, dialog.status.text()
    return dialog


def table(dialog):
    """The table's rows as dicts of what its cells say, top to bottom as shown."""
    model = dialog.table.model()
    return [{name: model.index(r, c).data() for c, name in enumerate(COLUMNS)} for r in range(model.rowCount())]


def heatmap(dialog):
    h = dialog.heat
    rows = [h.verticalHeaderItem(i).text() for i in range(h.rowCount())]
    columns = [h.horizontalHeaderItem(j).text() for j in range(h.columnCount())]
    cells = [[h.item(i, j).text() for j in range(h.columnCount())] for i in range(h.rowCount())]
    return rows, columns, cells


def click_header(qtbot, view, column):
    header = view.horizontalHeader()
    x = header.sectionViewportPosition(column) + header.sectionSize(column) // 2
    QTest.mouseClick(header.viewport(), LEFT, NOMOD, QPoint(x, header.height() // 2))
    settle(qtbot)


@needs_torch
def test_mazur_every_layer_and_float64_torch_agrees(qtbot, window):
    w = window
    open_example(qtbot, w, "mazur")
    dialog = compared(qtbot, w)
    assert dialog.isVisible() and w.tools.get(compare_dialog.CompareDialog) is dialog
    assert "its one training sample" in dialog.about.text() and "after step 0" in dialog.about.text()
    rows = table(dialog)
    assert {r["layer"] for r in rows} == {"h", "o"}
    assert len(rows) == 3 * (2 * 5 + 1)
    f64 = [r for r in rows if (r["backend"], r["dtype"]) == ("torch", "float64")]
    assert len(f64) == 11 and max(float(r["max rel diff"]) for r in f64) < 1e-10
    f32 = [float(r["max rel diff"]) for r in rows if r["dtype"] == "float32"]
    assert 0 < max(f32) < 1e-6
    # the cells say what core computes for the document's weights and data
    want = compare_backends(w.document.spec, w.document.train_data, w.document.params())
    assert [r["max rel diff"] for r in rows] == [compare_dialog.sci(r.max_rel) for r in want.rows]
    worst = want.worst()  # (float32 rounding differs between numpy releases: the figure is computed)
    assert worst.dtype == "float32" and 0 < worst.max_rel < 1e-6
    assert dialog.status.text().startswith(f"Largest difference: {worst.max_rel:.2e} relative")
    assert heatmap(dialog)[:2] == (["h", "o", "loss L"], ["numpy float32", "torch float64", "torch float32"])
    assert dialog.export.isEnabled() and dialog.again.isEnabled() and not dialog.cancel.isVisible()
    dialog.close()
    assert not dialog.isVisible()


@needs_torch
def test_deep_sigmoid_first_batch_sorting_and_heatmap(qtbot, window):
    w = window
    open_example(qtbot, w, "deep_sigmoid")
    set_batch_size(qtbot, w, 16)
    w.window_actions.step.trigger()  # one step (Full step): the weights move
    dialog = compared(qtbot, w)
    layers = [lid for lid in w.document.spec.order if lid != "x"]
    assert "the first 16 of 228 training samples" in dialog.about.text() and "after step 1" in dialog.about.text()
    rows = table(dialog)
    assert list(dict.fromkeys(r["layer"] for r in rows)) == layers  # layer order: h1 … h10, out
    assert {r["shape"] for r in rows if r["quantity"] == "z"} == {"16×8", "16×1"}
    assert max(float(r["max rel diff"]) for r in rows if r["dtype"] == "float64") < 1e-10
    assert 0 < max(float(r["max rel diff"]) for r in rows if r["dtype"] == "float32") < 1e-3

    click_header(qtbot, dialog.table, REL)
    first = [float(r["max rel diff"]) for r in table(dialog)]
    click_header(qtbot, dialog.table, REL)
    second = [float(r["max rel diff"]) for r in table(dialog)]
    assert sorted(first) in (first, second) and sorted(first, reverse=True) in (first, second) and first != second
    top = table(dialog)[0] if second[0] >= second[-1] else table(dialog)[-1]
    worst = dialog.result_.worst()
    assert (top["layer"], top["max rel diff"]) == (worst.layer, compare_dialog.sci(worst.max_rel))

    heat_rows, columns, cells = heatmap(dialog)
    assert heat_rows == [*layers, "loss L"] and len(columns) == 3
    assert max(float(c) for row in cells for c in row) == float(compare_dialog.sci(worst.max_rel))
    dialog.kind.setCurrentIndex(dialog.kind.findData("gradients"))
    heat_rows, _, cells = heatmap(dialog)
    assert heat_rows == layers  # the loss is no gradient
    m = dialog.result_.matrix("gradients")
    assert cells == [[compare_dialog.sci(v) for v in row] for row in m.values]
    # float32's larger differences are drawn darker (hotter) than float64's
    color = lambda i, j: dialog.heat.item(i, j).background().color()  # noqa: E731
    assert columns[1] == "torch float64"
    assert all(color(i, 1).lightness() > color(i, 0).lightness() for i in range(len(layers)))
    dialog.close()


def test_export_csv(qtbot, window, dialogs, tmp_path):
    dialog = compared(qtbot, window)
    dialogs.save_path = str(tmp_path / "diff.csv")
    QTest.mouseClick(dialog.export, LEFT)
    with open(dialogs.save_path, newline="", encoding="utf-8") as f:
        parsed = list(csv.DictReader(f))
    assert len(parsed) == dialog.model.rowCount() > 0
    assert [float(r["max_rel"]) for r in parsed] == [r.max_rel for r in dialog.result_.rows]
    assert "Wrote" in dialog.status.text()
    dialogs.save_path = str(tmp_path / "no" / "such" / "folder.csv")
    QTest.mouseClick(dialog.export, LEFT)
    assert dialogs.kinds() == ["warning"] and "Cannot write" in dialogs.shown[0][2]
    dialog.close()


def test_cancel_then_run_again(qtbot, window, monkeypatch):
    started = threading.Event()

    def slow(*args, cancelled, **kwargs):  # waits for Cancel, then the real one sees it and stops
        started.set()
        while not cancelled():
            threading.Event().wait(0.01)
        return compare_backends(*args, cancelled=cancelled, **kwargs)

    monkeypatch.setattr(compare_dialog, "compare_backends", slow)
    dialog = open_compare(window)
    assert started.wait(5)
    assert dialog.cancel.isVisible() and not dialog.again.isEnabled() and not dialog.export.isEnabled()
    assert dialog.status.text().startswith("Comparing")
    QTest.mouseClick(dialog.cancel, LEFT)
    qtbot.waitUntil(lambda: dialog.worker is None, timeout=5000)
    assert dialog.status.text() == "Cancelled: nothing was compared."
    assert dialog.model.rowCount() == 0 and dialog.heat.rowCount() == 0
    assert dialog.again.isEnabled() and not dialog.export.isEnabled()
    monkeypatch.setattr(compare_dialog, "compare_backends", compare_backends)
    QTest.mouseClick(dialog.again, LEFT)
    qtbot.waitUntil(lambda: dialog.worker is None, timeout=15000)
    assert dialog.model.rowCount() > 0 and dialog.status.text().startswith("Largest difference")
    dialog.close()


def test_without_torch_the_dialog_says_why(qtbot, window, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
    dialog = compared(qtbot, window)
    assert {r["backend"] for r in table(dialog)} == {"numpy"}
    assert dialog.skipped.isVisible()
    assert "torch float64 (the torch backend needs PyTorch, which is not installed" in dialog.skipped.text()
    assert heatmap(dialog)[1] == ["numpy float32"]
    dialog.close()
