"""Built-in toy data sets: small 2-D problems (and a 1-D sine) to watch a network learn.

Every set is a function of ``n`` (samples), ``noise`` and ``seed``, and draws everything from
``np.random.default_rng(seed)``, so the same arguments always give the same arrays. Classification sets
return integer labels (N,); regression sets return float targets (N, 1). ``noise`` is the standard
deviation of Gaussian jitter (for ``blobs``, the spread of each blob). Labels are decided on the
noiseless points, so noise makes the classes overlap rather than relabelling them.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from bpstudio.core.data import Dataset
from bpstudio.core.datasets.digits import digits
from bpstudio.core.errors import DataError
from bpstudio.core.limits import MAX_DATA_VALUES, MAX_SAMPLES, MAX_UNITS, brief

# --- checking options ---------------------------------------------------------------------------------


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_number(value: Any) -> bool:
    """A finite real number (an integer too big for a float is not one)."""
    if not (_is_int(value) or isinstance(value, (float, np.floating))):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def _check_common(set_name: str, n: Any, noise: Any, seed: Any, min_n: int = 1) -> None:
    """Refuse a bad ``n``, ``noise`` or ``seed`` with a message naming the set and the option."""
    if not _is_int(n) or n < 1:
        raise DataError(f"{set_name}: option 'n' must be a positive integer, got {brief(n)}")
    if n > MAX_SAMPLES:
        raise DataError(f"{set_name}: option 'n' is {brief(n)}; a data set holds at most {MAX_SAMPLES:,} samples")
    if n < min_n:
        raise DataError(f"{set_name}: option 'n' must be at least {min_n} so every class gets a sample, got {n}")
    if not _is_number(noise) or noise < 0:
        raise DataError(f"{set_name}: option 'noise' must be a number ≥ 0, got {brief(noise)}")
    if not _is_int(seed) or seed < 0:
        raise DataError(f"{set_name}: option 'seed' must be an integer ≥ 0, got {brief(seed)}")


def _check_classes(set_name: str, classes: Any) -> None:
    if not _is_int(classes) or classes < 2:
        raise DataError(f"{set_name}: option 'classes' must be an integer ≥ 2, got {brief(classes)}")
    if classes > MAX_UNITS:
        raise DataError(
            f"{set_name}: option 'classes' is {brief(classes)}; the most is {MAX_UNITS:,} (one output unit each)"
        )


# --- helpers ------------------------------------------------------------------------------------------


def _class_sizes(n: int, classes: int) -> list[int]:
    """Split ``n`` as evenly as possible; the first ``n % classes`` classes get one more sample."""
    return [n // classes + (1 if k < n % classes else 0) for k in range(classes)]


def _labelled(name: str, points: list[np.ndarray], noise: float, rng: np.random.Generator) -> Dataset:
    """Stack per-class point arrays, add jitter, shuffle the rows (so no prefix holds only one class)."""
    X = np.concatenate(points)
    y = np.concatenate([np.full(len(p), k, dtype=np.int64) for k, p in enumerate(points)])
    X = X + noise * rng.standard_normal(X.shape)
    order = rng.permutation(len(X))
    return Dataset(X[order], y[order], name)


# --- classification -----------------------------------------------------------------------------------


def xor(n: int = 200, noise: float = 0.05, seed: int = 0) -> Dataset:
    """Points uniform in [-1, 1]²; label 1 where x1·x2 < 0 (the 2nd and 4th quadrants), else 0."""
    _check_common("xor", n, noise, seed)
    rng = np.random.default_rng(seed)
    P = rng.uniform(-1.0, 1.0, size=(n, 2))
    y = (P[:, 0] * P[:, 1] < 0).astype(np.int64)
    X = P + noise * rng.standard_normal(P.shape)
    return Dataset(X, y, "xor")


def circles(n: int = 200, noise: float = 0.05, seed: int = 0, factor: float = 0.5) -> Dataset:
    """Two concentric circles: label 0 on the outer one (radius 1), label 1 on the inner (radius factor)."""
    _check_common("circles", n, noise, seed, min_n=2)
    if not _is_number(factor) or not 0 < factor < 1:
        raise DataError(f"circles: option 'factor' must be a number between 0 and 1 (exclusive), got {brief(factor)}")
    rng = np.random.default_rng(seed)
    points = []
    for radius, size in zip((1.0, float(factor)), _class_sizes(n, 2)):
        angle = rng.uniform(0.0, 2 * np.pi, size)
        points.append(radius * np.column_stack([np.cos(angle), np.sin(angle)]))
    return _labelled("circles", points, noise, rng)


def blobs(n: int = 200, noise: float = 0.5, seed: int = 0, classes: int = 3, features: int = 2) -> Dataset:
    """``classes`` round Gaussian blobs of std ``noise``, centred evenly on a circle of radius 2 in the plane of
    the first two features. With more ``features`` (a wide input, e.g. 64 for a 64-256-256-10 net), each centre
    also gets standard normal coordinates in the other features, drawn from ``seed``."""
    _check_classes("blobs", classes)
    _check_common("blobs", n, noise, seed, min_n=classes)
    if not _is_int(features) or features < 2:
        raise DataError(f"blobs: option 'features' must be an integer ≥ 2, got {brief(features)}")
    if features > MAX_UNITS or n * features > MAX_DATA_VALUES:
        raise DataError(
            f"blobs: option 'features' is {brief(features)}; the most is {MAX_UNITS:,} inputs and "
            f"{MAX_DATA_VALUES:,} numbers in all (n × features)"
        )
    rng = np.random.default_rng(seed)
    extra = rng.standard_normal((classes, features - 2)) if features > 2 else np.zeros((classes, 0))
    points = []
    for k, size in enumerate(_class_sizes(n, classes)):
        angle = 2 * np.pi * k / classes
        centre = np.concatenate([[2 * np.cos(angle), 2 * np.sin(angle)], extra[k]])
        points.append(np.tile(centre, (size, 1)))
    return _labelled("blobs", points, noise, rng)


def spirals(n: int = 200, noise: float = 0.05, seed: int = 0, classes: int = 2) -> Dataset:
    """``classes`` interleaved spiral arms, each turning 1.5 times outward from radius 0.1 to 1.

    Arm k starts at angle 2πk/classes, so the arms are rotated copies of one another.
    """
    _check_classes("spirals", classes)
    _check_common("spirals", n, noise, seed, min_n=classes)
    rng = np.random.default_rng(seed)
    points = []
    for k, size in enumerate(_class_sizes(n, classes)):
        t = np.linspace(0.0, 1.0, size)
        radius = 0.1 + 0.9 * t
        angle = 2 * np.pi * k / classes + 3 * np.pi * t
        points.append(radius[:, None] * np.column_stack([np.cos(angle), np.sin(angle)]))
    return _labelled("spirals", points, noise, rng)


def moons(n: int = 200, noise: float = 0.1, seed: int = 0) -> Dataset:
    """Two interleaving half circles of radius 1, centred on the origin.

    Label 0 is the upper arc of the unit circle around (-0.5, -0.25); label 1 the lower arc of the
    unit circle around (0.5, 0.25). Each arc's tip reaches into the other's hollow.
    """
    _check_common("moons", n, noise, seed, min_n=2)
    rng = np.random.default_rng(seed)
    upper_size, lower_size = _class_sizes(n, 2)
    a = rng.uniform(0.0, np.pi, upper_size)
    b = rng.uniform(0.0, np.pi, lower_size)
    upper = np.column_stack([np.cos(a) - 0.5, np.sin(a) - 0.25])
    lower = np.column_stack([0.5 - np.cos(b), 0.25 - np.sin(b)])
    return _labelled("moons", [upper, lower], noise, rng)


# --- regression ---------------------------------------------------------------------------------------


def plane(n: int = 200, noise: float = 0.05, seed: int = 0) -> Dataset:
    """X uniform in [-1, 1]²; Y = 0.5·x1 - 0.3·x2 + 0.1 plus noise, as (N, 1) — a linear net's warm-up."""
    _check_common("plane", n, noise, seed)
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, size=(n, 2))
    Y = (0.5 * X[:, 0] - 0.3 * X[:, 1] + 0.1)[:, None] + noise * rng.standard_normal((n, 1))
    return Dataset(X, Y, "plane")


def sine(n: int = 200, noise: float = 0.1, seed: int = 0) -> Dataset:
    """One input uniform in [-π, π]; Y = sin(x) plus noise, as (N, 1) — a curve a hidden layer must bend to."""
    _check_common("sine", n, noise, seed)
    rng = np.random.default_rng(seed)
    X = rng.uniform(-np.pi, np.pi, size=(n, 1))
    Y = np.sin(X) + noise * rng.standard_normal((n, 1))
    return Dataset(X, Y, "sine")


# --- lookup by name -----------------------------------------------------------------------------------

TOY_SETS: dict[str, Callable[..., Dataset]] = {
    "xor": xor,
    "circles": circles,
    "blobs": blobs,
    "spirals": spirals,
    "moons": moons,
    "plane": plane,
    "sine": sine,
    "digits": digits,
}


def toy_options(name: str) -> list[str]:
    """The option names the built-in set ``name`` takes, in signature order (n, noise, seed, ...)."""
    return list(inspect.signature(TOY_SETS[name]).parameters)


def make_toy(name: str, **options: Any) -> Dataset:
    """The built-in set ``name`` built with ``options``; unknown names and options raise DataError."""
    if name not in TOY_SETS:
        raise DataError(f"unknown built-in data set {brief(name)} (built-in: {', '.join(sorted(TOY_SETS))})")
    known = toy_options(name)
    for option in options:
        if option not in known:
            raise DataError(f"{name}: unknown option {brief(option)} (known: {', '.join(known)})")
    return TOY_SETS[name](**options)
