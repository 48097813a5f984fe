"""The batch order: each pass visits every sample once, in an order fixed by the seed and the pass number."""

import numpy as np
import pytest

from bpstudio.core.batches import BatchOrder
from bpstudio.core.errors import SessionError


def one_pass(order):
    batches = []
    start = order.epoch
    while order.epoch == start:
        batch = order.next()
        batches.append(batch.tolist())
        order.consume(batch)
    return batches


def test_a_pass_visits_every_sample_once_and_the_next_pass_reshuffles():
    order = BatchOrder(seed=3, n_samples=10, batch_size=4)
    first = one_pass(order)
    assert [len(b) for b in first] == [4, 4, 2] and sorted(sum(first, [])) == list(range(10))
    assert order.steps_per_epoch == 3 and (order.epoch, order.position) == (1, 0)
    second = one_pass(order)
    assert sorted(sum(second, [])) == list(range(10)) and second != first


def test_the_order_follows_from_seed_pass_and_position_alone():
    a = BatchOrder(seed=3, n_samples=10, batch_size=4)
    one_pass(a)
    a.consume(a.next())
    b = BatchOrder(seed=3, n_samples=10, batch_size=4)
    b.restart(epoch=1, position=4)
    np.testing.assert_array_equal(a.next(), b.next())
    assert BatchOrder(seed=4, n_samples=10, batch_size=4).next().tolist() != BatchOrder(3, 10, 4).next().tolist()


def test_the_whole_set_in_order_when_there_is_no_batch_size_or_it_covers_the_set():
    for size in (None, 10, 50):
        order = BatchOrder(seed=0, n_samples=10, batch_size=size)
        assert order.next() is None and order.steps_per_epoch == (1 if size is None else -(-10 // size))
        order.consume(None)
        assert (order.epoch, order.position) == (1, 0)


def test_a_new_batch_size_or_new_data_starts_the_current_pass_again():
    order = BatchOrder(seed=0, n_samples=10, batch_size=4)
    order.consume(order.next())
    order.resize(5)
    assert (order.epoch, order.position, len(order.next())) == (0, 0, 5)
    order.resize(5, n_samples=3)
    assert order.next() is None


@pytest.mark.parametrize("size", [0, -2, 1.5, True, "8"])
def test_a_bad_batch_size_is_refused(size):
    with pytest.raises(SessionError, match="batch size must be a positive integer"):
        BatchOrder(seed=0, n_samples=10, batch_size=size)
    order = BatchOrder(seed=0, n_samples=10, batch_size=4)
    with pytest.raises(SessionError):
        order.resize(size)
    assert order.batch_size == 4
