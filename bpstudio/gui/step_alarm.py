"""Says what went wrong in the step shown — saturated or dead layers, gradients that are 0, values that are not
numbers, in core's words (:mod:`bpstudio.core.step_health`) — where a person looks: the gradient plot's
readout (which would otherwise read "—" over a blank plot), the canvas banner and the status bar."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QStatusBar

from bpstudio.core.spec import NetworkSpec
from bpstudio.core.step_health import step_health
from bpstudio.gui.canvas import TopologyView
from bpstudio.gui.plots.gradient_plot import GradientPlot


class StepAlarm:
    """Shows the health of each step the window draws; the banner and the status bar speak when the problem
    first appears or changes (the readout keeps saying it while it lasts)."""

    def __init__(self, plot: GradientPlot, canvas: TopologyView, status: QStatusBar):
        self.plot = plot
        self.canvas = canvas
        self.status = status
        self.said: str | None = None

    def show(self, spec: NetworkSpec, trace: Any) -> None:
        health = step_health(spec, trace)
        message = health.message()
        self.plot.show_alarm(health.message(1), message)
        if message == self.said:
            return
        if message is not None:
            self.canvas.show_refusal(message)
            self.status.showMessage(message)
        elif self.status.currentMessage() == self.said:
            self.status.clearMessage()
        self.said = message
