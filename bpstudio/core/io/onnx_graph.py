"""Reading an ONNX file into a plain graph the importer walks: nodes, constants, aliases and who reads what.

Only this module and :mod:`bpstudio.core.io.onnx_export` import the ``onnx`` package (the optional extra
``bpstudio[onnx]``), and only when a model is read or written. Everything it gives back is plain Python and NumPy:
:class:`Node` (an op with its attributes as Python values) and :class:`Graph`.

What bpstudio can represent is checked here, each refusal one line naming what is wrong: a file that is not an
ONNX model or fails the ONNX checker, a model with other than one input and one output, an input that is not a
batch of feature rows (N × d, float32 or float64: no 4-D images, no sequence dimension).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from bpstudio.core.errors import ModelError
from bpstudio.core.limits import MAX_FILE_BYTES, brief, quoted

# ops that pass a tensor on unchanged in an evaluation-mode graph of 2-D tensors (Flatten is checked to be one)
ALIAS_OPS = ("Identity", "Flatten")
FLOAT_TYPES = {1: "float32", 11: "float64"}  # TensorProto.FLOAT, TensorProto.DOUBLE


def require_onnx() -> ModuleType:
    """The ``onnx`` package, or one line saying how to install it."""
    try:
        import onnx
    except ImportError:
        raise ModelError("reading or writing ONNX needs the onnx package: pip install 'bpstudio[onnx]'") from None
    return onnx


@dataclass
class Node:
    """One ONNX node as plain data: ``attrs`` holds Python values (ints, floats, lists, str, arrays)."""

    op_type: str
    name: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict[str, Any] = field(default_factory=dict)
    domain: str = ""

    def where(self) -> str:
        """How a message names the node: ``node '/l1/Gemm'``."""
        return f"node {quoted(self.name)}"


@dataclass
class Graph:
    """The part of a model the output depends on, in the file's (topological) order.

    ``consts`` holds every constant by tensor name (initializers, Constant nodes and aliases of them) as an
    array; ``alias`` maps a tensor an Identity/Flatten made to the tensor it passes on; ``nodes`` are the other
    nodes, reading canonical names (aliases resolved); ``uses`` counts, per canonical computed tensor, the nodes
    reading it plus one if it is the graph's output."""

    name: str
    input: str
    width: int
    output: str
    nodes: list[Node]
    consts: dict[str, np.ndarray]
    opset: int
    uses: dict[str, int] = field(default_factory=dict)
    consumers: dict[str, list[Node]] = field(default_factory=dict)

    def count_uses(self) -> None:
        self.uses, self.consumers = {}, {}
        for node in self.nodes:
            for name in node.inputs:
                if name and name not in self.consts:
                    self.uses[name] = self.uses.get(name, 0) + 1
                    self.consumers.setdefault(name, []).append(node)
        self.uses[self.output] = self.uses.get(self.output, 0) + 1

    def const(self, name: str) -> np.ndarray | None:
        return self.consts.get(name) if name else None


def read(path: str | Path) -> Graph:
    """The model at ``path`` as a :class:`Graph`; :class:`ModelError` (one line, naming the file) if it cannot be
    read or is not a network bpstudio can represent."""
    onnx = require_onnx()
    shown = quoted(str(path))
    p = Path(path)
    try:
        if not p.is_file():
            raise ModelError(f"model file {shown} {'is not a file' if p.exists() else 'not found'}")
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ModelError(
                f"model file {shown} is {size / 2**20:,.0f} MiB; the most read is {MAX_FILE_BYTES // 2**20} MiB"
            )
        data = p.read_bytes()
    except OSError as exc:
        raise ModelError(f"model file {shown} cannot be read ({exc.strerror or exc})") from None
    try:
        model = onnx.load_model_from_string(data)
    except Exception:  # protobuf's DecodeError and friends: whatever it is, it is not a model
        raise ModelError(f"{shown} is not an ONNX model (it does not parse as one)") from None
    if not model.HasField("graph") or not model.graph.node:
        raise ModelError(f"{shown} is not an ONNX model with a graph (no nodes found)")
    _load_external_data(onnx, model, p, shown)
    try:
        onnx.checker.check_model(model)
    except Exception as exc:  # onnx.checker.ValidationError, or a protobuf error on a damaged model
        said = " ".join(str(exc).split()) or type(exc).__name__
        raise ModelError(f"{shown} is not a valid ONNX model: {said[:300]}") from None
    try:
        return _graph(onnx, model)
    except ModelError as exc:
        raise ModelError(f"{shown}: {exc}") from None


def _load_external_data(onnx: ModuleType, model: Any, path: Path, shown: str) -> None:
    from onnx.external_data_helper import load_external_data_for_model, uses_external_data

    if not any(uses_external_data(t) for t in model.graph.initializer):
        return
    try:
        load_external_data_for_model(model, str(path.parent))
    except Exception as exc:
        raise ModelError(f"{shown}: its weights are kept in another file that cannot be read ({exc})") from None


def _opset(model: Any) -> int:
    for entry in model.opset_import:
        if entry.domain in ("", "ai.onnx"):
            return int(entry.version)
    return 1


def _dims(value_info: Any) -> list[int | str | None]:
    shape = value_info.type.tensor_type.shape
    if not value_info.type.tensor_type.HasField("shape"):
        return []
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in shape.dim]


def _shape_text(dims: list[int | str | None]) -> str:
    return "(" + ", ".join("?" if d is None else str(d) for d in dims) + ")"


def _graph(onnx: ModuleType, model: Any) -> Graph:
    graph = model.graph
    initializers = {t.name for t in graph.initializer}
    inputs = [i for i in graph.input if i.name not in initializers]
    if len(inputs) != 1:
        names = ", ".join(quoted(i.name) for i in inputs) or "none"
        raise ModelError(f"the model takes {len(inputs)} inputs ({names}); bpstudio reads models with exactly one")
    if len(graph.output) != 1:
        names = ", ".join(quoted(o.name) for o in graph.output)
        raise ModelError(f"the model has {len(graph.output)} outputs ({names}); bpstudio reads models with exactly one")
    source, sink = inputs[0], graph.output[0]
    width = _check_input(source)
    consts: dict[str, np.ndarray] = {}
    for tensor in graph.initializer:
        consts[tensor.name] = _array(onnx, tensor, f"initializer {quoted(tensor.name)}")
    alias: dict[str, str] = {}
    nodes: list[Node] = []
    for proto in graph.node:
        node = Node(
            proto.op_type,
            proto.name or (proto.output[0] if proto.output else proto.op_type),
            [alias.get(i, i) for i in proto.input],
            list(proto.output),
            {a.name: _attribute(onnx, a) for a in proto.attribute},
            proto.domain,
        )
        if node.domain not in ("", "ai.onnx"):
            raise ModelError(f"unsupported op '{node.domain}.{node.op_type}' ({node.where()})")
        if node.op_type == "Constant":
            consts[node.outputs[0]] = _constant(onnx, node)
        elif node.op_type in ALIAS_OPS and node.inputs and node.inputs[0] in consts:
            consts[node.outputs[0]] = consts[node.inputs[0]]  # (a constant under another name)
        elif node.op_type in ALIAS_OPS:
            _check_flatten(node)
            alias[node.outputs[0]] = node.inputs[0]
        else:
            nodes.append(node)
    output = alias.get(sink.name, sink.name)
    if output in consts:
        raise ModelError(f"the model's output {quoted(sink.name)} is a constant; it computes nothing from its input")
    result = Graph(graph.name, source.name, width, output, _needed(nodes, output, source.name), consts, _opset(model))
    result.count_uses()
    return result


def _check_input(value_info: Any) -> int:
    """The input's feature width: it must be a float tensor N × d with d fixed."""
    name = quoted(value_info.name)
    kind = value_info.type.WhichOneof("value")
    if kind != "tensor_type":
        raise ModelError(f"the input {name} is a {kind}, not a tensor")
    element = value_info.type.tensor_type.elem_type
    if element not in FLOAT_TYPES:
        raise ModelError(f"the input {name} holds {_type_name(element)}; bpstudio reads float32 or float64 inputs")
    dims = _dims(value_info)
    if len(dims) != 2:
        what = f"{len(dims)}-D tensors of shape {_shape_text(dims)}" if dims else "tensors of unknown shape"
        raise ModelError(
            f"the input {name} takes {what}; bpstudio reads a batch of feature rows (batch × features, 2-D): "
            "no images, channels or sequence dimensions"
        )
    width = dims[1]
    if not isinstance(width, int) or width < 1:
        raise ModelError(f"the input {name} has shape {_shape_text(dims)}: its feature dimension needs a fixed size")
    return width


def _type_name(element: int) -> str:
    try:
        import onnx

        return str(onnx.helper.tensor_dtype_to_np_dtype(element))
    except Exception:
        return f"element type {element}"


def _array(onnx: ModuleType, tensor: Any, what: str) -> np.ndarray:
    try:
        array = onnx.numpy_helper.to_array(tensor)
    except Exception as exc:
        raise ModelError(f"{what} cannot be read ({brief(str(exc))})") from None
    if array.dtype.kind not in "fiub":
        raise ModelError(f"{what} holds {array.dtype} values, not numbers")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise ModelError(f"{what} holds a value that is not a finite number")
    return np.asarray(array)


def _attribute(onnx: ModuleType, attribute: Any) -> Any:
    value = onnx.helper.get_attribute_value(attribute)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, onnx.TensorProto):
        return _array(onnx, value, f"attribute {quoted(attribute.name)}")
    if isinstance(value, list):
        return [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in value]
    return value


def _constant(onnx: ModuleType, node: Node) -> np.ndarray:
    for key in ("value", "value_float", "value_floats", "value_int", "value_ints"):
        if key in node.attrs:
            return np.asarray(node.attrs[key])
    raise ModelError(f"Constant {node.where()} holds no number ({', '.join(node.attrs) or 'no value'})")


def _check_flatten(node: Node) -> None:
    """Flatten of a batch × features tensor passes it on with axis 1 (or -1); axis 0 would make one row."""
    if node.op_type == "Flatten" and node.attrs.get("axis", 1) not in (1, -1):
        raise ModelError(
            f"Flatten {node.where()} has axis {node.attrs['axis']}: it would turn the batch into one row; "
            "bpstudio flattens a batch × features tensor with axis 1 only"
        )


def _needed(nodes: list[Node], output: str, source: str) -> list[Node]:
    """The nodes the output depends on, in order (nodes whose results nothing uses are passed over)."""
    producer = {out: node for node in nodes for out in node.outputs}
    if output not in producer and output != source:
        raise ModelError(f"the model's output {quoted(output)} is computed by no node")
    needed: set[int] = set()
    stack = [output]
    while stack:
        name = stack.pop()
        node = producer.get(name)
        if node is None or id(node) in needed:
            continue
        needed.add(id(node))
        stack.extend(i for i in node.inputs if i)
    return [node for node in nodes if id(node) in needed]


def close(value: float, target: float) -> bool:
    """Whether a float32 constant from a file is ``target`` (to float32 rounding)."""
    return math.isclose(float(value), target, rel_tol=1e-6, abs_tol=1e-12)


def float32_value(value: float) -> float:
    """A float32 attribute as the decimal number it was written from: 0.9 stored as 0.8999999761581421 reads
    0.9 (the shortest decimal that rounds to the same float32)."""
    return float(np.format_float_positional(np.float32(value), unique=True, trim="0"))
