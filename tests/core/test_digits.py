"""The handwritten digits shipped with the package: the data as published, and the example that trains on it."""

from __future__ import annotations

import numpy as np
import pytest

from bpstudio.core.datasets import make_toy, resolve, resolve_split
from bpstudio.core.datasets.digits import _stored
from bpstudio.core.errors import DataError
from bpstudio.core.io import presets
from bpstudio.core.session import Session
from bpstudio.core.tools.evaluate import accuracy


def test_all_1797_images_with_pixels_scaled_to_one_and_every_digit_about_equally_often():
    data = make_toy("digits")
    stored_X, stored_Y = _stored()
    assert data.X.shape == (1797, 64) and data.Y.shape == (1797,)
    np.testing.assert_array_equal(data.X * 16, stored_X)  # the published 0..16 counts, divided by 16
    np.testing.assert_array_equal(data.Y, stored_Y)
    assert data.X.min() == 0.0 and data.X.max() == 1.0
    counts = np.bincount(data.Y, minlength=10)
    assert len(counts) == 10 and counts.min() >= 170 and counts.sum() == 1797


def test_a_zero_looks_like_a_ring():
    """Row by row from the top left: the first image (a 0) is dark around a light middle."""
    image = make_toy("digits").X[0].reshape(8, 8)
    assert make_toy("digits").Y[0] == 0
    ring = np.concatenate([image[1, 2:6], image[6, 2:6], image[2:6, 1], image[2:6, 6]])
    assert ring.mean() > 3 * image[3:5, 3:5].mean()


def test_fewer_samples_are_a_seeded_choice():
    a, b, c = resolve("digits:n=100,seed=3"), resolve("digits:n=100,seed=3"), resolve("digits:n=100,seed=4")
    assert a.X.shape == (100, 64)
    np.testing.assert_array_equal(a.X, b.X)
    assert not np.array_equal(a.X, c.X)
    stored = {row.tobytes() for row in make_toy("digits").X}
    assert all(row.tobytes() in stored for row in a.X)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"n": 0}, "'n' must be a whole number from 1 to 1797"),
        ({"n": 5000}, "from 1 to 1797"),
        ({"seed": -1}, "'seed'"),
    ],
)
def test_bad_options_are_refused(options, message):
    with pytest.raises(DataError, match=message):
        make_toy("digits", **options)
    with pytest.raises(DataError, match="unknown option 'noise'"):
        make_toy("digits", noise=0.1)


def test_the_digits_example_learns_to_read_held_out_digits():
    spec = presets.load("digits")
    train, test = resolve_split(spec.data)
    assert test is not None and len(test.Y) == round(0.2 * 1797)
    session = Session(spec, train, batch_size=spec.batch_size)
    before = accuracy(session.predict(test.X), test, spec.loss)
    for _ in range(300):
        session.step()
    after = accuracy(session.predict(test.X), test, spec.loss)
    assert before is not None and after is not None
    assert before < 0.3 and after > 0.9  # chance is 0.1; a 64-32-10 net reads most unseen digits
