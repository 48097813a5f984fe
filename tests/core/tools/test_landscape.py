"""The loss-landscape slice and the projected training path (bpstudio.core.tools.landscape)."""

import numpy as np
import pytest

from bpstudio.core.data import Dataset
from bpstudio.core.datasets import resolve_split
from bpstudio.core.errors import SessionError
from bpstudio.core.io import presets, spec_io
from bpstudio.core.session import Session
from bpstudio.core.tools.landscape import (
    explore,
    fork_session,
    loss_slice,
    moved,
    pca_directions,
    project,
    random_directions,
    train_trajectory,
)

RNG = np.random.default_rng(11)
X = RNG.normal(size=(20, 2))
Y = X @ np.array([[1.5], [-0.5]]) + 0.3 + 0.1 * RNG.normal(size=(20, 1))


def linear_net(frozen=()):
    """y = w·x + b (2 inputs, 1 output, no activation) under the mean squared error."""
    return spec_io.from_dict(
        {
            "format": "bpstudio-network",
            "version": 1,
            "output": "y",
            "loss": "mse",
            "seed": 4,
            "layers": [
                {"id": "x", "type": "input", "units": 2},
                {
                    "id": "y",
                    "type": "dense",
                    "inputs": ["x"],
                    "units": 1,
                    "activation": "identity",
                    "weight": [[0.2, 0.7]],
                    "bias": [0.1],
                    "frozen": list(frozen),
                },
            ],
        }
    )


def spiral():
    spec = presets.load("spiral")
    return spec, resolve_split(spec.data)[0]


def test_directions_are_filter_normalised_and_seeded():
    spec, data = spiral()
    params = Session(spec, data).params_numpy()
    d1, d2 = random_directions(spec, params, seed=5)
    for key, w in params.items():
        if key.endswith(".weight"):
            assert np.allclose(np.linalg.norm(d1[key], axis=1), np.linalg.norm(w, axis=1))
            assert np.allclose(np.linalg.norm(d2[key], axis=1), np.linalg.norm(w, axis=1))
        else:
            assert not d1[key].any() and not d2[key].any()  # biases do not move
    again = random_directions(spec, params, seed=5)[0]
    other = random_directions(spec, params, seed=6)[0]
    assert all(np.array_equal(d1[k], again[k]) for k in d1)
    assert not np.allclose(d1["h1.weight"], other["h1.weight"])
    frozen = random_directions(linear_net(frozen=["weight"]), {"y.weight": np.ones((1, 2)), "y.bias": np.ones(1)})
    assert not frozen[0]["y.weight"].any()  # training never moves a frozen weight


def test_the_centre_of_the_slice_is_the_current_loss_and_the_live_session_is_untouched():
    spec, data = spiral()
    live = Session(spec, data, batch_size=30)
    live.run(5)
    before = live.params_numpy()
    cut = loss_slice(spec, data, live.params_numpy(), points=5, seed=1)
    assert cut.losses.shape == (5, 5) and cut.alphas[2] == 0.0 == cut.betas[2]
    assert cut.losses[2, 2] == pytest.approx(live.evaluate(data), rel=1e-12)
    assert cut.centre_loss == pytest.approx(live.evaluate(data), rel=1e-12)
    assert all(np.array_equal(before[k], v) for k, v in live.params_numpy().items())
    assert live.step_count == 5
    assert np.all(cut.losses >= 0) and cut.losses.max() > cut.centre_loss


def test_a_linear_net_has_a_quadratic_slice_matching_the_formula():
    spec = linear_net()
    data = Dataset(X, Y)
    params = Session(spec, data).params_numpy()
    cut = loss_slice(spec, data, params, points=7, span=2.0, seed=3)
    w, b = params["y.weight"], params["y.bias"]
    for j, beta in enumerate(cut.betas):
        for i, alpha in enumerate(cut.alphas):
            wa = w + alpha * cut.d1["y.weight"] + beta * cut.d2["y.weight"]
            assert cut.losses[j, i] == pytest.approx(np.mean((X @ wa.T + b - Y) ** 2), rel=1e-12)
    a, bb = np.meshgrid(cut.alphas, cut.betas)
    design = np.stack([np.ones_like(a), a, bb, a * a, a * bb, bb * bb], axis=-1).reshape(-1, 6)
    coef, residual, *_ = np.linalg.lstsq(design, cut.losses.ravel(), rcond=None)
    assert residual[0] < 1e-20 and coef[3] > 0 and coef[5] > 0  # exactly a bowl


def test_projection_recovers_the_coefficients():
    spec, data = spiral()
    centre = Session(spec, data).params_numpy()
    d1, d2 = random_directions(spec, centre, seed=2)
    points = [centre, moved(centre, d1, d2, 0.3, -0.7), moved(centre, d1, d2, -1.25, 0.5)]
    assert np.allclose(project(points, centre, d1, d2), [[0, 0], [0.3, -0.7], [-1.25, 0.5]], atol=1e-12)
    off_plane = {k: v + 0.01 * RNG.normal(size=v.shape) for k, v in points[1].items()}
    assert np.allclose(project([off_plane], centre, d1, d2), [[0.3, -0.7]], atol=0.02)
    assert project([], centre, d1, d2).shape == (0, 2)


def test_a_fork_trains_on_exactly_as_the_session_and_leaves_it_alone():
    spec, data = spiral()
    live = Session(spec, data, batch_size=40)
    live.run(9)  # mid-pass, with Adam's moments built up
    copy = fork_session(live)
    path = train_trajectory(copy, steps=7, every=3)
    assert list(path.steps) == [9, 12, 15, 16] and live.step_count == 9
    assert np.isnan(path.losses[0]) and np.all(np.isfinite(path.losses[1:]))
    live.run(7)
    assert all(np.allclose(v, path.params[-1][k], rtol=0, atol=1e-13) for k, v in live.params_numpy().items())


def test_a_pca_plane_holds_a_path_that_lies_in_one():
    spec, data = spiral()
    centre = Session(spec, data).params_numpy()
    u, v = random_directions(spec, centre, seed=8)
    path = [moved(centre, u, v, s, 0.3 * s * s) for s in np.linspace(0, 2, 9)]
    d1, d2, shares = pca_directions(path, centre)
    coords = project(path, centre, d1, d2)
    rebuilt = [moved(centre, d1, d2, a, b) for a, b in coords]
    assert all(np.allclose(p[k], r[k], atol=1e-10) for p, r in zip(path, rebuilt) for k in p)
    assert np.max(np.abs(coords[:, 0])) == pytest.approx(0.75) and np.max(np.abs(coords[:, 1])) < 0.75
    lengths = [np.sqrt(sum(np.sum(d[k] ** 2) for k in d)) for d in (d1, d2)]
    assert lengths[0] == pytest.approx(lengths[1])  # one scale: the plane is not stretched
    assert sum(shares) == pytest.approx(1.0) and shares[0] > shares[1]
    with pytest.raises(SessionError, match="two directions"):
        pca_directions([centre, moved(centre, u, v, 1.0, 0.0)], centre)


def test_cancelling_and_bad_settings():
    spec, data = spiral()
    params = Session(spec, data).params_numpy()
    seen = []
    assert loss_slice(spec, data, params, points=6, progress=lambda d, t: seen.append((d, t)) or d < 2) is None
    assert seen == [(1, 6), (2, 6)]
    assert train_trajectory(Session(spec, data), 5, progress=lambda d, t: False) is None
    with pytest.raises(SessionError, match="grid points"):
        loss_slice(spec, data, params, points=1)
    with pytest.raises(SessionError, match="span"):
        loss_slice(spec, data, params, span=0)
    with pytest.raises(SessionError, match="seed"):
        random_directions(spec, params, seed=-1)
    with pytest.raises(SessionError, match="interval"):
        train_trajectory(Session(spec, data), 5, every=0)


def test_explore_slices_around_the_start_and_projects_the_path_it_trained():
    spec, data = spiral()
    live = Session(spec, data, batch_size=60)
    live.run(3)
    start = live.params_numpy()
    seen = []
    found = explore(
        fork_session(live), plane="pca", steps=12, every=4, points=5, progress=lambda d, t: seen.append((d, t)) or True
    )
    assert seen[0] == (1, 17) and seen[-1] == (17, 17)
    assert found.cut.losses[2, 2] == pytest.approx(live.evaluate(data), rel=1e-12)
    assert all(np.array_equal(found.cut.centre[k], v) for k, v in start.items())
    assert list(found.path.steps) == [3, 7, 11, 15] and found.coords.shape == (4, 2)
    assert np.allclose(found.coords[0], 0) and np.max(np.abs(found.coords)) == pytest.approx(0.75)
    random = explore(fork_session(live), steps=0, points=3, seed=2)
    assert random.path is None and random.coords.shape == (0, 2) and random.shares is None
    with pytest.raises(SessionError, match="plane"):
        explore(fork_session(live), plane="sideways")
    with pytest.raises(SessionError, match="at least 2 steps"):
        explore(fork_session(live), plane="pca", steps=0)
