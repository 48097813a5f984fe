"""Activation functions on NumPy arrays, forward and backward side by side.

Semantics follow PyTorch's defaults so the NumPy and torch backends agree to rounding:
leaky_relu slope 0.01, elu alpha 1, gelu in its exact erf form, softplus with beta 1 and
threshold 20, softmax over the feature axis (axis 1), silu z·σ(z), mish z·tanh(softplus(z)) (softplus with
threshold 20, as torch.nn.functional.mish), sin.

``backward(z, y, g)`` receives the pre-activation ``z``, the activation ``y`` and the
gradient ``g = dL/dy`` and returns a *new* array ``dL/dz``; it never writes into ``g``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

Array = np.ndarray
Forward = Callable[[Array], Array]
Backward = Callable[[Array, Array, Array], Array]

NAMES = (
    "identity",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "elu",
    "gelu",
    "softplus",
    "softmax",
    "silu",
    "mish",
    "sin",
)

LEAKY_SLOPE = 0.01
SOFTPLUS_THRESHOLD = 20.0
_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _erf_fallback(x: Array) -> Array:
    return np.asarray(_ERF_UFUNC(x), dtype=x.dtype)


_ERF_UFUNC = np.frompyfunc(math.erf, 1, 1)
_ERF: list = []  # the erf in use, found on first use (importing scipy.special costs 0.2 s of the app's start)


def _erf(x: Array) -> Array:
    if not _ERF:
        try:  # scipy's erf is vectorised; math.erf is exact too, just slower per element
            from scipy.special import erf

            _ERF.append(erf)
        except ImportError:  # pragma: no cover - depends on the environment
            _ERF.append(_erf_fallback)
    return _ERF[0](x)


def takes_complex(name: str) -> bool:
    """Whether the activation computes on complex arrays as the analytic continuation of its real values (the
    gradient check's complex step): all of them do (comparisons look at the real part first), gelu only with
    scipy's erf."""
    if name != "gelu":
        return True
    _erf(np.zeros(1))  # (finds the erf in use)
    return _ERF[0] is not _erf_fallback


def identity(z: Array) -> Array:
    return z


def identity_backward(z: Array, y: Array, g: Array) -> Array:
    return g


def sigmoid(z: Array) -> Array:
    # σ(z) = 1/(1 + e^{−z}); −z is clipped so e^{−z} stays finite (σ(−708) ≈ 3e−308, σ(−88) ≈ 6e−39)
    return 1.0 / (1.0 + np.exp(np.minimum(-z, 88.0 if z.dtype == np.float32 else 708.0)))


def sigmoid_backward(z: Array, y: Array, g: Array) -> Array:
    # σ'(z) = σ(z)(1 − σ(z)) ≤ 0.25
    return g * y * (1.0 - y)


def tanh(z: Array) -> Array:
    return np.tanh(z)


def tanh_backward(z: Array, y: Array, g: Array) -> Array:
    return g * (1.0 - y * y)


def relu(z: Array) -> Array:
    return np.maximum(z, 0.0)


def relu_backward(z: Array, y: Array, g: Array) -> Array:
    # derivative 1 for z > 0, 0 otherwise (0 at z = 0, as PyTorch)
    return g * (z > 0)


def leaky_relu(z: Array) -> Array:
    return np.where(z > 0, z, LEAKY_SLOPE * z)


def leaky_relu_backward(z: Array, y: Array, g: Array) -> Array:
    return np.where(z > 0, g, LEAKY_SLOPE * g)


def elu(z: Array) -> Array:
    return np.where(z > 0, z, np.expm1(np.minimum(z, 0.0)))


def elu_backward(z: Array, y: Array, g: Array) -> Array:
    # for z ≤ 0: d/dz (e^z − 1) = e^z (not y + 1, which cancels to 0 far left of 0)
    return np.where(z > 0, g, g * np.exp(np.minimum(z, 0.0)))


def gelu(z: Array) -> Array:
    # z·Φ(z), Φ the standard normal CDF = ½(1 + erf(z/√2))
    return z * (0.5 * (1.0 + _erf(z * _SQRT_HALF)))


def gelu_backward(z: Array, y: Array, g: Array) -> Array:
    # d/dz z·Φ(z) = Φ(z) + z·φ(z)
    cdf = 0.5 * (1.0 + _erf(z * _SQRT_HALF))
    pdf = _INV_SQRT_2PI * np.exp(-0.5 * z * z)
    return g * (cdf + z * pdf)


def softplus(z: Array) -> Array:
    # log(1 + e^z), linear above the threshold as torch.nn.Softplus
    return np.where(z > SOFTPLUS_THRESHOLD, z, np.log1p(np.exp(np.minimum(z, SOFTPLUS_THRESHOLD))))


def softplus_backward(z: Array, y: Array, g: Array) -> Array:
    return np.where(z > SOFTPLUS_THRESHOLD, g, g * sigmoid(z))


def softmax(z: Array) -> Array:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def softmax_backward(z: Array, y: Array, g: Array) -> Array:
    # Jacobian-vector product: dz_i = y_i (g_i − Σ_j g_j y_j)
    return y * (g - (g * y).sum(axis=1, keepdims=True))


def silu(z: Array) -> Array:
    # z·σ(z)
    return z * sigmoid(z)


def silu_backward(z: Array, y: Array, g: Array) -> Array:
    # d/dz z·σ(z) = σ(z) + z·σ(z)(1 − σ(z)) = σ(z)(1 + z(1 − σ(z)))
    s = sigmoid(z)
    return g * (s * (1.0 + z * (1.0 - s)))


def mish(z: Array) -> Array:
    # z·tanh(softplus(z))
    return z * np.tanh(softplus(z))


def mish_backward(z: Array, y: Array, g: Array) -> Array:
    # d/dz z·tanh(sp(z)) = tanh(sp(z)) + z·(1 − tanh²(sp(z)))·σ(z), since sp'(z) = σ(z)
    t = np.tanh(softplus(z))
    return g * (t + z * (1.0 - t * t) * sigmoid(z))


def sin(z: Array) -> Array:
    return np.sin(z)


def sin_backward(z: Array, y: Array, g: Array) -> Array:
    return g * np.cos(z)


FUNCTIONS: dict[str, tuple[Forward, Backward]] = {
    "identity": (identity, identity_backward),
    "sigmoid": (sigmoid, sigmoid_backward),
    "tanh": (tanh, tanh_backward),
    "relu": (relu, relu_backward),
    "leaky_relu": (leaky_relu, leaky_relu_backward),
    "elu": (elu, elu_backward),
    "gelu": (gelu, gelu_backward),
    "softplus": (softplus, softplus_backward),
    "softmax": (softmax, softmax_backward),
    "silu": (silu, silu_backward),
    "mish": (mish, mish_backward),
    "sin": (sin, sin_backward),
}
assert tuple(FUNCTIONS) == NAMES
