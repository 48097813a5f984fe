"""Inputs that are square images (the digits): which samples the data view shows and how the network reads
them, against a softmax computed here."""

from __future__ import annotations

import numpy as np

from bpstudio.core.datasets import resolve_split
from bpstudio.core.io import presets
from bpstudio.core.session import Session
from bpstudio.core.tools.evaluate import data_surface
from bpstudio.core.tools.image_samples import SHOWN, image_side, sample_readings, shows_images


def test_a_square_number_of_inputs_makes_an_image():
    assert [image_side(w) for w in (64, 16, 784, 2, 9, 63)] == [8, 4, 28, None, None, None]


def test_the_digits_network_reads_the_first_test_samples_as_its_softmax_says():
    spec = presets.load("digits")
    train, test = resolve_split(spec.data)
    assert shows_images(train) and test is not None
    session = Session(spec, train, batch_size=spec.batch_size)
    for _ in range(50):
        session.step()
    readings = sample_readings(session, train, test)
    assert readings is not None and readings.held_out and len(readings.predicted) == SHOWN
    logits = session.predict(test.X[:SHOWN])
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    softmax = e / e.sum(axis=1, keepdims=True)
    np.testing.assert_array_equal(readings.predicted, softmax.argmax(axis=1))
    np.testing.assert_allclose(readings.confidence, softmax.max(axis=1), rtol=1e-12)
    assert data_surface(session, train, test).predicted.tolist() == readings.predicted.tolist()
    without_test = sample_readings(session, train, None)
    assert without_test is not None and not without_test.held_out  # (then the training samples)


def test_points_in_a_plane_are_not_images():
    spec = presets.load("xor")
    train, test = resolve_split(spec.data)
    assert not shows_images(train) and sample_readings(Session(spec, train), train, test) is None
