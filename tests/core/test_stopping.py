"""Stop conditions on hand-made histories: the step each one stops at, and the reason it gives."""

import math

import pytest

from bpstudio.core.errors import BpstudioError
from bpstudio.core.stopping import PLATEAU_FRACTION, StopRule


def first_stop(rule, losses, epochs=None, start_epoch=0):
    """(step, reason) of the first step the rule stops at; epochs[i] is the epoch count after step i + 1."""
    watch = rule.watch(start_epoch)
    for i, loss in enumerate(losses):
        epoch = epochs[i] if epochs is not None else 0
        reason = watch.observe(i + 1, epoch, loss)
        if reason is not None:
            return i + 1, reason
    return None, None


def test_no_condition_never_stops():
    rule = StopRule()
    assert not rule.active
    assert first_stop(rule, [1.0] * 100) == (None, None)


def test_target_loss_stops_at_the_first_step_at_or_below_it():
    losses = [0.5, 0.2, 0.011, 0.0098, 0.001]
    step, reason = first_stop(StopRule(target_loss=0.01), losses)
    assert step == 4
    assert reason == "stopped: loss 0.0098 reached the target 0.01 at step 4"
    assert first_stop(StopRule(target_loss=0.2), losses)[0] == 2  # (at counts as reached)
    # a loss just under the target never reads as the target itself, nor above it
    assert first_stop(StopRule(target_loss=0.1), [0.5, 0.0999851])[1] == (
        "stopped: loss 0.09999 reached the target 0.1 at step 2"
    )


def test_epochs_count_whole_passes_from_the_start_of_the_run():
    epochs = [0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3]  # four steps a pass, the run started in a pass of 3 steps
    step, reason = first_stop(StopRule(epochs=2), [1.0] * 12, epochs)
    assert step == 8 and reason == "stopped: 2 epochs done at step 8"
    assert first_stop(StopRule(epochs=1), [1.0] * 12, epochs)[1] == "stopped: 1 epoch done at step 4"
    # a run that started after 1 pass counts from there
    assert first_stop(StopRule(epochs=2), [1.0] * 12, [e + 1 for e in epochs], start_epoch=1)[0] == 8


def test_a_plateau_stops_when_the_best_loss_falls_less_than_the_fraction_over_the_window():
    window = 5
    falling = [1.0 * 0.9**k for k in range(20)]  # 10 % a step: never a plateau
    flat = [falling[-1] * (1 - 0.001 * k) for k in range(1, 20)]  # 0.1 % a step: 0.5 % over 5 steps
    step, reason = first_stop(StopRule(plateau_steps=window), falling + flat)
    assert step == len(falling) + window  # the first window whose start is the last falling step's best ...
    # ... fell by 1 - 0.999**5 ≈ 0.5 %, and the window before it by 10 %: check the window arithmetic
    assert (falling[-1] - flat[window - 1]) / falling[-1] < PLATEAU_FRACTION
    assert (falling[-2] - flat[window - 2]) / falling[-2] > PLATEAU_FRACTION
    best = min(falling + flat[:window])
    assert reason == (
        f"stopped: plateau, the best loss ({best:.3g}) fell by less than 1 % over the last {window} steps, "
        f"at step {step}"
    )


def test_a_plateau_judges_the_best_loss_so_far_not_the_noisy_last_one():
    # a noisy minibatch loss that bounces between 0.5 and 0.9 around a best of 0.5: a plateau, though the last
    # loss falls by 40 % every other step
    noisy = [0.9, 0.5] * 20
    assert first_stop(StopRule(plateau_steps=4), noisy)[0] == 2 + 4
    # a run still learning with noise: its best keeps falling by 5 % every 2 steps, never a plateau at 4
    learning = [x for k in range(30) for x in (1.0, 0.95**k)]
    assert first_stop(StopRule(plateau_steps=4), learning) == (None, None)


def test_no_plateau_before_a_whole_window_has_passed():
    assert first_stop(StopRule(plateau_steps=10), [1.0] * 10) == (None, None)
    assert first_stop(StopRule(plateau_steps=10), [1.0] * 11)[0] == 11


def test_a_larger_fraction_stops_a_slowly_learning_run_sooner():
    slow = [0.98**k for k in range(200)]  # 2 % a step: 9.6 % over 5 steps
    assert first_stop(StopRule(plateau_steps=5), slow) == (None, None)
    assert first_stop(StopRule(plateau_steps=5, plateau_fraction=0.1), slow)[0] == 6


def test_the_first_condition_met_is_the_reason():
    losses = [1.0, 0.5, 0.005]
    step, reason = first_stop(StopRule(target_loss=0.01, epochs=1), losses, [0, 0, 1])
    assert step == 3 and reason.startswith("stopped: loss 0.005 reached")


def test_the_watch_keeps_its_reason():
    watch = StopRule(target_loss=1.0).watch()
    first = watch.observe(1, 0, 0.5)
    assert watch.observe(2, 0, 3.0) == first == watch.reason


def test_a_nan_loss_does_not_become_the_best():
    losses = [1.0, math.nan, 0.5, 0.25, 0.125]
    assert first_stop(StopRule(plateau_steps=2), losses) == (None, None)


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"target_loss": -1.0}, "target loss"),
        ({"target_loss": math.inf}, "target loss"),
        ({"target_loss": "0.1"}, "target loss"),
        ({"epochs": 0}, "number of epochs"),
        ({"epochs": 1.5}, "number of epochs"),
        ({"plateau_steps": 0}, "plateau window"),
        ({"plateau_steps": True}, "plateau window"),
        ({"plateau_steps": 5, "plateau_fraction": 1.0}, "plateau fraction"),
        ({"plateau_steps": 5, "plateau_fraction": -0.1}, "plateau fraction"),
    ],
)
def test_bad_settings_are_refused_naming_the_setting(settings, named):
    with pytest.raises(BpstudioError, match=named):
        StopRule(**settings)
