"""The document's commands. Each holds plain values (run states, settings) and asks the document to install
them; the document has carried an edit out before it pushes the command."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from bpstudio.core.record.history import TrainingHistory
from bpstudio.core.run_state import RunState
from bpstudio.core.trace import StepTrace
from bpstudio.document.command_stack import Command


@dataclass(frozen=True)
class Mark:
    """What goes with a run state besides its values: the plot history as it was (a snapshot nobody records
    into), the timeline branch the run was on, and the trace the canvas showed (None: none kept)."""

    history: TrainingHistory
    branch: int
    trace: StepTrace | None = None


class Target(Protocol):
    """What the commands ask of the document."""

    def install(self, state: RunState, trained: bool = False, mark: Mark | None = None) -> None: ...

    def apply_setting(self, kind: str, value: Any) -> None: ...


class SnapshotCommand(Command):
    """An edit of the network: undo and redo swap whole run states, with the plot
    history and the timeline branch each had (``before_mark``, ``after_mark``), so redo brings back exactly
    what undo took away."""

    trained = False

    def __init__(
        self,
        document: Target,
        text: str,
        before: RunState,
        after: RunState,
        before_mark: Mark | None = None,
        after_mark: Mark | None = None,
    ):
        super().__init__(text)
        self.document, self.before, self.after = document, before, after
        self.before_mark, self.after_mark = before_mark, after_mark

    def redo(self) -> None:
        self.document.install(self.after, self.trained, self.after_mark)

    def undo(self) -> None:
        self.document.install(self.before, self.trained, self.before_mark)


class JumpCommand(SnapshotCommand):
    """A jump in the timeline (go to a kept step, switch branches): both its states come from training, so
    undoing or redoing it leaves what Reset goes back to (the state of the last edit) alone."""

    trained = True


class TrainCommand(SnapshotCommand):
    """Training steps; consecutive ones merge into one history entry ("Train 120 steps")."""

    trained = True

    def __init__(
        self,
        document: Target,
        before: RunState,
        after: RunState,
        steps: int,
        before_mark: Mark | None = None,
        after_mark: Mark | None = None,
    ):
        self.steps = steps
        super().__init__(document, self._describe(), before, after, before_mark, after_mark)

    def _describe(self) -> str:
        return f"Train {self.steps} step{'s' if self.steps != 1 else ''}"

    def merge_with(self, other: Command) -> bool:
        if not isinstance(other, TrainCommand) or other.before.step != self.after.step:
            return False
        self.after, self.after_mark = other.after, other.after_mark
        self.steps += other.steps
        self.text = self._describe()
        return True


class SettingCommand(Command):
    """A training setting (optimizer or loss) that may change while the worker trains."""

    def __init__(self, document: Target, kind: str, before: Any, after: Any):
        label = {"optimizer": "optimizer settings", "loss": "loss"}[kind]
        super().__init__(f"Set {label}: {self._show(before)} → {self._show(after)}")
        self.document, self.kind, self.before, self.after = document, kind, before, after

    @staticmethod
    def _show(value: Any) -> str:
        if isinstance(value, str):
            return value
        text = f"{value.name} lr {value.lr:g}"
        if value.weight_decay:
            text += f" wd {value.weight_decay:g}"
        if value.l1:
            text += f" L1 {value.l1:g}"
        if value.clip_norm is not None:
            text += f" clip {value.clip_norm:g}"
        if value.schedule is not None:
            text += f" {value.schedule.name} schedule"
        return text

    def redo(self) -> None:
        self.document.apply_setting(self.kind, self.after)

    def undo(self) -> None:
        self.document.apply_setting(self.kind, self.before)
