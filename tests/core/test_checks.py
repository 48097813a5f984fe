"""The shared value checks: bools are never numbers here, NumPy's scalars are."""

import numpy as np
import pytest

from bpstudio.core.checks import is_count, is_real, is_whole


@pytest.mark.parametrize("value", [0, 7, -3, np.int64(5), np.int32(-1)])
def test_whole_numbers(value):
    assert is_whole(value) and is_real(value)


@pytest.mark.parametrize("value", [True, False, np.bool_(True), 1.0, "1", None, np.float64(2.0)])
def test_not_whole_numbers(value):
    assert not is_whole(value)


def test_counts_have_a_minimum():
    assert is_count(0) and not is_count(-1) and is_count(np.int64(3), 3) and not is_count(2, 3)
    assert not is_count(True) and not is_count(True, 1) and not is_count(1.0, 1)


def test_reals_take_floats_but_not_bools_or_text():
    assert is_real(0.5) and is_real(np.float32(0.5)) and is_real(3)
    assert not any(is_real(v) for v in (True, np.bool_(False), "0.5", None, 1j))
