"""The gradient-check dialog: backprop's gradients against the complex step and central finite differences, per
parameter, under the criterion core states (:mod:`bpstudio.core.tools.gradcheck`)."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtGui import QColor
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from bpstudio.core.tools.gradcheck import VERDICT_WORDS, ParamCheck, criterion, verdict
from bpstudio.gui.qt_utils import format_number
from bpstudio.gui.screen_fit import fit_to_screen

COLUMNS = (
    "parameter",
    "result",
    "entries checked",
    "backprop",
    "complex step",
    "max relative error",
    "finite difference",
    "± its resolution",
    "finite differences resolve",
    "step h",
    "worst entry",
)
COLOURS = {"pass": QColor(212, 240, 212), "mismatch": QColor(250, 210, 210), "unresolved": QColor(250, 236, 200)}


class GradientCheckDialog(QDialog):
    def __init__(self, checks: Sequence[ParamCheck], samples: int, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Gradient check")
        fit_to_screen(self, 980, 400)
        checks = list(checks)
        self.summary = QLabel(f"{verdict(checks)}\n\n{criterion(checks, samples)}")
        self.summary.setWordWrap(True)
        self.table = QTableWidget(len(checks), len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        for row, c in enumerate(checks):
            cells = (
                c.key,
                VERDICT_WORDS[c.verdict],
                f"{c.checked} of {c.total}",
                format_number(c.analytic),
                format_number(c.reference) if c.complex_step else "—",
                f"{c.max_rel_error:.2e}",
                format_number(c.numeric),
                f"{c.resolution:.1e}",
                f"{c.checked - c.unresolved} of {c.checked}",
                f"{c.step:g}",
                "[" + ", ".join(map(str, c.worst_index)) + "]",
            )
            tip = (
                f"{c.key}: worst entry {list(c.worst_index)}: backprop {c.analytic!r}, "
                + (f"complex step {c.reference!r}, " if c.complex_step else "")
                + f"finite difference {c.numeric!r} ± {c.resolution:.1e} (step {c.step:g}); "
                f"finite differences resolve {c.fd_note.replace(' resolved', '')} entries"
            )
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setBackground(COLOURS[c.verdict])
                item.setToolTip(tip)
                self.table.setItem(row, col, item)
        self.table.resizeColumnsToContents()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
