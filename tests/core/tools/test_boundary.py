"""The decision-boundary surface and classification accuracy, against trained nets and hand counts."""

import numpy as np
import pytest

from bpstudio.core.data import Dataset
from bpstudio.core.datasets import make_toy, resolve_split
from bpstudio.core.errors import DataError
from bpstudio.core.io import presets
from bpstudio.core.session import Session
from bpstudio.core.tools.boundary import (
    CONFIDENCE_CAP,
    Surface,
    accuracy,
    decode_classes,
    encode_classes,
    grid,
    hard_regions,
    output_curve,
    output_surface,
)
from tests.helpers import network


def two_in(units, activation, loss):
    return network(
        [
            {"id": "x", "type": "input", "units": 2},
            {"id": "y", "type": "dense", "inputs": ["x"], "units": units, "activation": activation},
        ],
        "y",
        loss,
    )


def at(surface, x, y):
    """The surface value in the grid cell nearest (x, y)."""
    return surface.values[np.abs(surface.ys - y).argmin(), np.abs(surface.xs - x).argmin()]


@pytest.fixture(scope="module")
def trained_xor():
    spec = presets.load("xor")
    train, test = resolve_split(spec.data)
    session = Session(spec, train)
    session.run(300)
    return spec, train, test, session


def test_trained_xor_surface_classifies_the_four_corners(trained_xor):
    spec, train, _, session = trained_xor
    surface = output_surface(session.predict, spec, train, resolution=60)
    assert surface.kind == "probability" and surface.classes == 2
    assert surface.values.shape == (60, 60) and surface.xs.shape == (60,) and surface.ys.shape == (60,)
    assert 0.0 <= surface.values.min() and surface.values.max() <= 1.0
    for x, y in [(0.9, 0.9), (-0.9, -0.9)]:  # same signs: class 0
        assert at(surface, x, y) < 0.5
    for x, y in [(0.9, -0.9), (-0.9, 0.9)]:  # opposite signs: class 1
        assert at(surface, x, y) > 0.5
    # the cell values are the net's outputs at the cell centres
    j, i = 7, 41
    assert surface.values[i, j] == pytest.approx(session.predict(np.array([[surface.xs[j], surface.ys[i]]]))[0, 0])


def test_trained_xor_accuracy_is_high_on_train_and_test(trained_xor):
    spec, train, test, session = trained_xor
    assert accuracy(session.predict(train.X), train, spec.loss) >= 0.9
    assert accuracy(session.predict(test.X), test, spec.loss) >= 0.9
    # an untrained net is no better than chance-ish, so the threshold above says something
    fresh = Session(spec, train)
    assert accuracy(fresh.predict(train.X), train, spec.loss) < 0.8


def test_grid_covers_the_bounding_box_plus_margin_row_by_row():
    data = Dataset(np.array([[0.0, -1.0], [2.0, 3.0], [1.0, 0.0]]), np.array([0, 1, 0]))
    xs, ys, points = grid(data, resolution=5, margin=0.25)
    assert xs[0] == pytest.approx(-0.5) and xs[-1] == pytest.approx(2.5)  # span 2, margin 0.5
    assert ys[0] == pytest.approx(-2.0) and ys[-1] == pytest.approx(4.0)  # span 4, margin 1
    assert points.shape == (25, 2)
    assert np.array_equal(points[2 * 5 + 3], [xs[3], ys[2]])  # row i, column j at i·res + j
    flat = Dataset(np.array([[1.0, 1.0], [1.0, 1.0]]), np.array([0, 1]))
    xs, ys, _ = grid(flat, resolution=3, margin=0.5)
    assert list(xs) == [0.5, 1.0, 1.5]  # one distinct value: a unit-wide window


def test_non_2d_inputs_give_no_surface_but_a_curve_in_1d():
    spec = network(
        [
            {"id": "x", "type": "input", "units": 1},
            {"id": "y", "type": "dense", "inputs": ["x"], "units": 1, "activation": "identity"},
        ],
        "y",
    )
    sine = make_toy("sine", n=50)
    assert output_surface(lambda X: 3 * X, spec, sine) is None
    xs, ys = output_curve(lambda X: 3 * X, spec, sine, resolution=11)
    span = sine.X.max() - sine.X.min()
    assert xs[0] == pytest.approx(sine.X.min() - 0.05 * span) and len(xs) == 11
    assert np.allclose(ys, 3 * xs)
    wide = Dataset(np.zeros((4, 5)), np.array([0, 1, 0, 1]))
    assert output_surface(lambda X: X, spec, wide) is None
    assert output_curve(lambda X: X, two_in(1, "identity", "mse"), make_toy("xor", n=10)) is None
    with pytest.raises(DataError, match="needs 2 inputs, this data has 5"):
        grid(wide)


def test_class_surface_encodes_argmax_and_confidence():
    data = make_toy("blobs", n=30, classes=3)
    spec = two_in(3, "identity", "cross_entropy")

    def logits(X):
        return np.column_stack([X[:, 0], X[:, 1], np.zeros(len(X))])

    surface = output_surface(logits, spec, data, resolution=9)
    assert surface.kind == "class" and surface.classes == 3 and surface.values.shape == (9, 9)
    i, j = 2, 6
    z = np.array([surface.xs[j], surface.ys[i], 0.0])
    p = np.exp(z) / np.exp(z).sum()
    classes, confidence = decode_classes(surface.values)
    assert classes[i, j] == z.argmax()
    assert confidence[i, j] == pytest.approx((p.max() - 1 / 3) / (1 - 1 / 3))


def test_class_encoding_by_hand():
    values = encode_classes(np.array([[0.2, 0.5, 0.3], [1.0, 0.0, 0.0], [0.25, 0.25, 0.5]]))
    assert values == pytest.approx([1.25, CONFIDENCE_CAP, 2.25])
    classes, confidence = decode_classes(values)
    assert list(classes) == [1, 0, 2] and confidence == pytest.approx([0.25, CONFIDENCE_CAP, 0.25])


def test_one_hot_mse_net_shades_by_clipped_share_and_regression_gives_values():
    data = make_toy("xor", n=20)
    surface = output_surface(lambda X: np.tile([0.1, 0.7], (len(X), 1)), two_in(2, "sigmoid", "mse"), data, 4)
    assert surface.kind == "class"
    assert surface.values == pytest.approx(np.full((4, 4), 1 + (0.7 / 0.8 - 0.5) / 0.5))
    plane = make_toy("plane", n=20)
    surface = output_surface(lambda X: X[:, :1] - X[:, 1:], two_in(1, "identity", "mse"), plane, 5)
    assert surface.kind == "value" and surface.classes == 0
    assert np.allclose(surface.values, surface.xs[None, :] - surface.ys[:, None])


def test_hard_regions_threshold_probabilities_and_keep_the_argmax_class():
    xs, ys = np.array([0.0, 1.0, 2.0]), np.array([0.0, 1.0])
    probability = Surface(xs, ys, np.array([[0.1, 0.5, 0.49], [0.51, 0.99, 0.0]]), "probability", 2, "P(class 1)")
    hard = hard_regions(probability)
    assert hard.kind == "class" and hard.classes == 2
    classes, confidence = decode_classes(hard.values)
    assert classes.tolist() == [[0, 1, 0], [1, 1, 0]]  # class 1 where P >= 0.5
    assert np.all(confidence == pytest.approx(CONFIDENCE_CAP))  # no shading: every cell sure
    soft = Surface(xs, ys, np.array([[0.2, 1.9, 2.0], [0.0, 2.999, 1.5]]), "class", 3, "predicted class")
    classes, confidence = decode_classes(hard_regions(soft).values)
    assert classes.tolist() == [[0, 1, 2], [0, 2, 1]] and np.all(confidence == pytest.approx(CONFIDENCE_CAP))
    assert hard_regions(Surface(xs, ys, np.zeros((2, 3)), "value", 0, "output")) is None


def test_accuracy_against_a_hand_count():
    labels = Dataset(np.zeros((4, 2)), np.array([0, 1, 1, 0]))
    # one unit: threshold 0.5 -> predicted 0, 1, 0, 1: two right
    assert accuracy(np.array([[0.2], [0.7], [0.4], [0.5]]), labels, "bce") == 0.5
    assert accuracy(np.array([[0.2], [0.7], [0.6], [0.1]]), labels, "mse") == 1.0
    # several units: argmax -> 0, 1, 0, 0 against 0, 1, 1, 0: three right
    outputs = np.array([[2.0, -1.0], [0.0, 3.0], [5.0, 1.0], [0.3, 0.2]])
    assert accuracy(outputs, labels, "cross_entropy") == 0.75
    assert accuracy(outputs, labels, "sse_half") == 0.75
    rows = Dataset(np.zeros((3, 2)), np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]]))
    assert accuracy(np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]), rows, "cross_entropy") == pytest.approx(1 / 3)
    assert accuracy(np.array([[0.6, 0.4], [0.3, 0.2], [0.7, 0.6]]), rows, "bce") == pytest.approx(4 / 6)
    assert accuracy(np.array([[0.0, 0.0]] * 3), rows, "mse") is None
    with pytest.raises(DataError, match="class label 2 but the output layer has only 2 units"):
        accuracy(np.zeros((3, 2)), Dataset(np.zeros((3, 2)), np.array([0, 1, 2])), "cross_entropy")
    with pytest.raises(DataError, match="do not match its 4 samples"):
        accuracy(np.zeros((3, 1)), labels, "bce")
