"""RMSprop, AdamW, the L1 term, clipping by total norm and learning-rate schedules against torch.optim,
step for step, as a PyTorch training loop does them: loss.backward(), + λ·sign(w), clip_grad_norm_,
optimizer.step(), scheduler.step()."""

import math

import numpy as np
import pytest

from bpstudio.core.errors import SpecError
from bpstudio.core.optim import Optimizer, describe_clipping, describe_rate
from bpstudio.core.spec import OptimizerSpec, Schedule
from tests.helpers import needs_torch, optional_torch

torch = optional_torch()

CASES = [
    OptimizerSpec("rmsprop", lr=0.01),
    OptimizerSpec("rmsprop", lr=0.02, alpha=0.9, eps=1e-6, weight_decay=0.01),
    OptimizerSpec("adamw", lr=0.01),
    OptimizerSpec("adamw", lr=0.05, beta1=0.8, beta2=0.99, weight_decay=0.1),
    OptimizerSpec("sgd", lr=0.1, l1=0.05),
    OptimizerSpec("momentum", lr=0.05, l1=0.01, clip_norm=1.5, weight_decay=0.01),
    OptimizerSpec("adam", lr=0.05, clip_norm=0.5, schedule=Schedule("step", step_size=4, gamma=0.5)),
    OptimizerSpec("adamw", lr=0.05, weight_decay=0.1, l1=0.02, schedule=Schedule("exponential", gamma=0.9)),
    OptimizerSpec("rmsprop", lr=0.05, clip_norm=2.0, schedule=Schedule("cosine", t_max=10, eta_min=0.001)),
    OptimizerSpec("sgd", lr=0.2, schedule=Schedule("cosine", t_max=7)),  # past t_max the cosine comes back up
]


def torch_optimizer(spec, params):
    if spec.name in ("adam", "adamw"):
        kind = torch.optim.Adam if spec.name == "adam" else torch.optim.AdamW
        return kind(
            params,
            lr=spec.lr,
            betas=(spec.beta1, spec.beta2),
            eps=spec.eps,
            weight_decay=spec.weight_decay,
            foreach=False,
        )
    if spec.name == "rmsprop":
        return torch.optim.RMSprop(
            params, lr=spec.lr, alpha=spec.alpha, eps=spec.eps, weight_decay=spec.weight_decay, foreach=False
        )
    momentum = spec.momentum if spec.name == "momentum" else 0.0
    return torch.optim.SGD(params, lr=spec.lr, momentum=momentum, weight_decay=spec.weight_decay, foreach=False)


def torch_scheduler(spec, optimizer):
    s = spec.schedule
    if s is None:
        return None
    if s.name == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=s.step_size, gamma=s.gamma)
    if s.name == "exponential":
        return torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=s.gamma)
    return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=s.t_max, eta_min=s.eta_min)


def label(spec):
    extras = [k for k in ("l1", "clip_norm", "schedule") if getattr(spec, k)]
    return "-".join([spec.name, *extras, *([spec.schedule.name] if spec.schedule else [])])


@needs_torch
@pytest.mark.parametrize("spec", CASES, ids=label)
def test_updates_match_a_torch_training_loop_over_many_steps(spec):
    """'w' is a dense weight (the L1 term applies), 'b' a bias (it does not); gradients big enough to clip."""
    rng = np.random.default_rng(1)
    ours = {"w": rng.normal(size=(3, 4)), "b": rng.normal(size=3)}
    theirs = [torch.tensor(ours["w"], requires_grad=True), torch.tensor(ours["b"], requires_grad=True)]
    opt = Optimizer(spec, np.sqrt)
    topt = torch_optimizer(spec, theirs)
    scheduler = torch_scheduler(spec, topt)
    for step in range(20):
        grads = {"w": rng.normal(scale=1.5, size=(3, 4)), "b": rng.normal(size=3)}
        for t, key in zip(theirs, ("w", "b")):
            t.grad = torch.tensor(grads[key])
        if spec.l1:
            theirs[0].grad += spec.l1 * torch.sign(theirs[0].detach())
        total = math.sqrt(sum(float((t.grad**2).sum()) for t in theirs))
        if spec.clip_norm is not None:
            total = float(torch.nn.utils.clip_grad_norm_(theirs, spec.clip_norm))
        lr = topt.param_groups[0]["lr"]
        topt.step()
        if scheduler is not None:
            scheduler.step()
        ours = opt.update(ours, grads, l1_keys={"w"})
        assert opt.last.lr == pytest.approx(lr, rel=1e-12), step
        assert opt.last.grad_norm == pytest.approx(total, rel=1e-12), step
        for t, key in zip(theirs, ("w", "b")):
            np.testing.assert_allclose(ours[key], t.detach().numpy(), rtol=1e-9, atol=1e-12, err_msg=f"{key} {step}")


def test_clipping_scales_by_the_total_norm_and_counts_what_it_did():
    opt = Optimizer(OptimizerSpec("sgd", lr=1.0, clip_norm=1.0), np.sqrt)
    params = {"a": np.zeros(2), "b": np.zeros(1)}
    new = opt.update(params, {"a": np.array([3.0, 0.0]), "b": np.array([4.0])})  # ‖g‖ = 5: scaled by 1/5
    scale = 1.0 / (5.0 + 1e-6)
    np.testing.assert_allclose(new["a"], [-3.0 * scale, 0.0], rtol=1e-15)
    assert opt.last.grad_norm == 5.0 and opt.last.clip_scale == pytest.approx(scale) and opt.last.clipped
    opt.update(new, {"a": np.array([0.3, 0.0]), "b": np.array([0.4])})  # ‖g‖ = 0.5: left alone
    assert not opt.last.clipped and opt.counters == {"schedule_step": 0, "clip_steps": 2, "clipped": 1}


def test_l1_goes_to_the_named_weights_only_and_frozen_parameters_stay():
    opt = Optimizer(OptimizerSpec("sgd", lr=1.0, l1=0.5), np.sqrt)
    params = {"w": np.array([2.0, -3.0, 0.0]), "b": np.array([1.0]), "v": np.array([1.0])}
    zero = {k: np.zeros_like(v) for k, v in params.items()}
    new = opt.update(params, zero, frozenset({"v"}), l1_keys={"w", "v"})
    assert new["w"].tolist() == [1.5, -2.5, 0.0] and new["b"].tolist() == [1.0] and new["v"] is params["v"]
    assert opt.last.grad_norm == pytest.approx(math.sqrt(0.5))  # the L1 term counts, the frozen 'v' does not


def test_the_schedule_position_and_tallies_survive_a_state_round_trip():
    spec = OptimizerSpec("rmsprop", lr=0.1, clip_norm=0.1, schedule=Schedule("exponential", gamma=0.5))
    opt = Optimizer(spec, np.sqrt)
    p = {"w": np.ones(3)}
    for _ in range(3):
        p = opt.update(p, {"w": np.array([0.1, -0.2, 0.3])})
    again = Optimizer(spec, np.sqrt)
    again.load_state(opt.state(np.copy), np.copy)
    assert again.counters == {"schedule_step": 3, "clip_steps": 3, "clipped": 3} and again.lr == 0.1 * 0.5**3
    g = {"w": np.array([0.5, 0.5, -0.5])}
    np.testing.assert_array_equal(opt.update(p, g)["w"], again.update(p, g)["w"])


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"name": "rmsprop", "alpha": 1.5}, "'alpha' must not be above 1"),
        ({"l1": -0.1}, "'l1' must not be negative"),
        ({"clip_norm": 0.0}, "'clip_norm' must be above 0"),
        ({"clip_norm": math.inf}, "'clip_norm' must be a finite number"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(settings, message):
    with pytest.raises(SpecError, match=message) as caught:
        OptimizerSpec(**settings)
    assert str(caught.value).startswith("field 'optimizer'")


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"name": "linear"}, "unknown schedule 'linear' .known: step, exponential, cosine"),
        ({"name": "step", "gamma": 0.5}, "a step schedule needs 'step_size'"),
        ({"name": "exponential"}, "an exponential schedule needs 'gamma'"),
        ({"name": "cosine"}, "a cosine schedule needs 't_max'"),
        ({"name": "cosine", "t_max": 0}, r"'t_max' must be a whole number from 1 to 2\*\*62, got 0"),
        ({"name": "step", "step_size": 2.5}, r"'step_size' must be a whole number from 1 to 2\*\*62, got 2.5"),
        ({"name": "exponential", "gamma": 0}, "'gamma' must be above 0"),
        ({"name": "cosine", "t_max": 5, "eta_min": -1}, "'eta_min' must not be negative"),
        ({"name": "exponential", "gamma": 0.9, "t_max": 5}, "an exponential schedule takes no 't_max'"),
    ],
)
def test_bad_schedules_are_refused_naming_the_field(settings, message):
    with pytest.raises(SpecError, match=message) as caught:
        Schedule(**settings)
    assert str(caught.value).startswith("field 'optimizer.schedule'")


def test_schedule_defaults_are_torchs():
    assert Schedule("step", step_size=3).gamma == 0.1 and Schedule("cosine", t_max=4).eta_min == 0.0
    cosine = Schedule("cosine", t_max=4, eta_min=0.5)
    assert [cosine.lr(2.5, t) for t in (0, 2, 4, 8)] == [2.5, pytest.approx(1.5), 0.5, pytest.approx(2.5)]


def test_the_panel_readouts_say_the_rate_now_and_how_often_and_how_much_clipping_scaled():
    spec = OptimizerSpec("sgd", lr=0.5, clip_norm=1.0, schedule=Schedule("exponential", gamma=0.5))
    opt = Optimizer(spec, np.sqrt)
    assert describe_rate(spec, opt.counters) == "0.5\nexponential schedule, 0 steps from 0.5"
    assert describe_clipping(spec, opt.counters, opt.last) == "Clips at ‖g‖ 1; no step yet"
    p = opt.update({"w": np.zeros(2)}, {"w": np.array([3.0, 4.0])})
    p = opt.update(p, {"w": np.array([0.3, 0.4])})
    assert describe_rate(spec, opt.counters) == "0.125\nexponential schedule, 2 steps from 0.5"
    assert describe_clipping(spec, opt.counters, opt.last) == (
        "Clipped 1 of 2 steps (50%)\nlast step ‖g‖ 0.5 → 0.5, not clipped"
    )
    opt.update(p, {"w": np.array([30.0, 40.0])})
    assert describe_clipping(spec, opt.counters, opt.last).endswith("last step ‖g‖ 50 → 1 (×0.02)")
    assert describe_rate(OptimizerSpec(lr=0.1), opt.counters) == "0.1 (constant)"
    assert describe_clipping(OptimizerSpec(), opt.counters, opt.last) == "Clipping off"
