"""Norm layers in a run's records: the gradient history follows a norm layer's ∂E/∂γ beside the dense layers'
weight gradients (none for a norm layer without γ), the layer statistics histogram its scales γ and their gradients,
and step health says when a norm layer's sigmoid units are all saturated, as it does for a dense layer's."""

import math

import numpy as np
import pytest

from bpstudio.core.record.history import TrainingHistory, plotted_layers
from bpstudio.core.record.layer_stats import LayerStats
from bpstudio.core.session import Session
from bpstudio.core.step_health import step_health
from tests.core.test_normalization import norm_net


def test_the_gradient_history_follows_gamma_beside_the_dense_layers():
    spec, data = norm_net("batchnorm")
    assert plotted_layers(spec) == ["h", "n", "out"]
    assert plotted_layers(spec.replace_layer("n", affine=False, weight=None, bias=None)) == ["h", "out"]
    history = TrainingHistory.for_network(spec)
    session = Session(spec, data)
    for _ in range(3):
        trace = session.step()
        history.record(trace.step, float(trace.loss), trace.grad_norms())
    gamma_grad = np.asarray(trace.grads["n.weight"])
    assert history.latest_grad_norm("n") == math.sqrt(float(np.sum(gamma_grad**2)))
    ratio = history.tail_grad_norm("h") / history.tail_grad_norm("out")  # (the first and last dense layers')
    assert history.first_last_ratio() == pytest.approx(ratio, rel=1e-12)


def test_layer_statistics_histogram_gamma_and_its_gradient():
    spec, data = norm_net("layernorm")
    spec = spec.replace_layer("n", momentum=None)
    stats = LayerStats(spec)
    assert stats.quantities("n") == ("pre", "activation", "weight", "gradient") and stats.scales == {"n"}
    session = Session(spec, data)
    trace = session.step()
    stats.record(trace.step, trace)
    weights = stats.heatmap("n", "weight")
    assert weights.counts[-1].sum() == 4  # one γ per unit
    gamma = np.asarray(trace.params_after["n.weight"])
    assert weights.edges[0] <= gamma.min() and gamma.max() <= weights.edges[-1]
    assert stats.heatmap("n", "gradient").counts[-1].sum() == 4


def test_a_norm_layers_saturated_sigmoid_units_are_named():
    spec, data = norm_net("batchnorm", activation="sigmoid")
    big = spec.replace_layer("n", weight=np.ones(4), bias=np.full(4, 40.0))  # z = x̂ + 40 > 36: σ(z) ≈ 1
    trace = Session(big, data).forward_backward()
    health = step_health(big, trace)
    assert health.problems and health.problems[0].layer == "n" and health.problems[0].kind == "saturated"
    assert "all 4 sigmoid units are saturated at 1" in health.problems[0].text
    assert not step_health(spec, Session(spec, data).forward_backward()).problems  # γ 1-ish, β 0-ish: healthy
