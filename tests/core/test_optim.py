"""Our optimizers against torch.optim, step for step, including weight decay and frozen parameters."""

import numpy as np
import pytest

from bpstudio.core.optim import Optimizer
from bpstudio.core.spec import OptimizerSpec
from tests.helpers import needs_torch, optional_torch

torch = optional_torch()

CASES = [
    OptimizerSpec("sgd", lr=0.3),
    OptimizerSpec("sgd", lr=0.3, weight_decay=0.01),
    OptimizerSpec("momentum", lr=0.1, momentum=0.9),
    OptimizerSpec("momentum", lr=0.1, momentum=0.5, weight_decay=0.1),
    OptimizerSpec("adam", lr=0.01),
    OptimizerSpec("adam", lr=0.05, beta1=0.8, beta2=0.99, eps=1e-6, weight_decay=0.001),
]


def torch_optimizer(spec, params):
    if spec.name == "adam":
        return torch.optim.Adam(
            params,
            lr=spec.lr,
            betas=(spec.beta1, spec.beta2),
            eps=spec.eps,
            weight_decay=spec.weight_decay,
            foreach=False,
        )
    momentum = spec.momentum if spec.name == "momentum" else 0.0
    return torch.optim.SGD(params, lr=spec.lr, momentum=momentum, weight_decay=spec.weight_decay, foreach=False)


@needs_torch
@pytest.mark.parametrize("spec", CASES, ids=lambda s: f"{s.name}-wd{s.weight_decay}")
def test_updates_match_torch_optim_over_many_steps(spec):
    rng = np.random.default_rng(0)
    ours = {"a": rng.normal(size=(3, 4)), "b": rng.normal(size=3)}
    theirs = [torch.tensor(ours["a"], requires_grad=True), torch.tensor(ours["b"], requires_grad=True)]
    opt = Optimizer(spec, np.sqrt)
    topt = torch_optimizer(spec, theirs)
    for _ in range(25):
        grads = {"a": rng.normal(size=(3, 4)), "b": rng.normal(size=3)}
        ours = opt.update(ours, grads)
        for t, key in zip(theirs, ("a", "b")):
            t.grad = torch.tensor(grads[key])
        topt.step()
    for t, key in zip(theirs, ("a", "b")):
        np.testing.assert_allclose(ours[key], t.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_frozen_parameters_keep_their_values_and_updates_make_new_arrays():
    params = {"w": np.ones(2), "b": np.zeros(2)}
    new = Optimizer(OptimizerSpec("sgd", lr=1.0), np.sqrt).update(
        params, {"w": np.ones(2), "b": np.ones(2)}, frozenset({"b"})
    )
    assert new["w"].tolist() == [0.0, 0.0] and new["b"] is params["b"]
    assert params["w"].tolist() == [1.0, 1.0]


def test_state_survives_a_round_trip():
    opt = Optimizer(OptimizerSpec("adam", lr=0.1), np.sqrt)
    p = {"w": np.ones(3)}
    p = opt.update(p, {"w": np.array([0.1, -0.2, 0.3])})
    again = Optimizer(OptimizerSpec("adam", lr=0.1), np.sqrt)
    again.load_state(opt.state(np.copy), np.copy)
    g = {"w": np.array([0.5, 0.5, -0.5])}
    np.testing.assert_array_equal(opt.update(p, g)["w"], again.update(p, g)["w"])
