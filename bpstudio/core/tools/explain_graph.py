"""The units a parameter's gradient flows through, for :mod:`bpstudio.core.tools.explain`: each layer kind's local
derivative (an edge from a unit's out to the next layer's net), the totals ∂E/∂out and ∂E/∂net per sample, and
the largest paths to the loss.

Through a features layer the local derivative is the term's own, per sample (∂(x1²)/∂x1 = 2·x1); through a
dropout layer the step's mask/(1−p); through add and concat 1. A batchnorm or layernorm layer couples the values it
normalizes (over the batch, over a sample's units), so no path goes through it unit by unit: a path reaching one
ends in a single factor, the whole gradient the layer sends back to that input, written out as its three terms by
:mod:`bpstudio.core.tools.explain_norm`.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from bpstudio.core import activations, dropout, features
from bpstudio.core.errors import SessionError
from bpstudio.core.normalization import NORM_TYPES
from bpstudio.core.spec import NetworkSpec
from bpstudio.core.tools import explain_norm
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
    through: tuple[str, int] | None = None  # a path's end at a norm layer: (its id, the input unit reaching it)


class Tail(NamedTuple):
    """A partial path from some unit to E: value, factors (chain-rule order), units (data-flow order)."""

    value: float
    factors: tuple[Factor, ...]
    via: tuple[str, ...]
    before_activation: float


class Graph:
    """The units downstream of one layer, their edges, and the totals ∂E/∂out and ∂E/∂net per sample."""

    def __init__(self, spec: NetworkSpec, trace: StepTrace, layer_id: str):
        self.spec, self.trace = spec, trace
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
        # per sample; a norm consumer's A is unused (paths end there: explain_norm)
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
                    else:  # add: net_C[n] = Σ inputs[n]; concat: net_C[offset + n] = input[n]; norm: unit n from n
                        mask = np.zeros((spec.widths[lid], width), dtype=bool)
                        mask[np.arange(width) + (offset if layer.type == "concat" else 0), np.arange(width)] = True
                        a = mask.astype(np.float64)
                    self.edges[src].append((lid, a, mask, layer.type))
                offset += width
        self.jac = {lid: self._jacobian(lid) for lid in self.order}
        self.grad_out: dict[str, np.ndarray] = {}
        self.grad_net: dict[str, np.ndarray] = {}
        self.through_norm: dict[str, np.ndarray] = {}  # a norm layer C: ∂E/∂(its input), every sample's
        for lid in reversed(self.order):  # ∂E/∂out = Σ over consumers ∂E/∂net_C · A; ∂E/∂net = ∂E/∂out · J
            if lid == spec.output:
                self.grad_out[lid] = self.loss_grad
            else:
                self.grad_out[lid] = sum(
                    (self._from_consumer(c, a, kind) for c, a, _, kind in self.edges[lid]),
                    np.zeros_like(self.out[lid]),
                )
            jac = self.jac[lid]
            grad_out = self.grad_out[lid]
            self.grad_net[lid] = np.einsum("bn,bnm->bm", grad_out, jac) if jac.ndim == 3 else grad_out * jac

    def _from_consumer(self, consumer: str, a: np.ndarray, kind: str) -> np.ndarray:
        """∂E/∂out of a layer through one of its consumers: ∂E/∂net_C · A, or through a norm layer its whole
        coupled backward (every sample's, or every unit's, ∂E/∂z counts: explain_norm)."""
        grad = self.grad_net[consumer]
        if kind in NORM_TYPES:
            if consumer not in self.through_norm:
                self.through_norm[consumer] = explain_norm.input_grad(self.spec, self.trace, consumer, grad)
            return self.through_norm[consumer]
        return np.einsum("bm,bmn->bn", grad, a) if a.ndim == 3 else grad @ a

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
                    sum(
                        1 if kind in NORM_TYPES else sum(net_counts[c][m] for m in np.flatnonzero(mask[:, n]))
                        for c, _, mask, kind in self.edges[lid]
                    )  # (a path reaching a norm layer ends there)
                    if n in needed
                    else 0
                    for n in range(units)
                ]
            net_counts[lid] = [0] * units
            for n, m in self._activation_pairs(lid):
                net_counts[lid][m] += counts[lid][n]
        return net_counts[self.root][j]

    def best_paths(self, sample: int, j: int, k: int) -> list[Tail]:
        """The k paths from net_root[j] to E with the largest |product| (k-best dynamic programming:
        |a·tail| orders like |tail|, so a node's k best extend its successors' k best)."""
        s, spec = sample, self.spec
        out_tails: dict[str, list[list[Tail]]] = {}
        net_tails: dict[str, list[list[Tail]]] = {}
        for lid in reversed(self.order):
            units = spec.widths[lid]
            if lid == spec.output:
                rule = f"{spec.loss}: {LOSS_RULES[spec.loss]}"
                out_tails[lid] = [
                    [Tail(g, (Factor(f"∂E/∂out_{lid}[{n}]", rule, g),), (), g)]
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
                        if kind not in NORM_TYPES
                        for a in [a_all[s] if a_all.ndim == 3 else a_all]
                        for m in map(int, np.flatnonzero(mask[:, n]))
                        for t in net_tails[c][m]
                    ]
                    options += [
                        self._norm_end(lid, n, c, kind, s) for c, _, _, kind in self.edges[lid] if kind in NORM_TYPES
                    ]
                    chosen = heapq.nlargest(k, options, key=lambda o: o[0])
                    out_tails[lid].append(
                        [
                            Tail(
                                t.value * w,
                                t.factors
                                + (() if kind == "end" else (self._edge_factor(c, m, kind, lid, n, w, spec),)),
                                t.via,
                                t.before_activation,
                            )
                            for _, c, m, kind, w, t in chosen
                        ]
                    )
            net_tails[lid] = [[] for _ in range(units)]
            options_by_m: dict[int, list[tuple[float, int, Tail]]] = {m: [] for m in range(units)}
            for n, m in self._activation_pairs(lid):
                d = self._slope(lid, s, n, m)
                options_by_m[m].extend((abs(d * t.value), n, t) for t in out_tails[lid][n])
            for m, candidates in options_by_m.items():
                for _, n, t in heapq.nlargest(k, candidates, key=lambda o: o[0]):
                    factor = self.activation_factor(lid, s, n, m)
                    unit = f"{lid}[{m}]" if n == m else f"{lid}[{m}→{n}]"
                    net_tails[lid][m].append(
                        Tail(t.value * factor.value, t.factors + (factor,), (unit,) + t.via, t.value)
                    )
        return net_tails[self.root][j]

    def _norm_end(self, lid: str, n: int, consumer: str, kind: str, s: int) -> tuple[float, str, int, str, float, Tail]:
        """A path from out_lid[n] into norm layer ``consumer`` ends there, in one factor: all the gradient the layer
        sends back to that input for sample ``s`` (the batch's or the sample's units' ∂E/∂z coupled in)."""
        g = float(self.through_norm[consumer][s, n])
        over = "the whole batch" if kind == "batchnorm" else "all the sample's units"
        meaning = f"through {consumer}'s mean and variance, {over} coupled in (its three terms below)"
        end = Tail(
            g,
            (Factor(f"∂E/∂out_{lid}[{n}] via {consumer}", meaning, g, (consumer, n)),),
            (explain_norm.through(kind, consumer, n),),
            g,
        )
        return abs(g), consumer, n, "end", 1.0, end

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
