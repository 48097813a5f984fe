"""An ONNX model as a bpstudio network: each op becomes a layer (or the activation of one), its constants weights.

:func:`load` reads the file (:mod:`bpstudio.core.io.onnx_graph`), puts decompositions back together
(:mod:`bpstudio.core.io.onnx_patterns`) and maps the nodes in order:

- ``Gemm`` (``transB``, ``alpha``, ``beta``; ``transA`` is refused) and ``MatMul`` by a constant → a dense layer
  (``MatMul`` then ``Add`` of a constant → one dense layer with that bias);
- ``Add``/``Sum`` of computed tensors → an add layer (a residual connection); ``Concat`` on axis 1 → a concat layer;
- ``BatchNormalization`` (evaluation mode) → a batchnorm layer with its running statistics; ONNX's ``momentum``
  is the weight of the *old* running statistics, so bpstudio's (torch's) momentum is ``1 − momentum``;
- ``LayerNormalization`` over the last axis → a layernorm layer; ``Dropout`` → a dropout layer with its ratio;
- ``Relu``, ``Sigmoid``, ``Tanh``, ``LeakyRelu`` (α 0.01), ``Elu`` (α 1), ``Gelu`` (exact), ``Softplus``,
  ``Softmax`` (last axis), ``Sin``, ``Mish`` and x·sigmoid(x) → the activation of the layer before it, when
  that layer has none yet and nothing else reads its output; otherwise a one-input add layer carrying it;
- ``Identity`` and ``Flatten`` of a 2-D tensor pass their input on.

Anything else is refused with one line naming the op and the node. Layer ids come from the weights' names
(``l1.weight`` → ``l1``) or the node's (``/blocks.0/act/Relu`` → ``blocks.0.act``), made valid and unique.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bpstudio.core import activations
from bpstudio.core.errors import ModelError, SpecError
from bpstudio.core.io import onnx_graph, onnx_patterns
from bpstudio.core.io.fitting_data import fitting_data
from bpstudio.core.io.onnx_graph import Graph, Node, float32_value
from bpstudio.core.limits import MAX_ID_LENGTH, quoted
from bpstudio.core.spec import LayerSpec, NetworkSpec

DEFAULT_LOSS = "mse"
FOLDABLE = ("dense", "add", "concat", "batchnorm", "layernorm")  # layers an activation op can join
ACTIVATION_OPS = {
    "Relu": "relu",
    "Sigmoid": "sigmoid",
    "Tanh": "tanh",
    "LeakyRelu": "leaky_relu",
    "Elu": "elu",
    "Gelu": "gelu",
    "Softplus": "softplus",
    "Softmax": "softmax",
    "Sin": "sin",
    "Silu": "silu",
    "Mish": "mish",
}
# ops bpstudio reads only as part of a decomposition: a refusal says so
PATTERN_OPS = ("Mul", "Div", "Sub", "Pow", "Sqrt", "Erf", "ReduceMean", "Greater", "Where")


def load(path: str | Path, loss: str = DEFAULT_LOSS) -> NetworkSpec:
    """The network the ONNX model at ``path`` computes, with its weights, ``loss`` and a data set that fits its
    input and output widths (so it opens and trains in the app at once). Raises :class:`ModelError`: one line
    naming the file and what bpstudio cannot read."""
    graph = onnx_graph.read(path)
    try:
        onnx_patterns.fuse(graph)
        builder = _Builder(graph)
        return builder.network(Path(path).stem, loss)
    except (ModelError, SpecError) as exc:
        raise ModelError(f"{quoted(str(path))}: {exc}") from None


class _Builder:
    """Walks the graph's nodes in order, keeping for each computed tensor the layer whose output it is."""

    def __init__(self, graph: Graph):
        self.graph = graph
        self.layers: dict[str, dict[str, Any]] = {}
        self.width: dict[str, int] = {}
        input_id = self._new_id(graph.input, "input")
        self.layers[input_id] = {"id": input_id, "type": "input", "units": graph.width}
        self.width[input_id] = graph.width
        self.layer_of: dict[str, str] = {graph.input: input_id}
        self.handlers: dict[str, Callable[[Node], None]] = {
            "Gemm": self._gemm,
            "MatMul": self._matmul,
            "Add": self._add,
            "Sum": self._sum,
            "Concat": self._concat,
            "BatchNormalization": self._batchnorm,
            "LayerNormalization": self._layernorm,
            "Dropout": self._dropout,
            **{op: self._activation for op in ACTIVATION_OPS},
        }

    def network(self, name: str, loss: str) -> NetworkSpec:
        for node in self.graph.nodes:
            handler = self.handlers.get(node.op_type)
            if handler is None:
                hint = (
                    " (bpstudio reads it only inside a decomposed Gelu, LayerNormalization, Softplus, SiLU or Mish)"
                    if node.op_type in PATTERN_OPS
                    else ""
                )
                raise ModelError(f"unsupported op {quoted(node.op_type)} ({node.where()}){hint}")
            handler(node)
        output = self.layer_of[self.graph.output]
        if output == next(iter(self.layers)):  # the output is the input: a layer that passes it on
            output = self._layer("add", "output", [output], self.width[output])
        layers = tuple(LayerSpec(**fields) for fields in self.layers.values())
        data = fitting_data(self.graph.width, self.width[output])
        return NetworkSpec(layers, output, loss, seed=0, name=name, data=data)

    # --- helpers -------------------------------------------------------------------------------------

    def _new_id(self, text: str, fallback: str) -> str:
        cleaned = "".join(ch if ch.isprintable() and ch != "|" else "_" for ch in text).strip() or fallback
        cleaned = cleaned[: MAX_ID_LENGTH - 4]
        candidate, n = cleaned, 2
        while candidate in self.layers:
            candidate, n = f"{cleaned}_{n}", n + 1
        return candidate

    def _label(self, node: Node, weight: str = "") -> str:
        """A layer id for ``node``: its weight's module (``l1.weight`` → ``l1``), else its node's path
        (``/l1/Gemm`` → ``l1``, ``/Relu`` → ``Relu``, ``node_relu`` → ``relu``)."""
        if weight.endswith(".weight") and len(weight) > len(".weight"):
            return weight[: -len(".weight")]
        parts = [p for p in node.name.split("/") if p]
        if len(parts) > 1:
            return ".".join(parts[:-1])
        text = parts[0] if parts else node.op_type
        return text.removeprefix("node_") or text

    def _layer(self, kind: str, label: str, inputs: list[str], width: int, **fields: Any) -> str:
        layer_id = self._new_id(label, kind)
        self.layers[layer_id] = {"id": layer_id, "type": kind, "inputs": tuple(inputs), **fields}
        self.width[layer_id] = width
        return layer_id

    def _computed(self, node: Node, tensor: str, role: str = "input") -> str:
        """The layer whose output ``tensor`` is; a constant where a computed tensor belongs is refused."""
        if tensor in self.graph.consts:
            raise ModelError(f"{node.op_type} {node.where()} reads the constant {quoted(tensor)} as its {role}")
        return self.layer_of[tensor]

    def _const(self, node: Node, index: int, role: str) -> np.ndarray | None:
        """Input ``index`` of ``node`` as a float64 constant (None when the input is absent)."""
        if index >= len(node.inputs) or not node.inputs[index]:
            return None
        value = self.graph.const(node.inputs[index])
        if value is None:
            raise ModelError(
                f"{node.op_type} {node.where()} computes its {role} {quoted(node.inputs[index])} from the input; "
                "bpstudio reads it only as a constant (a weight)"
            )
        return np.asarray(value, dtype=np.float64)

    def _vector(self, node: Node, value: np.ndarray, width: int, role: str) -> np.ndarray:
        """A constant as one number per unit: shape (width,), (1, width) or a single number."""
        if value.size == 1:
            return np.full(width, float(value.reshape(-1)[0]))
        if value.shape in ((width,), (1, width)):
            return value.reshape(width)
        shape = "×".join(map(str, value.shape))
        raise ModelError(f"{node.op_type} {node.where()}: its {role} has shape {shape}, expected {width} numbers")

    def _no_extra_outputs(self, node: Node) -> None:
        for extra in node.outputs[1:]:
            if extra and self.graph.uses.get(extra):
                raise ModelError(
                    f"{node.op_type} {node.where()}: its output {quoted(extra)} is used; bpstudio keeps only the first"
                )

    def _sole_reader(self, tensor: str) -> bool:
        return self.graph.uses.get(tensor, 0) == 1

    # --- dense layers --------------------------------------------------------------------------------

    def _dense(self, node: Node, source: str, weight: np.ndarray, bias: np.ndarray | None, weight_name: str) -> None:
        """A dense layer reading ``source`` with ``weight`` (units × fan_in) and ``bias``."""
        layer_in = self._computed(node, source)
        fan_in = self.width[layer_in]
        if weight.ndim != 2 or weight.shape[1] != fan_in:
            shape = "×".join(map(str, weight.shape))
            raise ModelError(
                f"{node.op_type} {node.where()}: weight {quoted(weight_name)} ({shape}) does not fit its input's "
                f"{fan_in} features"
            )
        units = int(weight.shape[0])
        fields: dict[str, Any] = {"units": units, "weight": weight, "use_bias": bias is not None}
        if bias is not None:
            fields["bias"] = self._vector(node, bias, units, "bias")
        self.layer_of[node.outputs[0]] = self._layer(
            "dense", self._label(node, weight_name), [layer_in], units, **fields
        )

    def _gemm(self, node: Node) -> None:
        """Y = alpha · A · B' + beta · C, with B (and C) constants: a dense layer with W = alpha · B'."""
        if node.attrs.get("transA", 0):
            raise ModelError(
                f"Gemm {node.where()} has transA=1: it would read the batch as features; bpstudio reads Gemm with "
                "transA=0 (a batch of rows times a weight)"
            )
        if node.inputs[1] not in self.graph.consts:
            raise ModelError(
                f"Gemm {node.where()} multiplies two computed tensors; bpstudio reads Gemm by a constant weight (B)"
            )
        b = self._const(node, 1, "weight B")
        assert b is not None
        weight = (b if node.attrs.get("transB", 0) else b.T) * float(node.attrs.get("alpha", 1.0))
        c = self._const(node, 2, "bias C")
        bias = None if c is None else c * float(node.attrs.get("beta", 1.0))
        if c is not None and c.ndim == 2 and c.shape[0] != 1:
            raise ModelError(
                f"Gemm {node.where()}: its C has {c.shape[0]} rows; bpstudio reads one bias row shared by the batch"
            )
        self._dense(node, node.inputs[0], weight, bias, node.inputs[1])

    def _matmul(self, node: Node) -> None:
        a, b = node.inputs
        if a in self.graph.consts:
            raise ModelError(
                f"MatMul {node.where()} has its constant on the left; bpstudio reads a batch of rows times a weight"
            )
        if b not in self.graph.consts:
            raise ModelError(
                f"MatMul {node.where()} multiplies two computed tensors; bpstudio reads x · W, W a constant"
            )
        weight = self._const(node, 1, "weight")
        assert weight is not None
        if weight.ndim != 2:
            raise ModelError(f"MatMul {node.where()}: its weight {quoted(b)} is {weight.ndim}-D, not a matrix")
        self._dense(node, a, weight.T, None, b)

    # --- joins ---------------------------------------------------------------------------------------

    def _add(self, node: Node) -> None:
        a, b = node.inputs
        consts = self.graph.consts
        if a in consts and b in consts:
            consts[node.outputs[0]] = consts[a] + consts[b]
            return
        if a in consts or b in consts:
            self._add_bias(node, b if a in consts else a, a if a in consts else b)
            return
        if a == b:
            raise ModelError(
                f"Add {node.where()} adds {quoted(a)} to itself; bpstudio's add layer takes each input once"
            )
        self._join("add", node, [a, b])

    def _add_bias(self, node: Node, tensor: str, constant: str) -> None:
        """x · W + c, the bias of the dense layer just before (nothing else reading its output)."""
        layer_id = self.layer_of[tensor]
        layer = self.layers[layer_id]
        if (
            layer["type"] != "dense"
            or layer.get("activation", "identity") != "identity"
            or not self._sole_reader(tensor)
        ):
            raise ModelError(
                f"Add {node.where()} adds the constant {quoted(constant)} to {quoted(tensor)}; bpstudio adds a "
                "constant only as the bias of the dense layer (Gemm or MatMul) just before it"
            )
        units = self.width[layer_id]
        c = self._const(node, node.inputs.index(constant), "bias")
        assert c is not None
        bias = self._vector(node, c, units, "bias")
        layer["bias"] = bias + (layer["bias"] if layer.get("bias") is not None else 0.0)
        layer["use_bias"] = True
        self.layer_of[node.outputs[0]] = layer_id

    def _sum(self, node: Node) -> None:
        if len(node.inputs) == 1:
            self._activation_layer(node, "identity")
            return
        self._join("add", node, node.inputs)

    def _concat(self, node: Node) -> None:
        axis = node.attrs.get("axis")
        if axis not in (1, -1):
            raise ModelError(f"Concat {node.where()} joins along axis {axis}; bpstudio joins features (axis 1 or -1)")
        self._join("concat", node, node.inputs)

    def _join(self, kind: str, node: Node, tensors: list[str]) -> None:
        sources = [self._computed(node, t) for t in tensors]
        if len(set(sources)) != len(sources):
            raise ModelError(f"{node.op_type} {node.where()} reads the same tensor twice")
        widths = [self.width[s] for s in sources]
        if kind == "add" and len(set(widths)) > 1:
            raise ModelError(f"Add {node.where()} adds tensors of {' and '.join(map(str, widths))} features")
        width = sum(widths) if kind == "concat" else widths[0]
        self.layer_of[node.outputs[0]] = self._layer(kind, self._label(node), sources, width)

    # --- normalization and dropout --------------------------------------------------------------------

    def _batchnorm(self, node: Node) -> None:
        if node.attrs.get("training_mode", 0):
            raise ModelError(
                f"BatchNormalization {node.where()} is in training mode; export the model after model.eval()"
            )
        self._no_extra_outputs(node)
        source = self._computed(node, node.inputs[0])
        width = self.width[source]
        arrays = {}
        for index, key in enumerate(("weight", "bias", "running_mean", "running_var"), start=1):
            value = self._const(node, index, key.replace("_", " "))
            assert value is not None
            arrays[key] = self._vector(node, value, width, key.replace("_", " "))
        momentum = 1.0 - float32_value(float(node.attrs.get("momentum", 0.9)))
        self.layer_of[node.outputs[0]] = self._layer(
            "batchnorm",
            self._label(node, node.inputs[1]),
            [source],
            width,
            eps=float32_value(float(node.attrs.get("epsilon", 1e-5))),
            momentum=round(momentum, 12),
            **arrays,
        )

    def _layernorm(self, node: Node) -> None:
        axis = node.attrs.get("axis", -1)
        if axis not in (-1, 1):
            raise ModelError(
                f"LayerNormalization {node.where()} normalizes from axis {axis}; bpstudio normalizes each row's "
                "features (axis -1)"
            )
        self._no_extra_outputs(node)
        source = self._computed(node, node.inputs[0])
        width = self.width[source]
        scale, shift = self._const(node, 1, "scale"), self._const(node, 2, "bias")
        eps = float(node.attrs.get("epsilon", 1e-5))
        fields: dict[str, Any] = {"eps": float32_value(eps) if not node.attrs.get("decomposed") else eps}
        if scale is None and shift is None:
            fields["affine"] = False
        else:
            fields["weight"] = np.ones(width) if scale is None else self._vector(node, scale, width, "scale")
            fields["bias"] = np.zeros(width) if shift is None else self._vector(node, shift, width, "bias")
        weight_name = node.inputs[1] if len(node.inputs) > 1 else ""
        self.layer_of[node.outputs[0]] = self._layer(
            "layernorm", self._label(node, weight_name), [source], width, **fields
        )

    def _dropout(self, node: Node) -> None:
        self._no_extra_outputs(node)
        training = self._const(node, 2, "training mode")
        if training is not None and bool(training.reshape(-1)[0]):
            raise ModelError(f"Dropout {node.where()} is in training mode; export the model after model.eval()")
        ratio = self._const(node, 1, "ratio")
        p = float(ratio.reshape(-1)[0]) if ratio is not None else float(node.attrs.get("ratio", 0.5))
        source = self._computed(node, node.inputs[0])
        self.layer_of[node.outputs[0]] = self._layer(
            "dropout", self._label(node), [source], self.width[source], p=float32_value(p)
        )

    # --- activations ---------------------------------------------------------------------------------

    def _activation(self, node: Node) -> None:
        name = ACTIVATION_OPS[node.op_type]
        self._check_activation(node)
        self._activation_layer(node, name)

    def _activation_layer(self, node: Node, name: str) -> None:
        """``name`` joins the layer before it when that layer is one that takes an activation, has none yet, and
        nothing else reads its output; otherwise a one-input add layer (the identity, then ``name``) carries it."""
        tensor = node.inputs[0]
        source = self._computed(node, tensor)
        layer = self.layers[source]
        foldable = layer["type"] in FOLDABLE and layer.get("activation", "identity") == "identity"
        if foldable and self._sole_reader(tensor) and name != "identity":
            layer["activation"] = name
            self.layer_of[node.outputs[0]] = source
            return
        self.layer_of[node.outputs[0]] = self._layer(
            "add", self._label(node), [source], self.width[source], activation=name
        )

    def _check_activation(self, node: Node) -> None:
        """Refuse settings bpstudio's activation does not have (its slopes are fixed, softmax is over features)."""
        op, attrs = node.op_type, node.attrs
        fixed = {"LeakyRelu": ("alpha", activations.LEAKY_SLOPE, 0.01), "Elu": ("alpha", 1.0, 1.0)}
        if op in fixed:
            key, ours, default = fixed[op]
            value = float(attrs.get(key, default))
            if not np.isclose(np.float32(value), np.float32(ours), rtol=1e-6, atol=0):
                raise ModelError(
                    f"{op} {node.where()} has {key} {float32_value(value)}; bpstudio's {ACTIVATION_OPS[op]} has "
                    f"{key} {ours} only"
                )
        if op == "Gelu" and attrs.get("approximate", "none") != "none":
            raise ModelError(
                f"Gelu {node.where()} uses approximate='{attrs['approximate']}'; bpstudio's gelu is the exact erf form"
            )
        if op == "Softmax":
            axis = attrs.get("axis", -1 if self.graph.opset >= 13 else 1)
            if axis not in (-1, 1):
                raise ModelError(f"Softmax {node.where()} is over axis {axis}; bpstudio's softmax is over features")
