"""A run state packed for the timeline: one flat array of its values beside a skeleton many states share.

A :class:`~bpstudio.core.run_state.RunState` of a small network is mostly Python objects: the network's layer
specs, their small arrays' headers, the optimizer's dictionaries. Kept as they are, an XOR state held four to
six times the bytes its values take. The timeline keeps instead a :class:`Skeleton` (the network without its
values and where each value sits in the flat array), shared by every state of the same network, and per state
one float64 array and three counters. A spilled state is that array alone in an ``.npy`` file: what is
written is what is counted.

The bytes counted are the bytes held: the array's data and header, the slot that holds it and its entries in
the timeline's tables (:data:`SLOT_OVERHEAD`), and once per skeleton the objects it is made of
(:func:`deep_size`). ``tests/core/record/test_timeline_bytes.py`` checks the count against Python's own
allocation count.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from bpstudio.core.optim import fresh_counters
from bpstudio.core.run_state import RunState
from bpstudio.core.spec import LayerSpec, NetworkSpec
from bpstudio.core.spec_rules import VALUE_FIELDS

Shape = tuple[int, ...]
COUNTERS = tuple(fresh_counters())  # the optimizer's counters (schedule position, clipping tallies), packed last


@dataclass(frozen=True, eq=False)
class Skeleton:
    """What states of one network share: the network without its values, each parameter's key and shape and
    each optimizer buffer's (parameter key, buffer name, shape), in the order their values are packed."""

    spec: NetworkSpec
    params: tuple[tuple[str, Shape], ...]
    buffers: tuple[tuple[str, str, Shape], ...]
    size: int  # values in a packed state
    nbytes: int  # the memory the skeleton itself holds

    def fits(self, state: RunState) -> bool:
        """Whether ``state`` packs onto this skeleton (the same network but for its values, the same buffers)."""
        return (
            _same_network(self.spec, state.spec)
            and self.params == _param_layout(state.spec)
            and self.buffers == _buffer_layout(state)
        )


def skeleton_of(state: RunState, previous: Skeleton | None = None) -> Skeleton:
    """``previous`` when the state fits it (the usual case while training), else a new skeleton for it."""
    if previous is not None and previous.fits(state):
        return previous
    bare: dict[str, Any] = dict.fromkeys(VALUE_FIELDS)
    layers = tuple(dataclasses.replace(layer, **bare) for layer in state.spec.layers)
    spec = dataclasses.replace(state.spec, layers=layers)
    params = _param_layout(state.spec)
    buffers = _buffer_layout(state)
    size = sum(int(np.prod(shape)) for _, shape in params) + sum(int(np.prod(s)) for _, _, s in buffers)
    size += len(COUNTERS)
    skeleton = Skeleton(spec, params, buffers, size, 0)
    object.__setattr__(skeleton, "nbytes", deep_size(skeleton))
    return skeleton


def pack(state: RunState, skeleton: Skeleton) -> np.ndarray:
    """The state's values as one float64 array, in the skeleton's order."""
    parts = [value for _, value in _params(state.spec)]
    buffers = state.optimizer_state.get("buffers", {})
    parts += [buffers[key][name] for key, name, _ in skeleton.buffers]
    counters = state.optimizer_state.get("counters", {})
    exact = np.array([counters.get(name, 0) for name in COUNTERS], dtype=np.int64)
    parts.append(exact.view(np.float64))  # (their bits, not their values: every count comes back exact)
    values = np.empty(skeleton.size, dtype=np.float64)
    at = 0
    for part in parts:
        n = int(np.size(part))
        values[at : at + n] = np.ravel(part)
        at += n
    return values


def unpack(skeleton: Skeleton, values: np.ndarray, step: int, epoch: int, position: int, opt_steps: int) -> RunState:
    """The run state packed into ``values`` (its arrays are copies: nothing written later reaches the timeline)."""
    chunks = _chunks(values, [shape for _, shape in skeleton.params] + [shape for _, _, shape in skeleton.buffers])
    params = {key: next(chunks) for key, _ in skeleton.params}
    buffers: dict[str, dict[str, np.ndarray]] = {}
    for key, name, _ in skeleton.buffers:
        buffers.setdefault(key, {})[name] = next(chunks).copy()
    bits = np.ascontiguousarray(values[-len(COUNTERS) :]).view(np.int64)
    counters = {name: int(value) for name, value in zip(COUNTERS, bits, strict=True)}
    optimizer = {"steps": opt_steps, "buffers": buffers, "counters": counters}
    return RunState(skeleton.spec.with_params(params), step, epoch, position, optimizer)


def _chunks(values: np.ndarray, shapes: list[Shape]) -> Iterator[np.ndarray]:
    at = 0
    for shape in shapes:
        n = int(np.prod(shape))
        yield values[at : at + n].reshape(shape)
        at += n


def _params(spec: NetworkSpec) -> Iterator[tuple[str, np.ndarray]]:
    for layer in spec.layers:
        for name in VALUE_FIELDS:
            value = getattr(layer, name)
            if value is not None:
                yield f"{layer.id}.{name}", value


def _param_layout(spec: NetworkSpec) -> tuple[tuple[str, Shape], ...]:
    return tuple((key, np.shape(value)) for key, value in _params(spec))


def _buffer_layout(state: RunState) -> tuple[tuple[str, str, Shape], ...]:
    buffers = state.optimizer_state.get("buffers", {})
    return tuple((key, name, np.shape(value)) for key, slot in buffers.items() for name, value in slot.items())


_LAYER_FIELDS = tuple(f.name for f in dataclasses.fields(LayerSpec) if f.name not in VALUE_FIELDS)
_NETWORK_FIELDS = tuple(f.name for f in dataclasses.fields(NetworkSpec) if f.init and f.name != "layers")


def _same_network(skeleton: NetworkSpec, spec: NetworkSpec) -> bool:
    """Whether ``spec`` is the skeleton's network with values written in (same layers, settings and layout;
    the values present where the skeleton's layers have parameters)."""
    if len(skeleton.layers) != len(spec.layers):
        return False
    for name in _NETWORK_FIELDS:
        a, b = getattr(skeleton, name), getattr(spec, name)
        if a is not b and a != b:
            return False
    for bare, full in zip(skeleton.layers, spec.layers, strict=True):
        if bare is full:
            continue
        for name in _LAYER_FIELDS:
            a, b = getattr(bare, name), getattr(full, name)
            if a is not b and a != b:
                return False
    return True


def deep_size(obj: Any) -> int:
    """Bytes held by ``obj`` and everything it refers to (each object once; classes, modules and functions,
    which outlive it, not at all)."""
    seen: set[int] = set()
    total = 0
    stack = [obj]
    while stack:
        item = stack.pop()
        if id(item) in seen or isinstance(item, type) or callable(item):
            continue
        seen.add(id(item))
        total += sys.getsizeof(item)
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            stack.extend(item)
        elif isinstance(item, np.ndarray):
            if item.base is not None:
                stack.append(item.base)
        elif dataclasses.is_dataclass(item):
            stack.extend(getattr(item, f.name) for f in dataclasses.fields(item))
        elif hasattr(item, "__dict__"):
            stack.append(vars(item))
    return total
