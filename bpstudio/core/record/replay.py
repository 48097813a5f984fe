"""A kept step's values, recomputed: the timeline keeps run states, not traces.

The batch order is a function of the run state (:mod:`bpstudio.core.batches`), so step k's trace comes back
exactly by continuing the run from any kept state before it: from the state after step k − 1 that is one step;
from the nearest state kept while training (about ten a second) it is the steps trained in between, at most
:data:`MAX_REPLAY_STEPS`, and fewer for a big network (:func:`replay_limit`: about :data:`REPLAY_BUDGET`
parameter updates in all, a second or two).
"""

from __future__ import annotations

import math

from bpstudio.core.errors import SessionError
from bpstudio.core.record.timeline import Timeline
from bpstudio.core.run_state import RunState
from bpstudio.core.session import Session
from bpstudio.core.spec import NetworkSpec
from bpstudio.core.trace import StepTrace

MAX_REPLAY_STEPS = 5000  # steps run again to show a kept step's values (a fast run keeps a state every ~1000)
REPLAY_BUDGET = 10**8  # steps × parameters run again at most (100 steps of a 2-1000-1000-1 net, ~2 s)


def replay_limit(spec: NetworkSpec) -> int:
    """How many steps may be run again to recompute a step of ``spec``'s network."""
    params = sum(math.prod(shape) for shape in spec.param_shapes().values())
    return max(1, min(MAX_REPLAY_STEPS, REPLAY_BUDGET // max(1, params)))


def replay_start(
    timeline: Timeline, step: int, branch: int | None = None, limit: int = MAX_REPLAY_STEPS
) -> RunState | None:
    """The kept state of ``branch`` (default: the current one) to recompute step ``step`` from: the latest one
    before it, if it is at most ``limit`` steps back (None otherwise, or for step 0, which has no trace)."""
    earlier = [s for s in timeline.steps(branch) if s < step]
    if step < 1 or not earlier or step - earlier[-1] > limit:
        return None
    return timeline.state(earlier[-1], branch)


def replay(session: Session, start: RunState, step: int) -> StepTrace:
    """Continue ``session`` from ``start`` (a state of its run before step ``step``) through step ``step`` and
    return that step's trace. The session is left after step ``step``."""
    if not 0 <= start.step < step:
        raise SessionError(f"cannot recompute step {step} from the state after step {start.step}")
    session.restore(start)
    while session.step_count < step:
        session.step()
    assert session.trace is not None and session.trace.step == step
    return session.trace
