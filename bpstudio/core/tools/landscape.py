"""A 2-D slice of the loss landscape around given weights, and a training trajectory projected onto it.

Directions (Li et al. 2018, "Visualizing the Loss Landscape of Neural Nets", filter normalisation): each
direction is drawn from a standard normal, then every row of every weight matrix (one output neuron's
incoming weights, the dense layer's "filter") is rescaled to the norm of the same row of the weights, so a
step of 1 along a direction moves each neuron by as much as its weights are large, whatever the layer's
scale. Biases get direction 0, as in the paper's code (its ``ignore="biasbn"``); so do frozen weights, which
training never moves. The two directions are drawn independently and not orthogonalised (in many
dimensions they are nearly orthogonal; :func:`project` does not rely on it).

The slice: L(α, β) = loss over the whole data set at θ + α·d1 + β·d2, on a grid over [−span, span]²,
evaluated with :meth:`Session.evaluate` on a separate session, so the live one is never touched.

Or the plane of a training path (:func:`pca_directions`): its two principal directions, scaled together to
the path (these are not filter-normalised; biases move along them as the path does).

The trajectory: :func:`train_trajectory` trains a copy of a session (:func:`fork_session`: same weights,
optimizer state and batch order) and keeps its weights every few steps — where training goes next from
the slice's centre. :func:`project` finds each point's (α, β) by least squares in the plane spanned by the
directions, relative to the centre.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from bpstudio.core.checks import is_count, is_real
from bpstudio.core.data import Dataset
from bpstudio.core.errors import SessionError
from bpstudio.core.session import Session
from bpstudio.core.spec import NetworkSpec

Params = dict[str, np.ndarray]
Progress = Callable[[int, int], bool]  # (done, total) -> go on?
DEFAULT_POINTS = 31
DEFAULT_SPAN = 1.0
PCA_REACH = 0.75  # PCA directions are scaled so the path reaches this far along the first


def filter_normalized_direction(
    spec: NetworkSpec, params: Mapping[str, np.ndarray], rng: np.random.Generator
) -> Params:
    """One random direction, each weight row scaled to the norm of that row of ``params``; biases and
    frozen weights 0. Keys are visited in the spec's order, so a seed always gives the same direction."""
    frozen = spec.frozen_params()
    direction: Params = {}
    for key, shape in spec.param_shapes().items():
        if not key.endswith(".weight") or key in frozen:
            direction[key] = np.zeros(shape)
            continue
        d = rng.standard_normal(shape)
        w = np.asarray(params[key], dtype=np.float64)
        d_norm = np.linalg.norm(d, axis=1, keepdims=True)
        scale = np.divide(np.linalg.norm(w, axis=1, keepdims=True), d_norm, out=np.zeros_like(d_norm), where=d_norm > 0)
        direction[key] = d * scale
    return direction


def random_directions(spec: NetworkSpec, params: Mapping[str, np.ndarray], seed: int = 0) -> tuple[Params, Params]:
    """Two filter-normalised directions drawn from ``seed``."""
    if not is_count(seed):
        raise SessionError(f"landscape seed must be a non-negative integer, got {seed!r}")
    rng = np.random.default_rng(int(seed))
    return filter_normalized_direction(spec, params, rng), filter_normalized_direction(spec, params, rng)


def pca_directions(
    trajectory: Sequence[Mapping[str, np.ndarray]], centre: Mapping[str, np.ndarray]
) -> tuple[Params, Params, tuple[float, float]]:
    """The two principal directions of the path's offsets from ``centre`` (Li et al. §7: random directions
    miss a training path, which lies in a tiny subspace), both of one length, such that the path's farthest
    point along the first is at :data:`PCA_REACH` (one scale for both keeps the plane's geometry: a nearly
    straight path looks straight); with the share of the offsets' squared length each one captures."""
    keys = list(centre)
    c = _flat(centre, keys)
    offsets = np.stack([_flat(p, keys) - c for p in trajectory]) if len(trajectory) else np.zeros((0, len(c)))
    _, singular, vt = np.linalg.svd(offsets, full_matrices=False)
    if len(singular) < 2 or singular[1] <= 1e-12 * max(singular[0], 1e-300):
        raise SessionError("the path does not move in two directions: train more steps for a PCA plane")
    out = []
    reach = float(np.max(np.abs(offsets @ vt[0])))
    for v in vt[:2]:
        flat = v * (reach / PCA_REACH)
        sizes = np.cumsum([0, *(np.size(centre[k]) for k in keys)])
        out.append({k: flat[a:b].reshape(np.shape(centre[k])) for k, a, b in zip(keys, sizes[:-1], sizes[1:])})
    total = float(np.sum(singular**2))
    return out[0], out[1], (float(singular[0] ** 2 / total), float(singular[1] ** 2 / total))


def moved(
    centre: Mapping[str, np.ndarray],
    d1: Mapping[str, np.ndarray],
    d2: Mapping[str, np.ndarray],
    alpha: float,
    beta: float,
) -> Params:
    """θ + α·d1 + β·d2."""
    return {k: np.asarray(c, dtype=np.float64) + alpha * d1[k] + beta * d2[k] for k, c in centre.items()}


@dataclass(frozen=True)
class LandscapeSlice:
    """``losses[j, i]`` is the loss at θ + alphas[i]·d1 + betas[j]·d2 (rows go with β, as an image's y)."""

    alphas: np.ndarray
    betas: np.ndarray
    losses: np.ndarray
    centre_loss: float
    centre: Params
    d1: Params
    d2: Params
    seed: int


def loss_slice(
    spec: NetworkSpec,
    data: Dataset,
    params: Mapping[str, np.ndarray],
    *,
    points: int = DEFAULT_POINTS,
    span: float = DEFAULT_SPAN,
    seed: int = 0,
    directions: tuple[Params, Params] | None = None,
    progress: Progress | None = None,
) -> LandscapeSlice | None:
    """The loss over ``data`` on a ``points`` × ``points`` grid over [−span, span]² around ``params``, along
    ``directions`` (default: :func:`random_directions` from ``seed``). ``progress(done, total)`` is called
    after each grid row; if it returns False the work stops and None is returned."""
    _check_grid(points, span)
    centre = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
    session = Session(spec, data, params=centre)  # checks the weights fit the network
    d1, d2 = directions if directions is not None else random_directions(spec, centre, seed)
    axis = np.linspace(-float(span), float(span), int(points))
    losses = np.empty((len(axis), len(axis)))
    for j, beta in enumerate(axis):
        for i, alpha in enumerate(axis):
            losses[j, i] = session.evaluate(data, moved(centre, d1, d2, alpha, beta))
        if progress is not None and not progress(j + 1, len(axis)):
            return None
    return LandscapeSlice(axis, axis.copy(), losses, float(session.evaluate(data)), centre, d1, d2, int(seed))


def _check_grid(points: int, span: float) -> None:
    if not is_count(points, 2):
        raise SessionError(f"landscape grid points must be an integer ≥ 2, got {points!r}")
    if not is_real(span) or not 0 < span < float("inf"):
        raise SessionError(f"landscape span must be a positive number, got {span!r}")


def _flat(params: Mapping[str, np.ndarray], keys: Sequence[str]) -> np.ndarray:
    return np.concatenate([np.ravel(np.asarray(params[k], dtype=np.float64)) for k in keys])


def project(
    trajectory: Sequence[Mapping[str, np.ndarray]],
    centre: Mapping[str, np.ndarray],
    d1: Mapping[str, np.ndarray],
    d2: Mapping[str, np.ndarray],
) -> np.ndarray:
    """(α, β) per point of ``trajectory`` (n × 2): the least-squares fit of θ − centre by α·d1 + β·d2."""
    keys = sorted(centre)
    missing = [k for k in keys if k not in d1 or k not in d2]
    if missing:
        raise SessionError(f"the directions have no '{missing[0]}'")
    basis = np.stack([_flat(d1, keys), _flat(d2, keys)], axis=1)
    if not np.any(basis):
        raise SessionError("both directions are zero: the network has no trainable weights to move")
    c = _flat(centre, keys)
    if not len(trajectory):
        return np.zeros((0, 2))
    offsets = np.stack([_flat(p, keys) - c for p in trajectory], axis=1)
    coords = np.linalg.lstsq(basis, offsets, rcond=None)[0]
    return np.asarray(coords.T)


def fork_session(session: Session) -> Session:
    """A NumPy float64 copy that trains on as ``session`` would (weights, optimizer state, batch order,
    step count); the original is not touched. Call it holding whatever lock guards ``session``."""
    return Session.from_state(
        session.state(), session.data, batch_size=session.batch_size, shuffle_seed=session.batches.seed
    )


@dataclass(frozen=True)
class Trajectory:
    """Weights along a run: ``params[i]`` after step ``steps[i]`` steps of it, with the loss of that step's
    batch (NaN for the start, before any step)."""

    steps: np.ndarray
    params: list[Params]
    losses: np.ndarray


def train_trajectory(
    session: Session, steps: int, every: int = 1, progress: Progress | None = None
) -> Trajectory | None:
    """Train ``session`` (a copy: see :func:`fork_session`) ``steps`` steps, keeping its weights at the start,
    every ``every`` steps and at the end. ``progress`` as for :func:`loss_slice`, per step."""
    for value, what in ((steps, "trajectory steps"), (every, "trajectory interval")):
        if not is_count(value, 1):
            raise SessionError(f"{what} must be a positive integer, got {value!r}")
    start = session.step_count
    kept_steps, kept, losses = [start], [session.params_numpy()], [float("nan")]
    for done in range(1, int(steps) + 1):
        loss = session.step().loss
        if done % every == 0 or done == steps:
            kept_steps.append(session.step_count)
            kept.append(session.params_numpy())
            losses.append(float("nan") if loss is None else float(loss))
        if progress is not None and not progress(done, int(steps)):
            return None
    return Trajectory(np.array(kept_steps, dtype=np.int64), kept, np.array(losses))


PLANES = ("random", "pca")


@dataclass(frozen=True)
class Exploration:
    """A slice around a session's weights and the path its training takes from there, projected onto it;
    ``shares`` is the part of the path's spread each PCA direction captures (None for random ones)."""

    cut: LandscapeSlice
    path: Trajectory | None
    coords: np.ndarray
    plane: str
    shares: tuple[float, float] | None


def explore(
    session: Session,
    *,
    plane: str = "random",
    steps: int = 200,
    every: int = 5,
    points: int = DEFAULT_POINTS,
    span: float = DEFAULT_SPAN,
    seed: int = 0,
    progress: Progress | None = None,
) -> Exploration | None:
    """Train ``session`` (a copy: :func:`fork_session`) ``steps`` steps from its weights (0: no path), then
    slice the loss over its data around the weights it started from, on the ``plane`` "random" (filter-
    normalised directions from ``seed``) or "pca" (the path's own plane). ``progress(done, steps + points)``;
    None if cancelled."""
    if plane not in PLANES:
        raise SessionError(f"landscape plane must be one of {', '.join(PLANES)}, got {plane!r}")
    if not is_count(steps):
        raise SessionError(f"trajectory steps must be a non-negative integer, got {steps!r}")
    if plane == "pca" and steps < 2:
        raise SessionError("a PCA plane needs a training path: give at least 2 steps")
    _check_grid(points, span)
    total = int(steps) + int(points)
    centre = session.params_numpy()
    path = None
    if steps:
        report = None if progress is None else (lambda d, _: progress(d, total))
        path = train_trajectory(session, int(steps), every, report)
        if path is None:
            return None
    shares = None
    if plane == "pca":
        assert path is not None
        d1, d2, shares = pca_directions(path.params, centre)
    else:
        d1, d2 = random_directions(session.spec, centre, seed)
    cut = loss_slice(
        session.spec,
        session.data,
        centre,
        points=points,
        span=span,
        seed=seed,
        directions=(d1, d2),
        progress=None if progress is None else lambda d, _: progress(int(steps) + d, total),
    )
    if cut is None:
        return None
    coords = project(path.params, centre, d1, d2) if path is not None else np.zeros((0, 2))
    return Exploration(cut, path, coords, plane, shares)
