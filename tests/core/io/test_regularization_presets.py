"""The clipping and L1 lessons work out of the box, trained with each file's own settings: the exploding net's
gradients and loss blow up within a few steps until the run's values stop being numbers, while its twin with clipping
trains; the L1 digits net ends with most weights near zero (whole blank pixels cut off), the same net without L1 with
almost none, and it still learns."""

import dataclasses
import json
import math

import numpy as np
import pytest

from bpstudio.core.datasets import resolve_split
from bpstudio.core.errors import DivergedError
from bpstudio.core.io import presets
from bpstudio.core.session import Session

NEAR_ZERO = 1e-3
EXPLODING = ("exploding", "exploding_clipped")


def session(spec):
    train, test = resolve_split(dict(spec.data))
    return Session(spec, train, batch_size=spec.batch_size), test


def run(spec, steps):
    """The loss and the total gradient norm (before clipping) of each step until ``steps`` or until the run's values
    stop being numbers; and the DivergedError then, else None."""
    s, _ = session(spec)
    losses, norms = [], []
    for _ in range(steps):
        try:
            with np.errstate(all="ignore"):  # (overflow is the lesson)
                trace = s.step()
        except DivergedError as exc:
            return np.array(losses), np.array(norms), exc
        losses.append(float(trace.loss))
        norms.append(trace.update.grad_norm)
    return np.array(losses), np.array(norms), None


def test_the_exploding_twins_differ_only_in_clipping():
    plain, clipped = (json.loads(presets.path(name).read_text(encoding="utf-8")) for name in EXPLODING)
    assert "clip_norm" not in plain["optimizer"] and clipped["optimizer"].pop("clip_norm") == 1.0
    for net in (plain, clipped):
        del net["name"], net["version"]  # (clipping needs format version 2)
    assert plain == clipped


def test_without_clipping_the_gradients_and_the_loss_blow_up_within_a_few_steps():
    losses, norms, diverged = run(presets.load("exploding"), 300)
    assert diverged is not None and diverged.step <= 10  # the run's values stop being numbers
    assert len(norms) >= 3
    assert np.all(np.diff(np.log(norms)) > math.log(10))  # each step's gradient 10× the last's, or more
    assert norms[-1] > 1e20 * norms[0] and losses[-1] > 1e20 * losses[0]


def test_with_clipping_the_same_net_trains():
    losses, norms, diverged = run(presets.load("exploding_clipped"), 400)
    assert diverged is None
    assert norms[0] > 100  # the first gradients are as large as the unclipped twin's (the same start) ...
    assert losses[-20:].mean() < 0.05 and losses[-20:].mean() < 1e-2 * losses[0]  # ... and the loss falls


def trained_weights(spec, steps=500):
    s, test = session(spec)
    for _ in range(steps):
        s.step()
    return s.params_numpy(), s.evaluate(test)


def test_l1_sends_most_weights_to_zero_and_the_net_still_learns():
    spec = presets.load("digits_l1")
    assert spec.optimizer.l1 > 0
    without = dataclasses.replace(spec, optimizer=dataclasses.replace(spec.optimizer, l1=0.0))
    sparse, sparse_test_loss = trained_weights(spec)
    dense, dense_test_loss = trained_weights(without)

    def near_zero_share(params):
        weights = np.concatenate([v.ravel() for k, v in params.items() if k.endswith(".weight")])
        return np.mean(np.abs(weights) < NEAR_ZERO)

    def pixels_cut_off(params):  # input pixels all of whose weights are near zero
        return int(np.all(np.abs(params["h.weight"]) < NEAR_ZERO, axis=0).sum())

    assert near_zero_share(sparse) > 0.6 and near_zero_share(dense) < 0.05
    assert pixels_cut_off(sparse) >= 5 and pixels_cut_off(dense) == 0
    chance = math.log(10)  # cross-entropy of a uniform guess over 10 digits
    assert sparse_test_loss < 0.3 * chance and dense_test_loss < sparse_test_loss  # it learns; L1 costs some


@pytest.mark.parametrize("name", ["exploding", "exploding_clipped", "digits_l1"])
def test_each_has_a_title_and_a_one_line_description(name):
    assert presets.title(name) and presets.description(name) and "\n" not in presets.description(name)
