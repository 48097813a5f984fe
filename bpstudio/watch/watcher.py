"""The :class:`Watcher`: records a PyTorch training loop's gradients, weights, updates and activations into a run
database (docs/watch.md), for ``bpstudio runs`` and the app to read.

What a recorded step costs the loop: the norms of all gradients in one ``torch._foreach_norm`` call and a single
``.tolist()`` that brings every number of the step back as Python floats (one device sync). When it takes
activation statistics, each watched module's forward pass copies its output's first samples (at most 4096
entries) into a row kept for it, and the step adds three reductions over all rows together
(:mod:`bpstudio.watch.activations`). Turning the numbers into table rows and writing the database happen on a
background thread (:mod:`bpstudio.watch.writer`).

Parameter norms and update ratios are measured every ``update_every`` steps, activation statistics at the first
recorded step and every ``activations_every`` steps (both 10 × ``every`` by default; 1: every step). The ratio
‖Δp‖ / ‖p‖ needs the parameters before the update, a copy of them all taken one call before; on a CPU that copy
and the norms cost about as much as everything else the watcher does, and weights change slowly. Activation
statistics cost a few tensor operations per module, which on a CPU net of short steps is several per cent.
"""

from __future__ import annotations

import atexit
import json
import math
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import torch
from torch import nn

from bpstudio.core.errors import BpstudioError
from bpstudio.core.record.layer_stats import FRACTION_KINDS, saturation_threshold
from bpstudio.watch.activations import SAMPLED, Buffers, Plan, first_samples
from bpstudio.watch.sample import ModuleRow, Sample, Watched
from bpstudio.watch.writer import Writer

ACTIVATIONS: dict[type[nn.Module], str] = {nn.ReLU: "relu", nn.Sigmoid: "sigmoid", nn.Tanh: "tanh"}
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
        self.every = _count(every, "every")
        self.update_every = _count(10 * self.every if update_every is None else update_every, "update_every")
        ten = 10 * self.every
        self.activations_every = _count(ten if activations_every is None else activations_every, "activations_every")
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
        self._warned = False
        self._warned_no_grads = False  # (said once: a loop calling step() where no gradient is there)
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
        self._armed = self._activations_due(t + 1)
        if not (record or snapshot):
            return
        with torch.no_grad():
            self._norms_now = []
            sample = self._sample(t, loss) if record else None
            if snapshot and self._params:
                self._snapshot()
        self._stats.clear()
        if sample is not None:
            self._writer.put(sample)

    def flush(self) -> None:
        """Wait until every recorded step is in the database, for readers to see (the writer otherwise commits
        every fraction of a second)."""
        if not self._closed:
            self._writer.flush()

    def close(self) -> None:
        """Remove the hooks, write what is left and mark the run finished. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        for handle in self._hooks:
            handle.remove()
        self._writer.close()
        if self._writer.error is not None:
            self._stop_on_error()

    def __enter__(self) -> Watcher:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    # --- what a step records ---------------------------------------------------------------------------------

    def _sample(self, t: int, loss: torch.Tensor | float | None) -> Sample:
        have = [(name, g) for name, p in zip(self.names, self._params) if (g := p.grad) is not None]
        if not have and self._params and not self._warned_no_grads:
            self._warned_no_grads = True
            warnings.warn(
                f"bpstudio.watch: at step {t} no parameter has a gradient, so none is recorded: call "
                "watcher.step() after loss.backward() and before the next zero_grad()",
                RuntimeWarning,
                stacklevel=4,
            )
        tensors: list[torch.Tensor] = [*torch._foreach_norm([g for _, g in have])] if have else []
        weighed = t % self.update_every == 0 and bool(self._params)  # parameter norms and update ratios, now
        ratio = weighed and self._before is not None
        if weighed:
            self._norms_now = torch._foreach_norm(self._params)
            tensors += self._norms_now
        if ratio and self._before is not None:
            # ‖before − now‖: the difference written over the copy (taken again before it is next needed), in two
            # multi-tensor operations rather than two per parameter
            torch._foreach_sub_(self._before, self._params)
            tensors += [*torch._foreach_norm(self._before), *self._before_norms]
        vectors = self._buffers.reductions() if self._stats else []  # (only a step that took activations)
        plain_loss = math.nan if loss is None else None if isinstance(loss, torch.Tensor) else float(loss)
        if isinstance(loss, torch.Tensor):
            vectors.append(loss.detach().reshape(-1) if loss.numel() == 1 else _refuse_loss(loss))
        return Sample(
            step=t,
            seconds=time.perf_counter() - self._start,
            grads=[name for name, _ in have],
            weighed=weighed,
            ratio=ratio,
            buffers=list(self._buffers.used) if self._stats else [],
            modules=list(self._stats.values()),
            values=_floats(tensors, vectors),
            loss=plain_loss,
            new_modules=self._new_modules(),
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
            self._kinds[name] = kind
        return self._buffers.plan(name, kind, y, extra)

    def _stop_on_error(self) -> None:
        if not self._warned:
            self._warned = True
            warnings.warn(
                f"bpstudio.watch: writing {self.path} failed ({self._writer.error}); recording stopped",
                RuntimeWarning,
                stacklevel=3,
            )


def _unit_dims(y: torch.Tensor) -> int | tuple[int, ...]:
    """The dimensions a unit's largest output is taken over: the batch's, and for a conv layer's output the
    positions (a channel is a unit)."""
    return 0 if y.dim() == 2 else (0, *range(2, y.dim()))


def _floats(scalars: list[torch.Tensor], vectors: list[torch.Tensor]) -> list[float]:
    """The values of the 0-d ``scalars`` then of the 1-d ``vectors``, as Python floats: in one transfer per
    device the tensors lie on (one for a model on one device)."""
    devices = {t.device for t in scalars} | {t.device for t in vectors}
    if len(devices) <= 1:
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


def _refuse_loss(loss: torch.Tensor) -> torch.Tensor:
    raise BpstudioError(f"step(loss): the loss must be a single number, got a tensor of shape {tuple(loss.shape)}")


def _count(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BpstudioError(f"{what} must be a whole number ≥ 1, got {value!r}")
    return value
