"""A PyTorch ``nn.Module`` as a bpstudio network, traced with ``torch.fx``.

``bpstudio import --torch PACKAGE.MODULE:FACTORY`` imports the user's own module as they would (the working folder
first on the path), calls ``FACTORY()`` (:mod:`bpstudio.core.io.torch_loading`) and traces what it returns. The
trace's nodes become layers:

- ``nn.Linear`` → a dense layer, ``nn.BatchNorm1d`` → batchnorm (its running statistics included),
  ``nn.LayerNorm`` → layernorm, ``nn.Dropout`` / ``F.dropout`` → dropout;
- ``a + b`` and ``torch.add`` → an add layer, ``torch.cat([...], dim=1)`` → a concat layer;
- an activation (``nn.ReLU``, ``F.relu``, ``torch.relu``, ``x.relu()``, … sigmoid, tanh, leaky_relu with slope
  0.01, elu, gelu, softplus, softmax over the features, silu, mish, sin) becomes the activation of the layer it
  follows when that layer has none and nothing else reads its output; otherwise a one-input add layer applies it;
- ``nn.Identity``, ``nn.Flatten`` and ``torch.flatten(x, 1)`` on 2-D values pass their input on.

A layer made from a module takes the module's qualified name as its id (``blocks.0.lin``), so its parameters'
keys (``blocks.0.lin.weight``) are exactly ``model.named_parameters()``'s names; a layer made from a function takes
the trace's node name (``add``, ``cat_1``). Anything else — another module or function, a module called twice
(shared weights), a parameter no layer uses — is refused naming it. torch is imported only inside functions.
"""

from __future__ import annotations

import dataclasses
import math
import operator
from typing import Any, NoReturn

import numpy as np

from bpstudio.core.errors import BpstudioError
from bpstudio.core.io import spec_io
from bpstudio.core.io.fitting_data import fitting_data
from bpstudio.core.spec import NetworkSpec


class TorchImportError(BpstudioError):
    """A module bpstudio cannot represent, or a factory that cannot be called; the message names what."""


def _activation_tables() -> tuple[dict[type, Any], dict[Any, str], dict[str, str]]:
    import torch
    import torch.nn.functional as F
    from torch import nn

    def slope(m: Any) -> str | None:
        return "leaky_relu" if math.isclose(m.negative_slope, 0.01) else None

    modules = {
        nn.ReLU: lambda m: "relu",
        nn.Sigmoid: lambda m: "sigmoid",
        nn.Tanh: lambda m: "tanh",
        nn.LeakyReLU: slope,
        nn.ELU: lambda m: "elu" if m.alpha == 1.0 else None,
        nn.GELU: lambda m: "gelu" if m.approximate == "none" else None,
        nn.Softplus: lambda m: "softplus" if (m.beta, m.threshold) == (1.0, 20.0) else None,
        nn.Softmax: lambda m: "softmax" if m.dim in (1, -1) else None,
        nn.SiLU: lambda m: "silu",
        nn.Mish: lambda m: "mish",
    }
    functions = {
        torch.relu: "relu",
        F.relu: "relu",
        torch.sigmoid: "sigmoid",
        F.sigmoid: "sigmoid",
        torch.tanh: "tanh",
        F.tanh: "tanh",
        F.leaky_relu: "leaky_relu",
        F.elu: "elu",
        F.gelu: "gelu",
        F.softplus: "softplus",
        F.softmax: "softmax",
        torch.softmax: "softmax",
        F.silu: "silu",
        F.mish: "mish",
        torch.sin: "sin",
    }
    methods = {"relu": "relu", "sigmoid": "sigmoid", "tanh": "tanh", "sin": "sin", "softmax": "softmax"}
    return modules, functions, methods


FUSABLE = ("dense", "add", "concat", "batchnorm", "layernorm")
_DEFAULT_ARGS = {"leaky_relu": ("negative_slope", 0.01), "elu": ("alpha", 1.0), "softplus": ("beta", 1.0)}


class _Builder:
    """Walks the traced graph in order, building layer dicts keyed by id; ``value_of`` maps each fx node to the
    layer whose output it is."""

    def __init__(self, model: Any, graph: Any):
        self.model = model
        self.graph = graph
        self.layers: dict[str, dict[str, Any]] = {}
        self.value_of: dict[Any, str] = {}
        self.used_modules: set[str] = set()
        self.modules, self.functions, self.methods = _activation_tables()

    def fail(self, node: Any, what: str) -> NoReturn:
        raise TorchImportError(f"{what} (node '{node.name}': {node.op} {_target_name(node.target)})")

    def source(self, node: Any, arg: Any) -> str:
        if arg not in self.value_of:
            self.fail(node, f"{_target_name(node.target)} reads {arg!r}, which is no layer's output")
        return self.value_of[arg]

    def add_layer(self, layer_id: str, layer: dict[str, Any]) -> str:
        """Add ``layer`` under ``layer_id`` (made unique, and without '|', which bpstudio keeps); its id."""
        layer_id = _unique(layer_id.replace("|", "_"), self.layers)
        self.layers[layer_id] = {"id": layer_id, **layer}
        return layer_id

    def activate(self, node: Any, activation: str, source_node: Any) -> None:
        """``activation`` on ``source_node``'s value: fused into its layer where that is safe, else an add layer."""
        source = self.source(node, source_node)
        layer = self.layers.get(source)
        if (
            layer is not None
            and layer["type"] in FUSABLE
            and layer.get("activation", "identity") == "identity"
            and len(source_node.users) == 1
        ):
            layer["activation"] = activation
            self.value_of[node] = source
        else:
            self.value_of[node] = self.add_layer(
                _node_id(node), {"type": "add", "inputs": [source], "activation": activation}
            )  # (an activation module's add layer takes the module's name, so nothing else needs renaming)

    def build(self) -> tuple[dict[str, dict[str, Any]], str, str]:
        placeholders = [n for n in self.graph.nodes if n.op == "placeholder"]
        if len(placeholders) != 1:
            raise TorchImportError(f"the module's forward takes {len(placeholders)} inputs; bpstudio networks take one")
        input_node = placeholders[0]
        self.value_of[input_node] = self.add_layer(
            "x" if "x" not in self.model._modules else "input", {"type": "input"}
        )
        input_id = self.value_of[input_node]
        output = None
        for node in self.graph.nodes:
            if node.op == "call_module":
                self.module_node(node)
            elif node.op == "call_function":
                self.function_node(node)
            elif node.op == "call_method":
                self.method_node(node)
            elif node.op == "output":
                result = node.args[0]
                if isinstance(result, (tuple, list)):
                    if len(result) != 1:
                        self.fail(node, "the module returns several values; bpstudio networks have one output")
                    result = result[0]
                output = self.source(node, result)
            elif node.op == "get_attr":
                self.fail(node, "the forward pass reads a tensor attribute directly; bpstudio layers hold weights")
        assert output is not None
        if output == input_id:
            raise TorchImportError("the module returns its input unchanged: there is no layer to import")
        self.layers[input_id]["units"] = self.input_width(input_node)
        return self.layers, input_id, output

    def module_node(self, node: Any) -> None:
        from torch import nn

        name = str(node.target)
        module = self.model.get_submodule(name)
        if name in self.used_modules and any(True for _ in module.parameters(recurse=False)):
            self.fail(node, f"module '{name}' is called twice (shared weights); bpstudio gives each layer its own")
        self.used_modules.add(name)
        if len(node.args) != 1 or node.kwargs:
            self.fail(node, f"module '{name}' is called with {len(node.args)} arguments; bpstudio layers take one")
        x = node.args[0]
        kind = type(module)
        if kind in self.modules:
            activation = self.modules[kind](module)
            if activation is None:
                self.fail(node, f"{kind.__name__} with these settings has no bpstudio activation ({module})")
            self.activate(node, activation, x)
        elif isinstance(module, nn.Linear):
            self.value_of[node] = self.add_layer(name, self.dense(module, self.source(node, x)))
        elif isinstance(module, nn.BatchNorm1d):
            self.value_of[node] = self.add_layer(name, self.batchnorm(node, module, self.source(node, x)))
        elif isinstance(module, nn.LayerNorm):
            self.value_of[node] = self.add_layer(name, self.layernorm(node, module, self.source(node, x)))
        elif isinstance(module, nn.Dropout):
            self.value_of[node] = self.add_layer(
                name, {"type": "dropout", "inputs": [self.source(node, x)], "p": module.p}
            )
        elif isinstance(module, nn.Identity) or isinstance(module, nn.Flatten) and module.start_dim == 1:
            self.value_of[node] = self.source(node, x)
        else:
            self.fail(node, f"unsupported module {kind.__name__} '{name}'")

    def function_node(self, node: Any) -> None:
        import torch
        import torch.nn.functional as F

        target = node.target
        if target in self.functions:
            activation = self.functions[target]
            self.check_function_settings(node, activation)
            self.activate(node, activation, node.args[0])
        elif target in (operator.add, torch.add) and len(node.args) == 2 and not node.kwargs:
            a, b = node.args
            if not all(arg in self.value_of for arg in (a, b)):
                self.fail(node, "adds a constant; bpstudio's add layer adds layer outputs (a bias belongs to a layer)")
            self.value_of[node] = self.add_layer(
                _node_id(node), {"type": "add", "inputs": [self.source(node, a), self.source(node, b)]}
            )
        elif target is torch.cat:
            tensors = node.args[0]
            dim = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim", 0)
            if dim not in (1, -1):
                self.fail(node, f"torch.cat along dim {dim}; bpstudio joins features (dim=1)")
            self.value_of[node] = self.add_layer(
                _node_id(node), {"type": "concat", "inputs": [self.source(node, t) for t in tensors]}
            )
        elif target is F.dropout:
            p = node.kwargs.get("p", node.args[1] if len(node.args) > 1 else 0.5)
            self.value_of[node] = self.add_layer(
                _node_id(node), {"type": "dropout", "inputs": [self.source(node, node.args[0])], "p": p}
            )
        elif target is torch.flatten and _flatten_from_1(node):
            self.value_of[node] = self.source(node, node.args[0])
        else:
            self.fail(node, f"unsupported function {_target_name(target)}")

    def method_node(self, node: Any) -> None:
        if node.target in self.methods:
            if node.target == "softmax":
                self.check_function_settings(node, "softmax")
            self.activate(node, self.methods[node.target], node.args[0])
        elif node.target == "flatten" and _flatten_from_1(node):
            self.value_of[node] = self.source(node, node.args[0])
        else:
            self.fail(node, f"unsupported method .{node.target}()")

    def check_function_settings(self, node: Any, activation: str) -> None:
        if activation == "softmax":
            dim = node.kwargs.get("dim", node.args[1] if len(node.args) > 1 else None)
            if dim not in (1, -1):
                self.fail(node, f"softmax over dim {dim}; bpstudio's softmax is over the features (dim=1)")
        if activation in _DEFAULT_ARGS:
            key, wanted = _DEFAULT_ARGS[activation]
            value = node.kwargs.get(key, node.args[1] if len(node.args) > 1 else wanted)
            if not math.isclose(float(value), wanted):
                self.fail(node, f"{activation} with {key}={value}; bpstudio's {activation} has {key}={wanted}")
        if activation == "gelu" and node.kwargs.get("approximate", "none") != "none":
            self.fail(node, "gelu with the tanh approximation; bpstudio's gelu is the exact (erf) form")

    @staticmethod
    def dense(module: Any, source: str) -> dict[str, Any]:
        layer = {"type": "dense", "inputs": [source], "units": module.out_features, "weight": _array(module.weight)}
        if module.bias is None:
            layer["use_bias"] = False
        else:
            layer["bias"] = _array(module.bias)
        return layer

    def batchnorm(self, node: Any, module: Any, source: str) -> dict[str, Any]:
        if not module.track_running_stats or module.running_mean is None:
            self.fail(
                node,
                "BatchNorm1d without running statistics (track_running_stats=False) normalizes by the "
                "batch in evaluation too; bpstudio's batchnorm uses running statistics there",
            )
        if module.momentum is None:
            self.fail(
                node,
                "BatchNorm1d with momentum=None (a cumulative average); bpstudio's batchnorm takes a "
                "momentum in [0, 1]",
            )
        layer = {
            "type": "batchnorm",
            "inputs": [source],
            "eps": float(module.eps),
            "momentum": float(module.momentum),
            "affine": bool(module.affine),
            "running_mean": _array(module.running_mean),
            "running_var": _array(module.running_var),
        }
        if module.affine:
            layer.update(weight=_array(module.weight), bias=_array(module.bias))
        return layer

    def layernorm(self, node: Any, module: Any, source: str) -> dict[str, Any]:
        if len(module.normalized_shape) != 1:
            self.fail(node, f"LayerNorm over {tuple(module.normalized_shape)}; bpstudio normalizes 2-D values")
        affine = bool(module.elementwise_affine)
        if affine and module.bias is None:
            self.fail(node, "LayerNorm with a weight but no bias (bias=False); bpstudio's layernorm has both or none")
        layer = {"type": "layernorm", "inputs": [source], "eps": float(module.eps), "affine": affine}
        if affine:
            layer.update(weight=_array(module.weight), bias=_array(module.bias))
        return layer

    def input_width(self, input_node: Any) -> int:
        """The input's width: what the first layer reading it expects (through layers that pass it on)."""
        from torch import nn

        frontier = list(input_node.users)
        seen = set()
        while frontier:
            node = frontier.pop(0)
            if node in seen:
                continue
            seen.add(node)
            if node.op == "call_module":
                module = self.model.get_submodule(str(node.target))
                if isinstance(module, nn.Linear):
                    return int(module.in_features)
                if isinstance(module, nn.BatchNorm1d):
                    return int(module.num_features)
                if isinstance(module, nn.LayerNorm):
                    return int(module.normalized_shape[0])
            if node.op != "output":
                frontier.extend(node.users)
        raise TorchImportError("cannot tell the input's width: no Linear, BatchNorm1d or LayerNorm reads the input")


def import_module(model: Any, loss: str = "mse", name: str | None = None) -> NetworkSpec:
    """The network ``model`` computes, with its weights (float64) and running statistics; ``loss`` its loss."""
    import torch.fx

    try:
        traced = torch.fx.symbolic_trace(model)
    except Exception as exc:
        words = " ".join(str(exc).split())
        raise TorchImportError(f"torch.fx cannot trace the module: {type(exc).__name__}: {words}") from None
    builder = _Builder(model, traced.graph)
    layers, input_id, output = builder.build()
    used = {f"{lid}.{p}" for lid, layer in layers.items() for p in ("weight", "bias") if p in layer}
    unused = [key for key, _ in model.named_parameters() if key not in used]
    if unused:
        raise TorchImportError(
            f"parameters no layer of the forward pass uses: {', '.join(unused[:5])}"
            f"{' …' if len(unused) > 5 else ''} (bpstudio keeps only what the output is computed from)"
        )
    frozen = {key for key, p in model.named_parameters() if not p.requires_grad}
    for lid, layer in layers.items():  # (requires_grad=False: the file's "frozen", which training leaves alone)
        names = [p for p in ("weight", "bias") if f"{lid}.{p}" in frozen]
        if names:
            layer["frozen"] = names
    raw = {
        "format": spec_io.FORMAT,
        "version": spec_io.VERSION,
        "name": name or type(model).__name__,
        "layers": list(layers.values()),
        "output": output,
        "loss": loss,
    }
    spec = spec_io.from_dict(raw)
    data = fitting_data(spec.widths[input_id], spec.widths[output])  # (so the file opens in the app and trains)
    return spec if data is None else dataclasses.replace(spec, data=data)


def _array(tensor: Any) -> list[Any]:
    value: list[Any] = np.asarray(tensor.detach().cpu().double().numpy()).tolist()
    return value


def _node_id(node: Any) -> str:
    """A module's qualified name (``blocks.0.act``), else the trace's name for the node (``add_1``)."""
    return str(node.target) if node.op == "call_module" else str(node.name)


def _unique(base: str, taken: dict[str, Any]) -> str:
    name, k = base, 2
    while name in taken:
        name, k = f"{base}_{k}", k + 1
    return name


def _target_name(target: Any) -> str:
    if isinstance(target, str):
        return target
    module = getattr(target, "__module__", None) or ""
    return f"{module}.{getattr(target, '__name__', repr(target))}".lstrip(".")


def _flatten_from_1(node: Any) -> bool:
    start = node.kwargs.get("start_dim", node.args[1] if len(node.args) > 1 else 0)
    return start in (1, -1)
