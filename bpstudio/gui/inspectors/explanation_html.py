"""The chain-rule explanation as rich text for the GUI panel. The explanation itself is core's
(:func:`bpstudio.core.tools.explain.explain`); this only presents it.

Two forms: the compact one (the default) fits one weight's story in a short panel — the headline value, the
chain as one line of factors and one of numbers, a line per path with its term, the sum and the check — and
the detailed one adds each path's factors and numbers and core's notes (which paths are listed, how a batch
sums). Either ends with a link that switches to the other
(:data:`SHOW_ALL` / :data:`SHOW_LESS`).

Text is in the panel's own font; only the headline is one size step larger. A line may break between the
factors of a product, before its ``·``, ``×`` or ``=``, never inside a term: a fraction such as
``∂out_h[0]/∂net_h[0]`` carries a word joiner after its slash, and each operator a no-break space after it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from bpstudio.core.tools.explain import Explanation, PathTerm, format_value, path_count, root_unit
from bpstudio.core.tools.explain_norm import NormCoupling, plugged_in
from bpstudio.gui.qt_utils import math_html

SHOW_ALL = "#all"  # the links' targets, handled by the panel
SHOW_LESS = "#less"
GLUE = "\u2060"  # word joiner: no line break here
NBSP = "\u00a0"
GREY = "color:#555"
PARAGRAPH = "margin-top:0px; margin-bottom:6px"


def term(text: str) -> str:
    """One symbol as rich text: ``∂net_h[0]/∂w_h[0,1]`` with the layer ids as subscripts (net<sub>h</sub>[0]),
    kept on one line (no break after the fraction's slash)."""
    glued = html.escape(text).replace("/", "/" + GLUE)
    return re.sub(r"\b(w|b|γ|β|out|net)_([^\[\s]+?)\[", r"\1<sub>\2</sub>[", glued)


def chain(items: list[str], operator: str) -> str:
    """``a · b · c``: a line may break before an operator, not after it."""
    return f" {operator}{NBSP}".join(items)


def to_html(expl: Explanation, positive: str = "#f58220", negative: str = "#2176c4", *, detailed: bool = False) -> str:
    """The explanation as rich text for the GUI panel: signed values in the given colours; ``detailed``
    writes each path's factors out too."""
    f = format_value

    def signed(v: float) -> str:
        return f"<b style='color:{positive if v >= 0 else negative}'>{f(v)}</b>"

    def equals(value: str) -> str:
        return f" ={NBSP}{value}"

    where = f"row {expl.index[0]}, column {expl.index[1]}" if len(expl.index) == 2 else f"unit {expl.index[0]}"
    if expl.line:  # (which line on the canvas: rows are the layer's units, columns its input's)
        where += f": the line {html.escape(expl.line)}"
    summed = f" · summed over a batch of {expl.batch_size}" if expl.batch_size > 1 else ""
    frozen = " · frozen: the update leaves it unchanged" if expl.frozen else ""
    out = [
        f"<p style='{PARAGRAPH}; font-size:large'><b>∂E/∂{term(expl.symbol)}{equals(signed(expl.batch_value))}</b></p>",
        f"<p style='{PARAGRAPH}; {GREY}'>{html.escape(expl.key)}, {where}{summed}{frozen}</p>",
    ]
    if not expl.summary:
        return "".join(out + [f"<p style='{PARAGRAPH}'>= 0: {html.escape(expl.note)}</p>"])
    of_sample = f" for sample {expl.sample} of {expl.batch_size}" if expl.batch_size > 1 else ""
    out.append(
        f"<p style='{PARAGRAPH}'><b>Chain rule</b>{of_sample}<br>∂E/∂{term(expl.symbol)}"
        + equals(chain([term(x.symbol) for x in expl.summary], "·"))
        + "<br>"
        + equals(chain([f(x.value) for x in expl.summary], "×"))
        + equals(signed(expl.sample_value))
        + "</p>"
    )
    out.append(f"<p style='{PARAGRAPH}'><b>{path_count(expl.n_paths)} to E</b>, one term per path:</p>")
    out.append("<table cellspacing='0' cellpadding='1' style='margin-bottom:6px'>")
    for number, path in enumerate(expl.paths, 1):
        out.append(_path_row(number, path, signed, detailed))
    if expl.n_paths > len(expl.paths):
        others = f"other {path_count(expl.n_paths - len(expl.paths))} together"
        out.append(f"<tr><td></td><td>{others.replace(' ', NBSP)}{equals(signed(expl.other_paths))}</td></tr>")
    out.append("</table>")
    for c in expl.couplings:
        out.append(_coupling(c, signed, detailed))
    out.append(f"<p style='{PARAGRAPH}'><b>Sum</b> over paths{equals(signed(expl.sample_value))}")
    if expl.batch_size > 1:
        out.append(f"<br>summed over the batch's {expl.batch_size} samples{equals(signed(expl.batch_value))}")
    check = (
        "<span style='color:#2a7d2a'>✓ matches</span>"
        if expl.matches
        else f"<span style='color:#c01010'>✗ differs by {expl.batch_value - expl.recorded:.3g}</span>"
    )
    out.append(f"<br><b>Recorded</b> by the backward pass{equals(f(expl.recorded))} {check}</p>")
    if expl.note and detailed:
        out.append(f"<p style='{PARAGRAPH}; {GREY}'>{html.escape(expl.note)}</p>")
    more = "▸ Each path's factors" + (" and the notes" if expl.note else "")
    link = (SHOW_LESS, "▾ Fewer details") if detailed else (SHOW_ALL, more)
    out.append(f"<p style='margin:0px'><a href='{link[0]}'>{link[1]}</a></p>")
    return math_html("".join(out))


def _coupling(c: NormCoupling, signed: Callable[[float], str], detailed: bool) -> str:
    """A norm layer a path ended at: its formula, the numbers plugged in, its three terms and their sum against the
    backward pass's (the batch coupling, for batchnorm)."""
    over = "every sample of the batch takes part" if c.kind == "batchnorm" else "every unit of the sample takes part"
    head = (
        f"<b>Through {html.escape(c.layer)}</b> back to {html.escape(c.source)}[{c.unit}], sample {c.sample} "
        f"<span style='{GREY}'>({c.kind}: {over})</span>"
    )
    lines = [head, f"<span style='{GREY}'>{html.escape(c.formula)}</span>"]
    if detailed:
        lines.append(", ".join(f"{html.escape(name)} ={NBSP}{format_value(v)}" for name, v in c.numbers))
    lines.append(f"={NBSP}{html.escape(plugged_in(c, format_value))}")
    rows = [
        f"<tr><td>{html.escape(t.symbol).replace(' ', NBSP)}</td><td>&nbsp;={NBSP}{signed(t.value)}</td>"
        + (f"<td style='{GREY}'>&nbsp;{html.escape(t.meaning)}</td>" if detailed else "")
        + "</tr>"
        for t in c.terms
    ]
    total = f"<tr><td><b>sum</b></td><td>&nbsp;={NBSP}{signed(c.total)}</td></tr>"
    table = f"<table cellspacing='0' cellpadding='1'>{''.join(rows)}{total}</table>"
    check = ""
    if c.recorded is not None:
        mark = (
            "<span style='color:#2a7d2a'>✓ matches</span>"
            if c.matches
            else f"<span style='color:#c01010'>✗ differs by {c.total - c.recorded:.3g}</span>"
        )
        check = (
            f"<p style='{PARAGRAPH}'>the backward pass's ∂E/∂out<sub>{html.escape(c.source)}</sub>[{c.unit}] "
            f"through {html.escape(c.layer)}{NBSP}={NBSP}{format_value(c.recorded)} {mark}</p>"
        )
    return f"<p style='{PARAGRAPH}'>{'<br>'.join(lines)}</p>{table}{check}"


def _path_row(number: int, path: PathTerm, signed: Callable[[float], str], detailed: bool) -> str:
    """A table row for one path: where it goes and its term; in detail also its factors and numbers."""
    via = f" →{NBSP}".join(html.escape(unit) for unit in path.via)
    value = f" ={NBSP}{signed(path.value)}"
    if not detailed:
        return f"<tr><td valign='top'>{number}.</td><td>via {via}{value}</td></tr>"
    factors = path.factors
    upstream = f"∂E/∂{term('out_' + root_unit(path))} along this path"
    return (
        f"<tr><td valign='top'>{number}.</td><td><b>via {via}</b>"
        f"<br><span style='{GREY}'>{chain([term(x.symbol) for x in factors], '·')}</span>"
        f"<br>={NBSP}{chain([format_value(x.value) for x in factors], '×')}{value}"
        f"<br><span style='{GREY}'>{upstream} ={NBSP}{format_value(path.upstream)}</span></td></tr>"
    )
