"""The chain-rule explanation as rich text for the GUI panel: the equation, each path with its numbers in the
given colours, the sum and the check against the recorded gradient. The explanation itself is core's
(:func:`bpstudio.core.tools.explain.explain`); this only presents it."""

from __future__ import annotations

import html
import re

from bpstudio.core.tools.explain import Explanation, format_value, path_count, root_unit


def _symbol_html(text: str) -> str:
    """``∂net_h[0]/∂w_h[0,1]`` with the layer ids as subscripts: net<sub>h</sub>[0]."""
    return re.sub(r"\b(w|b|out|net)_([^\[\s]+?)\[", r"\1<sub>\2</sub>[", html.escape(text))


def to_html(expl: Explanation, positive: str = "#f58220", negative: str = "#2176c4") -> str:
    """The explanation as rich text for the GUI panel: signed values in the given colours."""
    f = format_value
    sym = _symbol_html

    def signed(v: float) -> str:
        return f"<b style='color:{positive if v >= 0 else negative}'>{f(v)}</b>"

    where = f"row {expl.index[0]}, column {expl.index[1]}" if len(expl.index) == 2 else f"unit {expl.index[0]}"
    summed = f" · summed over a batch of {expl.batch_size}" if expl.batch_size > 1 else ""
    out = [
        (
            f"<h2>∂E/∂{sym(expl.symbol)} = {signed(expl.batch_value)}</h2>"
            f"<p style='color:#555'>{html.escape(expl.key)}, {where}{summed}</p>"
        )
    ]
    if not expl.summary:
        return "".join(out + [f"<p>= 0: {html.escape(expl.note)}</p>"])
    out.append(
        f"<p><b>Chain rule</b> for sample {expl.sample} of {expl.batch_size}<br>∂E/∂"
        + sym(expl.symbol)
        + " = "
        + " · ".join(sym(x.symbol) for x in expl.summary)
        + "<br>= "
        + " × ".join(f(x.value) for x in expl.summary)
        + f" = {signed(expl.sample_value)}</p>"
    )
    out.append(
        f"<p><b>{path_count(expl.n_paths)} to E</b>, one term per path:</p><table cellspacing='0' cellpadding='3'>"
    )
    for number, path in enumerate(expl.paths, 1):
        out.append(
            f"<tr><td valign='top'>{number}.</td><td><b>via {html.escape(' → '.join(path.via))}</b>"
            f"<br><span style='color:#555'>{' · '.join(sym(x.symbol) for x in path.factors)}</span><br>"
            f"= {' × '.join(f(x.value) for x in path.factors)} = {signed(path.value)}<br><span style="
            f"'color:#555'>∂E/∂{sym('out_' + root_unit(path))} along this path = {f(path.upstream)}</span>"
            "</td></tr>"
        )
    if expl.n_paths > len(expl.paths):
        out.append(
            f"<tr><td></td><td>other {path_count(expl.n_paths - len(expl.paths))} together: "
            f"{signed(expl.other_paths)}</td></tr>"
        )
    out.append(f"</table><p><b>Sum</b> over paths = {signed(expl.sample_value)}")
    if expl.batch_size > 1:
        out.append(f"<br>summed over the batch's {expl.batch_size} samples = {signed(expl.batch_value)}")
    check = (
        "<span style='color:#2a7d2a'>✓ matches</span>"
        if expl.matches
        else f"<span style='color:#c01010'>✗ differs by {expl.batch_value - expl.recorded:.3g}</span>"
    )
    out.append(f"<br><b>Recorded</b> by the backward pass = {f(expl.recorded)} {check}</p>")
    if expl.note:
        out.append(f"<p style='color:#555'>{html.escape(expl.note)}</p>")
    return "".join(out)
