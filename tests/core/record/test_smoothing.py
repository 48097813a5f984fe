"""Display smoothing: a centred moving mean (geometric for gradient norms) checked against a plain loop."""

import math

import numpy as np
import pytest

from bpstudio.core.record.smoothing import moving_mean, smoothed_norms, window_for


def reference(values, window):
    half, out = window // 2, []
    for i in range(len(values)):
        part = [v for v in values[max(0, i - half) : i + half + 1] if math.isfinite(v)]
        out.append(sum(part) / len(part) if part else math.nan)
    return np.array(out)


@pytest.mark.parametrize("window", [1, 3, 7, 21])
def test_the_moving_mean_is_the_mean_of_each_window(window):
    values = np.random.default_rng(window).normal(size=50)
    values[[3, 4, 17]] = [np.nan, np.inf, np.nan]
    np.testing.assert_allclose(moving_mean(values, window), reference(list(values), window), rtol=1e-12)


def test_a_window_of_nothing_finite_is_nan():
    out = moving_mean(np.array([np.nan, np.nan, np.nan, 1.0]), 3)
    assert math.isnan(out[0]) and math.isnan(out[1]) and out[2] == 1.0 == out[3]


@pytest.mark.parametrize("window", [0, 2, -1])
def test_the_window_must_be_odd_and_positive(window):
    with pytest.raises(ValueError, match="odd"):
        moving_mean(np.ones(5), window)


def test_norms_are_smoothed_as_logarithms():
    norms = np.array([1e-8, 1e-6, 1e-8, 1e-6, 0.0])
    out = smoothed_norms(norms, 3)
    np.testing.assert_allclose(np.log10(out), reference([-8, -6, -8, -6, math.nan], 3), rtol=1e-12)


def test_windows_grow_with_the_curve_and_stay_odd():
    assert window_for(10) == 1
    assert all(window_for(n) % 2 == 1 for n in range(0, 10000, 37))
    assert window_for(4096) > window_for(400) > 1
