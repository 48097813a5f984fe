"""The gradient check says what it checked and never passes what it could not see.

The deep sigmoid example's first layer has gradients of ~1e-10 against a loss of ~0.75: central differences in
float64 are noise at that scale, and the old check passed a first-layer gradient that was 50 % wrong (an
absolute tolerance of 1e-8 decided it). Here a gradient broken on purpose must be caught, the complex step is
held against a gradient worked out by hand, and finite differences on their own mark what they cannot resolve.
"""

import numpy as np
import pytest

from bpstudio.core import activations
from bpstudio.core.data import Dataset
from bpstudio.core.datasets import resolve_split
from bpstudio.core.io import presets, spec_io
from bpstudio.core.session import Session
from bpstudio.core.tools import gradcheck
from bpstudio.core.tools.gradcheck import REL_TOL, criterion, gradient_check, verdict


def example(name):
    spec = presets.load(name)
    return spec, resolve_split(dict(spec.data))[0]


def by_key(checks):
    return {c.key: c for c in checks}


@pytest.fixture
def broken_first_layer(monkeypatch):
    """Backprop's h1.weight gradient made 1.5 times too large: the kind of bug a check exists to catch."""
    true_gradients = Session.gradients

    def gradients(self):
        grads = true_gradients(self)
        grads["h1.weight"] = grads["h1.weight"] * 1.5
        return grads

    monkeypatch.setattr(Session, "gradients", gradients)


def test_a_wrong_gradient_in_the_deep_sigmoid_first_layer_is_caught(broken_first_layer):
    spec, data = example("deep_sigmoid")
    checks = by_key(gradient_check(spec, data))
    h1 = checks["h1.weight"]
    true = h1.analytic / 1.5
    assert abs(h1.analytic) < 1e-8 and abs(h1.analytic - true) < 1e-8  # (under the old absolute tolerance)
    assert h1.verdict == "mismatch" and h1.mismatched == h1.checked == 16
    assert h1.reference == pytest.approx(true, rel=1e-9)
    assert all(c.verdict == "pass" for key, c in checks.items() if key != "h1.weight")
    assert verdict(list(checks.values())).startswith("Mismatch in h1.weight")


def test_every_gradient_of_the_deep_sigmoid_example_is_checked_against_the_complex_step():
    spec, data = example("deep_sigmoid")
    checks = gradient_check(spec, data)
    assert all(c.complex_step and c.verdict == "pass" and c.max_rel_error < 1e-12 for c in checks)
    h1 = by_key(checks)["h1.weight"]
    assert abs(h1.analytic) < 1e-8  # its first layer: the gradients the lesson is about
    assert h1.unresolved > 0  # finite differences cannot resolve all of them, and it says so
    said = verdict(checks)
    assert said.startswith("Every gradient matches the complex step.")
    assert f"cannot resolve {sum(c.unresolved for c in checks)} of {sum(c.checked for c in checks)}" in said


def test_the_complex_step_is_the_derivative_worked_out_by_hand():
    """Logistic regression with bce: dL/dW = (σ(XWᵀ + b) − t)ᵀ X / N, exactly."""
    rng = np.random.default_rng(3)
    X, t = rng.normal(size=(40, 3)), (rng.random(40) < 0.5).astype(np.int64)
    weight, bias = rng.normal(size=(1, 3)), rng.normal(size=1)
    spec = spec_io.from_dict(
        {
            "format": "bpstudio-network",
            "version": 1,
            "layers": [
                {"id": "x", "type": "input", "units": 3},
                {"id": "y", "type": "dense", "inputs": ["x"], "units": 1, "activation": "sigmoid"},
            ],
            "output": "y",
            "loss": "bce",
        }
    )
    checks = by_key(gradient_check(spec, Dataset(X, t), {"y.weight": weight, "y.bias": bias}))
    y = 1 / (1 + np.exp(-(X @ weight.T + bias)))
    by_hand = {"y.weight": (y - t[:, None]).T @ X / len(X), "y.bias": (y - t[:, None]).sum(axis=0) / len(X)}
    for key, c in checks.items():
        assert c.complex_step and c.verdict == "pass"
        assert c.reference == pytest.approx(by_hand[key][c.worst_index], rel=1e-12)


def test_finite_differences_alone_mark_what_they_cannot_resolve(monkeypatch):
    """Without the complex step (gelu without scipy), a bce net's deep entries are below the resolution of
    finite differences — never a pass — and the entries they resolve still pass."""
    monkeypatch.setattr(gradcheck, "complex_step_possible", lambda spec: False)
    spec, data = example("deep_sigmoid")
    checks = by_key(gradient_check(spec, data, eps=1e-6))  # (the old fixed step)
    h1 = checks["h1.weight"]
    assert h1.verdict == "unresolved" and not h1.passed and h1.unresolved == h1.checked
    assert gradcheck.VERDICT_WORDS[h1.verdict] == "below the resolution of finite differences"
    assert h1.resolution > REL_TOL * abs(h1.analytic)  # its own error is larger than what it would judge
    assert checks["out.weight"].verdict == "pass" and checks["out.weight"].unresolved == 0
    assert not any(c.verdict == "mismatch" for c in checks.values())
    said = verdict(list(checks.values()))
    assert said.startswith("No gradient disagrees, but") and "below the resolution of finite differences" in said


def test_a_step_chosen_per_parameter_resolves_more_than_the_fixed_one(monkeypatch):
    monkeypatch.setattr(gradcheck, "complex_step_possible", lambda spec: False)
    spec, data = example("deep_sigmoid")
    fixed = sum(c.unresolved for c in gradient_check(spec, data, eps=1e-6))
    chosen = gradient_check(spec, data)
    assert sum(c.unresolved for c in chosen) < fixed / 2
    assert by_key(chosen)["h1.weight"].step > 1e-6  # a deep layer's flat loss takes a larger step


def test_the_criterion_is_stated_as_used():
    spec, data = example("xor")
    checks = gradient_check(spec, data)
    text = criterion(checks, len(data))
    assert f"Pass: |backprop − complex step| ≤ {REL_TOL:g} × the larger of the two" in text
    assert f"all {len(data)} training samples" in text and "below its resolution" in text


def test_gelu_is_checked_by_the_complex_step_only_with_scipy():
    spec, data = example("xor")
    gelu = spec.replace_layer("h", activation="gelu")
    assert gradcheck.complex_step_possible(gelu) == activations.takes_complex("gelu")
    checks = gradient_check(gelu, data)
    assert all(c.verdict != "mismatch" for c in checks)
