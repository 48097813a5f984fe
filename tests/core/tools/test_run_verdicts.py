"""Per-layer verdicts on a watched run, by the same thresholds bpstudio uses for its own networks: the gradient
plot's first/last ratio words (gradient_health), step health's share of dead or saturated units, the lesson's
robust tail norm."""

import math

import numpy as np
import pytest

from bpstudio.core.record.history import EXPLODING, STALLED, VANISHING, gradient_health
from bpstudio.core.record.watched_run import WatchedRun
from bpstudio.core.tools.run_verdicts import HALF, NO_GRADIENT, NOTHING_TO_JUDGE, layer_verdicts
from bpstudio.core.tools.vanishing_lesson import TAIL
from tests.watched_runs import RunBuilder, chain


def verdicts_of(run_dir):
    with WatchedRun(run_dir) as run:
        return {v.layer: v for v in layer_verdicts(run)}


@pytest.mark.parametrize(
    "ratio",
    [VANISHING / 2, VANISHING * 2, 0.5, 20.0, EXPLODING * 2],
    ids=["vanishing", "shrinking", "healthy", "growing", "exploding"],
)
def test_a_layer_is_judged_by_its_gradient_against_the_last_layers(tmp_path, ratio):
    chain(tmp_path, [[ratio * 0.3] * 5, [0.3] * 5])
    v = verdicts_of(tmp_path)
    assert v["0"].ratio == pytest.approx(ratio)
    assert v["0"].verdict == gradient_health(ratio)
    assert f"{ratio:.1e} × the last layer's" in v["0"].evidence
    assert v["1"].verdict == "healthy" and v["1"].ratio == 1.0


def test_a_deep_chain_fans_out_by_depth(tmp_path):
    norms = [[10.0 ** (i - 6)] * 3 for i in range(7)]  # each layer 10× the one before
    chain(tmp_path, norms, "Sigmoid", "saturated")
    v = verdicts_of(tmp_path)
    words = [v[str(2 * i)].verdict for i in range(7)]
    assert words == ["vanishing"] * 3 + ["shrinking"] * 2 + ["healthy"] * 2
    assert "(below 1e-03)" in v["0"].evidence
    assert v["1"].verdict == "healthy" and v["1"].module_type == "Sigmoid"


def test_the_norms_are_the_geometric_mean_of_the_last_steps(tmp_path):
    steps = TAIL + 30
    rng = np.random.default_rng(0)
    first = list(1e-9 * np.ones(30)) + list(rng.uniform(0.01, 0.1, TAIL))  # early steps fall out of the tail
    first[-1] = 0.0  # a norm of exactly 0 is left out, as in the lesson
    chain(tmp_path, [first, [1.0] * steps])
    v = verdicts_of(tmp_path)["0"]
    kept = np.array(first[-TAIL:])
    kept = kept[kept > 0]
    assert v.grad_norm == pytest.approx(10 ** np.mean(np.log10(kept)))
    assert v.verdict == gradient_health(v.grad_norm)


def test_a_stalled_last_layer_stalls_them_all(tmp_path):
    chain(tmp_path, [[STALLED / 100] * 3, [STALLED / 10] * 3])
    v = verdicts_of(tmp_path)
    assert v["0"].verdict == v["1"].verdict == "stalled"
    assert "below 1e-06: no layer learns" in v["1"].evidence


@pytest.mark.parametrize("kind, word", [("dead", "dead units"), ("saturated", "saturated")])
def test_half_the_units_dead_or_saturated_names_the_layers_problem(tmp_path, kind, word):
    """Half a ReLU layer dead over the last steps is its diagnosis (it read "healthy" up to 90 %); below half
    the layer is healthy, with the share in its evidence."""
    share = HALF + 0.05
    below = HALF - 0.2
    chain(
        tmp_path,
        [[0.5] * 4, [0.5] * 4, [0.5] * 4],
        "ReLU" if kind == "dead" else "Tanh",
        kind,
        fractions=[[share] * 4, [below] * 4],
    )
    v = verdicts_of(tmp_path)
    assert v["1"].verdict == word and f"{share:.0%}" in v["1"].evidence
    assert v["3"].verdict == "healthy" and f"{below:.0%}" in v["3"].evidence
    column = "dead_fraction" if kind == "dead" else "saturated_fraction"
    assert getattr(v["1"], column) == pytest.approx(share)


def test_zero_and_broken_gradients(tmp_path):
    b = RunBuilder(
        tmp_path,
        {"0.weight": "0", "1.weight": "1", "2.weight": "2"},
        [("0", "Linear", None), ("1", "Linear", None), ("2", "Linear", None)],
    )
    b.step(1, 1.0, {"0.weight": 0.0, "1.weight": 0.5, "2.weight": 1.0})
    b.step(2, 1.0, {"0.weight": 0.0, "1.weight": None, "2.weight": 1.0})
    b.finish()
    v = verdicts_of(tmp_path)
    assert (
        v["0"].verdict == "zero gradients" and "exactly 0 at every one of the last 2 recorded steps" in v["0"].evidence
    )
    assert v["1"].verdict == "not finite" and v["1"].evidence == "the gradient norm of 1.weight became nan at step 2"
    assert v["2"].verdict == "healthy"
    assert all(x.problem for x in (v["0"], v["1"])) and not v["2"].problem


def test_a_weight_whose_gradient_is_0_while_its_bias_learns_is_named_as_such(tmp_path):
    """The layer after a dead ReLU: its weight's gradient is 0 (its inputs are), its bias's is not. The layer's
    verdict is the weight's; the evidence does not say the whole layer gets no gradient."""
    b = RunBuilder(
        tmp_path,
        {"0.weight": "0", "0.bias": "0", "2.weight": "2", "2.bias": "2"},
        [("0", "Linear", None), ("1", "ReLU", "dead"), ("2", "Linear", None)],
    )
    for step in (1, 2):
        b.step(step, 1.0, {"0.weight": 0.0, "0.bias": 0.0, "2.weight": 0.0, "2.bias": 0.07})
    b.finish()
    v = verdicts_of(tmp_path)
    assert v["2"].verdict == "zero gradients"
    assert v["2"].evidence == (
        "its weight's gradient is exactly 0 at every one of the last 2 recorded steps (its bias's is not)"
    )
    assert v["0"].evidence == "its weight's gradient is exactly 0 at every one of the last 2 recorded steps"


def test_layers_without_gradient_before_a_dead_layer_are_told_the_cause(tmp_path):
    """A ReLU dead for every sample passes no gradient back: the layers before it read "zero gradients" and name
    it as the cause; a layer after it does not."""
    b = RunBuilder(
        tmp_path,
        {"0.weight": "0", "2.weight": "2", "2.bias": "2", "4.weight": "4"},
        [
            ("0", "Linear", None),
            ("1", "ReLU", "dead"),
            ("2", "Linear", None),
            ("3", "ReLU", "dead"),
            ("4", "Linear", None),
        ],
    )
    for step in (1, 2):
        b.step(
            step,
            1.0,
            {"0.weight": 0.0, "2.weight": 0.0, "2.bias": 0.0, "4.weight": 0.3},
            activations={"1": (0.4, 0.2, 0.5, 0.0, None), "3": (0.0, 0.0, 1.0, 1.0, None)},
        )
    b.finish()
    v = verdicts_of(tmp_path)
    assert v["3"].verdict == "dead units"
    for before in ("0", "2"):
        assert v[before].verdict == "zero gradients"
        assert v[before].evidence.endswith("; '3' after it has dead units, which pass none back"), before
    assert "dead units" not in v["4"].evidence


def test_modules_with_nothing_to_judge_and_frozen_layers(tmp_path):
    b = RunBuilder(
        tmp_path,
        {"0.weight": "0", "2.weight": "2", "3.weight": "3"},
        [("0", "Linear", None), ("1", "MaxPool2d", None), ("2", "Linear", None), ("3", "Linear", None)],
    )
    b.step(1, 1.0, {"0.weight": 0.5, "2.weight": 1.0}, activations={"1": (0.5, 0.1, 0.0, None, None)})
    b.finish()
    v = verdicts_of(tmp_path)
    assert list(v) == ["0", "1", "2", "3"]
    # a pooling layer has nothing to judge, and a frozen layer no gradient: neither reads "healthy"
    assert (v["1"].verdict, v["1"].evidence, v["1"].mean) == (NOTHING_TO_JUDGE, "", 0.5)
    assert (v["3"].verdict, v["3"].evidence) == (NO_GRADIENT, "no gradient recorded (frozen, or not in use)")
    assert not any(x.problem for x in v.values())
    assert math.isnan(v["1"].grad_norm)
    assert v["2"].ratio == 1.0  # the last layer with a gradient is the reference, not the frozen one
