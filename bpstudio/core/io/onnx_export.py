"""A network as an ONNX model: the network in evaluation mode, float32, opset 20, a symbolic batch dimension.

Every layer type becomes the ops that compute it in evaluation mode (what :meth:`Session.predict` computes):

- dense → ``Gemm`` (``transB=1``: the weight is stored units × fan_in, like ``torch.nn.Linear``), no ``C``
  without bias;
- add → ``Add`` (``Sum`` for three or more inputs, ``Identity`` for one); concat → ``Concat`` on axis 1;
- features → per term a ``Gather`` of its column(s), then ``Pow``, ``Mul``, ``Sin`` or ``Cos``, joined by ``Concat``;
- dropout → ``Dropout`` with its ratio, which is the identity in inference (no training_mode input);
- batchnorm → ``BatchNormalization`` with the running statistics (ONNX's momentum is 1 − bpstudio's);
- layernorm → ``LayerNormalization`` over the last axis (γ ones and no β without ``affine``);
- activations → ``Relu``, ``Sigmoid``, ``Tanh``, ``LeakyRelu`` (α 0.01), ``Elu`` (α 1), ``Gelu``, ``Softplus``,
  ``Softmax`` (axis −1), ``Sin``, ``Mish``, and x·``Sigmoid``(x) for silu.

The file holds float32 (what ONNX tools and runtimes expect everywhere); onnxruntime's outputs equal the engine's
to float32 rounding. Tensors are named after the layers (a layer's output is its id, its weights
``<id>.weight``), nodes ``/<id>/<Op>`` like PyTorch's exporter, so :mod:`bpstudio.core.io.onnx_import` gives
the same ids back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from bpstudio import __version__
from bpstudio.core import features, normalization
from bpstudio.core.errors import ModelError
from bpstudio.core.io.onnx_graph import require_onnx
from bpstudio.core.spec import LayerSpec, NetworkSpec

OPSET = 20
IR_VERSION = 10  # (onnx 1.16 and onnxruntime 1.17 on read it)
BATCH = "batch"
SIMPLE_ACTIVATIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "relu": ("Relu", {}),
    "sigmoid": ("Sigmoid", {}),
    "tanh": ("Tanh", {}),
    "leaky_relu": ("LeakyRelu", {"alpha": 0.01}),
    "elu": ("Elu", {"alpha": 1.0}),
    "gelu": ("Gelu", {"approximate": "none"}),
    "softplus": ("Softplus", {}),
    "softmax": ("Softmax", {"axis": -1}),
    "sin": ("Sin", {}),
    "mish": ("Mish", {}),
}


def to_model(spec: NetworkSpec, params: Mapping[str, np.ndarray], running: Mapping[str, np.ndarray]) -> Any:
    """``spec`` with parameters ``params`` and running statistics ``running`` (keyed like the session's) as a
    checked ``onnx.ModelProto``."""
    onnx = require_onnx()
    writer = _Writer(onnx, params, running)
    for layer_id in spec.active_order():
        layer = spec.layer(layer_id)
        if layer.type != "input":
            writer.layer(layer, spec)
    helper = onnx.helper
    graph = helper.make_graph(
        writer.nodes,
        spec.name or "bpstudio network",
        [helper.make_tensor_value_info(spec.input_id, onnx.TensorProto.FLOAT, [BATCH, spec.widths[spec.input_id]])],
        [helper.make_tensor_value_info(spec.output, onnx.TensorProto.FLOAT, [BATCH, spec.widths[spec.output]])],
        writer.initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        ir_version=IR_VERSION,
        producer_name="bpstudio",
        producer_version=__version__,
        doc_string="A bpstudio network in evaluation mode (batchnorm: running statistics; dropout: identity).",
    )
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as exc:  # (names that clash, e.g. a layer whose id is another layer's "<id>.weight")
        raise ModelError(f"the network cannot be written as ONNX: {' '.join(str(exc).split())[:300]}") from None
    return model


def to_bytes(spec: NetworkSpec, params: Mapping[str, np.ndarray], running: Mapping[str, np.ndarray]) -> bytes:
    """The model of :func:`to_model` as the bytes of an .onnx file."""
    data: bytes = to_model(spec, params, running).SerializeToString()
    return data


class _Writer:
    def __init__(self, onnx: Any, params: Mapping[str, np.ndarray], running: Mapping[str, np.ndarray]):
        self.onnx = onnx
        self.params = params
        self.running = running
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []

    def const(self, name: str, value: Any, dtype: Any = np.float32) -> str:
        array = np.asarray(value, dtype=dtype)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def node(self, layer_id: str, op: str, inputs: list[str], output: str, suffix: str = "", **attrs: Any) -> str:
        name = f"/{layer_id}/{op}{suffix}"
        self.nodes.append(self.onnx.helper.make_node(op, inputs, [output], name=name, **attrs))
        return output

    def layer(self, layer: LayerSpec, spec: NetworkSpec) -> None:
        lid, inputs = layer.id, list(layer.inputs)
        has_activation = layer.activation != "identity"
        pre = f"{lid}.pre" if has_activation else lid
        if layer.type == "dense":
            weight = self.const(f"{lid}.weight", self.params[f"{lid}.weight"])
            bias = [self.const(f"{lid}.bias", self.params[f"{lid}.bias"])] if layer.use_bias else []
            self.node(lid, "Gemm", [inputs[0], weight, *bias], pre, transB=1)
        elif layer.type == "add":
            op = "Identity" if len(inputs) == 1 else "Add" if len(inputs) == 2 else "Sum"
            self.node(lid, op, inputs, pre)
        elif layer.type == "concat":
            self.node(lid, "Concat", inputs, pre, axis=1)
        elif layer.type == "features":
            self._features(layer, pre)
        elif layer.type == "dropout":
            assert layer.p is not None
            self.node(lid, "Dropout", [inputs[0], self.const(f"{lid}.ratio", layer.p)], pre)
        elif layer.type == "batchnorm":
            self._batchnorm(layer, spec.widths[lid], pre)
        else:
            assert layer.type == "layernorm", layer.type
            width = spec.widths[lid]
            scale = self.params.get(f"{lid}.weight", np.ones(width)) if layer.affine else np.ones(width)
            shift = [self.const(f"{lid}.bias", self.params[f"{lid}.bias"])] if layer.affine else []
            names = [inputs[0], self.const(f"{lid}.weight", scale), *shift]
            self.node(lid, "LayerNormalization", names, pre, axis=-1, epsilon=float(layer.eps or 1e-5))
        if has_activation:
            self._activation(lid, layer.activation, pre, lid)

    def _batchnorm(self, layer: LayerSpec, width: int, out: str) -> None:
        lid = layer.id
        scale = self.params[f"{lid}.weight"] if layer.affine else np.ones(width)
        shift = self.params[f"{lid}.bias"] if layer.affine else np.zeros(width)
        mean, var = (self.running[normalization.running_key(lid, n)] for n in normalization.RUNNING)
        names = [
            self.const(f"{lid}.weight", scale),
            self.const(f"{lid}.bias", shift),
            self.const(f"{lid}.running_mean", mean),
            self.const(f"{lid}.running_var", var),
        ]
        momentum = 1.0 - float(layer.momentum if layer.momentum is not None else normalization.DEFAULT_MOMENTUM)
        eps = float(layer.eps or normalization.DEFAULT_EPS)
        self.node(lid, "BatchNormalization", [layer.inputs[0], *names], out, epsilon=eps, momentum=momentum)

    def _features(self, layer: LayerSpec, out: str) -> None:
        """Each term's column from its input's columns (Gather keeps the batch × 1 shape), then joined."""
        lid, x = layer.id, layer.inputs[0]
        columns: list[str] = []
        picked_columns: dict[int, str] = {}  # input column → the tensor holding it (N × 1)
        for k, term in enumerate(features.parse_terms(layer.terms)):
            for c in term.columns:
                if c not in picked_columns:
                    index = self.const(f"{lid}.column{c + 1}", [c], np.int64)
                    picked_columns[c] = self.node(lid, "Gather", [x, index], f"{lid}.x{c + 1}", f"_x{c + 1}", axis=1)
            picked = [picked_columns[c] for c in term.columns]
            name = f"{lid}.t{k + 1}"
            if term.kind == "x":
                columns.append(picked[0])
                continue
            if term.kind == "pow":
                exponent = self.const(f"{lid}.t{k + 1}.power", float(term.power))
                self.node(lid, "Pow", [picked[0], exponent], name, f"_{k + 1}")
            elif term.kind == "mul":
                self.node(lid, "Mul", picked, name, f"_{k + 1}")
            else:
                self.node(lid, "Sin" if term.kind == "sin" else "Cos", picked, name, f"_{k + 1}")
            columns.append(name)
        self.node(lid, "Concat", columns, out, axis=1)

    def _activation(self, lid: str, activation: str, z: str, out: str) -> None:
        if activation == "silu":  # z · σ(z)
            sigma = self.node(lid, "Sigmoid", [z], f"{lid}.sigmoid")
            self.node(lid, "Mul", [z, sigma], out)
            return
        op, attrs = SIMPLE_ACTIVATIONS[activation]
        self.node(lid, op, [z], out, **attrs)
