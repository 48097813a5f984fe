"""A stepping session: train a network one phase at a time and record what each phase produced.

A step is a fixed sequence of phases: the forward pass layer by layer, the loss, the backward pass
layer by layer (reverse topological order), then the parameter update. A session can advance by one
phase, by a whole step (one batch) or by an epoch; :attr:`Session.trace` holds the current step's
record. The same session runs on any backend; switching backends keeps weights and optimizer state.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any, Literal, NamedTuple

import numpy as np

from bpstudio.core import dropout, normalization
from bpstudio.core.backends import Backend, get_backend
from bpstudio.core.backends.base import PlanStep, StepPlan
from bpstudio.core.batches import BatchOrder
from bpstudio.core.checks import is_count
from bpstudio.core.data import Dataset
from bpstudio.core.errors import DataError, DivergedError, SessionError
from bpstudio.core.init import DEFAULT_SEED, initial_params
from bpstudio.core.optim import Optimizer
from bpstudio.core.params import checked_params
from bpstudio.core.run_state import RunState
from bpstudio.core.spec import NetworkSpec, OptimizerSpec
from bpstudio.core.step_health import ADVICE, step_health
from bpstudio.core.trace import StepTrace

PhaseKind = Literal["forward", "loss", "backward", "update"]


class Phase(NamedTuple):
    kind: PhaseKind
    layer: str | None = None

    def __str__(self) -> str:
        return f"{self.kind} {self.layer}" if self.layer else self.kind


class Session:
    """Owns the parameters, the optimizer state, the batch order (:class:`BatchOrder`: a run resumed with
    :meth:`set_progress` gets the original's batches) and the current step's trace."""

    def __init__(
        self,
        spec: NetworkSpec,
        data: Dataset,
        *,
        backend: str = "numpy",
        device: str = "cpu",
        dtype: str = "float64",
        batch_size: int | None = None,
        shuffle_seed: int | None = None,
        params: dict[str, np.ndarray] | None = None,
    ):
        self.spec = spec
        self.data = data
        self._backend = get_backend(backend, device, dtype)
        seed = shuffle_seed if shuffle_seed is not None else (spec.seed or DEFAULT_SEED)
        self.batches = BatchOrder(seed, len(data), batch_size)
        self._compile()
        start = checked_params(spec.param_shapes(), initial_params(spec) if params is None else params, complete=True)
        self.params: dict[str, Any] = {k: self._backend.param(v) for k, v in start.items()}
        # batchnorm layers' running statistics, keyed "<id>.running_mean"/".running_var": state beside the
        # parameters that training moves (_update) and evaluation reads (_forward_values), never the optimizer
        self.running: dict[str, Any] = {k: self._backend.param(v) for k, v in spec.running_stats().items()}
        self.optimizer = self._new_optimizer(spec.optimizer)
        self.step_count = 0
        self._cursor = 0
        self._values: dict[str, Any] = {}
        self._grad_parts: dict[str, list[Any]] = {}
        self.trace: StepTrace | None = None
        self._load_data()

    # --- setup ----------------------------------------------------------------------------------

    def _compile(self) -> None:
        spec = self.spec
        self._input_id = spec.input_id
        self._data_targets = self.data.targets_for(spec.loss, spec.widths[spec.output])
        self.data.check_inputs(spec.widths[self._input_id])
        order = [i for i in spec.active_order() if i != self._input_id]
        self._plan = []
        for layer_id in order:
            layer = spec.layer(layer_id)
            needs = [i != self._input_id for i in layer.inputs]
            kernel = self._backend.kernel(layer, [spec.widths[i] for i in layer.inputs], needs)
            self._plan.append(PlanStep(layer_id, kernel, tuple(layer.inputs), tuple(needs)))
        self._loss_fn = self._backend.loss(spec.loss)
        self._param_index = [(f"{lid}.{name}", lid, name) for lid in order for name in spec.layer(lid).param_names]
        # a backend may run a whole step in one go (torch: one autograd call instead of one per layer)
        self._step_plan = StepPlan(tuple(self._plan), self._input_id, spec.output, spec.loss)
        self._frozen = spec.frozen_params()
        self._dropout = {lid: float(p) for lid in order if (p := spec.layer(lid).p) is not None}
        self._batchnorm = {
            lid: float(spec.layer(lid).momentum or 0.0) for lid in order if spec.layer(lid).type == "batchnorm"
        }
        self._l1_keys = frozenset(f"{lid}.weight" for lid in order if spec.layer(lid).type == "dense")
        self.phases: tuple[Phase, ...] = (
            *(Phase("forward", lid) for lid in order),
            Phase("loss"),
            *(Phase("backward", lid) for lid in reversed(order)),
            Phase("update"),
        )

    def _load_data(self) -> None:
        b = self._backend
        self._x_all = b.asarray(self.data.X)
        targets = self._data_targets
        self._t_all = b.labels(targets) if targets.ndim == 1 else b.asarray(targets)

    def _new_optimizer(self, spec: OptimizerSpec) -> Optimizer:
        b = self._backend
        return Optimizer(spec, b.sqrt, b.add_scaled, b.sign)

    # --- state ----------------------------------------------------------------------------------

    @property
    def backend(self) -> Backend:
        return self._backend

    @property
    def next_phase(self) -> Phase:
        return self.phases[self._cursor]

    @property
    def mid_step(self) -> bool:
        """True between the first forward phase and the update."""
        return self._cursor != 0

    @property
    def batch_size(self) -> int | None:
        return self.batches.batch_size

    @property
    def epoch_count(self) -> int:
        """Whole passes over the data done."""
        return self.batches.epoch

    @property
    def position(self) -> int:
        """Samples of the current pass over the data used by the steps so far."""
        return self.batches.position

    @property
    def steps_per_epoch(self) -> int:
        return self.batches.steps_per_epoch

    def params_numpy(self) -> dict[str, np.ndarray]:
        """A copy of every parameter as a float64 NumPy array."""
        to_np = self._backend.to_numpy
        return {k: np.array(to_np(v), dtype=np.float64) for k, v in self.params.items()}

    def running_numpy(self) -> dict[str, np.ndarray]:
        """A copy of every batchnorm layer's running statistics as float64 NumPy arrays."""
        to_np = self._backend.to_numpy
        return {k: np.array(to_np(v), dtype=np.float64) for k, v in self.running.items()}

    def to_spec(self) -> NetworkSpec:
        """The network with the current weights and running statistics written in (what ``--save`` writes)."""
        return self.spec.with_params({**self.params_numpy(), **self.running_numpy()})

    # --- the run's state: captured and restored here only (see core/run_state.py) -----------------

    def state(self) -> RunState:
        """Everything needed to continue this run later (a step in progress is not part of it)."""
        return RunState(self.to_spec(), self.step_count, self.epoch_count, self.position, self.optimizer_state())

    @classmethod
    def from_state(cls, state: RunState, data: Dataset, **settings: Any) -> Session:
        """A session that continues ``state`` on ``data``: its next batches are the ones the original run
        would have trained on. ``settings`` are the constructor's (backend, device, dtype, batch_size,
        shuffle_seed)."""
        session = cls(state.spec, data, **settings)
        session.restore(state)
        return session

    def restore(self, state: RunState) -> None:
        """Continue from ``state``, a state of a network of this one's structure: its weights, optimizer
        state and place in the batch order. What already equals the state is left alone, so restoring the
        state a session is in keeps its step in progress."""
        current = self.params_numpy()
        wanted = checked_params(self.spec.param_shapes(), initial_params(state.spec), complete=True)
        if any(not np.array_equal(wanted[k], current[k]) for k in wanted):
            self.set_params(wanted)
        running = state.spec.running_stats()
        if running.keys() != self.running.keys():
            raise SessionError("the state's running statistics do not fit this network's batchnorm layers")
        current_running = self.running_numpy()
        if any(not np.array_equal(running[k], current_running[k]) for k in running):
            self.abort_step()
            self.trace = None
            self.running = {k: self._backend.param(v) for k, v in running.items()}
        if (self.step_count, self.epoch_count, self.position) != state.progress:
            self.set_progress(*state.progress)
        self.load_optimizer_state(state.optimizer_state)

    # --- phases ---------------------------------------------------------------------------------

    def advance(self) -> Phase:
        """Run the next phase and return it."""
        phase = self.phases[self._cursor]
        if self._cursor == 0:
            self._begin_step()
        if phase.kind == "forward":
            self._forward(self._cursor)
        elif phase.kind == "loss":
            self._loss()
        elif phase.kind == "backward":
            self._backward(len(self.phases) - 2 - self._cursor)
        else:
            self._update()
        self._cursor = (self._cursor + 1) % len(self.phases)
        return phase

    def forward_layer(self) -> Phase:
        return self._advance_kind("forward")

    def compute_loss(self) -> Phase:
        return self._advance_kind("loss")

    def backward_layer(self) -> Phase:
        return self._advance_kind("backward")

    def apply_update(self) -> Phase:
        return self._advance_kind("update")

    def _advance_kind(self, kind: PhaseKind) -> Phase:
        if self.next_phase.kind != kind:
            raise SessionError(f"cannot run a {kind} phase now: the next phase is '{self.next_phase}'")
        return self.advance()

    def step(self) -> StepTrace:
        """Finish the current step (or run a whole one) and return its trace."""
        whole_step = self._backend.whole_step
        if self._cursor == 0 and whole_step is not None:
            self._begin_step()
            trace = self.trace
            assert trace is not None
            trace.layers, trace.loss, trace.output_grad = whole_step(
                self._step_plan, trace.x, trace.targets, self._training_params(trace)
            )
            self._update()
        elif self._cursor == 0:
            self._begin_step()
            for i in range(len(self._plan)):
                self._forward(i)
            self._loss()
            for i in range(len(self._plan) - 1, -1, -1):
                self._backward(i)
            self._update()
        else:
            while self._cursor != 0:
                self.advance()
        assert self.trace is not None
        return self.trace

    def forward_backward(self) -> StepTrace:
        """Run every phase up to (not including) the update: the step's loss and all gradients."""
        while self.next_phase.kind != "update":
            self.advance()
        assert self.trace is not None
        return self.trace

    def gradients(self) -> dict[str, np.ndarray]:
        """Every parameter's gradient from the current step as float64 NumPy arrays; a layer that does
        not lead to the output does not affect the loss, so its gradient is zero."""
        if self.trace is None or self.next_phase.kind != "update" and self._cursor != 0:
            raise SessionError("no gradients yet: run the backward pass first")
        recorded = self.trace.grads
        return {
            key: np.array(self._backend.to_numpy(recorded[key]), dtype=np.float64)
            if key in recorded
            else np.zeros(shape)
            for key, shape in self.spec.param_shapes().items()
        }

    def run(self, steps: int) -> StepTrace | None:
        for _ in range(steps):
            self.step()
        return self.trace

    def epoch(self) -> StepTrace:
        """Finish the current step, then run steps until the current pass over the data ends."""
        self.step()
        while self.batches.position != 0:
            self.step()
        assert self.trace is not None
        return self.trace

    def set_progress(self, step: int, epoch: int, position: int = 0) -> None:
        """Continue as a run that has made ``step`` steps and ``epoch`` whole passes and is ``position``
        samples into the next pass: the next batches are the ones that run would train on."""
        if not is_count(step):
            raise SessionError(f"step must be a non-negative integer, got {step!r}")
        self.batches.restart(epoch, position)
        self.abort_step()
        self.step_count = int(step)

    def abort_step(self) -> None:
        """Drop a partly done step; nothing has been applied, so no weights change, and the next step
        starts again on the same batch."""
        if self._cursor != 0:
            self.trace = None
        self._cursor = 0
        self._values = {}
        self._grad_parts = {}

    # --- the work of each phase -----------------------------------------------------------------

    def _begin_step(self) -> None:
        batch = self.batches.next()
        if batch is None:
            x, t = self._x_all, self._t_all
        else:
            b = self._backend
            x = b.asarray(self.data.X[batch])
            targets = self._data_targets[batch]
            t = b.labels(targets) if targets.ndim == 1 else b.asarray(targets)
        if self._batchnorm and int(x.shape[0]) == 1:
            message = normalization.one_sample_message(next(iter(self._batchnorm)), len(self.data), self.batch_size)
            raise SessionError(message)
        self.trace = StepTrace(self.step_count + 1, batch, x, t, self.params, self._backend.to_numpy)
        self.trace.masks = self.masks(self.step_count + 1, int(x.shape[0]))
        self._values = {self._input_id: x}
        self._grad_parts = {}

    def _forward(self, index: int) -> None:
        layer_id, kernel, sources, _ = self._plan[index]
        values = self._values
        assert self.trace is not None
        record = kernel.forward([values[s] for s in sources], self._training_params(self.trace))
        values[layer_id] = record.out
        self.trace.layers[layer_id] = record

    def masks(self, step: int, n: int) -> dict[str, Any]:
        """Every dropout layer's mask (backend arrays, keyed ``"<id>.mask"``) for step number ``step`` on ``n``
        samples: drawn with NumPy from the network's seed, the layer's id and the step (core/dropout.py), so
        both backends drop the same units."""
        if not self._dropout:
            return {}
        seed = self.spec.seed if self.spec.seed is not None else DEFAULT_SEED
        drawn = dropout.step_masks(seed, self._dropout, self.spec.widths, step, n)
        return {k: self._backend.asarray(v) for k, v in drawn.items()}

    def _training_params(self, trace: StepTrace) -> Mapping[str, Any]:
        """What a training step's layers read: the parameters and the step's dropout masks (training mode)."""
        return {**self.params, **trace.masks} if trace.masks else self.params

    def _loss(self) -> None:
        trace = self.trace
        assert trace is not None
        y = self._values[self.spec.output]
        trace.loss, trace.output_grad = self._loss_fn(y, trace.targets)
        self._grad_parts = {self.spec.output: [trace.output_grad]}

    def _backward(self, index: int) -> None:
        layer_id, kernel, sources, needs = self._plan[index]
        assert self.trace is not None
        record = self.trace.layers[layer_id]
        parts = self._grad_parts.pop(layer_id)
        kernel.backward(record, parts[0] if len(parts) == 1 else self._backend.add(parts))
        assert record.grad_inputs is not None
        for source, grad, need in zip(sources, record.grad_inputs, needs):
            if need:
                self._grad_parts.setdefault(source, []).append(grad)

    def _update(self) -> None:
        trace = self.trace
        assert trace is not None
        layers = trace.layers
        grads = {key: layers[lid].grads[name] for key, lid, name in self._param_index}
        optimizer = self.optimizer
        kept = optimizer.state()  # (a copy of its counters and slots; the arrays in them are never written into)
        kept["buffers"] = {key: dict(slot) for key, slot in optimizer.buffers.items()}
        new = optimizer.update(self.params, grads, self._frozen, self._l1_keys)
        if not (trace.loss is not None and math.isfinite(trace.loss) and _all_finite(new[key] for key in grads)):
            # a run that stops being numbers stops there: the update is refused (parameters are always numbers),
            # naming where the first inf or nan appeared
            optimizer.load_state(kept)
            self._refuse(dataclasses.replace(trace, params_after=new))
        trace.params_after = new
        trace.update = optimizer.last
        self.params = new
        self._move_running(trace)
        self.step_count += 1
        self._values = {}
        self.batches.consume(trace.batch)

    def _move_running(self, trace: StepTrace) -> None:
        """Each batchnorm layer's running statistics one step towards its batch's (core/normalization.py)."""
        if not self._batchnorm:
            return
        n = int(trace.x.shape[0])
        running = dict(self.running)
        for lid, momentum in self._batchnorm.items():
            stats = trace.layers[lid].stats
            assert stats is not None
            mean_key, var_key = (normalization.running_key(lid, name) for name in normalization.RUNNING)
            running[mean_key], running[var_key] = normalization.updated_running(
                running[mean_key], running[var_key], stats["mean"], stats["var"], n, momentum
            )
        self.running = running

    def _refuse(self, trace: StepTrace) -> None:
        """Raise the :class:`DivergedError` that says where ``trace`` (its update included) stopped being numbers."""
        with np.errstate(all="ignore"):
            health = step_health(self.spec, trace)
        first = next((p for p in health.problems if p.kind == "not finite"), None)
        step = trace.step
        if first is None:  # (step_health looks at the layers it draws; a value elsewhere is still not a number)
            problem, layer, quantity = "the update would make a parameter inf or nan", None, "updated parameters"
        else:
            problem, layer, quantity = first.text, first.layer, first.quantity
        said = health.message() if first is not None else f"{problem} — {ADVICE}"
        raise DivergedError(f"step {step}: update not applied: {said}", step, layer, quantity, problem)

    # --- evaluation without touching the step ---------------------------------------------------
    # Evaluation mode unless ``mode="train"`` is asked for: dropout layers pass their input on and batchnorm
    # layers normalize by their running statistics. In training mode dropout layers drop what the next step
    # (number step_count + 1) would drop on as many samples, and batchnorm layers use the batch's statistics.

    def predict(self, X: np.ndarray, params: dict[str, Any] | None = None, mode: dropout.Mode = "eval") -> np.ndarray:
        """The output for inputs ``X`` with the current weights (or ``params``); no trace, no gradients."""
        return np.array(self._backend.to_numpy(self._output(X, params, mode)), dtype=np.float64)

    def evaluate(self, data: Dataset, params: dict[str, Any] | None = None, mode: dropout.Mode = "eval") -> float:
        """The loss over ``data`` with the current weights (or ``params``); the step is not touched."""
        b = self._backend
        data.check_inputs(self.spec.widths[self._input_id])
        targets = data.targets_for(self.spec.loss, self.spec.widths[self.spec.output])
        y = self._output(data.X, params, mode)
        return self._loss_fn(y, b.labels(targets) if targets.ndim == 1 else b.asarray(targets))[0]

    def layer_outputs(self, X: np.ndarray, layers: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
        """Every active layer's output (and the input's) for inputs ``X`` in one forward pass with the current
        weights, in evaluation mode, as float64 NumPy arrays (samples × units); ``layers`` picks which ones come
        back (default: all of them). Layers the output does not depend on are not computed; no trace, no
        gradients."""
        values = self._forward_values(X, None)
        wanted = tuple(values) if layers is None else tuple(lid for lid in layers if lid in values)
        return {lid: np.array(self._backend.to_numpy(values[lid]), dtype=np.float64) for lid in wanted}

    def _output(self, X: np.ndarray, params: dict[str, Any] | None, mode: dropout.Mode = "eval") -> Any:
        return self._forward_values(X, params, mode)[self.spec.output]

    def _forward_values(
        self, X: np.ndarray, params: dict[str, Any] | None, mode: dropout.Mode = "eval"
    ) -> dict[str, Any]:
        """Every active layer's output (backend arrays) for inputs ``X``, keyed by layer id."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.spec.widths[self._input_id]:
            raise DataError(
                f"inputs of shape {X.shape} do not fit the input layer "
                f"({self.spec.widths[self._input_id]} units): give (samples × "
                f"{self.spec.widths[self._input_id]}) values"
            )
        use = self.params if params is None else {k: self._backend.param(np.asarray(v)) for k, v in params.items()}
        if mode == "train":
            use = {**use, **self.masks(self.step_count + 1, X.shape[0])}
        elif self.running:
            use = {**use, **self.running}
        values = {self._input_id: self._backend.asarray(np.asarray(X, dtype=np.float64))}
        for layer_id, kernel, sources, _ in self._plan:
            values[layer_id] = kernel.forward([values[s] for s in sources], use).out
        return values

    # --- changing settings ----------------------------------------------------------------------

    def set_backend(self, name: str, device: str = "cpu", dtype: str | None = None) -> None:
        """Move to another backend, keeping weights and optimizer state. A partly done step is dropped."""
        new = get_backend(name, device, dtype or self._backend.dtype)
        self.abort_step()
        old = self._backend
        state = self.optimizer.state(old.to_numpy)
        params = self.params_numpy()
        running = self.running_numpy()
        self._backend = new
        self._compile()
        self.params = {k: new.param(v) for k, v in params.items()}
        self.running = {k: new.param(v) for k, v in running.items()}
        self.optimizer = self._new_optimizer(self.spec.optimizer)
        self.optimizer.load_state(state, lambda a: new.param(np.asarray(a)))
        self._load_data()
        self.trace = None

    def set_optimizer(self, optimizer: OptimizerSpec) -> None:
        """Change the update rule or its settings; its buffers are kept when the rule's name is unchanged, the
        clipping tallies always, and the schedule's position while the kind of schedule stays the same."""
        old = self.optimizer
        state = old.state()
        self.spec = dataclasses.replace(self.spec, optimizer=optimizer)
        self.optimizer = self._new_optimizer(optimizer)
        if optimizer.name == old.spec.name:
            self.optimizer.load_state(state)
        self.optimizer.counters = dict(old.counters)
        before, after = old.spec.schedule, optimizer.schedule
        if before is None or after is None or before.name != after.name:
            self.optimizer.counters["schedule_step"] = 0

    def set_loss(self, loss: str) -> None:
        """Train against another loss; weights and optimizer state stay. A partly done step is dropped."""
        spec = dataclasses.replace(self.spec, loss=loss)  # validates that the loss fits the output layer
        targets = self.data.targets_for(loss, spec.widths[spec.output])
        self.abort_step()
        self.trace = None
        self.spec = spec
        self._data_targets = targets
        self._loss_fn = self._backend.loss(loss)
        self._load_data()

    def set_batch_size(self, batch_size: int | None) -> None:
        self.batches.resize(batch_size)  # (checked first: a bad size changes nothing)
        self.abort_step()

    def set_params(self, params: Mapping[str, np.ndarray]) -> None:
        """Replace some or all parameter values (a user's edit). Optimizer state is kept; a partly done
        step is dropped, since its trace was computed with the old values."""
        checked = checked_params(self.spec.param_shapes(), params, complete=False)
        self.abort_step()
        self.trace = None
        self.params = {**self.params, **{k: self._backend.param(v) for k, v in checked.items()}}

    def set_data(self, data: Dataset) -> None:
        """Train on other data (same input width and a fitting target); weights and optimizer state stay."""
        data.check_inputs(self.spec.widths[self._input_id])
        targets = data.targets_for(self.spec.loss, self.spec.widths[self.spec.output])
        self.abort_step()
        self.trace = None
        self.data = data
        self._data_targets = targets
        self.batches.resize(self.batch_size, len(data))
        self._load_data()

    def optimizer_state(self) -> dict[str, Any]:
        """The optimizer's step count, counters and buffers (float64 NumPy arrays), for saving a session."""
        to_np = self._backend.to_numpy
        return self.optimizer.state(lambda a: np.array(to_np(a), dtype=np.float64))

    def load_optimizer_state(self, state: Mapping[str, Any]) -> None:
        shapes = self.spec.param_shapes()
        for key, slot in state.get("buffers", {}).items():
            for name, value in slot.items():
                if key not in shapes or np.shape(value) != shapes[key]:
                    raise SessionError(f"optimizer state '{key}.{name}' does not fit this network's parameters")
        self.optimizer.load_state(dict(state), lambda a: self._backend.param(np.asarray(a, dtype=np.float64)))

    def reset(self, params: dict[str, np.ndarray] | None = None) -> None:
        """Back to the initial weights (or ``params``), a fresh optimizer, step 0."""
        self.abort_step()
        start = checked_params(
            self.spec.param_shapes(), initial_params(self.spec) if params is None else params, complete=True
        )
        self.params = {k: self._backend.param(v) for k, v in start.items()}
        self.running = {k: self._backend.param(v) for k, v in self.spec.running_stats().items()}
        self.optimizer = self._new_optimizer(self.spec.optimizer)
        self.step_count = 0
        self.batches.restart()
        self.trace = None


def _all_finite(arrays: Any) -> bool:
    """Whether every entry is a finite number (checked on every update, so it is cheap). NumPy arrays: a·a is
    finite when every entry is (one fast dot product; only when it overflows are the entries looked at). Other
    arrays (torch tensors): a − a is 0 where an entry is finite and nan where it is inf or nan, so one sum read
    back tells, without copying the arrays off their device."""
    others = []
    for a in arrays:
        if isinstance(a, np.ndarray):
            flat = a.ravel()
            if not math.isfinite(float(flat.dot(flat))) and not np.isfinite(a).all():
                return False
        else:
            others.append(a)
    return not others or math.isfinite(float(sum((a - a).sum() for a in others)))
