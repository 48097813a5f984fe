"""The About dialog: bpstudio's version and what it runs on, copyable as plain text for bug reports.

PyTorch takes seconds to import, so the dialog is built without it: its PyTorch and CUDA rows say "checking…"
while a background task imports torch and asks it about CUDA (the window stays responsive), and Copy waits
until they are filled in.
"""

from __future__ import annotations

import platform

import numpy
import PySide6
from PySide6.QtCore import QSize, Qt, Signal, qVersion
from PySide6.QtGui import QFont, QPaintEvent
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

import bpstudio
from bpstudio.core import backends
from bpstudio.gui.background_task import BackgroundTask
from bpstudio.gui.resources import app_icon

DESCRIPTION = "Step through forward and backward passes of a neural network and watch gradients vanish."
CHECKING = "checking…"
NOT_INSTALLED = "not installed"
ICON_SIZE = 72


def torch_rows() -> tuple[str, str]:
    """What the PyTorch and CUDA rows say: PyTorch's version (or "not installed"), and the CUDA device names
    (or "not available: <why>").

    Asks core first, which knows without importing torch whether it is installed and whether this build and
    machine can have CUDA; imports torch (seconds) only when it is installed.
    """
    reasons = backends.available()
    if reasons.get("torch/cpu") is not None:
        return NOT_INSTALLED, f"not available: {reasons.get('torch/cuda') or reasons['torch/cpu']}"
    try:
        import torch
    except Exception as exc:
        return (
            f"installed but cannot be loaded ({type(exc).__name__}: {exc})",
            "not available: PyTorch cannot be loaded",
        )
    version = str(torch.__version__)
    try:
        if torch.cuda.is_available():
            names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
            return version, f"{', '.join(names)} (CUDA {torch.version.cuda})"
    except Exception as exc:
        return version, f"not available: CUDA could not be queried ({type(exc).__name__}: {exc})"
    reason = reasons.get("torch/cuda") or "PyTorch finds no usable CUDA device (torch.cuda.is_available() is false)"
    return version, f"not available: {reason}"


class AboutDialog(QDialog):
    torch_checked = Signal()  # the PyTorch and CUDA rows have been filled in

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("About bpstudio")
        self._torch_state = "pending"  # pending -> checking -> done

        icon = QLabel()
        icon.setPixmap(app_icon().pixmap(QSize(ICON_SIZE, ICON_SIZE), self.devicePixelRatioF()))
        icon.setFixedSize(ICON_SIZE, ICON_SIZE)
        self.title = QLabel(f"bpstudio {bpstudio.__version__}")
        font = QFont(self.title.font())
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        self.title.setFont(font)
        self.description = QLabel(DESCRIPTION)
        self.description.setWordWrap(True)
        heading = QVBoxLayout()
        heading.addWidget(self.title)
        heading.addWidget(self.description)
        heading.addStretch(1)
        top = QHBoxLayout()
        top.addWidget(icon, 0, Qt.AlignmentFlag.AlignTop)
        top.addSpacing(12)
        top.addLayout(heading, 1)

        self.rows: dict[str, QLabel] = {}
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        for name, value in (
            ("Python", f"{platform.python_version()} ({platform.python_implementation()})"),
            ("Qt", f"{qVersion()} (PySide6 {PySide6.__version__})"),
            ("NumPy", numpy.__version__),
            ("PyTorch", CHECKING),
            ("CUDA", CHECKING),
            ("System", platform.platform(terse=True)),
        ):
            label = QLabel(value)
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.rows[name] = label
            form.addRow(f"<b>{name}</b>", label)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.copy_button = QPushButton("&Copy")
        self.copy_button.setToolTip("Copy these details as plain text, e.g. into a bug report")
        self.copy_button.setEnabled(False)  # (until the PyTorch rows are filled in)
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.copy_button.clicked.connect(lambda _checked=False: self.copy())
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addSpacing(8)
        layout.addLayout(form)
        layout.addSpacing(8)
        layout.addWidget(buttons)
        self.setMinimumWidth(560)

    # --- the PyTorch rows -----------------------------------------------------------------------------

    @property
    def torch_is_checked(self) -> bool:
        return self._torch_state == "done"

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if self._torch_state == "pending":  # drawn with "checking…": look PyTorch up now
            self.check_torch()

    def check_torch(self) -> None:
        """Start filling in the PyTorch and CUDA rows: :func:`torch_rows` runs off the GUI thread (it imports
        torch if it is installed); ``torch_checked`` is emitted once they show the answer."""
        if self._torch_state != "pending":
            return
        self._torch_state = "checking"
        task = BackgroundTask(lambda _progress: torch_rows())
        task.succeeded.connect(self._show_torch_rows)
        task.failed.connect(lambda message: self._show_torch_rows((f"could not be checked: {message}", "unknown")))
        task.start_work()

    def _show_torch_rows(self, texts: tuple[str, str]) -> None:
        self._torch_state = "done"
        self.rows["PyTorch"].setText(texts[0])
        self.rows["CUDA"].setText(texts[1])
        self.copy_button.setEnabled(True)
        self.torch_checked.emit()

    # --- copying ---------------------------------------------------------------------------------------

    def text(self) -> str:
        """Everything the dialog shows, as plain text."""
        lines = [self.title.text(), self.description.text(), ""]
        lines += [f"{name}: {label.text()}" for name, label in self.rows.items()]
        return "\n".join(lines) + "\n"

    def copy(self) -> None:
        """Put :meth:`text` on the clipboard (the Copy button is enabled once nothing says "checking…")."""
        QApplication.clipboard().setText(self.text())
