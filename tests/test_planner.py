"""The setpoint planner: speed and acceleration limits, no overshoot, arrival (exhaustive/property)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.core.planner import Setpoint, move_time, step_toward

DT = 0.02
angles = st.floats(min_value=-60, max_value=60, allow_nan=False)
speeds = st.floats(min_value=0.5, max_value=10)
accels = st.floats(min_value=0.5, max_value=20)


def _run(start, goal, vmax, amax, steps=100_000):
    sp = Setpoint(start)
    path = [sp]
    for _ in range(steps):
        sp = step_toward(sp, goal, max_speed=vmax, max_accel=amax, dt=DT)
        path.append(sp)
        if sp.position == goal and sp.still:
            break
    return path


@settings(max_examples=150, deadline=None)
@given(start=angles, goal=angles, vmax=speeds, amax=accels)
def test_rest_to_rest_moves_respect_every_limit(start, goal, vmax, amax):
    path = _run(start, goal, vmax, amax)
    assert path[-1] == Setpoint(goal, 0.0)  # it arrives, exactly, and stops
    lo, hi = min(start, goal), max(start, goal)
    for a, b in zip(path, path[1:]):
        assert abs(b.velocity) <= vmax + 1e-9
        assert lo - 1e-9 <= b.position <= hi + 1e-9  # never overshoots the goal
        moved = abs(b.position - a.position)
        assert moved <= vmax * DT + 1e-9
        if not (b.position == goal and b.still):  # the final snap may stop from one tick's speed
            assert abs(b.velocity - a.velocity) <= amax * DT + 1e-9
    # and it takes about as long as the ideal trapezoid (discretisation costs a few periods)
    ideal = move_time(goal - start, max_speed=vmax, max_accel=amax)
    assert (len(path) - 1) * DT <= ideal + 0.1 * ideal + 10 * DT


@settings(max_examples=100, deadline=None)
@given(start=angles, v0=st.floats(min_value=-4, max_value=4), goal=angles)
def test_a_goal_that_moves_behind_a_moving_setpoint_is_reached_without_exceeding_limits(start, v0, goal):
    sp = Setpoint(start, v0)
    for _ in range(20000):
        prev = sp
        sp = step_toward(sp, goal, max_speed=4.0, max_accel=4.0, dt=DT)
        assert abs(sp.velocity) <= 4.0 + 1e-9
        if not (sp.position == goal and sp.still):
            assert abs(sp.velocity - prev.velocity) <= 4.0 * DT + 1e-9
        if sp.position == goal and sp.still:
            break
    assert sp == Setpoint(goal, 0.0)


def test_move_time_is_the_trapezoid():
    assert move_time(0, max_speed=4, max_accel=4) == 0
    assert move_time(40, max_speed=4, max_accel=4) == pytest.approx(40 / 4 + 4 / 4)
    assert move_time(-1, max_speed=4, max_accel=4) == pytest.approx(2 * math.sqrt(1 / 4))  # triangular


def test_bad_limits_are_refused():
    with pytest.raises(ValueError):
        step_toward(Setpoint(0), 10, max_speed=0, max_accel=4, dt=DT)


def test_a_lowered_speed_cap_is_reached_by_braking_not_a_jump():
    sp = Setpoint(0.0, 4.0)  # moving at 4 deg/s; a return at 3 deg/s takes over
    for _ in range(100):
        nxt = step_toward(sp, -60.0, max_speed=3.0, max_accel=4.0, dt=DT)
        assert abs(nxt.velocity - sp.velocity) <= 4.0 * DT + 1e-9
        sp = nxt
    assert sp.velocity == pytest.approx(-3.0)
