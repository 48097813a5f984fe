"""Session files: a network with its current weights, plus how it was being trained.

A session file is JSON with ``"format": "bpstudio-session"``. It holds the network exactly as a
network file does (weights written in, the data settings under its ``"data"`` key), the training
settings (backend, dtype, batch size, the conditions Play stops at), the step and epoch counts, the optimizer's
state (momentum and Adam buffers) and the plot history, so reopening a saved session continues where it left off.
:func:`load` also opens a plain network file, as a session at step 0.

Version 2 adds the stop conditions (``training.stop``); a session without any is still written as version 1, which
older bpstudio releases read (they refuse fields they do not know).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from bpstudio.core.backends import BACKENDS, DEVICES, DTYPES
from bpstudio.core.checks import is_count
from bpstudio.core.data import Dataset
from bpstudio.core.errors import BackendError, BpstudioError, SessionError
from bpstudio.core.io import json_text, spec_io
from bpstudio.core.io.fileio import write_atomic
from bpstudio.core.limits import MAX_COUNT, brief, quoted
from bpstudio.core.optim import COUNTERS, fresh_counters
from bpstudio.core.record.history import TrainingHistory
from bpstudio.core.run_state import RunState
from bpstudio.core.session import Session
from bpstudio.core.spec import NetworkSpec, number_array
from bpstudio.core.stopping import PLATEAU_FRACTION, StopRule

FORMAT = "bpstudio-session"
VERSION = 2  # the newest version read and written (a session without stop conditions is written as version 1)
VERSIONS = (1, 2)
TRAINING_FIELDS = {"backend", "device", "dtype", "batch_size", "step", "epoch", "position", "stop"}
STOP_FIELDS = ("target_loss", "epochs", "plateau_steps", "plateau_fraction")
NO_STOPS = StopRule()


@dataclass
class SavedSession:
    """Everything a session file holds: the run's state (``state.spec`` carries the weights), the engine
    and batch size it was trained with, and the plot history."""

    state: RunState
    backend: str = "numpy"
    device: str = "cpu"
    dtype: str = "float64"
    batch_size: int | None = None
    history: dict[str, Any] | None = None
    stop_rule: StopRule = NO_STOPS  # when Play stops by itself (none set: it runs until paused)

    @property
    def spec(self) -> NetworkSpec:
        return self.state.spec


def _stop_entry(rule: StopRule) -> dict[str, Any]:
    """``{"stop": {...}}`` with the conditions set (the plateau's fraction with its window), or nothing."""
    if not rule.active:
        return {}
    stop: dict[str, Any] = {}
    if rule.target_loss is not None:
        stop["target_loss"] = float(rule.target_loss)
    if rule.epochs is not None:
        stop["epochs"] = int(rule.epochs)
    if rule.plateau_steps is not None:
        stop["plateau_steps"] = int(rule.plateau_steps)
        stop["plateau_fraction"] = float(rule.plateau_fraction)
    return {"stop": stop}


def to_dict(saved: SavedSession) -> dict[str, Any]:
    run, state = saved.state, saved.state.optimizer_state
    stop = _stop_entry(saved.stop_rule)
    return {
        "format": FORMAT,
        "version": VERSION if stop else 1,
        "network": spec_io.to_dict(run.spec),
        "training": {
            "backend": saved.backend,
            "device": saved.device,
            "dtype": saved.dtype,
            "batch_size": saved.batch_size,
            "step": run.step,
            "epoch": run.epoch,
            "position": run.position,
            **stop,
        },
        "optimizer_state": {
            "steps": int(state.get("steps", 0)),
            "buffers": {
                key: {name: np.asarray(a, dtype=np.float64).tolist() for name, a in slot.items()}
                for key, slot in state.get("buffers", {}).items()
            },
            **_counters_entry(state),
        },
        "history": saved.history,
    }


def dumps(saved: SavedSession) -> str:
    return json.dumps(to_dict(saved), indent=1, allow_nan=False) + "\n"


def save(saved: SavedSession, path: str | os.PathLike[str]) -> None:
    """Write atomically: a crash mid-save leaves the previous file as it was."""
    write_atomic(path, dumps(saved))


def _fail(problem: str) -> SessionError:
    return SessionError(f"session file: {problem}")


def _count(raw: Mapping[str, Any], key: str) -> int:
    value = raw.get(key, 0)
    if not is_count(value) or value > MAX_COUNT:
        raise _fail(f"'training.{key}' must be a non-negative integer (at most 2**62), got {brief(value)}")
    return value


def _training(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise _fail(f"'training' must be an object, got {brief(raw)}")
    unknown = set(raw) - TRAINING_FIELDS
    if unknown:
        raise _fail(f"unknown field(s) in 'training': {', '.join(sorted(unknown))}")
    out: dict[str, Any] = {key: _count(raw, key) for key in ("step", "epoch", "position")}
    for key, allowed, default in (
        ("backend", BACKENDS, "numpy"),
        ("device", DEVICES, "cpu"),
        ("dtype", DTYPES, "float64"),
    ):
        value = raw.get(key, default)
        if not isinstance(value, str) or value not in allowed:
            raise _fail(f"'training.{key}' must be one of {', '.join(allowed)}, got {brief(value)}")
        out[key] = value
    batch = raw.get("batch_size")
    if batch is not None and not is_count(batch, 1):
        raise _fail(f"'training.batch_size' must be a positive integer or null, got {brief(batch)}")
    out["batch_size"] = batch
    out["stop_rule"] = _stop_rule(raw.get("stop", {}))
    return out


def _stop_rule(raw: Any) -> StopRule:
    if not isinstance(raw, Mapping):
        raise _fail(f"'training.stop' must be an object, got {brief(raw)}")
    unknown = sorted(map(str, set(raw) - set(STOP_FIELDS)))
    if unknown:
        raise _fail(f"unknown field {quoted(unknown[0])} in 'training.stop' (known: {', '.join(STOP_FIELDS)})")
    try:
        return StopRule(
            raw.get("target_loss"),
            raw.get("epochs"),
            raw.get("plateau_steps"),
            raw.get("plateau_fraction", PLATEAU_FRACTION),
        )
    except BpstudioError as exc:
        raise _fail(f"'training.stop': {exc}") from None


def _counters_entry(state: Mapping[str, Any]) -> dict[str, Any]:
    """``{"counters": ...}`` when any is not 0 (a file without them reads as all 0)."""
    counters = {k: int(v) for k, v in state.get("counters", {}).items() if v}
    return {"counters": counters} if counters else {}


def _read_counters(raw: Any) -> dict[str, int]:
    if not isinstance(raw, Mapping):
        raise _fail(f"'optimizer_state.counters' must be an object, got {brief(raw)}")
    unknown = sorted(map(str, set(raw) - set(COUNTERS)))
    if unknown:
        raise _fail(f"unknown optimizer counter {quoted(unknown[0])} (known: {', '.join(COUNTERS)})")
    for key, value in raw.items():
        if not is_count(value) or value > MAX_COUNT:
            raise _fail(f"'optimizer_state.counters.{key}' must be a whole number from 0 to 2**62, got {brief(value)}")
    return {**fresh_counters(), **raw}


def _optimizer_state(raw: Any, spec: NetworkSpec) -> dict[str, Any]:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("buffers", {}), Mapping):
        raise _fail("'optimizer_state' must be an object with 'steps' and 'buffers'")
    steps = raw.get("steps", 0)
    if not is_count(steps) or steps > MAX_COUNT:
        raise _fail(f"'optimizer_state.steps' must be a non-negative integer (at most 2**62), got {brief(steps)}")
    shapes = spec.param_shapes()
    buffers: dict[str, dict[str, np.ndarray]] = {}
    for key, slot in raw.get("buffers", {}).items():
        if key not in shapes or not isinstance(slot, Mapping):
            raise _fail(f"optimizer state for {quoted(key)}, which is not a parameter of this network")
        for name, value in slot.items():
            try:
                array = number_array(value, key, name, len(shapes[key]))
            except BpstudioError as exc:
                raise _fail(f"optimizer state {exc}") from None
            if array.shape != shapes[key]:
                raise _fail(f"optimizer state '{key}.{name}' has shape {array.shape}, expected {shapes[key]}")
            buffers.setdefault(key, {})[name] = array
    counters = {"counters": _read_counters(raw["counters"])} if "counters" in raw else {}
    return {"steps": steps, "buffers": buffers, **counters}


def from_dict(raw: Any) -> SavedSession:
    """A session from its JSON form, or from a network file's (then at step 0 with default settings)."""
    if isinstance(raw, Mapping) and raw.get("format") == spec_io.FORMAT:
        spec = spec_io.from_dict(raw)
        return SavedSession(RunState.start_of(spec), batch_size=spec.batch_size)  # (the file's own batch size)
    if not isinstance(raw, Mapping) or raw.get("format") != FORMAT:
        found = raw.get("format") if isinstance(raw, Mapping) else type(raw).__name__
        raise _fail(
            f"not a bpstudio session or network file (format {brief(found)}; expected '{FORMAT}' or '{spec_io.FORMAT}')"
        )
    version = raw.get("version")
    if isinstance(version, bool) or version not in VERSIONS:
        raise _fail(f"version {brief(version)} is not supported (this bpstudio reads versions 1 and {VERSION})")
    unknown = set(raw) - {"format", "version", "network", "training", "optimizer_state", "history"}
    if unknown:
        raise _fail(f"unknown field(s): {', '.join(sorted(unknown))}")
    if "network" not in raw:
        raise _fail("the 'network' entry is missing")
    spec = spec_io.from_dict(raw["network"])
    training = _training(raw.get("training", {}))
    state = _optimizer_state(raw.get("optimizer_state", {}), spec)
    history = raw.get("history")
    if history is not None and not isinstance(history, Mapping):
        raise _fail(f"'history' must be an object, got {brief(history)}")
    run = RunState(spec, training.pop("step"), training.pop("epoch"), training.pop("position"), state)
    return SavedSession(run, history=None if history is None else dict(history), **training)


def loads(text: str) -> SavedSession:
    return from_dict(json_text.parse(text, SessionError))  # (JSON that does not parse is no session file either)


def load(path: str | os.PathLike[str]) -> SavedSession:
    """Read a session (or network) file; errors name the file."""
    text = json_text.read_text(path, SessionError, "session file")
    try:
        return loads(text)
    except BpstudioError as exc:
        raise type(exc)(f"{os.fspath(path)}: {exc}") from None


def capture(session: Session, history: TrainingHistory | None = None, stop_rule: StopRule = NO_STOPS) -> SavedSession:
    """Everything needed to continue ``session`` later (trained under ``stop_rule``): what :func:`save` writes."""
    b = session.backend
    history_dict = None if history is None else history.to_dict()
    return SavedSession(session.state(), b.name, b.device, b.dtype, session.batch_size, history_dict, stop_rule)


def restore(saved: SavedSession, data: Dataset) -> tuple[Session, TrainingHistory, list[str]]:
    """A session that continues ``saved`` on ``data`` (the same batches next), its plot history, and notes
    on what could not come back as saved: a backend missing here (NumPy is used), an unreadable history
    (it starts empty). Anything else that does not fit raises, naming it."""
    spec, notes = saved.spec, []
    engine = {"backend": saved.backend, "device": saved.device, "dtype": saved.dtype}
    try:
        session = Session.from_state(saved.state, data, **engine, batch_size=saved.batch_size)
    except BackendError as exc:
        if (saved.backend, saved.device, saved.dtype) == ("numpy", "cpu", "float64"):
            raise
        notes.append(f"{exc}; using NumPy instead")
        session = Session.from_state(saved.state, data, batch_size=saved.batch_size)
    history = TrainingHistory.for_network(spec)
    if saved.history is not None:
        try:
            history = TrainingHistory.from_dict(saved.history)
        except BpstudioError as exc:
            notes.append(f"the plot history could not be read ({exc}); it starts empty")
    return session, history, notes
