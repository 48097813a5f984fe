"""The NumPy backend: hand-written backprop, each layer's forward and backward side by side.

Shapes: a batch ``x`` is (N, fan_in); a dense weight ``W`` is (units, fan_in) like ``torch.nn.Linear``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from bpstudio.core import activations, dropout, features, losses, normalization
from bpstudio.core.spec import LayerSpec
from bpstudio.core.trace import LayerTrace

Array = np.ndarray


class Dense:
    """z = x·Wᵀ + b, y = f(z).  Backward: dz = f'(z)⊙dy, dW = dzᵀ·x, db = Σₙ dz, dx = dz·W."""

    def __init__(self, layer: LayerSpec, needs_input_grad: bool):
        self.weight_key = f"{layer.id}.weight"
        self.bias_key = f"{layer.id}.bias" if layer.use_bias else None
        self.act, self.act_backward = activations.FUNCTIONS[layer.activation]
        self.layer_id = layer.id
        self.needs_input_grad = needs_input_grad

    def forward(self, inputs: Sequence[Array], params: Mapping[str, Array]) -> LayerTrace:
        x = inputs[0]
        w = params[self.weight_key]
        z = x @ w.T
        if self.bias_key is not None:
            z += params[self.bias_key]  # z is a fresh array: adding in place touches nothing shared
        return LayerTrace(self.layer_id, inputs, z, self.act(z), w)

    def backward(self, record: LayerTrace, grad_out: Array) -> None:
        dz = self.act_backward(record.pre, record.out, grad_out)
        record.grad_out = grad_out
        record.grad_pre = dz
        record.grads["weight"] = dz.T @ record.inputs[0]
        if self.bias_key is not None:
            record.grads["bias"] = np.add.reduce(dz, axis=0)
        record.grad_inputs = [dz @ record.saved if self.needs_input_grad else None]


class Add:
    """z = Σᵢ xᵢ, y = f(z).  Backward: every input receives dz = f'(z)⊙dy."""

    def __init__(self, layer: LayerSpec, needs_input_grad: Sequence[bool]):
        self.act, self.act_backward = activations.FUNCTIONS[layer.activation]
        self.layer_id = layer.id
        self.needs_input_grad = list(needs_input_grad)

    def forward(self, inputs: Sequence[Array], params: Mapping[str, Array]) -> LayerTrace:
        z = inputs[0] + inputs[1] if len(inputs) > 1 else inputs[0].copy()
        for x in inputs[2:]:
            z += x
        return LayerTrace(self.layer_id, list(inputs), z, self.act(z))

    def backward(self, record: LayerTrace, grad_out: Array) -> None:
        dz = self.act_backward(record.pre, record.out, grad_out)
        record.grad_out = grad_out
        record.grad_pre = dz
        record.grad_inputs = [dz if need else None for need in self.needs_input_grad]


class Concat:
    """z = [x₁, x₂, …] along features, y = f(z).  Backward: dz split back into the inputs' widths."""

    def __init__(self, layer: LayerSpec, input_widths: Sequence[int], needs_input_grad: Sequence[bool]):
        self.act, self.act_backward = activations.FUNCTIONS[layer.activation]
        self.layer_id = layer.id
        self.bounds = np.cumsum([0, *input_widths])
        self.needs_input_grad = list(needs_input_grad)

    def forward(self, inputs: Sequence[Array], params: Mapping[str, Array]) -> LayerTrace:
        z = np.concatenate(inputs, axis=1)
        return LayerTrace(self.layer_id, list(inputs), z, self.act(z))

    def backward(self, record: LayerTrace, grad_out: Array) -> None:
        dz = self.act_backward(record.pre, record.out, grad_out)
        record.grad_out = grad_out
        record.grad_pre = dz
        record.grad_inputs = [
            dz[:, lo:hi].copy() if need else None
            for lo, hi, need in zip(self.bounds[:-1], self.bounds[1:], self.needs_input_grad)
        ]


class Features:
    """z = [term₁(x), term₂(x), …] (x1, x1², x1·x2, sin x1, …), y = z: no parameters, no activation.
    Backward: each term sends its column's gradient to the input columns it reads (features.backward)."""

    def __init__(self, layer: LayerSpec, needs_input_grad: bool):
        self.terms = features.parse_terms(layer.terms)
        self.layer_id = layer.id
        self.needs_input_grad = needs_input_grad

    def forward(self, inputs: Sequence[Array], params: Mapping[str, Array]) -> LayerTrace:
        z = features.forward(self.terms, inputs[0])
        return LayerTrace(self.layer_id, list(inputs), z, z)

    def backward(self, record: LayerTrace, grad_out: Array) -> None:
        record.grad_out = grad_out
        record.grad_pre = grad_out
        dx = features.backward(self.terms, record.inputs[0], grad_out) if self.needs_input_grad else None
        record.grad_inputs = [dx]


class Dropout:
    """Training (the step's mask given beside the parameters): z = x·mask/(1−p); evaluation (no mask): z = x.
    y = z. Backward: dx = dy·mask/(1−p) (the mask the forward pass used, kept in the record)."""

    def __init__(self, layer: LayerSpec, needs_input_grad: bool):
        assert layer.p is not None
        self.mask_key = dropout.mask_key(layer.id)
        self.scale = dropout.scale(layer.p)
        self.layer_id = layer.id
        self.needs_input_grad = needs_input_grad

    def forward(self, inputs: Sequence[Array], params: Mapping[str, Array]) -> LayerTrace:
        x = inputs[0]
        mask = params.get(self.mask_key)
        z = x.copy() if mask is None else x * (mask * self.scale)
        return LayerTrace(self.layer_id, list(inputs), z, z, mask)

    def backward(self, record: LayerTrace, grad_out: Array) -> None:
        record.grad_out = grad_out
        record.grad_pre = grad_out
        mask = record.saved
        dx = (grad_out.copy() if mask is None else grad_out * (mask * self.scale)) if self.needs_input_grad else None
        record.grad_inputs = [dx]


class Norm:
    """Batchnorm (over the batch: axis 0) or layernorm (over the features: axis 1): x̂ = (x − μ)/√(σ²+ε),
    z = γ⊙x̂ + β, y = f(z). A batchnorm layer uses its batch's μ and σ² in training and its running statistics
    in evaluation (given beside the parameters, keyed ``"<id>.running_mean"``/``".running_var"``).
    Backward: dz = f'(z)⊙dy, dγ = Σₙ dz⊙x̂, dβ = Σₙ dz, dx̂ = γ⊙dz, and dx from dx̂ through the statistics
    (normalization.backward: in training each sample's gradient involves the whole batch's)."""

    def __init__(self, layer: LayerSpec, needs_input_grad: bool):
        assert layer.eps is not None
        self.eps = layer.eps
        self.axis = 0 if layer.type == "batchnorm" else 1
        self.weight_key = f"{layer.id}.weight" if layer.affine else None
        self.bias_key = f"{layer.id}.bias" if layer.affine else None
        self.running_keys = tuple(normalization.running_key(layer.id, n) for n in layer.state_names)
        self.act, self.act_backward = activations.FUNCTIONS[layer.activation]
        self.layer_id = layer.id
        self.needs_input_grad = needs_input_grad

    def forward(self, inputs: Sequence[Array], params: Mapping[str, Array]) -> LayerTrace:
        x = inputs[0]
        fixed = bool(self.running_keys) and self.running_keys[0] in params  # (evaluation: the running statistics)
        if fixed:
            mean, var = (params[k] for k in self.running_keys)
            norm = normalization.normalize(x, self.axis, self.eps, mean, var)
        else:
            norm = normalization.normalize(x, self.axis, self.eps)
        z, gamma = norm.xhat, None
        if self.weight_key is not None and self.bias_key is not None:
            gamma = params[self.weight_key]
            z = z * gamma
            z += params[self.bias_key]  # (z is a fresh array)
        record = LayerTrace(self.layer_id, list(inputs), z, self.act(z), (norm, not fixed, gamma))
        if self.running_keys and not fixed:
            record.stats = {"mean": norm.mean[0], "var": norm.var[0]}
        return record

    def backward(self, record: LayerTrace, grad_out: Array) -> None:
        norm, coupled, gamma = record.saved
        dz = self.act_backward(record.pre, record.out, grad_out)
        record.grad_out = grad_out
        record.grad_pre = dz
        dxhat = dz
        if gamma is not None:
            record.grads["weight"] = np.add.reduce(dz * norm.xhat, axis=0)
            record.grads["bias"] = np.add.reduce(dz, axis=0)
            dxhat = dz * gamma
        dx = normalization.backward(norm, dxhat, self.axis, coupled) if self.needs_input_grad else None
        record.grad_inputs = [dx]


class NumpyBackend:
    name = "numpy"
    device = "cpu"
    whole_step = None  # (the session runs the hand-written layers one by one)

    def __init__(self, device: str = "cpu", dtype: str = "float64"):
        if device != "cpu":
            from bpstudio.core.errors import BackendError

            raise BackendError(f"the numpy backend runs on the CPU only, not on '{device}'")
        self.dtype = dtype
        self._np_dtype = np.dtype(dtype)

    def asarray(self, a: np.ndarray) -> Array:
        return np.asarray(a, dtype=self._np_dtype)

    def param(self, a: np.ndarray) -> Array:
        return np.array(a, dtype=self._np_dtype)

    def labels(self, a: np.ndarray) -> Array:
        return np.asarray(a, dtype=np.int64)

    def to_numpy(self, a: Array) -> np.ndarray:
        return np.asarray(a)

    def kernel(self, layer: LayerSpec, input_widths: Sequence[int], needs_input_grad: Sequence[bool]):
        if layer.type == "dense":
            return Dense(layer, needs_input_grad[0])
        if layer.type == "add":
            return Add(layer, needs_input_grad)
        if layer.type == "concat":
            return Concat(layer, input_widths, needs_input_grad)
        if layer.type == "features":
            return Features(layer, needs_input_grad[0])
        if layer.type == "dropout":
            return Dropout(layer, needs_input_grad[0])
        if layer.type in normalization.NORM_TYPES:
            return Norm(layer, needs_input_grad[0])
        raise AssertionError(f"no numpy kernel for layer type '{layer.type}'")

    def loss(self, name: str) -> Callable[[Array, Array], tuple[float, Array]]:
        value, gradient = losses.FUNCTIONS[name]
        return lambda y, t: (value(y, t), gradient(y, t))

    def sqrt(self, a: Array) -> Array:
        return np.sqrt(a)

    def sign(self, a: Array) -> Array:
        return np.sign(a)

    def add_scaled(self, a: Array, b: Array, alpha: float) -> Array:
        out = b * alpha  # a fresh array, so adding into it touches nothing shared
        out += a
        return out

    def add(self, arrays: Sequence[Array]) -> Array:
        total = arrays[0] + arrays[1]
        for a in arrays[2:]:
            total += a
        return total
