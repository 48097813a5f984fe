"""Points added and removed by hand: what a click means for each kind of data, the inline source that keeps
the test points as they were, and the nearest point as the eye sees it."""

import json

import numpy as np
import pytest

from bpstudio.core.data import Dataset
from bpstudio.core.datasets import make_toy, resolve_split
from bpstudio.core.datasets.points import (
    CLASS,
    HEIGHT,
    TEST,
    TRAIN,
    VALUE,
    click_kind,
    clicked_point,
    held_out_share,
    inline_source,
    merged,
    nearest_point,
    plane,
    with_point,
    without_point,
)
from bpstudio.core.errors import DataError

LABELLED = Dataset(np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0]]), np.array([0, 1, 2]))
TARGETS_2D = Dataset(np.array([[0.0, 0.0], [1.0, 1.0]]), np.array([[0.5], [-0.5]]))
SINE = make_toy("sine", n=12)


def test_what_a_click_means_for_each_kind_of_data():
    assert click_kind(LABELLED) == CLASS and click_kind(TARGETS_2D) == VALUE and click_kind(SINE) == HEIGHT
    assert clicked_point(LABELLED, (0.25, -1.5), 2) == ([0.25, -1.5], 2)
    assert clicked_point(TARGETS_2D, (0.25, -1.5), 0.75) == ([0.25, -1.5], [0.75])
    assert clicked_point(SINE, (0.25, -1.5), None) == ([0.25], [-1.5])  # the click's height is the target
    with pytest.raises(DataError, match="a point's class must be a whole number ≥ 0, got 1.5"):
        clicked_point(LABELLED, (0, 0), 1.5)
    with pytest.raises(DataError, match="a point's target must be a finite number, got None"):
        clicked_point(TARGETS_2D, (0, 0), None)


def test_data_a_click_cannot_add_to_says_why():
    wide = Dataset(np.zeros((4, 3)), np.array([0, 1, 0, 1]))
    with pytest.raises(DataError, match="clicked points need data with 1 or 2 inputs .*; this data has 3"):
        click_kind(wide)
    two_targets = Dataset(np.array([[0.05, 0.1]]), np.array([[0.01, 0.99]]))  # Mazur's example
    with pytest.raises(
        DataError, match="clicked points need class labels or one target column; this data has 2 target columns"
    ):
        clicked_point(two_targets, (0, 0), 1.0)


def test_plane_places_each_sample_as_the_plot_draws_it():
    np.testing.assert_array_equal(plane(LABELLED), LABELLED.X)
    np.testing.assert_array_equal(plane(SINE), np.column_stack([SINE.X[:, 0], SINE.Y[:, 0]]))


def test_an_added_point_joins_the_training_data_and_the_test_points_stay():
    train, test = resolve_split({"builtin": "xor", "n": 40, "test_fraction": 0.25})
    new_train, new_test = with_point(train, test, [0.5, -0.25], 1)
    assert new_test is test and len(new_train) == len(train) + 1
    np.testing.assert_array_equal(new_train.X[:-1], train.X)
    assert new_train.X[-1].tolist() == [0.5, -0.25] and new_train.Y[-1] == 1 and new_train.is_classification
    # written out and read back (through JSON, as a saved file would): the same points in the same parts
    source = json.loads(json.dumps(inline_source(new_train, new_test)))
    again_train, again_test = resolve_split(source)
    np.testing.assert_array_equal(again_train.X, new_train.X)
    np.testing.assert_array_equal(again_train.Y, new_train.Y)
    np.testing.assert_array_equal(again_test.X, test.X)
    np.testing.assert_array_equal(again_test.Y, test.Y)
    assert held_out_share(source) == pytest.approx(len(test) / (len(test) + len(new_train)))


def test_a_point_must_fit_the_data_it_joins():
    with pytest.raises(DataError, match="needs 2 inputs to join this data, got 1"):
        with_point(LABELLED, None, [0.5], 1)
    with pytest.raises(DataError, match="needs a class label"):
        with_point(LABELLED, None, [0.5, 0.5], [0.3])
    with pytest.raises(DataError, match="needs 1 target value"):
        with_point(TARGETS_2D, None, [0.5, 0.5], 3)


def test_removing_points_from_either_part_and_never_the_last_training_point():
    train, test = LABELLED, TARGETS_2D.subset(np.array([0]))  # (kinds need not match here)
    rest, same = without_point(train, test, TRAIN, 1)
    assert same is test and rest.X.tolist() == [[0.0, 0.0], [2.0, 0.0]] and rest.Y.tolist() == [0, 2]
    kept, no_test = without_point(train, test, TEST, 0)
    assert kept is train and no_test is None
    with pytest.raises(DataError, match="the last training point cannot be removed"):
        without_point(train.subset(np.array([0])), None, TRAIN, 0)
    with pytest.raises(DataError, match="the train data has no point 3 \\(it has 3\\)"):
        without_point(train, None, TRAIN, 3)


def test_the_nearest_point_is_measured_in_pixels():
    train = Dataset(np.array([[0.0, 0.0], [10.0, 0.0]]), np.array([0, 1]))
    test = Dataset(np.array([[0.0, 1.0]]), np.array([1]))
    # a pixel is 1 unit wide but 0.1 high: (0, 1) is 10 px above the origin, (10, 0) 10 px to its right
    assert nearest_point(train, test, (0.0, 0.9), (1.0, 0.1), within=12) == (TEST, 0)  # 1 px away
    assert nearest_point(train, None, (0.0, 0.9), (1.0, 0.1), within=12) == (TRAIN, 0)  # 9 px away
    assert nearest_point(train, None, (5.0, 0.5), (1.0, 0.1), within=6) is None  # 5 px across, 5 up: ~7.07 px
    assert nearest_point(train, None, (5.0, 0.5), (1.0, 0.1), within=7.1) == (TRAIN, 0)
    with pytest.raises(DataError, match="a pixel's size must be two positive numbers"):
        nearest_point(train, None, (0, 0), (0.0, 1.0), within=5)


def test_a_written_out_test_set_is_checked_and_merges_back_for_a_new_split():
    source = {"X": [[0, 0], [1, 1], [2, 2]], "Y": [0, 1, 0], "test": {"X": [[3, 3]], "Y": [1]}}
    train, test = resolve_split(source)
    assert len(train) == 3 and test.X.tolist() == [[3.0, 3.0]] and held_out_share(source) == 0.25
    assert merged(source) == {"X": [[0, 0], [1, 1], [2, 2], [3, 3]], "Y": [0, 1, 0, 1]}
    with pytest.raises(DataError, match="either the test points \\('test'\\) or a 'test_fraction', not both"):
        resolve_split({**source, "test_fraction": 0.5})
    with pytest.raises(DataError, match="the test points have 1 inputs, the others 2"):
        resolve_split({**source, "test": {"X": [[3]], "Y": [1]}})
    with pytest.raises(DataError, match="must be of the same kind as the others'"):
        resolve_split({**source, "test": {"X": [[3, 3]], "Y": [[0.5]]}})
    with pytest.raises(DataError, match="'test' must be an object with exactly 'X' and 'Y'"):
        resolve_split({**source, "test": [[3, 3]]})
    assert held_out_share({"builtin": "xor", "test_fraction": 0.2}) == 0.2 and held_out_share(None) == 0.0
