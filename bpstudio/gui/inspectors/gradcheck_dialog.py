"""The gradient-check dialog: backprop's gradients against central finite differences, per parameter."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtGui import QColor
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from bpstudio.core.tools.gradcheck import REL_TOL, ParamCheck
from bpstudio.gui.qt_utils import format_number
from bpstudio.gui.screen_fit import fit_to_screen

COLUMNS = (
    "parameter",
    "entries checked",
    "max relative error",
    "max absolute error",
    "worst entry",
    "backprop",
    "finite difference",
    "result",
)
PASS_COLOUR = QColor(212, 240, 212)
FAIL_COLOUR = QColor(250, 210, 210)


class GradientCheckDialog(QDialog):
    def __init__(self, checks: Sequence[ParamCheck], samples: int, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Gradient check")
        fit_to_screen(self, 900, 360)
        failed = [c.key for c in checks if not c.passed]
        verdict = (
            "Every gradient matches its finite difference."
            if not failed
            else f"Mismatch in {', '.join(failed)}: backprop and finite differences disagree there."
        )
        self.summary = QLabel(
            f"Central differences (ε = 1e-6) of the loss over all {samples} training samples, "
            f"against backprop's gradients. Pass: relative error below {REL_TOL:g}.\n{verdict}"
        )
        self.summary.setWordWrap(True)
        self.table = QTableWidget(len(checks), len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        for row, c in enumerate(checks):
            cells = (
                c.key,
                f"{c.checked} of {c.total}",
                f"{c.max_rel_error:.2e}",
                f"{c.max_abs_error:.2e}",
                "[" + ", ".join(map(str, c.worst_index)) + "]",
                format_number(c.analytic),
                format_number(c.numeric),
                "pass" if c.passed else "FAIL",
            )
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setBackground(PASS_COLOUR if c.passed else FAIL_COLOUR)
                item.setToolTip(
                    f"{c.key}: worst entry {list(c.worst_index)}: backprop {c.analytic!r}, "
                    f"finite difference {c.numeric!r}"
                )
                self.table.setItem(row, col, item)
        self.table.resizeColumnsToContents()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
