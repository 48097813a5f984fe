"""What went wrong in a step: saturated and dead layers and the gradients they stop, and the first place a
value stops being a number; each checked against the step's own arrays or a network built to fail there."""

import dataclasses

import numpy as np
import pytest

from bpstudio.core.data import Dataset
from bpstudio.core.datasets import resolve_split
from bpstudio.core.errors import DivergedError, SessionError
from bpstudio.core.io import presets
from bpstudio.core.session import Session
from bpstudio.core.step_health import ADVICE, step_health
from tests.core.spec_builders import X, dense
from tests.helpers import network, with_torch

DATA = Dataset(np.array([[0.5, -1.0], [1.0, 0.25], [-0.5, 0.75]]), np.array([[0.2], [0.7], [0.4]]), "three")


def xor_at(lr, steps=2):
    spec = presets.load("xor")
    spec = dataclasses.replace(spec, optimizer=dataclasses.replace(spec.optimizer, lr=lr))
    session = Session(spec, resolve_split(spec.data)[0])
    for _ in range(steps):
        trace = session.step()
    return spec, trace


def test_a_huge_learning_rate_saturates_xor_and_the_layers_are_named():
    spec, trace = xor_at(1e6)
    h = np.asarray(trace.layers["h"].out)
    # the reference, from the step's own arrays: every tanh output within 1e-6 of ±1, no gradient left
    assert (1 - np.abs(h) <= 1e-6).all() and (h > 0).any() and (h < 0).any()
    assert not np.any(trace.layers["h"].grads["weight"]) and not np.any(trace.layers["h"].grads["bias"])
    health = step_health(spec, trace)
    assert [(p.kind, p.layer) for p in health.problems] == [("saturated", "h"), ("saturated", "y")]
    message = health.message()
    assert "layer h: all 4 tanh units are saturated at ±1, so its gradients are exactly 0" in message
    assert "layer y: its only sigmoid unit is saturated at" in message and message.endswith(ADVICE)


def test_a_healthy_run_has_nothing_to_say():
    spec, trace = xor_at(0.5, steps=20)
    assert not step_health(spec, trace) and step_health(spec, trace).message() is None
    assert step_health(spec, None).message() is None


def relu_net(bias):
    return network(
        [X, dense("h", ["x"], 3, activation="relu", bias=[bias] * 3), dense("y", ["h"], 1)],
        "y",
        optimizer={"name": "sgd", "lr": 0.1},
        seed=3,
    )


def test_dead_relu_units_stop_the_gradient_before_them():
    spec = relu_net(-50.0)  # z = W·x − 50 < 0 for every sample: all three units output 0
    trace = Session(spec, DATA).step()
    assert not np.any(trace.layers["h"].out)
    health = step_health(spec, trace)
    assert [(p.kind, p.layer) for p in health.problems] == [("dead", "h")]
    assert "layer h: all 3 relu units are dead (0 for every sample), so its gradients are exactly 0" in health.message()
    assert not step_health(relu_net(0.0), Session(relu_net(0.0), DATA).step())


def test_nearly_all_units_is_enough_and_says_how_many():
    spec = network(
        [X, dense("h", ["x"], 10, activation="relu", bias=[-50.0] * 9 + [50.0]), dense("y", ["h"], 1)], "y", seed=1
    )
    trace = Session(spec, DATA).step()
    message = step_health(spec, trace).message()
    assert "layer h: 9 of its 10 relu units are dead" in message
    assert "exactly 0" not in message  # the live unit still gets a gradient, so none is claimed


def saturated_middle(bias):
    return network(
        [
            X,
            dense("a", ["x"], 2, activation="tanh"),
            dense("b", ["a"], 2, activation="sigmoid", bias=bias),
            dense("y", ["b"], 1),
        ],
        "y",
        seed=2,
    )


def test_layers_below_a_saturated_one_are_named_with_it():
    spec = saturated_middle([800.0, 800.0])  # σ(z) = 1 exactly, so σ'(z) = σ(1 − σ) = 0
    trace = Session(spec, DATA).step()
    assert not np.any(trace.layers["a"].grads["weight"])
    health = step_health(spec, trace)
    assert [p.layer for p in health.problems] == ["b", None]
    assert "layer b: all 2 sigmoid units are saturated at 1, so its gradients are exactly 0" in health.message()
    assert "the gradients of layer a are exactly 0 too" in health.message()


def test_gradients_that_underflow_are_said_to_be_nearly_0():
    spec = saturated_middle([800.0, -800.0])  # σ(−800) is clipped to σ(−708) ≈ 3e-308: a derivative of ~3e-308
    trace = Session(spec, DATA).step()
    largest = max(np.abs(g).max() for g in trace.layers["a"].grads.values())
    assert 0 < largest < 1e-300
    message = step_health(spec, trace).message()
    assert "layer b: all 2 sigmoid units are saturated at 0 or 1, so its gradients are almost 0" in message
    assert f"the gradients of layer a are 0 or nearly (at most {largest:.1e}) too" in message


def test_an_output_pressed_against_its_bound_but_right_is_a_fit():
    spec = network([X, dense("y", ["x"], 1, activation="sigmoid", weight=[[0.0, 0.0]], bias=[40.0])], "y", loss="bce")
    right = Dataset(DATA.X, np.ones((3, 1)), "ones")
    wrong = Dataset(DATA.X, np.zeros((3, 1)), "zeros")
    assert not step_health(spec, Session(spec, right).step())
    assert (
        "layer y: its only sigmoid unit is saturated at 1" in step_health(spec, Session(spec, wrong).step()).message()
    )


def test_the_first_value_that_is_not_a_number_is_named_where_it_appears():
    spec = network(
        [X, dense("a", ["x"], 2, weight=[[2.0, 0.0], [0.0, 2.0]]), dense("b", ["a"], 1, weight=[[1e308, 1e308]])],
        "b",
    )
    session = Session(spec, DATA)
    with np.errstate(all="ignore"):
        trace = session.forward_backward()  # (its update would be refused: see below)
    assert np.isfinite(trace.layers["a"].pre).all() and np.isinf(trace.layers["b"].pre).any()  # 2e308 + 0.5e308
    health = step_health(spec, trace)
    assert [(p.kind, p.layer) for p in health.problems] == [("not finite", "b")]
    assert health.message().startswith("layer b: its weighted sums became inf (too large for a float)")
    assert health.message().endswith(ADVICE)


@pytest.mark.parametrize("backend", with_torch("numpy", "torch"))
@pytest.mark.parametrize("optimizer", ["sgd", "momentum"])
def test_an_update_that_would_overflow_is_refused_naming_the_layer(backend, optimizer):
    """Parameters stay numbers: the update is not applied (weights, optimizer state and step count stay) and
    the refusal names the layer; with a lower learning rate the same step goes through."""
    spec = network(
        [X, dense("a", ["x"], 2), dense("y", ["a"], 1)], "y", optimizer={"name": optimizer, "lr": 1e-3}, seed=4
    )
    far = Dataset(DATA.X, np.full((3, 1), 100.0), "far")  # ∂E/∂b ≈ −200: lr·∂E/∂b overflows at lr 1e308
    session = Session(spec, far, backend=backend)
    session.step()  # momentum's first step keeps its buffer: the refused one must leave it as it was
    session.set_optimizer(dataclasses.replace(spec.optimizer, lr=1e308))
    before, state = session.params_numpy(), session.optimizer_state()
    with np.errstate(all="ignore"):
        grads = {k: np.asarray(v, dtype=np.float64) for k, v in session.forward_backward().grads.items()}
        assert not np.isfinite(before["a.weight"] - 1e308 * grads["a.weight"]).all()  # (with sgd's rule)
        with pytest.raises(SessionError, match=r"update not applied: layer a: the update would make its weights inf"):
            session.advance()
    assert session.step_count == 1 and str(session.next_phase) == "update"
    for key, value in before.items():
        np.testing.assert_array_equal(session.params_numpy()[key], value)
    assert session.optimizer_state()["steps"] == state["steps"]
    for key, slot in state["buffers"].items():
        for name, value in slot.items():
            np.testing.assert_array_equal(session.optimizer_state()["buffers"][key][name], value)
    session.set_optimizer(dataclasses.replace(spec.optimizer, lr=1e-3))
    session.advance()
    assert session.step_count == 2 and all(np.isfinite(p).all() for p in session.params_numpy().values())


def test_a_refused_update_names_the_first_value_that_went_wrong():
    """Weights so large that a weighted sum overflows: the loss and every gradient are nan, and the refusal
    names where it began, not the update."""
    spec = network(
        [X, dense("a", ["x"], 2, weight=[[2.0, 0.0], [0.0, 2.0]]), dense("b", ["a"], 1, weight=[[1e308, 1e308]])],
        "b",
    )
    session = Session(spec, DATA)
    with np.errstate(all="ignore"), pytest.raises(DivergedError) as refused:
        session.step()
    assert str(refused.value).startswith("step 1: update not applied: layer b: its weighted sums became inf")
    assert (refused.value.step, refused.value.layer, refused.value.quantity) == (1, "b", "weighted sums")
    assert session.step_count == 0


@pytest.mark.parametrize("backend", with_torch("numpy", "torch"))
def test_a_loss_that_overflows_stops_the_run_at_that_step(backend):
    """tanh keeps the hidden layer bounded, so at lr 1e3 the output weights grow until the squared error
    overflows while every weight and gradient is still a number: the session must not go on (it used to, with
    a loss of inf for every later step)."""
    spec = network(
        [X, dense("h", ["x"], 8, activation="tanh"), dense("y", ["h"], 1)],
        "y",
        loss="mse",
        optimizer={"name": "sgd", "lr": 1e3},
        seed=1,
    )
    data = Dataset(DATA.X, np.array([[0.5], [-0.5], [0.25]]), "targets")
    session = Session(spec, data, backend=backend)
    losses = []
    with np.errstate(all="ignore"), pytest.raises(DivergedError) as stopped:
        for _ in range(200):
            losses.append(float(session.step().loss))
    said = stopped.value
    assert said.step == len(losses) + 1 == session.step_count + 1 and np.isfinite(losses).all()
    assert (said.layer, said.quantity) == (None, "loss") and said.problem.startswith("the loss became inf")
    weights = session.params_numpy()
    assert all(np.isfinite(v).all() for v in weights.values())  # the last finite state, kept
    with np.errstate(all="ignore"):
        y = np.tanh(data.X @ weights["h.weight"].T + weights["h.bias"]) @ weights["y.weight"].T + weights["y.bias"]
        assert not np.isfinite(np.mean((y - data.Y) ** 2))  # (the loss of those weights: the reason it stopped)
        with pytest.raises(DivergedError):  # and it keeps saying so, never a silent nan
            session.step()
    assert session.step_count == said.step - 1


def test_a_short_message_keeps_the_first_problem_and_counts_the_rest():
    spec, trace = xor_at(1e6)
    short = step_health(spec, trace).message(1)
    assert short.startswith("layer h: all 4 tanh units are saturated at ±1")
    assert "layer y" not in short and "(and 1 more)" in short and short.endswith(ADVICE)


def test_the_headline_says_it_in_a_few_words():
    spec, trace = xor_at(1e6)
    assert step_health(spec, trace).headline() == "layer h saturated: gradients 0 (+1 more)"
    assert step_health(spec, None).headline() is None
