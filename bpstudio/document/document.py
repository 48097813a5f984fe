"""The open document: one stepping session, its data, plot history, undo stack and timeline (``rewind``).
Qt-free: it raises plain events (:mod:`bpstudio.document.events`), which the GUI turns into Qt signals.

Every view reads from here and every user edit comes back here as an undoable command. The document does
no math: edits are core functions (``bpstudio.core.edit.topology``), stepping and training the core ``Session``'s.
While a worker thread trains, ``lock`` guards the session; the worker holds it a short chunk at a time."""

from __future__ import annotations

import dataclasses
import json
import math
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bpstudio.core.datasets import resolve_split
from bpstudio.core.edit.carry import rename_keys, renamed_layers, same_structure
from bpstudio.core.edit.layer_fields import update_layer
from bpstudio.core.errors import BpstudioError, DataError, SessionError
from bpstudio.core.init import initial_params
from bpstudio.core.io import presets, session_io
from bpstudio.core.record.history import TrainingHistory, plotted_layers
from bpstudio.core.run_state import RunState, fresh_optimizer_state
from bpstudio.core.session import Session
from bpstudio.core.spec import NetworkSpec, OptimizerSpec
from bpstudio.core.stopping import StopRule
from bpstudio.core.tools.evaluate import held_out_record, train_accuracy
from bpstudio.core.trace import StepTrace
from bpstudio.document.command_stack import Command, CommandStack
from bpstudio.document.data_points import DataPoints
from bpstudio.document.events import Event
from bpstudio.document.rewind import Rewinder
from bpstudio.document.run_commands import Mark, SettingCommand, SnapshotCommand, TrainCommand

MODEL_SUFFIXES = (".onnx",)  # files of other frameworks that File ▸ Open imports

DEFAULT_PRESET = "xor"
MARK_TRACE_LIMIT = 65536  # undo entries keep the trace the canvas showed for networks up to this many parameters


class Document:
    """Raises plain events (``doc.network_changed.connect(listener)``); all of them on the thread that changed
    the document, which is the GUI thread in the app (the training worker records into the history and the
    timeline, which are thread-safe, and raises none)."""

    def __init__(self) -> None:
        self.network_changed = Event("network_changed")  # topology, loss, optimizer or layout changed
        self.params_changed = Event("params_changed")  # weights changed
        self.step_changed = Event("step_changed")  # the current step's trace or next phase changed
        self.data_changed = Event("data_changed")
        self.settings_changed = Event("settings_changed")  # batch size, backend or stop conditions
        self.file_changed = Event("file_changed")  # path or unsaved-changes flag
        self.training_changed = Event("training_changed")  # (running: bool)
        self.refused = Event("refused")  # (message): an edit or request not carried out, and why
        self.loaded = Event("loaded")  # another file or example was opened
        self.lock = threading.RLock()
        self.undo_stack = CommandStack()
        self.undo_stack.clean_changed.connect(self._on_clean_changed)
        self.history = TrainingHistory()
        self.path: str | None = None
        self.base_dir: str | None = None
        self.trace: StepTrace | None = None
        self.training = False
        self._data_key: str | None = None
        self.train_data: Any = None
        self.test_data: Any = None
        self._params_cache: dict[str, np.ndarray] | None = None
        self._train_start: RunState | None = None
        self._train_start_mark: Mark | None = None
        self._frozen: tuple[TrainingHistory, int, TrainingHistory] | None = None  # (history, version, its snapshot)
        self._settings_dirty = False
        self.stop_rule = StopRule()  # when Play stops by itself (saved with the session)
        self.session: Session = None  # type: ignore[assignment]  # set by load_preset below
        self.rewind = Rewinder(self)  # the timeline of states, to go back to (document/rewind.py)
        self.points = DataPoints(self)  # points added and removed by hand (document/data_points.py)
        self.load_preset(DEFAULT_PRESET)

    # --- what views read --------------------------------------------------------------------------

    @property
    def spec(self) -> NetworkSpec:
        return self.session.spec

    @property
    def backend_choice(self) -> tuple[str, str, str]:
        b = self.session.backend
        return b.name, b.device, b.dtype

    def _on_clean_changed(self, _clean: bool) -> None:
        self.file_changed.emit()

    def params(self) -> dict[str, np.ndarray]:
        """The current weights as NumPy arrays (cached until they change; do not write into them)."""
        if self._params_cache is None or self.training:
            self._params_cache = self.session.params_numpy()
        return self._params_cache

    def running(self) -> dict[str, np.ndarray]:
        """Every batchnorm layer's running statistics now (``"bn1.running_mean"``…), as NumPy copies: state the
        steps move and evaluation reads (the canvas shows them; undo, the timeline and files carry them). Safe
        while the worker trains: a step replaces the session's mapping whole."""
        return self.session.running_numpy()

    def grads(self) -> dict[str, np.ndarray] | None:
        return None if self.trace is None else {k: np.asarray(v) for k, v in self.trace.grads.items()}

    def current_spec(self) -> NetworkSpec:
        """The network with the current weights written in (what an edit starts from)."""
        return self.spec.with_params(self.params())

    def snapshot(self) -> RunState:
        """The run's state now, read from the session itself (never from the view cache)."""
        return self.session.state()

    def mark(self) -> Mark:
        """What goes with the state now in an undo entry: the plot history (a snapshot, shared by entries
        while the history does not change), the timeline branch and, for a small network, the trace shown."""
        h = self.history
        if self._frozen is None or self._frozen[0] is not h or self._frozen[1] != h.version:
            snap = h.snapshot()
            self._frozen = (h, snap.version, snap)
        small = sum(math.prod(shape) for shape in self.spec.param_shapes().values()) <= MARK_TRACE_LIMIT
        trace = self.trace if small else None
        return Mark(self._frozen[2], self.rewind.timeline.current, trace)

    @property
    def dirty(self) -> bool:
        """Unsaved changes: an edit or training since the last save, or a changed batch size, backend or stop
        conditions."""
        return not self.undo_stack.is_clean() or self._settings_dirty

    def forget_changes(self) -> None:
        """Treat the current state as saved (scripts and benchmarks that switch examples without asking)."""
        self.undo_stack.set_clean()
        self._settings_dirty = False
        self.file_changed.emit()

    def close(self) -> None:
        """Done with the document (its window closed): the timeline's states go, its spill files with them."""
        self.rewind.timeline.clear()
        self.rewind.timeline.close()

    # --- loading and saving -----------------------------------------------------------------------

    def load_preset(self, name: str) -> None:
        spec = presets.load(name)
        saved = session_io.SavedSession(RunState.start_of(spec), batch_size=spec.batch_size)
        self._load(saved, None, str(presets.path(name).parent))

    def new_network(self) -> None:
        """Start from File ▸ New's network: an input and an output layer, on the XOR data."""
        spec = presets.new_network()
        saved = session_io.SavedSession(RunState.start_of(spec), batch_size=spec.batch_size)
        self._load(saved, None, str(presets.path(DEFAULT_PRESET).parent))

    def open_file(
        self, path: str, engine_ready: Callable[[str, str], bool] | None = None
    ) -> tuple[str, str, str] | None:
        """Open a session or network file, or import an ONNX model (:meth:`import_model`); on failure raise and
        keep the open document as it was.

        A file saved on an engine that ``engine_ready(backend, device)`` says is not loaded yet (PyTorch takes
        seconds to import) opens on NumPy; the engine it was saved with is returned, for the caller to switch
        to once it is loaded (with :meth:`set_backend` ``as_saved``). None: it opened on its own engine."""
        if Path(path).suffix.lower() in MODEL_SUFFIXES:
            self.import_model(path)
            return None
        saved = session_io.load(path)
        deferred = None
        if engine_ready is not None and not engine_ready(saved.backend, saved.device):
            deferred = (saved.backend, saved.device, saved.dtype)
            saved = dataclasses.replace(saved, backend="numpy", device="cpu")
        try:
            self._load(saved, str(Path(path).resolve()), str(Path(path).resolve().parent))
        except DataError as exc:  # the file's own data entry: name the file
            raise DataError(f"{path}: field 'data': {exc}") from None
        return deferred

    def _load(self, saved: session_io.SavedSession, path: str | None, base_dir: str) -> None:
        spec = saved.spec
        train, test, key = self._resolve_data(spec, base_dir)
        session, history, notes = session_io.restore(saved, train)
        # everything read without error: commit
        self.session, self.train_data, self.test_data, self._data_key = session, train, test, key
        self.origin = spec.with_params(initial_params(spec))
        self.history = history
        self.path, self.base_dir = path, base_dir
        self.stop_rule = saved.stop_rule
        self.trace = None
        self._params_cache = None
        self.undo_stack.clear()
        self.undo_stack.set_clean()
        self.rewind.restart()
        self._settings_dirty = False
        self._emit_all()
        self.loaded.emit()
        for note in notes:
            self.refused.emit(note)

    def import_model(self, path: str) -> None:
        """The network an ONNX model computes, with its weights, as a new untitled document (Save asks where to
        write its network file; the model file is never written to). On failure raise (one line naming what the
        network cannot represent) and keep the open document as it was."""
        from bpstudio.core.io import onnx_import

        spec = onnx_import.load(path)
        saved = session_io.SavedSession(RunState.start_of(spec), batch_size=spec.batch_size)
        self._load(saved, None, str(Path(path).resolve().parent))

    def save(self, path: str) -> None:
        """Write the session atomically to ``path`` and make it the document's file."""
        with self.lock:
            saved = session_io.capture(self.session, self.history, self.stop_rule)
        session_io.save(saved, path)
        self.path, self.base_dir = str(Path(path).resolve()), str(Path(path).resolve().parent)
        self.undo_stack.set_clean()
        self._settings_dirty = False
        self.file_changed.emit()

    def _resolve_data(self, spec: NetworkSpec, base_dir: str | None) -> tuple[Any, Any, str]:
        key = json.dumps([spec.data, base_dir], sort_keys=True)
        if key == self._data_key:
            return self.train_data, self.test_data, key
        if spec.data is None:
            raise BpstudioError("the network names no data; choose a data set in the data panel")
        train, test = resolve_split(spec.data, base_dir)
        return train, test, key

    def _emit_all(self) -> None:
        self.network_changed.emit()
        self.params_changed.emit()
        self.data_changed.emit()
        self.settings_changed.emit()
        self.step_changed.emit()
        self.file_changed.emit()

    # --- undoable edits -------------------------------------------------------------------------------

    def edit(self, text: str, make: Callable[[NetworkSpec], NetworkSpec]) -> bool:
        """Apply ``make`` (a core edit) to the current network as one undoable step. A refused edit
        (any BpstudioError) changes nothing and its reason goes out on ``refused``."""
        if self.training:
            self.refused.emit(
                "pause training to change the network (lr, optimizer, loss and batch size can change while it runs)"
            )
            return False
        before, before_mark = self.snapshot(), self.mark()
        try:
            after = dataclasses.replace(before, spec=make(before.spec))
            self.install(after)
        except BpstudioError as exc:
            self.refused.emit(str(exc))
            return False
        self.rewind.record()
        self.undo_stack.push(SnapshotCommand(self, text, before, after, before_mark, self.mark()))
        return True

    def use_data(self, source: dict[str, Any], label: str) -> bool:
        """Train on another data set (one undoable edit). The input layer takes the data's number of features,
        so a network built from scratch follows the data it is given."""

        def make(spec: NetworkSpec) -> NetworkSpec:
            new = dataclasses.replace(spec, data=dict(source))
            features = resolve_split(new.data, self.base_dir)[0].X.shape[1]
            if new.widths[new.input_id] != features:
                new = update_layer(new, new.input_id, units=features)
            return new

        return self.edit(f"Use data: {label}", make)

    def set_param_entry(self, key: str, index: tuple[int, ...], value: float) -> bool:
        layer_id, name = key.rsplit(".", 1)
        values = np.array(self.params()[key], dtype=np.float64)
        old = values[index]
        values[index] = value
        at = ", ".join(map(str, index))
        return self.edit(f"Set {key}[{at}] = {value:g} (was {old:g})", lambda s: s.with_params({key: values}))

    def install(self, state: RunState, trained: bool = False, mark: Mark | None = None) -> None:
        """Make ``state`` the current one; raises (changing nothing) when it cannot be used. Unless the
        state comes from training, its weights become what Reset goes back to. ``mark``: the plot history,
        timeline branch and trace that go with it (an undo entry's); without one the plots drop the steps
        after the state's."""
        spec = state.spec
        self.rewind.leaving()  # (the branch's plots are kept if the run leaves its last step)
        with self.lock:
            old = self.session
            train, test, key = self._resolve_data(spec, self.base_dir)
            renames = renamed_layers(old.spec, spec)
            if renames:  # a rename (or its undo): momentum and the plot curves go on under the new names
                buffers = rename_keys(state.optimizer_state.get("buffers", {}), renames)
                state = dataclasses.replace(state, optimizer_state={**state.optimizer_state, "buffers": buffers})
                self.history.rename_layers(renames)
            if same_structure(spec, old.spec):
                if train is not self.train_data:
                    old.set_data(train)
                old.set_optimizer(spec.optimizer)
                old.spec = spec
                session = old  # (restoring keeps a step in progress where nothing it used changed)
            else:
                b = old.backend
                session = Session(
                    spec, train, backend=b.name, device=b.device, dtype=b.dtype, batch_size=old.batch_size
                )
            try:
                session.restore(state)
            except BpstudioError:  # the parameters changed shape: the optimizer starts afresh
                session.restore(dataclasses.replace(state, optimizer_state=fresh_optimizer_state()))
            reshaped = session is not old
            self.session, self.train_data, self.test_data, self._data_key = session, train, test, key
        if not trained:
            self.origin = spec
        if mark is not None:
            self._restore_history(mark.history)
        else:
            self.history.truncate(state.step)  # steps undone leave the plots too
            if reshaped and self.history.layer_ids != tuple(plotted_layers(spec)):
                self.history.clear(plotted_layers(spec))
        self.rewind.timeline.set_position(state.step, None if mark is None else mark.branch)
        self.trace = None if mark is None else mark.trace
        self._params_cache = None
        self._emit_all()

    def _restore_history(self, kept: TrainingHistory) -> None:
        """Plot ``kept`` (a snapshot: it is copied, so recording on does not change it)."""
        restored = kept.snapshot()
        restored.version = max(self.history.version, kept.version) + 1  # (plots redraw when it moves)
        self.history = restored
        self._frozen = (restored, restored.version, kept)

    def set_optimizer(self, optimizer: OptimizerSpec) -> None:
        before = self.spec.optimizer
        if optimizer != before:
            self.push_live(SettingCommand(self, "optimizer", before, optimizer))

    def set_loss(self, loss: str) -> None:
        if loss == self.spec.loss:
            return
        try:
            with self.lock:
                dataclasses.replace(self.spec, loss=loss)  # refuse before pushing a command
                self.train_data.targets_for(loss, self.spec.widths[self.spec.output])
        except BpstudioError as exc:
            self.refused.emit(str(exc))
            self.network_changed.emit()  # views show the loss that stayed
            return
        self.push_live(SettingCommand(self, "loss", self.spec.loss, loss))

    def apply_setting(self, kind: str, value: Any) -> None:
        """Carried out by SettingCommand; safe while the worker trains."""
        with self.lock:
            if kind == "optimizer":
                self.session.set_optimizer(value)
            else:
                self.session.set_loss(value)
            self.trace = None
        self.network_changed.emit()
        self.step_changed.emit()

    def apply_data(self, source: dict[str, Any]) -> None:
        """Train on the data ``source`` names from the next step on; weights, optimizer state and the step
        count stay. Carried out by DataCommand; safe while the worker trains (it reads the data at every
        chunk). Raises, changing nothing, when the data does not fit the network."""
        with self.lock:
            spec = dataclasses.replace(self.spec, data=source)
            train, test, key = self._resolve_data(spec, self.base_dir)
            self.session.set_data(train)  # (checks first: data that does not fit changes nothing)
            self.session.spec = spec
            self.train_data, self.test_data, self._data_key = train, test, key
            self.trace = None
        self.network_changed.emit()
        self.data_changed.emit()
        self.step_changed.emit()

    # --- settings that are not part of the network (not undoable) ----------------------------------

    def set_batch_size(self, batch_size: int | None) -> None:
        try:
            with self.lock:
                changed = batch_size != self.session.batch_size
                self.session.set_batch_size(batch_size)
            self._settings_dirty |= changed
        except BpstudioError as exc:
            self.refused.emit(str(exc))
        self.trace = None
        self.file_changed.emit()
        self.settings_changed.emit()
        self.step_changed.emit()

    def set_stop_rule(self, rule: StopRule) -> None:
        """The conditions Play stops at (saved with the session; an unsaved change until then)."""
        if rule == self.stop_rule:
            return
        self.stop_rule = rule
        self._settings_dirty = True
        self.file_changed.emit()
        self.settings_changed.emit()

    def set_backend(self, name: str, device: str, dtype: str, as_saved: bool = False) -> None:
        """Switch the engine; weights and optimizer state carry over. Refusals keep the current one.
        ``as_saved``: the engine the file was saved with, switched to once it loaded (no unsaved change)."""
        try:
            with self.lock:
                changed = (name, device, dtype) != self.backend_choice
                self.session.set_backend(name, device, dtype)
            self._settings_dirty |= changed and not as_saved
        except BpstudioError as exc:
            self.refused.emit(str(exc))
        self.trace = None
        self._params_cache = None
        self.file_changed.emit()
        self.settings_changed.emit()
        self.step_changed.emit()

    # --- stepping (on the GUI thread; disabled while the worker trains) -----------------------------

    def advance(self, kind: str | None = None) -> None:
        """Run the next phase. ``kind`` names the one expected (forward, backward or update); the loss
        counts as the forward pass's last phase."""

        def one(session: Session) -> None:
            allowed = ("forward", "loss") if kind == "forward" else (kind,)
            if kind is not None and session.next_phase.kind not in allowed:
                raise SessionError(f"cannot run a {kind} phase now: the next phase is '{session.next_phase}'")
            session.advance()

        self._run(one)

    def full_step(self) -> None:
        self._run(lambda session: session.step())

    def epoch(self) -> None:
        def to_epoch_end(session: Session) -> None:
            start = session.epoch_count
            session.step()
            self.record_step(session.trace)
            while session.epoch_count == start:
                session.step()
                self.record_step(session.trace)

        self._run(to_epoch_end, recorded=True)

    def _run(self, action: Callable[[Session], Any], recorded: bool = False) -> None:
        if self.training:
            return
        start_step = self.session.step_count
        before, before_mark = self.snapshot(), self.mark()
        refusal = None
        try:
            with self.lock:
                action(self.session)
        except BpstudioError as exc:  # (the steps done before it are kept; the canvas shows how far it got)
            refusal = str(exc)
        s = self.session
        self.trace = None if s.trace is None else s.trace.to_numpy()
        if s.step_count != start_step:
            assert s.trace is not None
            if not recorded:
                self.record_step(s.trace)
            after = self.snapshot()
            self.rewind.record(after)
            steps = s.step_count - start_step
            self.undo_stack.push(TrainCommand(self, before, after, steps, before_mark, self.mark()))
            self._params_cache = None
            self.params_changed.emit()
        self.step_changed.emit()
        if refusal is not None:
            self.refused.emit(refusal)

    def record_step(self, trace: StepTrace | None) -> None:
        """Add a finished step to the plot history (the training worker records its own steps)."""
        assert trace is not None and trace.loss is not None
        norms = trace.grad_norms()
        self.history.record(
            trace.step,
            float(trace.loss),
            {k: norms.get(k, math.nan) for k in self.history.layer_ids},
            train_accuracy(self.session, self.train_data),
        )
        tested = held_out_record(self.session, self.test_data)
        if tested is not None:
            self.history.record_test(*tested)

    def reset_training(self) -> None:
        """Back to the weights of the last edit (as opened: the file's values, else drawn from its
        seed), step 0, a fresh optimizer and empty plots."""
        if self.training:
            return
        before, before_mark = self.snapshot(), self.mark()
        after = RunState.start_of(dataclasses.replace(self.origin, data=self.spec.data))  # (points added stay)
        try:
            self.install(after)
        except BpstudioError as exc:
            self.refused.emit(str(exc))
            return
        self.history.clear(plotted_layers(self.spec))
        self.undo_stack.push(SnapshotCommand(self, "Reset training", before, after, before_mark, self.mark()))

    # --- the worker reports here ------------------------------------------------------------------------

    def _end_training_entry(self, now: RunState | None = None) -> None:
        """The steps trained since the run (or its last setting change) began become one undo entry
        (``now``: the state now, when the caller has captured it already)."""
        before = self._train_start
        if before is not None and self.session.step_count != before.step:
            after = now if now is not None else self.snapshot()
            steps = self.session.step_count - before.step
            self.undo_stack.push(TrainCommand(self, before, after, steps, self._train_start_mark, self.mark()))

    def push_live(self, command: Command) -> None:
        """Carry out and record an edit that may go in while training (a setting, the data): it goes into the
        undo history in the order it happened, after the steps trained so far and before those trained
        with it. Raises (recording nothing) when the command cannot be carried out."""
        with self.lock:  # (the worker waits between chunks meanwhile)
            if self.training:
                self._end_training_entry()
                self._train_start, self._train_start_mark = self.snapshot(), self.mark()  # (a failure leaves no gap)
            command.redo()  # (carried out, then recorded)
            self.undo_stack.push(command)
            if self.training:
                self._train_start, self._train_start_mark = self.snapshot(), self.mark()  # the next entry's start

    def set_training(self, running: bool) -> None:
        if running and not self.training:
            self._train_start, self._train_start_mark = self.snapshot(), self.mark()
        self.training = running
        if not running and self._train_start is not None:
            now = self.snapshot()  # (captured once: a big network's state is tens of megabytes)
            self.rewind.record(now)
            self._end_training_entry(now)
            self._train_start = self._train_start_mark = None
            self._params_cache = None
            self.params_changed.emit()
            self.step_changed.emit()
        self.training_changed.emit(running)
