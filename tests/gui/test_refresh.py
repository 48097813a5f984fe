"""The window's redraw pacing and the plots' steady axis ranges (plain logic, no window needed)."""

from __future__ import annotations

import math

import pytest

from bpstudio.gui.plots.steady_view import nice_step, steady_range
from bpstudio.gui.refresh import FULL_SPEED, MAX_INTERVAL_MS, PACED, RefreshPacer

CPU_BUDGET, MIN_INTERVAL_MS = FULL_SPEED.share, FULL_SPEED.fastest_ms


class Clocks:
    """A wall clock and a CPU clock the test moves by hand."""

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0

    def spend(self, wall: float, cpu: float) -> None:
        self.wall += wall
        self.cpu += cpu


def pacer_with(clocks: Clocks) -> RefreshPacer:
    return RefreshPacer(wall=lambda: clocks.wall, cpu=lambda: clocks.cpu)


def run_ticks(pacer: RefreshPacer, clocks: Clocks, cost_per_tick: float, ticks: int = 30) -> int:
    for _ in range(ticks):
        clocks.spend(pacer.interval_ms / 1000, cost_per_tick)
        pacer.next_interval()
    return pacer.interval_ms


def test_a_cheap_redraw_keeps_the_fastest_tick():
    clocks = Clocks()
    pacer = pacer_with(clocks)
    assert run_ticks(pacer, clocks, cost_per_tick=0.002) == MIN_INTERVAL_MS


def test_a_costly_redraw_slows_the_tick_until_the_gui_uses_its_budget():
    clocks = Clocks()
    pacer = pacer_with(clocks)
    cost = 0.01  # 10 ms a tick: 10 % of a core at the fastest tick, twice the budget
    interval = run_ticks(pacer, clocks, cost)
    assert interval == pytest.approx(cost / CPU_BUDGET * 1000, abs=2)
    assert MIN_INTERVAL_MS < interval < MAX_INTERVAL_MS


def test_the_tick_never_slows_past_the_slowest_and_speeds_up_again():
    clocks = Clocks()
    pacer = pacer_with(clocks)
    assert run_ticks(pacer, clocks, cost_per_tick=0.5) == MAX_INTERVAL_MS
    assert run_ticks(pacer, clocks, cost_per_tick=0.001) == MIN_INTERVAL_MS
    run_ticks(pacer, clocks, cost_per_tick=0.5)
    pacer.reset()
    assert pacer.interval_ms == MIN_INTERVAL_MS


def test_a_set_pace_with_time_to_spare_redraws_more_often_for_the_same_cost():
    """Training at a pace a class watches, the worker idles between steps: the views may take a larger share and
    follow the steps more closely; at full speed the same redraw is spaced out to leave training the core."""
    cost = 0.01
    full_clocks, paced_clocks = Clocks(), Clocks()
    full, paced = pacer_with(full_clocks), pacer_with(paced_clocks)
    paced.budget = PACED
    paced.reset()
    full_interval = run_ticks(full, full_clocks, cost)
    paced_interval = run_ticks(paced, paced_clocks, cost)
    assert paced_interval == pytest.approx(max(PACED.fastest_ms, cost / PACED.share * 1000), abs=2)
    assert full_interval == pytest.approx(cost / FULL_SPEED.share * 1000, abs=2)
    assert paced_interval < full_interval / 3


def test_a_tick_with_no_time_passed_keeps_the_interval():
    clocks = Clocks()
    pacer = pacer_with(clocks)
    assert pacer.next_interval() == MIN_INTERVAL_MS


@pytest.mark.parametrize(
    ("span", "step"),
    [
        (0.3, 0.5),
        (1.0, 1.0),
        (1.1, 2.0),
        (2.0, 2.0),
        (3.0, 5.0),
        (7.0, 10.0),
        (260.0, 500.0),
        (1e-4, 1e-4),
        (4e-7, 5e-7),
    ],
)
def test_nice_steps_are_one_two_or_five_times_a_power_of_ten(span, step):
    assert nice_step(span) == pytest.approx(step)


@pytest.mark.parametrize("span", [0.0, -1.0, math.inf, math.nan])
def test_a_span_without_size_gets_step_one(span):
    assert nice_step(span) == 1.0


def test_the_range_stays_while_the_data_fits_and_fills_it():
    assert steady_range((0.0, 1000.0), (0.0, 900.0)) == (0.0, 1000.0)
    assert steady_range((0.0, 1.0), (0.05, 0.69)) == (0.0, 1.0)


def test_a_growing_step_axis_jumps_ahead_in_round_numbers():
    shown = (0.0, 1.0)
    changes = 0
    for last_step in range(10, 20000, 10):
        new = steady_range(shown, (0.0, float(last_step)))
        if new != shown:
            changes += 1
            low, high = new
            assert low == 0.0 and last_step * 1.1 <= high <= last_step * 1.6
        shown = new
    assert changes <= 40  # ~2000 growth steps, a few dozen axis changes


def test_data_far_smaller_than_the_range_is_fitted_again():
    low, high = steady_range((0.0, 1.0), (0.01, 0.2))
    assert low == 0.0 and 0.2 <= high <= 0.5


def test_negative_data_on_a_log_axis_rounds_outward():
    low, high = steady_range((-1.0, 0.0), (-3.3, -0.2))
    assert -4.0 <= low <= -3.3 and -0.2 <= high <= 0.0


def test_an_edge_a_hair_past_zero_stays_at_zero():
    assert steady_range((0.0, 1.0), (-30.0, 5000.0))[0] == 0.0  # room pyqtgraph left for symbols
    assert steady_range((-1.0, 0.0), (-5.0, 0.05))[1] == 0.0
    assert steady_range((0.0, 1.0), (-500.0, 5000.0))[0] < 0.0  # real negative data is shown


def test_one_point_gets_room_around_it_and_a_floor_is_kept():
    low, high = steady_range((0.0, 1.0), (2.0, 2.0))
    assert low < 2.0 < high and high - low <= 2.0
    low, high = steady_range((-1.0, 0.0), (-3.2, -3.2))  # (a log axis: no floor)
    assert low < -3.2 < high
    assert steady_range((0.0, 1.0), (0.0, 0.0), floor=0.0)[0] == 0.0  # step 0 alone: no negative steps
    low, high = steady_range((0.0, 1.0), (0.298, 0.298), floor=0.0)
    assert low == 0.0 and 0.298 < high <= 2.0
    assert steady_range((0.0, 1.0), (-500.0, 5000.0), floor=0.0)[0] == 0.0


def test_a_broken_range_is_passed_through():
    low, high = steady_range((0.0, 1.0), (math.nan, 1.0))
    assert math.isnan(low) and high == 1.0
