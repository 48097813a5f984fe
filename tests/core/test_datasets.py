"""Built-in toy sets: shapes, determinism, geometry without noise, and refused options."""

from __future__ import annotations

import numpy as np
import pytest

from bpstudio.core.datasets import (
    TOY_SETS,
    blobs,
    circles,
    make_toy,
    moons,
    plane,
    resolve,
    sine,
    spirals,
    xor,
)
from tests.core.data_builders import CLASSIFIERS, REAL_SETS, REGRESSIONS, raises, same_bits

# --- toy sets: shapes, determinism, balance --------------------------------------------------------------


def test_registry_holds_every_set():
    assert sorted(TOY_SETS) == sorted(CLASSIFIERS + REGRESSIONS + REAL_SETS)


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_classifier_shapes_and_labels(name):
    data = make_toy(name, n=150)
    assert data.name == name
    assert data.X.shape == (150, 2) and data.Y.shape == (150,)
    assert data.Y.dtype == np.int64
    expected = 3 if name == "blobs" else 2
    assert set(data.Y.tolist()) == set(range(expected))


def test_regression_shapes():
    assert plane(n=40).X.shape == (40, 2) and plane(n=40).Y.shape == (40, 1)
    assert sine(n=40).X.shape == (40, 1) and sine(n=40).Y.shape == (40, 1)
    assert not plane().is_classification and not sine().is_classification


@pytest.mark.parametrize("name", CLASSIFIERS + REGRESSIONS)
def test_same_seed_same_arrays_other_seed_differs(name):
    a, b, c = make_toy(name, n=60, seed=3), make_toy(name, n=60, seed=3), make_toy(name, n=60, seed=4)
    assert same_bits(a.X, b.X) and same_bits(a.Y, b.Y)
    assert not np.array_equal(a.X, c.X)


@pytest.mark.parametrize("make", [spirals, blobs])
def test_classes_split_evenly_with_remainder_first(make):
    data = make(n=302, classes=4)
    assert np.bincount(data.Y).tolist() == [76, 76, 75, 75]


def test_two_class_sets_are_balanced():
    for name in ("circles", "moons"):
        assert np.bincount(make_toy(name, n=101).Y).tolist() == [51, 50]


# --- toy sets: geometry without noise -----------------------------------------------------------------


def test_xor_labels_follow_sign_rule():
    data = xor(n=500, noise=0.0)
    assert np.all(np.abs(data.X) <= 1)
    assert np.array_equal(data.Y, (data.X[:, 0] * data.X[:, 1] < 0).astype(int))
    assert 0.35 < data.Y.mean() < 0.65


def test_xor_noise_jitters_inputs_but_not_labels():
    clean, noisy = xor(n=300, noise=0.0, seed=5), xor(n=300, noise=0.3, seed=5)
    assert np.array_equal(clean.Y, noisy.Y)
    assert 0.25 < np.std(noisy.X - clean.X) < 0.35


def test_circles_radii_are_one_and_factor():
    data = circles(n=200, noise=0.0, factor=0.3)
    radius = np.hypot(data.X[:, 0], data.X[:, 1])
    np.testing.assert_allclose(radius[data.Y == 0], 1.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(radius[data.Y == 1], 0.3, rtol=0, atol=1e-12)


def test_blobs_sit_on_circle_of_radius_two():
    data = blobs(n=60, noise=0.0, classes=5)
    for k in range(5):
        centre = [2 * np.cos(2 * np.pi * k / 5), 2 * np.sin(2 * np.pi * k / 5)]
        np.testing.assert_allclose(data.X[data.Y == k], np.tile(centre, (12, 1)), atol=1e-12)


def test_blobs_spread_is_noise():
    data = blobs(n=3000, noise=0.2, classes=3)
    spread = np.concatenate([data.X[data.Y == k] - data.X[data.Y == k].mean(axis=0) for k in range(3)])
    assert 0.19 < spread.std() < 0.21


def test_wide_blobs_keep_the_circle_and_spread_in_the_other_features():
    plane, wide = blobs(n=60, noise=0.0, classes=5), blobs(n=60, noise=0.0, classes=5, features=64)
    assert wide.X.shape == (60, 64)
    for k in range(5):
        rows = wide.X[wide.Y == k]
        centre = [2 * np.cos(2 * np.pi * k / 5), 2 * np.sin(2 * np.pi * k / 5)]
        np.testing.assert_allclose(rows[:, :2], np.tile(centre, (12, 1)), atol=1e-12)
        np.testing.assert_allclose(rows, np.tile(rows[0], (12, 1)), atol=0)  # one centre per class
    centres = np.array([wide.X[wide.Y == k][0, 2:] for k in range(5)])
    assert np.all(np.linalg.norm(centres[:, None] - centres[None], axis=2)[~np.eye(5, dtype=bool)] > 1)
    np.testing.assert_array_equal(plane.X, blobs(n=60, noise=0.0, classes=5, features=2).X)


def test_blobs_features_is_a_data_source_option():
    data = resolve("blobs:classes=10,features=64,n=100")
    assert data.X.shape == (100, 64) and set(data.Y) == set(range(10))
    with raises("blobs: option 'features' must be an integer ≥ 2, got 1"):
        resolve({"builtin": "blobs", "features": 1})


def test_spiral_arms_are_rotated_copies():
    data = spirals(n=90, noise=0.0, classes=3)
    arms = []
    for k in range(3):
        arm = data.X[data.Y == k]
        arms.append(arm[np.argsort(np.hypot(arm[:, 0], arm[:, 1]))])
    radius = np.hypot(arms[0][:, 0], arms[0][:, 1])
    np.testing.assert_allclose([radius.min(), radius.max()], [0.1, 1.0])
    turn = 2 * np.pi / 3
    rotation = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    np.testing.assert_allclose(arms[0] @ rotation.T, arms[1], atol=1e-12)
    np.testing.assert_allclose(arms[1] @ rotation.T, arms[2], atol=1e-12)


def test_moons_are_half_circles():
    data = moons(n=200, noise=0.0)
    upper, lower = data.X[data.Y == 0], data.X[data.Y == 1]
    np.testing.assert_allclose(np.hypot(upper[:, 0] + 0.5, upper[:, 1] + 0.25), 1.0, atol=1e-12)
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 0.5, lower[:, 1] - 0.25), 1.0, atol=1e-12)
    assert np.all(upper[:, 1] >= -0.25 - 1e-12) and np.all(lower[:, 1] <= 0.25 + 1e-12)


def test_plane_follows_formula():
    data = plane(n=100, noise=0.0)
    assert np.all(np.abs(data.X) <= 1)
    np.testing.assert_allclose(data.Y[:, 0], 0.5 * data.X[:, 0] - 0.3 * data.X[:, 1] + 0.1, atol=1e-15)


def test_plane_noise_has_requested_std():
    data = plane(n=4000, noise=0.1)
    residual = data.Y[:, 0] - (0.5 * data.X[:, 0] - 0.3 * data.X[:, 1] + 0.1)
    assert 0.095 < residual.std() < 0.105 and abs(residual.mean()) < 0.01


def test_sine_follows_formula():
    data = sine(n=100, noise=0.0)
    assert np.all(np.abs(data.X) <= np.pi)
    np.testing.assert_array_equal(data.Y, np.sin(data.X))


# --- toy sets: refused options ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("spirals", {"clases": 3}, "spirals: unknown option 'clases' (known: n, noise, seed, classes)"),
        ("xor", {"factor": 0.5}, "xor: unknown option 'factor' (known: n, noise, seed)"),
        ("circles", {"n": -3}, "circles: option 'n' must be a positive integer, got -3"),
        ("circles", {"n": 0}, "option 'n' must be a positive integer, got 0"),
        ("plane", {"n": 2.5}, "plane: option 'n' must be a positive integer, got 2.5"),
        ("plane", {"n": True}, "option 'n' must be a positive integer, got True"),
        ("spirals", {"n": 2, "classes": 3}, "spirals: option 'n' must be at least 3"),
        ("moons", {"noise": -0.1}, "moons: option 'noise' must be a number ≥ 0, got -0.1"),
        ("sine", {"noise": float("nan")}, "sine: option 'noise' must be a number ≥ 0, got nan"),
        ("xor", {"seed": -1}, "xor: option 'seed' must be an integer ≥ 0, got -1"),
        ("blobs", {"classes": 1}, "blobs: option 'classes' must be an integer ≥ 2, got 1"),
        ("circles", {"factor": 1.5}, "circles: option 'factor' must be a number between 0 and 1"),
    ],
)
def test_make_toy_refuses_bad_options(name, options, message):
    with raises(message):
        make_toy(name, **options)


def test_make_toy_refuses_unknown_name():
    with raises(
        "unknown built-in data set 'spiral' (built-in: blobs, circles, digits, moons, plane, sine, spirals, xor)"
    ):
        make_toy("spiral")
