"""Decompositions exporters write in place of one op, found and put back together before the graph is mapped.

- **Gelu** as PyTorch's legacy exporter writes it below opset 20: ``x · 0.5 · (1 + erf(x / √2))`` — a Div by √2
  (or a Mul by 1/√2), Erf, Add 1, and two Muls by x and 0.5 in either order.
- **LayerNormalization** below opset 17, or written out by hand: ``ReduceMean → Sub → Pow 2 (or Mul by itself)
  → ReduceMean → Add ε → Sqrt → Div``, then optionally ``Mul γ`` and ``Add β``. ReduceMean's axes are an
  attribute before opset 18 and an input from 18 on; both must be the last axis.
- **Softplus** with PyTorch's threshold (the new exporter): ``Where(x > 20, x, Softplus(x))`` — bpstudio's
  softplus has that threshold too.
- **SiLU** ``x · sigmoid(x)`` and **Mish** ``x · tanh(softplus(x))`` (what exporters write for ``nn.SiLU`` and,
  below opset 18, ``nn.Mish``).

Each match becomes one :class:`~bpstudio.core.io.onnx_graph.Node` with the op's own name (``Gelu``,
``LayerNormalization``, ``Silu``), named after the first node of the pattern. A node whose intermediate results
are read elsewhere is not part of a pattern (its result would be lost), so it stays as it is and is refused as
an op of its own if bpstudio has no layer for it.
"""

from __future__ import annotations

import math

import numpy as np

from bpstudio.core.io.onnx_graph import Graph, Node, close


def fuse(graph: Graph) -> None:
    """Replace every decomposition in ``graph`` by the op it stands for (in place)."""
    for finder in (_layer_norm, _gelu, _softplus, _silu, _mish):
        changed = True
        while changed:
            changed = False
            graph.count_uses()
            for node in list(graph.nodes):
                match = finder(graph, node)
                if match is not None:
                    fused, used = match
                    _replace(graph, used, fused)
                    changed = True
                    break
    graph.count_uses()


def _replace(graph: Graph, used: list[Node], fused: Node) -> None:
    ids = {id(n) for n in used}
    last = max(i for i, n in enumerate(graph.nodes) if id(n) in ids)
    kept = [n for i, n in enumerate(graph.nodes) if id(n) not in ids or i == last]
    graph.nodes = [fused if id(n) in ids else n for n in kept]


def _only_reader(graph: Graph, tensor: str) -> Node | None:
    """The one node reading ``tensor`` (None if it is read by none, several, or is the graph's output)."""
    readers = graph.consumers.get(tensor, [])
    if len(readers) != 1 or tensor == graph.output:
        return None
    return readers[0]


def _other(node: Node, tensor: str) -> str | None:
    """The other input of a two-input node one of whose inputs is ``tensor``."""
    if len(node.inputs) != 2 or tensor not in node.inputs:
        return None
    a, b = node.inputs
    return b if a == tensor else a


def _scalar(graph: Graph, name: str | None) -> float | None:
    value = graph.const(name) if name else None
    if value is None or value.size != 1:
        return None
    return float(value.reshape(-1)[0])


# --- gelu ----------------------------------------------------------------------------------------------


def _gelu(graph: Graph, erf: Node) -> tuple[Node, list[Node]] | None:
    if erf.op_type != "Erf":
        return None
    scale = next((n for n in graph.nodes if erf.inputs[0] in n.outputs), None)
    if scale is None or _only_reader(graph, scale.outputs[0]) is not erf or len(scale.inputs) != 2:
        return None
    x, c = scale.inputs
    if scale.op_type == "Div" and close(_scalar(graph, c) or 0.0, math.sqrt(2.0)):
        pass
    elif scale.op_type == "Mul":
        if _scalar(graph, c) is None:
            x, c = c, x
        if not close(_scalar(graph, c) or 0.0, math.sqrt(0.5)):
            return None
    else:
        return None
    if x in graph.consts:
        return None
    plus = _only_reader(graph, erf.outputs[0])
    if plus is None or plus.op_type != "Add" or not close(_scalar(graph, _other(plus, erf.outputs[0])) or 0.0, 1.0):
        return None
    used = [scale, erf, plus]
    wanted = {"x": False, "half": False}
    tensor = plus.outputs[0]
    while not all(wanted.values()):
        mul = _only_reader(graph, tensor)
        if mul is None or mul.op_type != "Mul":
            return None
        other = _other(mul, tensor)
        if other is None or not _take_factor(graph, other, x, wanted, used, mul):
            return None
        used.append(mul)
        tensor = mul.outputs[0]
    return Node("Gelu", scale.name, [x], [tensor], {"approximate": "none"}), used


def _take_factor(graph: Graph, name: str, x: str, wanted: dict[str, bool], used: list[Node], reader: Node) -> bool:
    """Mark the factor ``name`` (x, 0.5, or x·0.5 computed just for ``reader``) as found."""
    if name == x and not wanted["x"]:
        wanted["x"] = True
        return True
    if close(_scalar(graph, name) or 0.0, 0.5) and not wanted["half"]:
        wanted["half"] = True
        return True
    inner = next((n for n in graph.nodes if name in n.outputs), None)
    if inner is None or inner.op_type != "Mul" or graph.consumers.get(name) != [reader] or wanted["x"]:
        return False
    other = _other(inner, x)
    if other is None or not close(_scalar(graph, other) or 0.0, 0.5) or wanted["half"]:
        return False
    wanted["x"] = wanted["half"] = True
    used.append(inner)
    return True


# --- silu ----------------------------------------------------------------------------------------------


def _silu(graph: Graph, sigmoid: Node) -> tuple[Node, list[Node]] | None:
    if sigmoid.op_type != "Sigmoid":
        return None
    x = sigmoid.inputs[0]
    mul = _only_reader(graph, sigmoid.outputs[0])
    if mul is None or mul.op_type != "Mul" or _other(mul, sigmoid.outputs[0]) != x:
        return None
    return Node("Silu", sigmoid.name, [x], [mul.outputs[0]]), [sigmoid, mul]


def _producer(graph: Graph, tensor: str) -> Node | None:
    return next((n for n in graph.nodes if tensor in n.outputs), None)


def _softplus(graph: Graph, where: Node) -> tuple[Node, list[Node]] | None:
    if where.op_type != "Where" or len(where.inputs) != 3:
        return None
    test, soft = _producer(graph, where.inputs[0]), _producer(graph, where.inputs[2])
    if test is None or soft is None or test.op_type != "Greater" or soft.op_type != "Softplus":
        return None
    if test.inputs[0] != where.inputs[1] or soft.inputs[0] != where.inputs[1]:
        return None
    if not close(_scalar(graph, test.inputs[1]) or 0.0, 20.0):
        return None
    if _only_reader(graph, test.outputs[0]) is not where or _only_reader(graph, soft.outputs[0]) is not where:
        return None
    return Node("Softplus", soft.name, [where.inputs[1]], [where.outputs[0]]), [test, soft, where]


def _mish(graph: Graph, soft: Node) -> tuple[Node, list[Node]] | None:
    if soft.op_type != "Softplus":
        return None
    x = soft.inputs[0]
    tanh = _only_reader(graph, soft.outputs[0])
    if tanh is None or tanh.op_type != "Tanh":
        return None
    mul = _only_reader(graph, tanh.outputs[0])
    if mul is None or mul.op_type != "Mul" or _other(mul, tanh.outputs[0]) != x:
        return None
    return Node("Mish", soft.name, [x], [mul.outputs[0]]), [soft, tanh, mul]


# --- layer normalization ---------------------------------------------------------------------------


def _last_axis_mean(graph: Graph, node: Node | None) -> bool:
    """A ReduceMean over the last axis of a 2-D tensor, keeping the dimension."""
    if node is None or node.op_type != "ReduceMean" or node.attrs.get("keepdims", 1) != 1:
        return False
    axes = node.attrs.get("axes")
    if axes is None and len(node.inputs) > 1 and node.inputs[1]:
        given = graph.const(node.inputs[1])
        axes = None if given is None else [int(a) for a in np.asarray(given).reshape(-1)]
    return axes is not None and list(axes) in ([-1], [1])


def _layer_norm(graph: Graph, mean: Node) -> tuple[Node, list[Node]] | None:
    if not _last_axis_mean(graph, mean) or mean.inputs[0] in graph.consts:
        return None
    x = mean.inputs[0]
    sub = _only_reader(graph, mean.outputs[0])
    if sub is None or sub.op_type != "Sub" or sub.inputs != [x, mean.outputs[0]]:
        return None
    d = sub.outputs[0]
    readers = list({id(n): n for n in graph.consumers.get(d, [])}.values())
    if len(readers) != 2 or d == graph.output:
        return None
    square = next((n for n in readers if n.op_type in ("Pow", "Mul")), None)
    div = next((n for n in readers if n.op_type == "Div" and n.inputs[0] == d), None)
    if square is None or div is None or square is div:
        return None
    if square.op_type == "Pow" and not (square.inputs[0] == d and close(_scalar(graph, square.inputs[1]) or 0, 2.0)):
        return None
    if square.op_type == "Mul" and square.inputs != [d, d]:
        return None
    var = _only_reader(graph, square.outputs[0])
    if not _last_axis_mean(graph, var):
        return None
    assert var is not None
    add = _only_reader(graph, var.outputs[0])
    eps = _scalar(graph, _other(add, var.outputs[0])) if add is not None and add.op_type == "Add" else None
    if add is None or eps is None or not eps > 0:
        return None
    sqrt = _only_reader(graph, add.outputs[0])
    if sqrt is None or sqrt.op_type != "Sqrt" or _only_reader(graph, sqrt.outputs[0]) is not div:
        return None
    if div.inputs != [d, sqrt.outputs[0]]:
        return None
    used = [mean, sub, square, var, add, sqrt, div]
    out, inputs = div.outputs[0], [x, "", ""]
    for slot, op in ((1, "Mul"), (2, "Add")):
        step = _only_reader(graph, out)
        constant = _other(step, out) if step is not None and step.op_type == op else None
        if step is None or constant is None or constant not in graph.consts:
            continue
        used.append(step)
        inputs[slot], out = constant, step.outputs[0]
    fused = Node("LayerNormalization", mean.name, inputs, [out], {"epsilon": eps, "axis": -1, "decomposed": 1})
    return fused, used
