"""Says what went wrong in the step shown — saturated or dead layers, gradients that are 0, values that are not
numbers, in core's words (:mod:`bpstudio.core.step_health`) — where a person looks: the gradient plot's
readout (which would otherwise read "—" over a blank plot), the canvas banner and the status bar."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QStatusBar

from bpstudio.core.spec import NetworkSpec
from bpstudio.core.step_health import step_health
from bpstudio.gui.canvas import TopologyView
from bpstudio.gui.plots.gradient_plot import GradientPlot


class StepAlarm:
    """Shows the health of each step the window draws: the readout names the problem in a few words (all of it
    on hover) while it lasts; the banner and the status bar say all of it, with what to do, for each new step
    that has it (the banner fades a while after the last one, and an edit clears it)."""

    def __init__(self, plot: GradientPlot, canvas: TopologyView, status: Callable[[], QStatusBar]):
        self.plot = plot
        self.canvas = canvas
        self.status = status  # (asked for when there is something to say: a window's status bar appears then)
        self.said: tuple[str, int] | None = None  # the message shown last, and for which step

    def say_again(self) -> None:
        """The next :meth:`show` says its message even for the step said last (a run just stopped: the
        banner was cleared when its steps went into the undo history)."""
        self.said = None

    def show(self, spec: NetworkSpec, trace: Any) -> None:
        health = step_health(spec, trace)
        message = health.message()
        self.plot.show_alarm(health.headline(), message)
        if message is None:
            if self.said is not None and self.status().currentMessage() == self.said[0]:
                self.status().clearMessage()
            self.said = None
            return
        said = (message, trace.step)
        if said != self.said:
            self.canvas.show_refusal(message)
            self.status().showMessage(message)
            self.said = said
