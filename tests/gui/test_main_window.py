"""The app's window opens on a useful default and lists the network's layers."""

import pytest

pytest.importorskip("PySide6")

from bpstudio.core import presets  # noqa: E402
from bpstudio.gui.main_window import MainWindow  # noqa: E402


def cell(window, row, col):
    return window.table.item(row, col).text()


def test_opens_on_the_mazur_example_with_its_layers(qtbot):
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    assert window.title.text().startswith("Mazur 2-2-2")
    assert [cell(window, r, 0) for r in range(window.table.rowCount())] == ["i", "h", "o"]
    assert cell(window, 1, 4) == "sigmoid" and cell(window, 1, 5) == "weight 2×2, bias 2 (frozen)"
    assert "12 parameters" in window.summary.text()


def test_examples_menu_loads_each_preset(qtbot):
    window = MainWindow()
    qtbot.addWidget(window)
    examples = next(a.menu() for a in window.menuBar().actions()[0].menu().actions()
                    if a.menu() and a.text() == "&Examples")
    names = [a.text() for a in examples.actions()]
    assert names == presets.names()
    next(a for a in examples.actions() if a.text() == "deep_sigmoid").trigger()
    assert window.table.rowCount() == len(presets.load("deep_sigmoid").layers)


def test_a_bad_file_shows_the_reason_and_keeps_the_open_network(qtbot, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text: shown.append(text))
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "bpstudio-network", "version": 1, "layers": [], "output": "o", "loss": "mse"}')
    window = MainWindow()
    qtbot.addWidget(window)
    window.open_file(str(bad))
    assert shown and "bad.json" in shown[0] and "layers" in shown[0]
    assert window.title.text().startswith("Mazur")
