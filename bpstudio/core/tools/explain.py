"""One parameter's gradient written out as the chain rule, with this step's numbers plugged in.

Matt Mazur's walk-through derives ∂E/∂w5 = ∂E/∂out_o1 · ∂out_o1/∂net_o1 · ∂net_o1/∂w5, and for a weight
further back sums one term per route to the loss: ∂E/∂out_h1 = ∂E_o1/∂out_h1 + ∂E_o2/∂out_h1. Here the
same is done for any network: the units form a graph (net → out through the activation, out → net of the
next layer through a weight, an add or a concat slot), and every path from the parameter to an output
unit contributes the product of the local derivatives along it (through a features layer the local derivative
is the term's own, per sample: ∂(x1²)/∂x1 = 2·x1; through a dropout layer it is the step's mask/(1−p), per sample:
1/(1−p) for a unit kept, 0 for one dropped):

    ∂E/∂W_L[j,k] = Σ_paths ∂E/∂out_y[o] · Π ∂(unit)/∂(previous unit) · ∂out_L[·]/∂net_L[j] · in_L[k]

A softmax couples units (∂out[n]/∂net[m] = s_n(δ_nm − s_m)), so a path may enter a layer's net at one
unit and leave its out at another. Paths multiply in number with depth, so only the ``max_paths``
largest are listed (found without enumerating the rest); the others are given as one sum, computed
exactly from the totals. The first factor is the trace's ``output_grad``, which already holds the batch
mean: the per-sample totals summed over the batch equal the recorded gradient.
"""

from __future__ import annotations

import heapq
import math
import re
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from bpstudio.core import activations, dropout, features, normalization
from bpstudio.core.checks import is_count, is_whole
from bpstudio.core.errors import BpstudioError, SessionError, SpecError
from bpstudio.core.spec import NetworkSpec
from bpstudio.core.trace import StepTrace

COUPLED = ("softmax",)  # activations whose Jacobian is not diagonal
ACTIVATION_RULES = {
    "identity": "1",
    "sigmoid": "out·(1 − out)",
    "tanh": "1 − out²",
    "relu": "1 if net > 0, else 0",
    "leaky_relu": f"1 if net > 0, else {activations.LEAKY_SLOPE:g}",
    "elu": "1 if net > 0, else e^net",
    "gelu": "Φ(net) + net·φ(net)",
    "softplus": "sigmoid(net)",
    "silu": "σ(net)·(1 + net·(1 − σ(net)))",
    "mish": "tanh(sp) + net·(1 − tanh²(sp))·σ(net), sp = softplus(net)",
    "sin": "cos(net)",
}
LOSS_RULES = {
    "sse_half": "(out − target) / N",
    "mse": "2·(out − target) / (N·K)",
    "bce": "(out − target) / (out·(1 − out)) / (N·K)",
    "cross_entropy": "(softmax(out) − target) / N",
}


@dataclass(frozen=True)
class Factor:
    """One local derivative: its symbol (``∂out_h[0]/∂net_h[0]``), the rule behind it, its value."""

    symbol: str
    meaning: str
    value: float


@dataclass(frozen=True)
class PathTerm:
    """One path from the parameter to the loss. ``via`` names its units in data-flow order (``h[0]``, or
    ``h[0→1]`` where a softmax leads from net unit 0 to out unit 1); ``factors`` are in chain-rule order,
    from ∂E/∂out of an output unit back to ∂net/∂parameter; ``value`` is their product and ``upstream``
    the product of all but the last two: ∂E/∂out of the parameter's layer along this path alone."""

    via: tuple[str, ...]
    factors: tuple[Factor, ...]
    value: float
    upstream: float


@dataclass(frozen=True)
class Explanation:
    """The chain rule for ``key[index]`` at one sample. ``sample_value`` = Σ paths + ``other_paths``;
    ``batch_value`` sums the per-sample totals, ``recorded`` is the backward pass's gradient.
    ``summary`` is Mazur's collapsed form (∂E/∂out_L[j] · ∂out_L[j]/∂net_L[j] · ∂net_L[j]/∂w); ``frozen``: the
    update leaves the parameter unchanged (``note`` says so too, among the other remarks)."""

    key: str
    index: tuple[int, ...]
    sample: int
    batch_size: int
    paths: tuple[PathTerm, ...]
    other_paths: float
    n_paths: int
    sample_value: float
    batch_value: float
    recorded: float
    note: str
    symbol: str = ""
    summary: tuple[Factor, ...] = ()
    matches: bool = True
    frozen: bool = False


class _Tail(NamedTuple):
    """A partial path from some unit to E: value, factors (chain-rule order), units (data-flow order)."""

    value: float
    factors: tuple[Factor, ...]
    via: tuple[str, ...]
    before_activation: float


def format_value(value: float) -> str:
    """A number as the tutorials print it: 9 decimal places (at least 6 significant digits), no trailing
    zeros; scientific notation far from 1."""
    if value == 0 or not math.isfinite(value):
        return "0" if value == 0 else str(value)
    size = abs(value)
    if 1e-4 <= size < 1e3:
        decimals = max(9, 5 - math.floor(math.log10(size)))
        text = f"{value:.{decimals}f}".rstrip("0").rstrip(".")
        return "0" if text in ("0", "-0") else text
    return f"{value:.6g}"


def explain(
    spec: NetworkSpec, trace: StepTrace, key: str, index: tuple[int, ...], sample: int = 0, max_paths: int = 32
) -> Explanation:
    """The gradient of parameter ``key`` at ``index`` for batch sample ``sample``, path by path."""
    layer_id, name, index = _check_target(spec, key, index)
    symbol = f"{'w' if name == 'weight' else 'b'}_{layer_id}[{','.join(map(str, index))}]"
    batch = int(np.shape(trace.x)[0])
    if not is_whole(sample) or not 0 <= sample < batch:
        raise SessionError(f"sample {sample!r} is not in this batch of {batch} (give 0 to {batch - 1})")
    if not is_count(max_paths, 1):
        raise SessionError(f"max_paths must be a positive integer, got {max_paths!r}")
    sample = int(sample)
    if layer_id not in spec.active_order():
        note = (
            f"layer '{layer_id}' does not lead to the output '{spec.output}': the loss does not depend "
            f"on {symbol}, so its gradient is 0 (no path reaches E)"
        )
        return Explanation(key, index, sample, batch, (), 0.0, 0, 0.0, 0.0, 0.0, note, symbol, ())
    record = trace.layers.get(layer_id)
    if record is None or name not in record.grads or trace.output_grad is None:
        raise SessionError(f"run the backward pass through layer '{layer_id}' first")

    _refuse_norm_layers(spec, layer_id)
    graph = _Graph(spec, trace, layer_id)
    j = index[0]
    source = spec.layer(layer_id).inputs[0]
    x_in = np.asarray(record.inputs[0], dtype=np.float64)
    if name == "weight":
        k = index[1]
        src = f"{source}[{k}]" if source == spec.input_id else f"out_{source}[{k}]"
        last = Factor(f"∂net_{layer_id}[{j}]/∂{symbol}", f"the input {src}", float(x_in[sample, k]))
        per_sample = graph.grad_net[layer_id][:, j] * x_in[:, k]
    else:
        last = Factor(f"∂net_{layer_id}[{j}]/∂{symbol}", "1 (net adds the bias)", 1.0)
        per_sample = graph.grad_net[layer_id][:, j].copy()
    sample_value = float(per_sample[sample])
    batch_value = float(np.sum(per_sample))
    recorded = float(np.asarray(record.grads[name], dtype=np.float64)[index])

    tails = graph.best_paths(sample, j, max_paths)
    paths = tuple(PathTerm(t.via, t.factors + (last,), t.value * last.value, t.before_activation) for t in tails)
    n_paths = graph.count_paths(j)
    other = sample_value - math.fsum(p.value for p in paths) if n_paths > len(paths) else 0.0

    lid = layer_id
    if spec.layer(lid).activation in COUPLED:
        summary: tuple[Factor, ...] = (
            Factor(
                f"∂E/∂net_{lid}[{j}]",
                f"Σ_n ∂E/∂out_{lid}[n] · ∂out_{lid}[n]/∂net_{lid}[{j}]",
                float(graph.grad_net[lid][sample, j]),
            ),
            last,
        )
    else:
        first = (
            f"{LOSS_RULES[spec.loss]} ({spec.loss})"
            if lid == spec.output
            else f"summed over the {path_count(n_paths)} to E"
        )
        summary = (
            Factor(f"∂E/∂out_{lid}[{j}]", first, float(graph.grad_out[lid][sample, j])),
            graph.activation_factor(lid, sample, j, j),
            last,
        )

    notes = [f"the {len(paths)} largest of the {path_count(n_paths)} to E are listed"] if n_paths > len(paths) else []
    if batch > 1:
        notes.append(
            f"this is sample {sample} of a batch of {batch}; the recorded gradient is the sum of the "
            f"samples' totals (∂E/∂out already divides by the batch size)"
        )
    frozen = name in spec.layer(layer_id).frozen
    if frozen:
        notes.append(f"{key} is frozen: its gradient is computed, but the update leaves it unchanged")
    dtype = np.asarray(record.grads[name]).dtype
    tolerance = (1e-9 if dtype == np.float64 else 1e-4) * max(1.0, abs(recorded))
    return Explanation(
        key,
        index,
        sample,
        batch,
        paths,
        other,
        n_paths,
        sample_value,
        batch_value,
        recorded,
        "; ".join(notes),
        symbol,
        summary,
        abs(batch_value - recorded) <= tolerance,
        frozen,
    )


def _check_target(spec: NetworkSpec, key: str, index: tuple[int, ...]) -> tuple[str, str, tuple[int, ...]]:
    shapes = spec.param_shapes()
    if not isinstance(key, str) or key not in shapes:
        raise SpecError(f"no parameter '{key}' in this network (parameters: {', '.join(shapes) or 'none'})")
    layer_id, _, name = key.rpartition(".")
    shape = shapes[key]
    items: tuple[Any, ...]
    try:
        items = tuple(index)
    except TypeError:
        items = (index,)
    ok = len(items) == len(shape) and all(
        isinstance(i, (int, np.integer)) and not isinstance(i, bool) and 0 <= i < n for i, n in zip(items, shape)
    )
    if not ok:
        want = "(row, column)" if name == "weight" else "(unit,)"
        raise SpecError(
            f"index {index!r} does not fit a {name} of shape {'×'.join(map(str, shape))}: give {want} counting from 0",
            layer_id,
            name,
        )
    return layer_id, name, tuple(int(i) for i in items)


class _Graph:
    """The units downstream of one layer, their edges, and the totals ∂E/∂out and ∂E/∂net per sample."""

    def __init__(self, spec: NetworkSpec, trace: StepTrace, layer_id: str):
        self.spec = spec
        reach = {layer_id}
        for lid in spec.active_order():
            if any(i in reach for i in spec.layer(lid).inputs):
                reach.add(lid)
        self.order = [lid for lid in spec.active_order() if lid in reach]
        self.root = layer_id
        shapes, before = spec.param_shapes(), trace.params_before
        if any(
            lid not in trace.layers
            or np.shape(trace.layers[lid].out)[1:] != (spec.widths[lid],)
            or (k := f"{lid}.weight") in shapes
            and np.shape(before.get(k, ())) != shapes[k]
            for lid in self.order
        ):
            raise SessionError("this step's record does not fit the network (it was edited since): run a new step")
        as64 = lambda a: np.asarray(a, dtype=np.float64)  # noqa: E731
        self.pre = {lid: as64(trace.layers[lid].pre) for lid in self.order}
        self.out = {lid: as64(trace.layers[lid].out) for lid in self.order}
        self.loss_grad = as64(trace.output_grad)
        # edges[X] lists (consumer C, matrix A with ∂net_C = A·out_X, structural mask, kind); for a features
        # consumer A is the terms' Jacobian per sample, (batch, terms, width), for a dropout one diag(mask/(1−p))
        # per sample
        self.edges: dict[str, list[tuple[str, np.ndarray, np.ndarray, str]]] = {lid: [] for lid in self.order}
        for lid in self.order:
            layer = spec.layer(lid)
            offset = 0
            for src in layer.inputs:
                width = spec.widths[src]
                if src in reach:
                    if layer.type == "dense":
                        a = as64(trace.params_before[f"{lid}.weight"])
                        mask = np.ones(a.shape, dtype=bool)
                    elif layer.type == "features":
                        a, mask = features.jacobian(
                            features.parse_terms(layer.terms), as64(trace.layers[lid].inputs[0])
                        )
                    elif layer.type == "dropout":  # net_C[n] = out_X[n]·mask[n]/(1−p) in this step
                        assert layer.p is not None
                        drawn = trace.masks.get(dropout.mask_key(lid))
                        x_in = as64(trace.layers[lid].inputs[0])
                        kept = as64(trace.numpy(drawn)) if drawn is not None else np.ones_like(x_in)
                        a = np.einsum("bn,mn->bmn", kept * dropout.scale(layer.p), np.eye(width))
                        mask = np.ones(a.shape[1:], dtype=bool)
                        mask[~np.eye(width, dtype=bool)] = False  # (unit n feeds unit n only)
                    else:  # add: net_C[n] = Σ inputs[n]; concat: net_C[offset + n] = input[n]
                        mask = np.zeros((spec.widths[lid], width), dtype=bool)
                        mask[np.arange(width) + (offset if layer.type == "concat" else 0), np.arange(width)] = True
                        a = mask.astype(np.float64)
                    self.edges[src].append((lid, a, mask, layer.type))
                offset += width
        self.jac = {lid: self._jacobian(lid) for lid in self.order}
        self.grad_out: dict[str, np.ndarray] = {}
        self.grad_net: dict[str, np.ndarray] = {}
        for lid in reversed(self.order):  # ∂E/∂out = Σ over consumers ∂E/∂net_C · A; ∂E/∂net = ∂E/∂out · J
            if lid == spec.output:
                self.grad_out[lid] = self.loss_grad
            else:
                self.grad_out[lid] = sum(
                    (
                        np.einsum("bm,bmn->bn", self.grad_net[c], a) if a.ndim == 3 else self.grad_net[c] @ a
                        for c, a, _, _ in self.edges[lid]
                    ),
                    np.zeros_like(self.out[lid]),
                )
            jac = self.jac[lid]
            grad_out = self.grad_out[lid]
            self.grad_net[lid] = np.einsum("bn,bnm->bm", grad_out, jac) if jac.ndim == 3 else grad_out * jac

    def _jacobian(self, lid: str) -> np.ndarray:
        """J[b, n, m] = ∂out[n]/∂net[m], from the activation's backward (a vector-Jacobian product); for an
        activation applied unit by unit only its diagonal, J[b, n] (a 1000-unit layer's whole Jacobian for a
        batch of 32 is 256 MB, nearly all zeros)."""
        name, pre, out = self.spec.layer(lid).activation, self.pre[lid], self.out[lid]
        backward, units = activations.FUNCTIONS[name][1], pre.shape[1]
        if name in COUPLED:  # the VJP with the unit vector e_n is row n of the Jacobian
            rows = [backward(pre, out, np.broadcast_to(e, pre.shape).copy()) for e in np.eye(units)]
            return np.stack(rows, axis=1)
        return np.asarray(backward(pre, out, np.ones_like(pre)), dtype=np.float64)

    def _slope(self, lid: str, sample: int, n: int, m: int) -> float:
        """∂out[n]/∂net[m] for one sample."""
        jac = self.jac[lid]
        if jac.ndim == 3:
            return float(jac[sample, n, m])
        return float(jac[sample, n]) if n == m else 0.0

    def _units(self, lid: str, j: int) -> set[int] | range:
        """The units of ``lid`` whose paths the root's unit ``j`` needs: all of them downstream, and in the
        root layer those whose out depends on net[j] (only j, unless a softmax couples them)."""
        if lid != self.root:
            return range(self.spec.widths[lid])
        return {n for n, m in self._activation_pairs(lid) if m == j}

    def _activation_pairs(self, lid: str) -> list[tuple[int, int]]:
        units = self.spec.widths[lid]
        if self.spec.layer(lid).activation in COUPLED:
            return [(n, m) for n in range(units) for m in range(units)]
        return [(n, n) for n in range(units)]

    def activation_factor(self, lid: str, sample: int, n: int, m: int) -> Factor:
        name = self.spec.layer(lid).activation
        if name in COUPLED:
            meaning = f"softmax: s_{n}·(1 − s_{n})" if n == m else f"softmax: −s_{n}·s_{m}"
        else:
            meaning = f"{name}'(net) = {ACTIVATION_RULES[name]}"
        return Factor(f"∂out_{lid}[{n}]/∂net_{lid}[{m}]", meaning, self._slope(lid, sample, n, m))

    def count_paths(self, j: int) -> int:
        counts: dict[str, list[int]] = {}
        net_counts: dict[str, list[int]] = {}
        for lid in reversed(self.order):
            units = self.spec.widths[lid]
            if lid == self.spec.output:
                counts[lid] = [1] * units
            else:
                needed = self._units(lid, j)
                counts[lid] = [
                    sum(net_counts[c][m] for c, _, mask, _ in self.edges[lid] for m in np.flatnonzero(mask[:, n]))
                    if n in needed
                    else 0
                    for n in range(units)
                ]
            net_counts[lid] = [0] * units
            for n, m in self._activation_pairs(lid):
                net_counts[lid][m] += counts[lid][n]
        return net_counts[self.root][j]

    def best_paths(self, sample: int, j: int, k: int) -> list[_Tail]:
        """The k paths from net_root[j] to E with the largest |product| (k-best dynamic programming:
        |a·tail| orders like |tail|, so a node's k best extend its successors' k best)."""
        s, spec = sample, self.spec
        out_tails: dict[str, list[list[_Tail]]] = {}
        net_tails: dict[str, list[list[_Tail]]] = {}
        for lid in reversed(self.order):
            units = spec.widths[lid]
            if lid == spec.output:
                rule = f"{spec.loss}: {LOSS_RULES[spec.loss]}"
                out_tails[lid] = [
                    [_Tail(g, (Factor(f"∂E/∂out_{lid}[{n}]", rule, g),), (), g)]
                    for n, g in enumerate(float(v) for v in self.loss_grad[s])
                ]
            else:
                out_tails[lid] = []
                needed = self._units(lid, j)
                for n in range(units):
                    if n not in needed:
                        out_tails[lid].append([])
                        continue
                    options = [
                        (abs(a[m, n] * t.value), c, m, kind, float(a[m, n]), t)
                        for c, a_all, mask, kind in self.edges[lid]
                        for a in [a_all[s] if a_all.ndim == 3 else a_all]
                        for m in map(int, np.flatnonzero(mask[:, n]))
                        for t in net_tails[c][m]
                    ]
                    chosen = heapq.nlargest(k, options, key=lambda o: o[0])
                    out_tails[lid].append(
                        [
                            _Tail(
                                t.value * w,
                                t.factors + (self._edge_factor(c, m, kind, lid, n, w, spec),),
                                t.via,
                                t.before_activation,
                            )
                            for _, c, m, kind, w, t in chosen
                        ]
                    )
            net_tails[lid] = [[] for _ in range(units)]
            options_by_m: dict[int, list[tuple[float, int, _Tail]]] = {m: [] for m in range(units)}
            for n, m in self._activation_pairs(lid):
                d = self._slope(lid, s, n, m)
                options_by_m[m].extend((abs(d * t.value), n, t) for t in out_tails[lid][n])
            for m, candidates in options_by_m.items():
                for _, n, t in heapq.nlargest(k, candidates, key=lambda o: o[0]):
                    factor = self.activation_factor(lid, s, n, m)
                    unit = f"{lid}[{m}]" if n == m else f"{lid}[{m}→{n}]"
                    net_tails[lid][m].append(
                        _Tail(t.value * factor.value, t.factors + (factor,), (unit,) + t.via, t.value)
                    )
        return net_tails[self.root][j]

    @staticmethod
    def _edge_factor(consumer: str, m: int, kind: str, lid: str, n: int, value: float, spec: NetworkSpec) -> Factor:
        if kind == "features":
            term = features.parse_term(spec.layer(consumer).terms[m])
            meaning = (
                f"{consumer}'s term {term.label} by x{n + 1} = out_{lid}[{n}]: {features.derivative_formula(term, n)}"
            )
        elif kind == "dropout":
            p = spec.layer(consumer).p
            meaning = (
                f"{consumer} keeps out_{lid}[{n}] in this step: mask/(1−p) = 1/(1−{p:g})"
                if value
                else f"{consumer} drops out_{lid}[{n}] in this step: mask = 0"
            )
        else:
            meaning = {
                "dense": f"the weight w_{consumer}[{m},{n}]",
                "add": f"1 ({consumer} adds its inputs)",
                "concat": f"1 ({consumer} puts out_{lid}[{n}] in its slot {m})",
            }[kind]
        return Factor(f"∂net_{consumer}[{m}]/∂out_{lid}[{n}]", meaning, value)


def _refuse_norm_layers(spec: NetworkSpec, layer_id: str) -> None:
    """A path through a norm layer has no factor per unit: its normalization ties each unit to the others (and a
    batchnorm layer in training each sample to the batch), so it is refused in one line rather than drawn wrong."""
    downstream, order = {layer_id}, spec.active_order()
    for lid in order:
        if any(i in downstream for i in spec.layer(lid).inputs):
            downstream.add(lid)
    norm = next((lid for lid in order if lid in downstream and spec.layer(lid).type in normalization.NORM_TYPES), None)
    if norm is not None:
        kind = spec.layer(norm).type
        raise BpstudioError(
            f"its paths to the loss pass through {kind} layer '{norm}', whose normalization ties every unit to the "
            f"others{' and, in training, every sample to the batch' if kind == 'batchnorm' else ''}; the chain rule "
            "is shown path by path only for layers after the last norm layer"
        )


def to_text(expl: Explanation) -> str:
    """The explanation as plain text: the equation, each path with its numbers, the sum, the check."""
    f = format_value
    lines = [f"∂E/∂{expl.symbol}  ({expl.key}{list(expl.index)}, sample {expl.sample} of {expl.batch_size})"]
    if not expl.summary:
        return "\n".join(lines + [f"= 0: {expl.note}"])
    lines.append("= " + " · ".join(x.symbol for x in expl.summary))
    lines.append("= " + " × ".join(f(x.value) for x in expl.summary) + f" = {f(expl.sample_value)}")
    lines.append(f"{path_count(expl.n_paths)} to E:")
    for number, path in enumerate(expl.paths, 1):
        lines.append(f"  path {number} via {' → '.join(path.via)}:")
        lines.append("    " + " · ".join(x.symbol for x in path.factors))
        lines.append("    = " + " × ".join(f(x.value) for x in path.factors) + f" = {f(path.value)}")
        lines.append(f"    (∂E/∂out_{root_unit(path)} along this path = {f(path.upstream)})")
    if expl.n_paths > len(expl.paths):
        lines.append(f"  other {path_count(expl.n_paths - len(expl.paths))} together = {f(expl.other_paths)}")
    lines.append(f"sum over paths = {f(expl.sample_value)}")
    if expl.batch_size > 1:
        lines.append(f"summed over the batch's {expl.batch_size} samples = {f(expl.batch_value)}")
    lines.append(
        f"recorded gradient = {f(expl.recorded)}  "
        + ("(matches)" if expl.matches else f"(DIFFERS by {expl.batch_value - expl.recorded:.3g})")
    )
    if expl.note:
        lines.append(f"note: {expl.note}")
    return "\n".join(lines)


def path_count(n: int) -> str:
    """``1 path``, ``3 paths``."""
    return f"{n} path{'s' * (n != 1)}"


def root_unit(path: PathTerm) -> str:
    """``h[0→1]`` -> ``h[1]``: the out unit of the parameter's layer on this path."""
    return re.sub(r"\[\d+→(\d+)\]", r"[\1]", path.via[0])
