"""Tooltip texts with the exact numbers behind what the canvas draws (9 significant digits)."""

from __future__ import annotations

import html

import numpy as np

from bpstudio.gui.canvas.scene import Hit
from bpstudio.gui.canvas.states import LayerState, NetworkState
from bpstudio.gui.qt_utils import format_number, math_html


def _row(name: str, value: str, note: str = "") -> str:
    note_html = f" <span style='color:#6c757d'>{html.escape(note)}</span>" if note else ""
    cells = f"<td style='padding-right:10px'>{html.escape(name)}</td><td><b>{html.escape(value)}</b>{note_html}</td>"
    return f"<tr>{cells}</tr>"


def _value(array: np.ndarray | None, index: tuple[int, ...]) -> str | None:
    if array is None:
        return None
    return format_number(float(array[index]))


def _sample_note(net: NetworkState) -> str:
    if net.batch > 1:
        return f"<p style='color:#6c757d'>values: sample 1 of {net.batch}; gradients: mean over the batch</p>"
    return ""


def _frozen(state: LayerState, param: str) -> str:
    return "(frozen)" if param in state.frozen else ""


def neuron_tooltip(net: NetworkState, layer_id: str, unit: int) -> str:
    state = net.layers[layer_id]
    what = state.type if state.activation == "identity" else f"{state.type}, {state.activation}"
    if unit < len(state.unit_labels):
        what = f"features: the term {state.unit_labels[unit]}"
    if state.dropped is not None and unit < len(state.dropped):
        what = (
            "dropout: dropped in this step (mask 0: passes 0 on)"
            if state.dropped[unit]
            else f"dropout: kept in this step (mask 1: passes its input × 1/(1−{state.p:g}) on)"
        )
    rows = []
    if state.pre is not None and state.type != "input":
        name, note = ("z = γ·x̂ + β", "before the activation") if state.norm else ("net", "pre-activation")
        rows.append(_row(name, format_number(float(state.pre[unit])), note))
    if state.out is not None:
        rows.append(_row("out", format_number(float(state.out[unit]))))
    if state.norm:
        rows += norm_rows(state, unit)
    else:
        if state.bias is not None:
            rows.append(_row("bias", format_number(float(state.bias[unit])), _frozen(state, "bias")))
        if state.bias_grad is not None:
            rows.append(_row("∂E/∂bias", format_number(float(state.bias_grad[unit]))))
    if state.delta is not None:
        rows.append(_row("δ = ∂E/∂z" if state.norm else "δ = ∂E/∂net", format_number(float(state.delta[unit]))))
    if state.targets is not None and unit < len(state.targets) and state.targets[unit]:
        rows.append(_row("target", str(state.targets[unit]).removeprefix("target ")))
    if not rows:
        rows.append(_row("value", "—", "not computed yet in this step"))
    what_bias = "shift β" if state.norm else "bias"
    hint = (
        f"<p style='color:#6c757d'>click: pick this {what_bias} · double-click: edit it</p>"
        if state.bias is not None
        else ""
    )
    return math_html(
        f"<b>{html.escape(layer_id)}[{unit}]</b> · {html.escape(what)}<table>{''.join(rows)}</table>"
        f"{_sample_note(net)}{hint}"
    )


def edge_tooltip(net: NetworkState, hit: Hit) -> str:
    assert hit.edges is not None
    edges = hit.edges
    row, col = hit.index
    src, dst = net.layers[edges.source], net.layers[edges.target]
    head = f"<b>{html.escape(edges.source)}[{col}] → {html.escape(edges.target)}[{row}]</b>"
    if edges.kind == "dropout":
        return f"{head}<br>dropout: drops this value or scales it by 1/(1−p) in training, passes it on in evaluation"
    if edges.kind == "norm":
        return norm_edge_tooltip(head, dst, row)
    if edges.kind == "features":
        term = dst.unit_labels[row] if row < len(dst.unit_labels) else "?"
        return f"{head}<br>features: the term {html.escape(term)} reads x{col + 1}, this value (no weight)"
    if edges.kind != "weight":
        rule = "adds the value unchanged" if edges.kind == "add" else "copies the value into its slot"
        return f"{head}<br>{edges.kind}: {rule} (no weight)"
    rows = [_row("weight", _value(dst.weight, (row, col)) or "—", _frozen(dst, "weight"))]
    before = _value(dst.weight_before, (row, col))
    if before is not None:
        rows.append(_row("before the update", before))
    grad = _value(dst.weight_grad, (row, col))
    if grad is not None:
        rows.append(_row("gradient ∂E/∂w" + (" (applied)" if before is not None else ""), grad))
    if src.out is not None:
        rows.append(_row(f"input {edges.source}[{col}]", format_number(float(src.out[col]))))
    if dst.delta is not None:
        rows.append(_row(f"δ of {edges.target}[{row}]", format_number(float(dst.delta[row]))))
    return (
        f"{head} · <code>{html.escape(edges.target)}.weight[{row}, {col}]</code><table>{''.join(rows)}</table>"
        f"{_sample_note(net)}<p style='color:#6c757d'>click: pick this weight · double-click: edit it</p>"
    )


def layer_tooltip(net: NetworkState, layer_id: str) -> str:
    state = net.layers[layer_id]
    lines = [
        f"<b>{html.escape(layer_id)}</b> · {state.type}, {state.units} units"
        + ("" if state.activation == "identity" else f", {state.activation}")
    ]
    if state.unit_labels:
        lines.append("terms: " + ", ".join(html.escape(t) for t in state.unit_labels))
    if state.p is not None:
        lines.append(f"p {state.p:g}: each unit dropped with this probability in a training step, none in evaluation")
        if state.dropped is not None:
            lines.append(f"this step, sample 1: {int(state.dropped.sum())} of {state.units} units dropped")
    if state.inputs:
        lines.append("inputs: " + ", ".join(html.escape(i) for i in state.inputs))
    if state.weight is not None:
        shape = "×".join(map(str, state.weight.shape))
        lines.append(f"weight {shape} {_frozen(state, 'weight')}".rstrip())
    if state.bias is not None and not state.norm:
        lines.append(f"bias {state.bias.shape[0]} {_frozen(state, 'bias')}".rstrip())
    if state.is_output:
        lines.append(f"output layer (loss {net.loss_name})")
    if state.norm:
        lines += norm_layer_lines(state)
    if state.type in ("dense", "batchnorm", "layernorm") and state.id in net.grad_norms:
        lines.append(f"‖∂E/∂{'γ' if state.norm else 'W'}‖ = {format_number(net.grad_norms[state.id])}")
    lines.append(
        "<span style='color:#6c757d'>double-click the title to rename · drag the right-hand port "
        "onto another block to connect</span>"
    )
    return "<br>".join(lines)


# --- norm layers ---------------------------------------------------------------------------------------------

STATISTICS_LINES = {
    "batch": "normalized by this training step's batch mean μ and variance σ² (evaluation uses the running μ̄, σ̄²)",
    "running": "no step shown: evaluation normalizes by the running μ̄, σ̄² (a training step by its batch's μ, σ²)",
    "sample": "normalizes each sample over its own units (its mean and variance), in training and evaluation",
}


def norm_rows(state: LayerState, unit: int) -> list[str]:
    """A norm unit's parameters and statistics, each said with what it is for."""
    rows = []
    for name, values, note in (
        ("γ (scale)", state.gamma, _frozen(state, "weight")),
        ("β (shift)", state.bias, _frozen(state, "bias")),
        ("∂E/∂γ", state.gamma_grad, ""),
        ("∂E/∂β", state.bias_grad, ""),
        ("batch μ", state.batch_mean, "this step's mean of the unit's input"),
        ("batch σ²", state.batch_var, "and its variance (biased)"),
        ("running μ̄", state.running_mean, "what evaluation normalizes by"),
        ("running σ̄²", state.running_var, "(each step moves them towards the batch's)"),
    ):
        if values is not None and unit < len(values):
            rows.append(_row(name, format_number(float(values[unit])), note))
    return rows


def norm_edge_tooltip(head: str, dst: LayerState, row: int) -> str:
    """The line into a norm unit: what the layer does to the value it carries."""
    over = "over the batch (this unit's mean and variance)" if dst.type == "batchnorm" else "over the sample's units"
    text = math_html(f"{head}<br>{dst.type}: normalizes this value {over}: x̂ = (x − μ)/√(σ² + ε), then z = γ·x̂ + β")
    if dst.gamma is None:
        return f"{text}<br>(no γ and β: affine is off)"
    rows = [_row("γ", format_number(float(dst.gamma[row])), _frozen(dst, "weight"))]
    if dst.gamma_grad is not None:
        rows.append(_row("gradient ∂E/∂γ", format_number(float(dst.gamma_grad[row]))))
    return (
        f"{text} · <code>{html.escape(dst.id)}.weight[{row}]</code><table>{''.join(rows)}</table>"
        "<p style='color:#6c757d'>click: pick this γ · double-click: edit it</p>"
    )


def norm_layer_lines(state: LayerState) -> list[str]:
    """A norm layer's settings and which statistics its values were normalized by."""
    settings = f"eps {state.eps:g}" + (f" · momentum {state.momentum:g}" if state.momentum is not None else "")
    lines = [settings]
    if state.gamma is not None:
        frozen = " · frozen: " + ", ".join(sorted(state.frozen)) if state.frozen else ""
        lines.append(f"γ (scale) and β (shift): {state.units} each{frozen}")
    else:
        lines.append("no γ and β (affine off)")
    if state.statistics is not None:
        lines.append(STATISTICS_LINES[state.statistics])
    return lines


def port_tooltip(kind: str, layer_id: str) -> str:
    if kind == "out_port":
        return f"output of <b>{html.escape(layer_id)}</b>: drag onto another block to connect"
    return f"input of <b>{html.escape(layer_id)}</b>"


def tooltip_for(net: NetworkState | None, hit: Hit | None) -> str:
    """The tooltip for whatever is under the mouse (empty: none)."""
    if hit is None or net is None:
        return ""
    if hit.kind == "neuron":
        return neuron_tooltip(net, hit.layer, hit.index[0])
    if hit.kind == "edge":
        return edge_tooltip(net, hit)
    if hit.kind in ("out_port", "in_port"):
        return port_tooltip(hit.kind, hit.layer)
    return layer_tooltip(net, hit.layer)
