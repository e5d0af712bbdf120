"""The state machine and the motion command, driven through every button sequence (pure)."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from controller.core import command
from controller.core.state import (
    BUTTONS, Activity, ButtonEvent, Context, Machine, arrived_home, begin_return, on_button, on_trip,
)
from controller.core.supervisor import Limits

LIMITS = Limits(home_angle=-60, max_angle=60, max_speed=4, max_accel=4, session_timeout=1200)


def press(m, name, **ctx):
    return on_button(m, ButtonEvent(name, True, 0.0), Context(**ctx)).machine


def release(m, name):
    return on_button(m, ButtonEvent(name, False, 0.0), Context()).machine


def cmd(m, goal=10.0, position=20.0):
    return command.choose(m, limits=LIMITS, program_goal=goal, program_speed=3.0, jog_speed=2.0, return_speed=3.0,
                          position=position)


def test_power_on_is_idle_and_holds():
    m = Machine()
    assert m.state == "idle" and cmd(m) == command.HOLD


def test_start_runs_the_profile_and_stop_latches_from_anywhere():
    m = press(Machine(), "start")
    assert m.state == "running" and cmd(m).goal == 10.0
    m = press(m, "stop")
    assert m.state == "stopped" and cmd(m) == command.HOLD
    for name in ("start", "return", "up", "down"):
        assert cmd(press(m, name)) == command.HOLD


def test_reset_clears_a_released_stop_and_leaves_the_table_idle():
    m = release(press(press(Machine(), "start"), "stop"), "stop")
    m = press(m, "reset")
    assert m.state == "idle" and cmd(m) == command.HOLD


def test_reset_refused_while_stop_is_held_or_trip_cause_persists():
    m = press(Machine(), "stop")
    assert press(m, "reset").state == "stopped"
    t = on_trip(Machine(), "imu-lost")
    assert press(t, "reset", trip_cause_active=True).state == "tripped"
    assert press(t, "reset", trip_cause_active=False).state == "idle"


def test_trip_latches_once_and_keeps_the_first_reason():
    m = on_trip(press(Machine(), "start"), "over-angle")
    assert m.state == "tripped" and m.trip == "over-angle"
    assert on_trip(m, "imu-lost").trip == "over-angle"


def test_tripped_return_is_hold_to_run_toward_home_at_half_speed():
    m = on_trip(press(Machine(), "start"), "imu-lost")
    held = press(m, "return")
    c = cmd(held)
    assert c.goal == LIMITS.home_angle and c.speed <= LIMITS.max_speed / 2
    assert cmd(release(held, "return")) == command.HOLD


def test_jog_is_hold_to_run_and_goes_to_the_limits():
    m = press(Machine(), "down")
    assert cmd(m).goal == LIMITS.max_angle and cmd(m).speed == 2.0
    m = press(m, "up")
    m = release(m, "down")
    assert cmd(m).goal == LIMITS.home_angle
    assert release(m, "up").activity is Activity.IDLE


def test_return_then_arrival_ends_idle():
    m = press(press(Machine(), "start"), "return")
    assert m.activity is Activity.RETURNING
    assert arrived_home(m).state == "idle"


def click(m, name, t0, t1, **ctx):
    """Press at t0, release at t1: the outcome of the release."""
    m = on_button(m, ButtonEvent(name, True, t0), Context(**ctx)).machine
    return on_button(m, ButtonEvent(name, False, t1), Context(**ctx))


def test_select_steps_presets_on_a_short_press_and_users_on_a_long_one_never_moving():
    short = click(Machine(), "select", 0.0, 0.2, presets=3)
    assert short.select_next and not short.user_next and short.machine.activity is Activity.IDLE
    assert not short.machine.motion_requested and short.machine.select_since is None
    long = click(Machine(), "select", 0.0, 1.6, presets=3, users=2, at_home=True)
    assert long.user_next and not long.select_next and not long.machine.motion_requested
    away = click(Machine(), "select", 0.0, 1.6, users=2, at_home=False)
    assert not away.user_next and away.notices == ("select held: the user can be changed only at home",)
    alone = click(Machine(), "select", 0.0, 2.0, users=1, at_home=True)
    assert not alone.user_next and alone.notices == ("select held: there is only one user",)
    stopped = on_button(press(Machine(), "stop"), ButtonEvent("select", True, 0.0), Context(presets=3))
    assert stopped.notices == ("select ignored while stopped",)
    running = on_button(press(Machine(), "start"), ButtonEvent("select", True, 0.0), Context(presets=3))
    assert running.notices == ("select ignored while running",)
    single = click(Machine(), "select", 0.0, 0.1, presets=1)
    assert not single.select_next and single.notices == ("select: there is only one preset",)
    none = click(Machine(), "select", 0.0, 0.1, presets=0)  # simulate with no PROFILE and no presets
    assert not none.select_next and none.notices == ("select ignored: there is no preset",)
    # a stop while select is held: the release chooses nothing
    m = on_button(Machine(), ButtonEvent("select", True, 0.0), Context(presets=3, users=2)).machine
    m = press(m, "stop")
    out = on_button(m, ButtonEvent("select", False, 2.0), Context(presets=3, users=2, at_home=True))
    assert not out.select_next and not out.user_next


def test_an_unacknowledged_user_cannot_start():
    out = on_button(Machine(), ButtonEvent("start", True, 0.0), Context(user_acknowledged=False))
    assert out.machine.state == "idle" and not out.session_started
    assert "has not acknowledged the contraindications" in out.notices[0]
    assert out.machine.motion_requested  # a person asked: the timeouts may bring the table home (rule 6)


def test_start_needs_a_selected_profile():
    refused = press(Machine(), "start", profile_selected=False)
    assert refused.state == "idle"
    # Refused, start is still a person at the table asking for motion: a table restarted head-down
    # is no longer left waiting for good, the session timeout brings it home (I5).
    assert refused.motion_requested
    away = on_button(Machine(), ButtonEvent("start", True, 0.0), Context(profile_selected=False, at_home=False))
    assert away.notices == ("start ignored: there is no preset to start; the timeouts may now bring the table "
                            "home by itself",)
    home = on_button(Machine(), ButtonEvent("start", True, 0.0), Context(profile_selected=False, at_home=True))
    assert home.notices == ("start ignored: there is no preset to start",)


def test_automatic_return_is_refused_while_latched():
    out = begin_return(press(Machine(), "stop"), "session-timeout")
    assert out.machine.state == "stopped" and not out.returning_started


events = st.lists(
    st.tuples(st.sampled_from(BUTTONS), st.booleans(), st.sampled_from([None, "imu-lost"]), st.booleans()), max_size=40
)


@settings(max_examples=400, deadline=None)
@given(events)
def test_invariants_hold_for_every_button_sequence(seq):
    m = Machine()
    for name, pressed, trip, cause_active in seq:
        if trip and pressed and name == "reset":
            m = on_trip(m, trip)
            continue
        before = m
        m = on_button(m, ButtonEvent(name, pressed, 0.0), Context(trip_cause_active=cause_active)).machine
        c = cmd(m)
        if not m.motion_requested:
            assert c == command.HOLD  # I7
        if m.stop_latched:
            assert c == command.HOLD  # I3, stop
        elif m.trip is not None:
            assert c == command.HOLD or (c.goal == LIMITS.home_angle and "return" in m.held
                                         and c.speed <= LIMITS.max_speed / 2)  # I3, trip
        if pressed and name == "reset":
            if before.latched:  # I4: it only permits a restart
                assert m.activity is Activity.IDLE and c == command.HOLD
                assert not m.motion_requested  # and nothing moves until a person asks again
            else:  # nothing to reset: whatever was happening goes on untouched
                assert m == replace(before, held=before.held | {"reset"})
        if pressed and name in ("start", "return", "up", "down") and before.latched and not (
            name == "return" and before.trip is not None and not before.stop_latched
        ):
            assert m.motion_requested == before.motion_requested  # a refused press asks for nothing
        if name == "select":  # choosing a preset or a user never changes what the table does
            assert replace(m, held=frozenset(), select_since=None) == replace(before, held=frozenset(), select_since=None)
        if pressed and name == "stop":
            assert m.stop_latched
        if before.stop_latched and not (pressed and name == "reset"):
            assert m.stop_latched  # only reset clears a stop
        assert c.speed <= LIMITS.max_speed


def test_a_return_goes_at_its_programs_speed_even_when_hurried():
    """A return that would end past I5's bound is re-planned at max_speed (core/clocks.py); the
    command must follow that program, not cap it at the comfort speed again (a property-test find)."""
    m = replace(Machine(), activity=Activity.RETURNING, motion_requested=True)
    hurried = command.choose(m, limits=LIMITS, program_goal=-60.0, program_speed=LIMITS.max_speed, jog_speed=1.0,
                             return_speed=0.5, position=30.0)
    assert hurried.speed == LIMITS.max_speed
    gentle = command.choose(m, limits=LIMITS, program_goal=-60.0, program_speed=0.5, jog_speed=1.0,
                            return_speed=0.5, position=30.0)
    assert gentle.speed == 0.5
