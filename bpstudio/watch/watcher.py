"""The :class:`Watcher`: records a PyTorch training loop's gradients, weights, updates and activations into a run
database (docs/watch.md), for ``bpstudio runs`` and the app to read.

What a recorded step costs the loop: the norms of all gradients in one ``torch._foreach_norm`` call, and bringing
every number of the step back as Python floats (on a GPU in one transfer, one device sync; on a CPU one call per
number, which costs less than joining them first). When it takes activation statistics, each watched module's
forward pass copies its output's first samples (at most 4096 entries) into a row kept for it, and the step adds
three reductions over all rows together (:mod:`bpstudio.watch.activations`). Turning the numbers into table rows
and writing the database happen on a background thread (:mod:`bpstudio.watch.writer`).

Parameter norms and update ratios are measured every ``update_every`` steps, activation statistics at the first
recorded step and every ``activations_every`` steps (both :data:`SPACED` × ``every`` by default; 1: every step).
The ratio ‖Δp‖ / ‖p‖ needs the parameters before the update, a copy of them all taken one call before; on a CPU
that copy and the norms are five passes over every parameter, more than the gradient norms' one, and weights
change slowly. Activation statistics cost a few tensor operations per module.
"""

from __future__ import annotations

import atexit
import json
import math
import numbers
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, NoReturn

import torch
from torch import nn

from bpstudio.core.errors import BpstudioError
from bpstudio.core.limits import brief
from bpstudio.core.record.layer_stats import FRACTION_KINDS, saturation_threshold
from bpstudio.watch.activations import SAMPLED, Buffers, Plan, first_samples
from bpstudio.watch.sample import ModuleRow, Sample, Watched
from bpstudio.watch.writer import Writer

ACTIVATIONS: dict[type[nn.Module], str] = {nn.ReLU: "relu", nn.Sigmoid: "sigmoid", nn.Tanh: "tanh"}
# by default parameter norms, update ratios and activation statistics come every SPACED-th recorded step: on a CPU
# MLP of 5 ms steps that costs about 1 % of the loop at 20 and 2 % at 10 (bench/bench_watch.py)
SPACED = 20
NO_GRADIENTS = (
    "at step {step} no parameter has a gradient, so none is recorded: call watcher.step() after loss.backward() "
    "and before the next zero_grad()"
)
UNSEEN = (
    "at step {step} no watched module ran a forward pass with autograd on since the last call, so no activation "
    "statistics are recorded. If the model was compiled (torch.compile) and ran before this Watcher was made, make "
    "the Watcher first: a compiled model does not see forward hooks added later"
)
PASS_THROUGH = (nn.Flatten, nn.Unflatten, nn.Identity)  # outputs that are their input: no statistics of their own


class Watcher:
    """Records ``model``'s training into ``run_dir/run.sqlite``: call :meth:`step` once per training step, after
    ``loss.backward()`` (best after ``optimizer.step()``, before the next ``zero_grad()``), and :meth:`close` at
    the end (or use ``with Watcher(...) as w:``). Steps are numbered from 1 by the calls to :meth:`step`; step
    ``t`` is recorded when ``t`` is a multiple of ``every``.

    At a recorded step: each parameter's gradient norm (parameters without a gradient are left out) and the loss.
    At the first recorded step and at steps that are multiples of ``activations_every``, for each leaf module
    whose forward ran in training (with autograd on) since the last call, the mean,
    standard deviation (population) and fraction of zeros of its output's first samples, plus for ``nn.ReLU``
    the fraction of dead units (0 for every sample of the batch) and for ``nn.Sigmoid``/``nn.Tanh`` the fraction
    of saturated entries (see docs/watch.md). At steps that are multiples of ``update_every``, each parameter's
    norm and update ratio: ‖p at this call − p at the call before‖ / ‖p at the call before‖. With
    ``activations=False`` no forward hooks are set and no activation statistics recorded (the least overhead)."""

    def __init__(
        self,
        model: nn.Module,
        run_dir: str | Path,
        every: int = 1,
        update_every: int | None = None,
        activations: bool = True,
        activations_every: int | None = None,
    ):
        if not isinstance(model, nn.Module):
            raise BpstudioError(f"Watcher needs a torch.nn.Module, got {type(model).__name__}")
        model = _compiled_from(model)
        self.every = _count(every, "every")
        spaced = SPACED * self.every
        self.update_every = _count(spaced if update_every is None else update_every, "update_every")
        self.activations_every = _count(spaced if activations_every is None else activations_every, "activations_every")
        for what, value in (("update_every", self.update_every), ("activations_every", self.activations_every)):
            if value % self.every:
                raise BpstudioError(f"{what} ({value}) must be a multiple of every ({self.every})")
        named = list(model.named_parameters())
        self.names: tuple[str, ...] = tuple(name for name, _ in named)
        self._params: list[torch.Tensor] = [p for _, p in named]
        thresholds = {a: saturation_threshold(a) for a in ("sigmoid", "tanh")}
        info = {
            "model_class": type(model).__name__,
            "every": str(self.every),
            "update_every": str(self.update_every),
            "activations_every": str(self.activations_every),
            "torch_version": torch.__version__,
            "saturation_thresholds": json.dumps(thresholds),
        }
        rows = [(name, name.rpartition(".")[0], json.dumps(list(p.shape)), p.numel()) for name, p in named]
        self._writer = Writer(run_dir, info, rows)
        self.path = self._writer.path
        self._buffers = Buffers()
        self._stats: dict[str, Watched] = {}  # the modules whose activations the coming step records
        self._kinds: dict[str, str | None] = {}  # every module whose activations were recorded once: its kind
        self._types = {name: type(m).__name__ for name, m in model.named_modules()}
        self._owners = [name for name, m in model.named_modules() if any(True for _ in m.parameters(recurse=False))]
        self._order: list[str] = []  # watched modules in the order their forward first ran
        self._sent: set[str] = set()  # modules already in the modules table
        self._unsent = True  # whether modules wait to go into it (the first record sends the parameters' owners)
        # set once, idle between the steps that take activations (adding and removing hooks around those steps
        # would make a torch.compile'd model compile again each time)
        self._hooks = [
            m.register_forward_hook(self._hook_for(name, m, thresholds))
            for name, m in model.named_modules()
            if activations and not any(True for _ in m.children()) and not isinstance(m, PASS_THROUGH)
        ]
        self.step_count = 0
        self._armed = self._activations_due(1)  # keep activations in the forward passes before the next call
        self._before: list[torch.Tensor] | None = None  # the parameters at the call before a measured update
        self._before_norms: Sequence[torch.Tensor] = ()
        self._norms_now: Sequence[torch.Tensor] = ()  # the parameters' norms, when this call measured them
        self._start = time.perf_counter()
        self._closed = False
        self._warned: set[str] = set()  # the warnings given: each is given once
        self._ran = False  # whether a hook ran in a forward pass the coming step records
        atexit.register(self.close)

    # --- the loop's calls ------------------------------------------------------------------------------------

    def step(self, loss: torch.Tensor | float | None = None) -> None:
        """Count a training step and record it if it is due (see the class docstring)."""
        if self._closed:
            raise RuntimeError("this Watcher is closed; start a new one (with a new run folder) to record more")
        if self._writer.error is not None:
            self._stop_on_error()
            return
        self.step_count = t = self.step_count + 1
        record, snapshot = t % self.every == 0, (t + 1) % self.update_every == 0
        due, self._armed = self._armed, self._activations_due(t + 1)
        if not (record or snapshot):
            return
        self._norms_now = []
        if due and self._hooks and not self._ran and any(p.grad is not None for p in self._params):  # (a backward ran)
            self._warn_once("unseen", UNSEEN.format(step=t), stacklevel=2)
        self._ran = False
        sample = self._sample(t, loss) if record else None
        if snapshot and self._params:
            with torch.no_grad():
                self._snapshot()
        self._stats.clear()
        if sample is not None:
            self._writer.put(sample)

    def flush(self) -> None:
        """Wait until every recorded step is in the database, for readers to see (the writer otherwise commits
        every fraction of a second)."""
        if not self._closed:
            self._writer.flush()

    def close(self, stopped_by: str = "") -> None:
        """Remove the hooks, write what is left and mark the run finished (``stopped_by``: the exception that
        ended the loop, when one did). Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        for handle in self._hooks:
            handle.remove()
        self._writer.close(stopped_by)
        if self._writer.error is not None:
            self._stop_on_error()

    def __enter__(self) -> Watcher:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.close(kind.__name__ if kind is not None else "")  # (a loop interrupted is not a run that finished)

    # --- what a step records ---------------------------------------------------------------------------------

    def _sample(self, t: int, loss: torch.Tensor | float | None) -> Sample:
        grads = [g for p in self._params if (g := p.grad) is not None]
        names = (
            self.names
            if len(grads) == len(self.names)
            else [n for n, p in zip(self.names, self._params) if p.grad is not None]
        )
        if not grads and self._params:
            self._warn_once("no gradients", NO_GRADIENTS.format(step=t), stacklevel=3)
        # (gradients do not need autograd switched off: they do not require gradients themselves)
        tensors: list[torch.Tensor] = [*torch._foreach_norm(grads)] if grads else []
        weighed = t % self.update_every == 0 and bool(self._params)  # parameter norms and update ratios, now
        ratio = weighed and self._before is not None
        if weighed:
            with torch.no_grad():
                self._norms_now = torch._foreach_norm(self._params)
                tensors += self._norms_now
                if ratio and self._before is not None:
                    # ‖before − now‖: the difference written over the copy (taken again before it is next needed),
                    # in two multi-tensor operations rather than two per parameter
                    torch._foreach_sub_(self._before, self._params)
                    tensors += [*torch._foreach_norm(self._before), *self._before_norms]
        vectors = self._buffers.reductions() if self._stats else []  # (only a step that took activations)
        plain_loss = math.nan if loss is None else None if isinstance(loss, torch.Tensor) else _number(loss)
        if isinstance(loss, torch.Tensor):
            if loss.numel() != 1:
                _refuse_loss(loss)
            elif loss.is_cpu:
                plain_loss = loss.item()
            else:
                vectors.append(loss.detach().reshape(-1))  # (brought back with the rest, in the same transfer)
        return Sample(
            t,
            time.perf_counter() - self._start,
            names,
            weighed,
            ratio,
            list(self._buffers.used) if self._stats else [],
            list(self._stats.values()),
            _floats(tensors, vectors),
            plain_loss,
            self._new_modules() if self._unsent else (),
        )

    def _activations_due(self, t: int) -> bool:
        """Whether step ``t`` records activation statistics: the first recorded step, and every
        ``activations_every``-th."""
        return t == self.every or t % self.activations_every == 0

    def _snapshot(self) -> None:
        """Keep the parameters (and their norms) as they are now, for the update ratio at the next call."""
        if self._before is None:
            self._before = [p.detach().clone() for p in self._params]
        else:
            torch._foreach_copy_(self._before, self._params)
        fresh = len(self._norms_now) == len(self._params)
        self._before_norms = self._norms_now if fresh else torch._foreach_norm(self._before) if self._before else []

    def _new_modules(self) -> list[ModuleRow]:
        """The watched modules first run since the last record, then (at the first record) the modules that hold
        parameters but have no statistics of their own (containers with parameters of their own)."""
        self._unsent = False
        names = [n for n in self._order if n not in self._sent]
        if not self._sent:
            names += [n for n in self._owners if n not in self._kinds]
        self._sent.update(names)
        return [ModuleRow(n, self._types[n], self._kinds.get(n)) for n in names]

    def _hook_for(self, name: str, module: nn.Module, thresholds: dict[str, float]) -> Any:
        """The forward hook that copies the module's output (and what tells dead or saturated units) into its rows
        of the activation buffers (:mod:`bpstudio.watch.activations`) when the coming step is recorded."""
        activation = next((a for cls, a in ACTIVATIONS.items() if type(module) is cls), None)
        kind = FRACTION_KINDS.get(activation) if activation is not None else None
        threshold = thresholds.get(activation or "", math.inf)
        buffers, stats, grad_enabled = self._buffers, self._stats, torch.is_grad_enabled
        plan: Plan | None = None

        def extra_of(y: torch.Tensor, inputs: tuple[Any, ...]) -> torch.Tensor | None:
            if kind == "dead" and y.dim() >= 2:  # each unit's largest output over the batch: 0 if it is dead
                return y.amax(dim=_unit_dims(y))
            if kind == "saturated" and inputs and isinstance(inputs[0], torch.Tensor):  # 0 unless |z| > threshold
                return nn.functional.hardshrink(first_samples(inputs[0].detach()), threshold)
            return None

        def hook(module: nn.Module, inputs: tuple[Any, ...], output: Any) -> None:
            nonlocal plan
            if not self._armed or not grad_enabled():
                return
            self._ran = True
            if not isinstance(output, torch.Tensor) or not output.is_floating_point() or output.numel() == 0:
                return
            y = output.detach()
            if (
                plan is None
                or plan.shape != y.shape
                or plan.generation != buffers.generation
                or plan.dtype != y.dtype
                or plan.device != y.device
            ):
                plan = self._first_sight(name, kind, y, extra_of(y, inputs))
            count = plan.count
            plan.out.copy_(y if count is None else y.narrow(0, 0, count) if count else y.reshape(-1)[:SAMPLED])
            if plan.extra is not None:
                if kind == "dead" and plan.whole_extra:
                    torch.amax(y, dim=_unit_dims(y), out=plan.extra)
                else:
                    extra = extra_of(y, inputs)
                    if extra is not None:
                        plan.extra.copy_(extra.narrow(0, 0, plan.extra.numel()))
            stats[name] = plan.watched

        return hook

    def _first_sight(self, name: str, kind: str | None, y: torch.Tensor, extra: torch.Tensor | None) -> Plan:
        """The plan for ``name``'s outputs of ``y``'s shape (:class:`bpstudio.watch.activations.Plan`)."""
        if name not in self._kinds:
            self._order.append(name)
            self._unsent = True
            self._kinds[name] = kind
        return self._buffers.plan(name, kind, y, extra)

    def _stop_on_error(self) -> None:
        self._warn_once("writing", f"writing {self.path} failed ({self._writer.error}); recording stopped", 3)

    def _warn_once(self, what: str, message: str, stacklevel: int) -> None:
        """Warn (RuntimeWarning) the first time ``what`` happens; ``stacklevel`` as ``warnings.warn`` takes it from
        the caller (pointing at the training loop)."""
        if what not in self._warned:
            self._warned.add(what)
            warnings.warn(f"bpstudio.watch: {message}", RuntimeWarning, stacklevel=stacklevel + 1)


def _compiled_from(model: nn.Module) -> nn.Module:
    """The module torch.compile wrapped, when ``model`` is its wrapper (its parameters are the module's, named
    with a "_orig_mod." prefix): the watcher records the module under its own names."""
    inner = getattr(model, "_orig_mod", None)
    return inner if type(model).__name__ == "OptimizedModule" and isinstance(inner, nn.Module) else model


def _unit_dims(y: torch.Tensor) -> int | tuple[int, ...]:
    """The dimensions a unit's largest output is taken over: the batch's, and for a conv layer's output the
    positions (a channel is a unit)."""
    return 0 if y.dim() == 2 else (0, *range(2, y.dim()))


def _floats(scalars: list[torch.Tensor], vectors: list[torch.Tensor]) -> list[float]:
    """The values of the 0-d ``scalars`` then of the 1-d ``vectors``, as Python floats: in one transfer per
    device the tensors lie on (one for a model on one device)."""
    if all(t.is_cpu for t in scalars) and all(t.is_cpu for t in vectors):
        # no transfer to save: one call per tensor costs less than joining them first
        return [t.item() for t in scalars] + [v for vector in vectors for v in vector.tolist()]
    devices = {t.device for t in scalars} | {t.device for t in vectors}
    if len(devices) == 1:
        parts = ([torch.stack(scalars)] if scalars else []) + vectors
        return torch.cat(parts).tolist() if parts else []  # type: ignore[no-any-return]
    parts = [s.reshape(1) for s in scalars] + vectors
    values: list[list[float]] = [[] for _ in parts]
    for device in devices:  # (a model spread over devices, e.g. its first layers on a GPU and the rest on another)
        mine = [i for i, t in enumerate(parts) if t.device == device]
        got, start = torch.cat([parts[i] for i in mine]).tolist(), 0
        for i in mine:
            values[i], start = got[start : start + parts[i].numel()], start + parts[i].numel()
    return [v for part in values for v in part]


def _number(loss: Any) -> float:
    """A loss given as a plain number (a Python or NumPy one), as a float; anything else is refused."""
    if isinstance(loss, bool) or not isinstance(loss, numbers.Real):
        raise BpstudioError(
            f"step(loss): the loss must be a tensor holding one number, a number, or left out; got "
            f"{type(loss).__name__} {brief(loss)}"
        )
    return float(loss)


def _refuse_loss(loss: torch.Tensor) -> NoReturn:
    raise BpstudioError(f"step(loss): the loss must be a single number, got a tensor of shape {tuple(loss.shape)}")


def _count(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BpstudioError(f"{what} must be a whole number ≥ 1, got {value!r}")
    return value
