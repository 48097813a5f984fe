"""The chain rule through batchnorm and layernorm layers: a path into one ends there, in the gradient the layer sends
back to that input, written out as its three terms (direct, through the mean, through the variance) with this
step's numbers; they sum to what the backward pass computed (checked against the trace and against torch's autograd),
and the explanation of every parameter still adds up to the recorded gradient on random networks with norm layers."""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from bpstudio.core.errors import SpecError
from bpstudio.core.session import Session
from bpstudio.core.tools.explain import explain, to_text
from tests.core.random_nets import nets
from tests.core.test_normalization import norm_net
from tests.core.tools.test_explain import check_every_parameter
from tests.helpers import needs_torch, optional_torch

torch = optional_torch()


def traced(kind):
    spec, data = norm_net(kind, activation="relu")
    if kind == "layernorm":
        spec = spec.replace_layer("n", momentum=None)
    return spec, Session(spec, data).forward_backward().to_numpy()


def by_hand(spec, trace, kind):
    """x̂, 1/√(σ²+ε) and γ from the layer's input, written here with np.var (biased, over the batch or the units)."""
    x = np.asarray(trace.layers["n"].inputs[0])
    axis = 0 if kind == "batchnorm" else 1
    mean, var = x.mean(axis=axis, keepdims=True), x.var(axis=axis, keepdims=True)
    inv_std = 1 / np.sqrt(var + spec.layer("n").eps)
    return (x - mean) * inv_std, inv_std, np.asarray(spec.layer("n").weight)


def test_a_gradient_through_batchnorm_shows_three_terms_that_sum_to_the_backward_pass():
    spec, trace = traced("batchnorm")
    s, j = 3, 1
    expl = explain(spec, trace, "h.weight", (j, 2), sample=s)
    assert expl.matches and len(expl.paths) == expl.n_paths == 1  # h[1] feeds n[1] only: one path, ending there
    assert expl.paths[0].via == ("h[1]", "n[1] (whole batch)")
    (c,) = expl.couplings
    assert (c.layer, c.kind, c.source, c.sample, c.unit) == ("n", "batchnorm", "h", s, j)
    xhat, inv_std, gamma = by_hand(spec, trace, "batchnorm")
    dz = np.asarray(trace.layers["n"].grad_pre)
    scale = gamma[j] * inv_std[0, j]
    direct, through_mean, through_var = (t.value for t in c.terms)
    assert direct == pytest.approx(scale * dz[s, j], rel=1e-12)
    assert through_mean == pytest.approx(-scale * dz[:, j].mean(), rel=1e-12)
    assert through_var == pytest.approx(-scale * xhat[s, j] * (dz[:, j] * xhat[:, j]).mean(), rel=1e-9)
    # the three terms sum to the gradient the backward pass sent to n's input for this sample and unit
    backward = float(np.asarray(trace.layers["n"].grad_inputs[0])[s, j])
    assert c.recorded == backward and c.matches
    assert math.isclose(c.total, backward, rel_tol=1e-12, abs_tol=1e-15)
    assert abs(direct) != pytest.approx(abs(backward), rel=1e-3)  # (the coupling terms matter here)
    # the path's last factor into n is that sum: the one factor standing for the whole batch
    assert expl.paths[0].factors[0].value == pytest.approx(backward, rel=1e-12)
    text = to_text(expl)
    assert "γ/√(σ²+ε) · (dz_n − mean(dz) − x̂_n·mean(dz⊙x̂))" in text
    assert "through the mean μ" in text and "through the variance σ²" in text and "(matches)" in text


@needs_torch
@pytest.mark.parametrize("kind", ["batchnorm", "layernorm"])
def test_the_three_terms_sum_to_torchs_gradient_at_the_norm_layers_input(kind):
    spec, trace = traced(kind)
    x = torch.tensor(np.asarray(trace.layers["n"].inputs[0]), requires_grad=True)
    gamma, beta = (torch.tensor(np.asarray(getattr(spec.layer("n"), name))) for name in ("weight", "bias"))
    eps = spec.layer("n").eps
    if kind == "batchnorm":
        z = torch.nn.functional.batch_norm(x, None, None, gamma, beta, training=True, eps=eps)
    else:
        z = torch.nn.functional.layer_norm(x, (x.shape[1],), gamma, beta, eps=eps)
    dz = torch.tensor(np.asarray(trace.layers["n"].grad_pre))
    (reference,) = torch.autograd.grad(z, x, dz)
    for s in (0, 5):
        for unit in range(4):
            (c,) = explain(spec, trace, "h.weight", (unit, 0), sample=s).couplings
            assert c.unit == unit and c.sample == s
            assert c.total == pytest.approx(float(reference[s, unit]), rel=1e-9, abs=1e-13)


def test_layernorm_couples_the_samples_units_with_gamma_inside_the_means():
    spec, trace = traced("layernorm")
    s, m = 2, 3
    (c,) = explain(spec, trace, "h.bias", (m,), sample=s).couplings
    xhat, inv_std, gamma = by_hand(spec, trace, "layernorm")
    g_dz = gamma * np.asarray(trace.layers["n"].grad_pre)[s]
    expected = (
        inv_std[s, 0] * g_dz[m],
        -inv_std[s, 0] * g_dz.mean(),
        -inv_std[s, 0] * xhat[s, m] * (g_dz * xhat[s]).mean(),
    )
    for term, value in zip(c.terms, expected):
        assert term.value == pytest.approx(value, rel=1e-9)
    assert c.matches and c.total == pytest.approx(float(np.asarray(trace.layers["n"].grad_inputs[0])[s, m]))
    assert "mean(γ⊙dz)" in c.formula and "the sample's units" in c.formula


@pytest.mark.parametrize("kind", ["batchnorm", "layernorm"])
def test_gamma_and_beta_end_their_paths_with_xhat_and_one(kind):
    spec, trace = traced(kind)
    xhat = by_hand(spec, trace, kind)[0]
    gamma = explain(spec, trace, "n.weight", (2,), sample=4)
    assert gamma.symbol == "γ_n[2]" and gamma.matches and not gamma.couplings
    assert gamma.summary[-1].value == pytest.approx(xhat[4, 2], rel=1e-12) and "x̂" in gamma.summary[-1].meaning
    beta = explain(spec, trace, "n.bias", (2,), sample=4)
    assert beta.symbol == "β_n[2]" and beta.matches and beta.summary[-1].value == 1.0
    with pytest.raises(SpecError, match=r"give \(unit,\)"):
        explain(spec, trace, "n.weight", (2, 0))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(nets(max_layers=4, norm=True))
def test_paths_add_up_to_the_recorded_gradient_on_random_networks_with_norm_layers(case):
    spec, data = case
    trace = Session(spec, data).forward_backward().to_numpy()
    check_every_parameter(spec, trace, 4)
    for key, shape in spec.param_shapes().items():
        expl = explain(spec, trace, key, (0,) * len(shape), sample=0)
        assert all(c.matches for c in expl.couplings), to_text(expl)
