"""Finished runs kept for comparison: the plots draw them as faint, labelled curves behind the live run, so the
deep sigmoid net's gradients can be seen beside ReLU + He's and the residual net's on one plot.

Kept runs belong to the app, not to one network: they stay while other files are opened (that is the point)
and go when cleared. Each holds a snapshot of a run's :class:`~bpstudio.core.record.history.TrainingHistory`,
which does not change afterwards.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bpstudio.core.record.history import TrainingHistory
from bpstudio.document.events import Event

MAX_KEPT = 4  # more faint curves than this stop being readable; the oldest goes first


@dataclass(frozen=True)
class KeptRun:
    label: str
    history: TrainingHistory


def run_label(network_name: str, steps: int) -> str:
    """A short label for a run of the network named ``network_name``: its title without the explanation after a
    colon or in brackets ("Deep sigmoid net (10 hidden layers): gradients vanish" → "Deep sigmoid net"), and its
    length."""
    title = re.sub(r"\s*\([^)]*\)", "", network_name.split(":")[0]).strip() or "untitled"
    return f"{title} · {steps} step{'' if steps == 1 else 's'}"


class KeptRuns:
    """The kept runs, oldest first; ``changed`` is emitted after every change."""

    def __init__(self) -> None:
        self.runs: list[KeptRun] = []
        self.changed = Event("kept_runs_changed")

    def keep(self, label: str, history: TrainingHistory) -> KeptRun | None:
        """Keep a snapshot of ``history`` as ``label`` (None, and nothing kept, when it has no steps). A label
        already kept gets a number, so every curve stays told apart."""
        if len(history) == 0:
            return None
        taken = {run.label for run in self.runs}
        unique, n = label, 2
        while unique in taken:
            unique, n = f"{label} ({n})", n + 1
        run = KeptRun(unique, history.snapshot())
        self.runs = [*self.runs, run][-MAX_KEPT:]
        self.changed.emit()
        return run

    def clear(self) -> None:
        if self.runs:
            self.runs = []
            self.changed.emit()
