"""The red team's reproductions (issue 9), run as written: each holds the invariant it broke, or is
refused at load with a message naming the field and the limit."""

from __future__ import annotations

import pytest

from controller.core import command
from controller.setup.config import Config
from controller.errors import ProfileError
from controller.core.planner import move_time
from controller.setup.preflight import prepare_profile
from tests.conftest import simulate

PERIOD_WINDOW = 5  # periods: speeds judged over a few periods, so one step of quantisation does not count


def config(**sections) -> Config:
    return Config.model_validate(sections)


def true_range(run, t0=0.0):
    angles = [s["true_angle"] for s in run.samples if s["t"] >= t0]
    return min(angles), max(angles)


def tripped_speed(run) -> float:
    tripped = [s for s in run.samples if s["state"] == "tripped"]
    return max((abs(b["true_angle"] - a["true_angle"]) / (b["t"] - a["t"])
                for a, b in zip(tripped, tripped[1:]) if b["t"] - a["t"] < 1.5 * (tripped[1]["t"] - tripped[0]["t"])),
               default=0.0)


def head_down_time(run, period) -> float:
    return sum(period for s in run.samples if s["true_angle"] > command.HEAD_DOWN_ABOVE)


# -- 1. recovery after a stall and a sensor failure counts from the sensor's angle, not the steps --
@pytest.mark.parametrize("sensor", ["imu-disconnect", "imu-freeze", "imu-spike", "imu-disagree"])
@pytest.mark.parametrize("stall_at", [5, 20])
def test_recovery_after_a_stall_then_a_dead_sensor_stops_at_home(sensor, stall_at):
    run = simulate("hold-40", faults=[f"stall@{stall_at}:1", f"{sensor}@{stall_at + 3}"],
                   presses=[f"return@{stall_at + 5}:80"])
    low, _ = true_range(run)
    assert low >= -61.0, low  # I1
    assert run.named("trip")[0]["reason"] == "stall"


def test_recovery_after_a_long_undetected_stall_stays_within_the_travel():
    c = config(limits={"max_speed": 10, "max_accel": 20},
               tracking={"time": 0.7, "position_tolerance": 5})
    run = simulate("hold-40", config=c, faults=["stall@6:1", "imu-disconnect@9"], presses=["return@12:80"])
    low, _ = true_range(run)
    assert low >= c.table.home_angle - 1.0, low


# -- 2. after a slip, recovery moves toward home, never away --------------------------------------
def test_recovery_after_a_slip_moves_toward_home():
    c = config(table={"home_angle": -5})
    run = simulate(config=c, faults=["slip@2:4"], presses=["return@10:10"])
    held = run.between(10.0, 20.0)
    assert held[-1]["true_angle"] < held[0]["true_angle"] - 4.0  # it came down from +1
    assert all(b["true_angle"] <= a["true_angle"] + 1e-9 for a, b in zip(held, held[1:]))  # never away


# -- 3. the session timeout return begins in time when braking is long and the return slow ---------
@pytest.mark.parametrize("accel, return_speed", [(1.0, 0.264), (0.5, 0.3), (4.0, 0.25)])
def test_the_timeout_return_keeps_head_down_time_within_i5(accel, return_speed):
    c = config(limits={"session_timeout": 10, "max_accel": accel}, motion={"return_speed": return_speed})
    run = simulate(config=c, presses=["down@1:60"])
    lim = c.limits
    # I5: the time needed to return at max_speed, from max_angle at rest. The braking of a table still
    # going down at full speed is not the user's to pay for (K3 in docs/SAFETY.md, fixed): the return
    # begins early by it. So the bound is the shared one (tests/invariants.py), with no braking in it.
    bound = lim.session_timeout + move_time(lim.max_angle, max_speed=lim.max_speed, max_accel=lim.max_accel)
    assert head_down_time(run, c.period) <= bound
    notices = [e for e in run.named("notice") if "by itself" in e["message"]]
    returns = [e for e in run.named("return") if e["reason"] == "session-timeout"]
    assert notices and returns
    # the warning comes at least (about) its ten seconds before the table moves by itself
    assert returns[0]["t"] - notices[0]["t"] >= command.AUTO_MOVE_WARNING - 0.5


@pytest.mark.parametrize("accel", [0.5, 1.0, 4.0])
@pytest.mark.parametrize("velocity", [-4.0, -1.0, 0.0, 0.5, 2.0, 4.0])
@pytest.mark.parametrize("angle", [-10.0, 0.5, 1.0, 5.0, 30.0, 59.0, 60.0])
def test_the_i5_allowance_is_a_return_at_max_speed_and_never_more_than_from_max_angle_at_rest(angle, velocity, accel):
    lim = config(limits={"max_accel": accel}).limits
    fast = command.time_to_come_up(angle, velocity, speed=lim.max_speed, accel=accel)
    from_the_top = command.time_to_come_up(lim.max_angle, 0.0, speed=lim.max_speed, accel=accel)
    assert command.i5_allowance(angle, velocity, limits=lim) == min(fast, from_the_top)
    assert from_the_top <= move_time(lim.max_angle, max_speed=lim.max_speed, max_accel=accel)  # the shared bound's
    slow = command.time_to_come_up(angle, velocity, speed=0.5, accel=accel)
    # the return begins early by all the slow return takes beyond that allowance
    assert command.return_allowance(angle, velocity, limits=lim, return_speed=0.5) == pytest.approx(
        max(0.0, slow - min(fast, from_the_top)))


def test_a_return_slower_than_watchable_is_refused_at_load():
    with pytest.raises(Exception, match=r"\[motion\] return_speed = 0.05 is below"):
        config(limits={"session_timeout": 10, "max_accel": 0.5}, motion={"return_speed": 0.05})


# -- 4. a profile the load check accepts is not cut short by the timeout ---------------------------
def test_the_load_check_counts_the_early_start_of_a_slow_return():
    c = config(limits={"session_timeout": "6m"}, motion={"return_speed": 0.5})
    with pytest.raises(ProfileError, match=r"must begin .* early at \[motion\] return_speed = 0.5.*session_timeout = 6m"):
        prepare_profile("hold-40", c)


def test_the_load_check_counts_the_period_the_clock_is_read_in(tmp_path):
    """An adversarial tester's find: with return_speed = max_speed the load check counted no early
    start at all, but the run-time clock begins the return a period early (its lead), so a profile
    at its limit passed and was cut short. The period is counted, and the message shows the excess."""
    c = config(limits={"max_accel": 20.0, "session_timeout": "30s"}, motion={"return_speed": 4.0}, control={"rate": 20})
    path = tmp_path / "ramp-hold.toml"
    path.write_text('name = "ramp-hold"\n\n[[steps]]\nkind = "ramp"\nangle = 15.9\nspeed = 1.0\n\n'
                    '[[steps]]\nkind = "hold"\nangle = 15.9\nduration = 15\n', encoding="utf-8")
    with pytest.raises(ProfileError, match=r"head-down for up to 30\.01s, longer than \[limits\] session_timeout = 30s"):
        prepare_profile(str(path), c)


def test_a_profile_that_passes_is_never_cut_short():
    c = config(limits={"session_timeout": "6m30s"}, motion={"return_speed": 0.5})
    prepare_profile("hold-40", c)
    run = simulate("hold-40", config=c)
    assert [e["reason"] for e in run.named("return")] == ["profile-done"]


# -- 5/6. slow stalls and loose tracking settings ---------------------------------------------------
@pytest.mark.parametrize("speed", [0.25, 0.3, 0.35, 0.4])
def test_a_stall_in_a_slow_ramp_trips_within_a_second(tmp_path, speed):
    path = tmp_path / "ramp.toml"
    path.write_text(f'name = "slow"\n[[steps]]\nkind = "ramp"\nangle = 20\nspeed = {speed}\n'
                    '[[steps]]\nkind = "hold"\nangle = 20\nduration = 10\n', encoding="utf-8")
    run = simulate(str(path), faults=["stall@100"])
    trips = run.named("trip")
    assert trips and trips[0]["reason"] == "stall" and trips[0]["t"] <= 101.0, trips


def test_a_ramp_too_slow_to_watch_is_refused_at_load(tmp_path):
    path = tmp_path / "ramp.toml"
    path.write_text('name = "slow"\n[[steps]]\nkind = "ramp"\nangle = 20\nspeed = 0.2\n', encoding="utf-8")
    with pytest.raises(ProfileError, match=r"steps #1 \(ramp\) speed = 0.2 is below 0.211 deg/s.*rate_tolerance"):
        prepare_profile(str(path), Config())


@pytest.mark.parametrize("tracking", [
    {"rate_tolerance": 2.0},
    {"rate_tolerance": 2.0, "position_tolerance": 5},
    {"rate_tolerance": 0.5, "rate_share": 0.5, "time": 0.8, "position_tolerance": 5},
])
def test_tracking_settings_that_cannot_see_a_stall_or_slip_in_time_are_refused(tracking):
    with pytest.raises(Exception, match=r"tracking"):
        config(tracking=tracking)


def test_the_loosest_accepted_tracking_still_trips_a_slip_and_a_stall_within_a_second():
    c = config(limits={"max_speed": 4.0}, tracking={"rate_tolerance": 0.35, "rate_share": 0.1, "time": 0.7,
                                                    "position_tolerance": 5})
    slip = simulate("hold-40", config=c, faults=["slip@20"])
    assert slip.named("trip")[0]["t"] <= 21.0
    stall = simulate("hold-40", config=c, faults=["stall@5"])
    assert stall.named("trip")[0]["t"] <= 6.0


# -- 7. accepted configs run their presets without a false trip ------------------------------------
@pytest.mark.parametrize("sections", [
    {"control": {"rate": 77}}, {"control": {"rate": 110}}, {"control": {"rate": 190}},
    {"table": {"steps_per_degree": 20}}, {"table": {"steps_per_degree": 10}},
    {"table": {"steps_per_degree": 40}, "control": {"rate": 200}},
    {"tracking": {"time": 0.05}, "control": {"rate": 200}},
])
@pytest.mark.parametrize("preset", ["gentle", "hold-40"])
def test_accepted_configs_run_presets_without_a_trip(sections, preset):
    run = simulate(preset, config=config(**sections))
    assert not run.named("trip") and run.result.exit_code == 0, run.named("trip")


# -- 8. never faster than half max_speed while tripped, even on the trip's own period --------------
def test_recovery_is_never_faster_than_half_max_speed_on_the_trip_period():
    c = config(limits={"max_speed": 1, "max_accel": 20}, motion={"return_speed": 1, "jog_speed": 1},
               control={"rate": 20})
    run = simulate("gentle", config=c, presses=["return@30:200"], faults=["imu-freeze@32"])
    assert run.named("trip")
    assert tripped_speed(run) <= c.limits.max_speed / 2 * 1.05


# -- 9. the under-angle trip comes in time at high speed and a low loop rate -----------------------
def test_a_misconfigured_drive_trips_before_passing_home_by_a_degree(mocker):
    from functools import partial

    from drivers.sim import hardware

    c = config(table={"home_angle": -85}, motor={"reverse": True}, limits={"max_speed": 10, "max_accel": 20},
               control={"rate": 20})
    # the config says reversed, the motor is wired normally: the table goes the wrong way
    mocker.patch.object(hardware, "build", partial(hardware.build, motor_wired_reversed=False))
    run = simulate("hold-40", config=c)
    low, _ = true_range(run)
    assert run.named("trip") and low >= -86.0, low


def test_a_drive_configured_reversed_runs_in_the_simulator():
    c = config(motor={"reverse": True})
    run = simulate("gentle", config=c)
    assert not run.named("trip") and run.result.exit_code == 0


def test_a_tracking_time_of_a_few_periods_is_refused():
    with pytest.raises(Exception, match=r"\[tracking\] time = 0.05s is less than 6 control periods"):
        config(tracking={"time": 0.05})


# -- head-down counts only above +1 deg (the BRIEF's one definition; issue 10) ---------------------
def test_resting_flat_is_not_head_down():
    assert command.HEAD_DOWN_ABOVE == 1.0
    assert not command.head_down(angle=0.9, setpoint=0.0)
    assert command.head_down(angle=1.1, setpoint=0.0) and command.head_down(angle=0.0, setpoint=1.1)


def test_a_three_cycle_oscillation_to_flat_runs_under_a_three_minute_timeout(tmp_path):
    path = tmp_path / "osc3.toml"
    path.write_text('name = "osc3"\n[[steps]]\nkind = "oscillate"\nhigh = 40\nlow = 0\n'
                    'dwell_high = "30s"\ndwell_low = "30s"\ncycles = 3\n', encoding="utf-8")
    c = config(limits={"session_timeout": "3m"})
    prepared = prepare_profile(str(path), c)
    assert prepared.head_down < 180 < prepared.duration  # about half of it head-down, not all of it
    run = simulate(str(path), config=c)
    assert run.result.exit_code == 0 and [e["reason"] for e in run.named("return")] == ["profile-done"]
    assert head_down_time(run, c.period) <= 180
