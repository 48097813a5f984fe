"""When training stops by itself: at a target loss, after a number of epochs, or on a plateau.

A :class:`StopRule` holds the conditions (any of them, or none); :meth:`StopRule.watch` gives a
:class:`StopWatch` that is told each step's figures as training goes and answers with the reason to stop, one line
such as ``"stopped: loss 0.0098 reached the target 0.01 at step 412"``, or None. ``bpstudio train`` and the app's
Play both use it; each counts epochs and plateau steps from where its run started (the app: from Play).

- **Target loss**: the step's training loss (the loss of the batch it trained on) is at or below the target.
- **Epochs**: that many whole passes over the training data are done.
- **Plateau**: over the last ``plateau_steps`` steps the best loss so far has fallen by no more than
  ``plateau_fraction`` (default :data:`PLATEAU_FRACTION`, 1 %) of what it was at the window's start. The best so far,
  not the last loss: one lucky minibatch does not keep a stalled run going, one unlucky one does not stop a
  learning run.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from bpstudio.core.checks import is_count, is_real
from bpstudio.core.errors import BpstudioError
from bpstudio.core.limits import MAX_COUNT, brief

PLATEAU_FRACTION = 0.01  # the least relative fall of the best loss over the window that counts as progress


@dataclass(frozen=True)
class StopRule:
    """Stop conditions; None switches one off. Bad values are refused naming the setting."""

    target_loss: float | None = None
    epochs: int | None = None
    plateau_steps: int | None = None
    plateau_fraction: float = PLATEAU_FRACTION

    def __post_init__(self) -> None:
        target = self.target_loss
        if target is not None and not (is_real(target) and math.isfinite(target) and target >= 0):
            raise BpstudioError(f"the target loss must be a number 0 or more, got {brief(target)}")
        if self.epochs is not None and not is_count(self.epochs, 1):
            raise BpstudioError(f"the number of epochs must be a whole number 1 or more, got {brief(self.epochs)}")
        if self.plateau_steps is not None and not is_count(self.plateau_steps, 1):
            raise BpstudioError(
                f"the plateau window must be a whole number of steps 1 or more, got {brief(self.plateau_steps)}"
            )
        for what, count in (("number of epochs", self.epochs), ("plateau window", self.plateau_steps)):
            if count is not None and count > MAX_COUNT:  # (a window that long could not even be kept)
                raise BpstudioError(f"the {what} must be at most 2**62, got {brief(count)}")
        fraction = self.plateau_fraction
        if not (is_real(fraction) and 0 <= fraction < 1):
            raise BpstudioError(f"the plateau fraction must be a number in [0, 1), got {brief(fraction)}")

    @property
    def active(self) -> bool:
        """Whether any condition is set."""
        return self.target_loss is not None or self.epochs is not None or self.plateau_steps is not None

    def watch(self, start_epoch: int = 0) -> StopWatch:
        """A watch over a run whose epoch count is ``start_epoch`` now (epochs are counted from there)."""
        return StopWatch(self, start_epoch)


class StopWatch:
    """Told each step's figures in order (:meth:`observe`), says when the rule's conditions stop the run."""

    def __init__(self, rule: StopRule, start_epoch: int = 0) -> None:
        self.rule = rule
        self.start_epoch = start_epoch
        window = rule.plateau_steps
        self._best = math.inf
        # the best loss so far after each of the last window + 1 steps (the oldest is the window's start)
        self._bests: deque[float] = deque(maxlen=window + 1 if window is not None else 1)
        self.reason: str | None = None

    def observe(self, step: int, epoch: int, loss: float) -> str | None:
        """After step ``step`` (its training loss ``loss``; ``epoch`` whole passes done now): the reason to stop,
        or None. Once it has said stop, it keeps saying the same."""
        if self.reason is not None:
            return self.reason
        rule = self.rule
        if math.isfinite(loss):
            self._best = min(self._best, loss)
        self._bests.append(self._best)
        if rule.target_loss is not None and loss <= rule.target_loss:
            shown = _at_most(loss, rule.target_loss)
            self.reason = f"stopped: loss {shown} reached the target {rule.target_loss:g} at step {step}"
        elif rule.epochs is not None and epoch - self.start_epoch >= rule.epochs:
            done = rule.epochs
            self.reason = f"stopped: {done} epoch{'s' if done != 1 else ''} done at step {step}"
        elif rule.plateau_steps is not None and len(self._bests) == self._bests.maxlen and self._stalled():
            self.reason = (
                f"stopped: plateau, the best loss ({self._best:.3g}) fell by less than "
                f"{rule.plateau_fraction * 100:g} % over the last {rule.plateau_steps} steps, at step {step}"
            )
        return self.reason

    def _stalled(self) -> bool:
        before, now = self._bests[0], self._bests[-1]
        if not math.isfinite(before):
            return False  # (no finite loss at the window's start: nothing to compare with yet)
        return before - now <= self.rule.plateau_fraction * abs(before)


def _at_most(value: float, bound: float) -> str:
    """``value`` (at most ``bound``) in 3 significant digits, or as many more as it takes to read below ``bound`` unless
    it equals it (0.0999851 under 0.1 reads 0.09999, not 0.1)."""
    for digits in range(3, 17):
        text = f"{value:.{digits}g}"
        if float(text) < bound or float(text) == value:
            return text
    return repr(value)
