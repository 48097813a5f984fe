"""The main window. For now it lists a network's layers and opens files and examples; the topology
canvas, stepping controls and live plots arrive with the desktop-app issue."""

from __future__ import annotations

import math

from PySide6.QtWidgets import (QFileDialog, QLabel, QMainWindow, QMessageBox, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from bpstudio.core import presets, spec_io
from bpstudio.core.errors import BpstudioError
from bpstudio.core.spec import NetworkSpec

DEFAULT_PRESET = "mazur"
COLUMNS = ("id", "type", "inputs", "units", "activation", "parameters")


class MainWindow(QMainWindow):
    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("bpstudio")
        self.resize(900, 520)
        self.spec: NetworkSpec | None = None
        self.title = QLabel()
        self.title.setStyleSheet("font-size: 16pt; font-weight: bold;")
        self.summary = QLabel()
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().setVisible(False)
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.addWidget(self.title)
        layout.addWidget(self.summary)
        layout.addWidget(self.table)
        self.setCentralWidget(body)
        self._build_menus()
        self.show_spec(presets.load(DEFAULT_PRESET))

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        file_menu.addAction("&Open…", self._choose_file).setShortcut("Ctrl+O")
        examples = file_menu.addMenu("&Examples")
        for name in presets.names():
            examples.addAction(name, lambda n=name: self.show_spec(presets.load(n)))
        file_menu.addSeparator()
        file_menu.addAction("&Quit", self.close).setShortcut("Ctrl+Q")

    def _choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open network", "", "bpstudio networks (*.json)")
        if path:
            self.open_file(path)

    def open_file(self, path: str) -> None:
        try:
            self.show_spec(spec_io.load(path))
        except BpstudioError as exc:
            QMessageBox.warning(self, "Cannot open network", str(exc))

    def show_spec(self, spec: NetworkSpec) -> None:
        self.spec = spec
        self.title.setText(spec.name or "untitled network")
        shapes = spec.param_shapes()
        self.summary.setText(f"{len(spec.layers)} layers · output '{spec.output}' · loss {spec.loss} · "
                             f"optimizer {spec.optimizer.name} (lr {spec.optimizer.lr:g}) · "
                             f"{sum(math.prod(s) for s in shapes.values())} parameters")
        self.table.setRowCount(len(spec.order))
        for row, layer_id in enumerate(spec.order):
            layer = spec.layer(layer_id)
            params = ", ".join(f"{name} {'×'.join(map(str, shape))}" + (" (frozen)" if name in layer.frozen else "")
                               for key, shape in shapes.items()
                               for name in [key.split(".")[1]] if key.startswith(f"{layer_id}."))
            cells = (layer.id, layer.type, ", ".join(layer.inputs), str(spec.widths[layer_id]),
                     layer.activation if layer.type != "input" else "", params)
            for col, text in enumerate(cells):
                self.table.setItem(row, col, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
