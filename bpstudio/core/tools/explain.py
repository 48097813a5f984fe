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

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from bpstudio.core.checks import is_count, is_whole
from bpstudio.core.errors import SessionError, SpecError
from bpstudio.core.normalization import NORM_TYPES
from bpstudio.core.spec import NetworkSpec
from bpstudio.core.tools import explain_norm
from bpstudio.core.tools.explain_graph import COUPLED, LOSS_RULES, Factor, Graph
from bpstudio.core.trace import StepTrace


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
    couplings: tuple[explain_norm.NormCoupling, ...] = ()  # the norm layers paths end at, their three terms
    line: str = ""  # a dense weight's line on the canvas, "h[0] → o[1]": from input unit (column) to unit (row)


MAX_COUPLINGS = 4  # the norm units whose three terms are written out (those the listed paths reach, largest first)


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
    norm = spec.layer(layer_id).type in NORM_TYPES  # (its weight and bias are γ and β)
    letter = ("γ" if name == "weight" else "β") if norm else ("w" if name == "weight" else "b")
    symbol = f"{letter}_{layer_id}[{','.join(map(str, index))}]"
    batch = int(np.shape(trace.x)[0])
    if not is_whole(sample) or not 0 <= sample < batch:
        raise SessionError(f"sample {sample!r} is not in this batch of {batch} (give 0 to {batch - 1})")
    if not is_count(max_paths, 1):
        raise SessionError(f"max_paths must be a positive integer, got {max_paths!r}")
    sample = int(sample)
    line = f"{spec.layer(layer_id).inputs[0]}[{index[1]}] → {layer_id}[{index[0]}]" if len(index) == 2 else ""
    if layer_id not in spec.active_order():
        note = (
            f"layer '{layer_id}' does not lead to the output '{spec.output}': the loss does not depend "
            f"on {symbol}, so its gradient is 0 (no path reaches E)"
        )
        return Explanation(key, index, sample, batch, (), 0.0, 0, 0.0, 0.0, 0.0, note, symbol, (), line=line)
    record = trace.layers.get(layer_id)
    if record is None or name not in record.grads or trace.output_grad is None:
        raise SessionError(f"run the backward pass through layer '{layer_id}' first")

    graph = Graph(spec, trace, layer_id)
    j = index[0]
    source = spec.layer(layer_id).inputs[0]
    x_in = np.asarray(record.inputs[0], dtype=np.float64)
    if norm:  # z = γ·x̂ + β
        xhat = explain_norm.normalized_input(spec, trace, layer_id)[:, j]
        what = ("x̂, the normalized input", float(xhat[sample])) if name == "weight" else ("1 (z adds β)", 1.0)
        last = Factor(f"∂net_{layer_id}[{j}]/∂{symbol}", *what)
        per_sample = graph.grad_net[layer_id][:, j] * (xhat if name == "weight" else 1.0)
    elif name == "weight":
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
    ends = list(dict.fromkeys(f.through for p in paths for f in p.factors if f.through is not None))
    couplings = tuple(
        explain_norm.coupling(spec, trace, c, sample, n, graph.grad_net[c]) for c, n in ends[:MAX_COUPLINGS]
    )
    if couplings:
        notes.append(
            "a path into a norm layer ends there in one factor: every sample of the batch (batchnorm) or every unit "
            "of the sample (layernorm) takes part in its mean and variance, so the gradient back to its input is "
            "the sum of three terms, written out below"
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
        couplings,
        line,
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
        want = "(row, column)" if len(shape) == 2 else "(unit,)"
        raise SpecError(
            f"index {index!r} does not fit a {name} of shape {'×'.join(map(str, shape))}: give {want} counting from 0",
            layer_id,
            name,
        )
    return layer_id, name, tuple(int(i) for i in items)


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
    for c in expl.couplings:
        lines += explain_norm.to_lines(c, f)
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
