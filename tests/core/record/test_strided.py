"""The bookkeeping the bounded stores share: slots fill, halve (every other from the first or the second) with
the stride doubling, and truncate by step."""

import numpy as np

from bpstudio.core.record.strided import StridedSlots


def filled(capacity, steps):
    slots = StridedSlots(capacity)
    for step in steps:
        slots.fill(step)
    return slots


def test_slots_fill_up_to_the_capacity():
    slots = filled(4, [3, 5, 8])
    assert not slots.full and slots.used_steps().tolist() == [3, 5, 8]
    slots.fill(9)
    assert slots.full


def test_halving_from_the_first_keeps_samples_and_from_the_second_keeps_each_pairs_later_step():
    sampled = filled(5, [0, 1, 2, 3, 4])
    taken = sampled.halve(0)
    assert (sampled.used, sampled.stride, sampled.used_steps().tolist()) == (3, 2, [0, 2, 4])
    assert np.arange(5)[taken].tolist() == [0, 2, 4]
    merged = filled(5, [0, 1, 2, 3, 4])
    taken = merged.halve(1)
    assert (merged.used, merged.stride, merged.used_steps().tolist()) == (2, 2, [1, 3])
    assert np.arange(5)[taken].tolist() == [1, 3]  # (the odd one out is the store's to keep)


def test_truncating_keeps_the_slots_up_to_a_step_and_a_copy_is_independent():
    slots = filled(8, [2, 4, 6, 8])
    copy = slots.copy()
    assert slots.truncate(5) == 2 and slots.used_steps().tolist() == [2, 4]
    assert slots.truncate(1) == 0
    assert copy.used_steps().tolist() == [2, 4, 6, 8]
