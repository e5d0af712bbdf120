"""Whole-table scenarios on the simulator: the specified behaviours, judged on the true angle."""

from __future__ import annotations

import pytest

from controller.shell import simulate as sim
from controller.setup.config import Config
from tests.conftest import simulate

PERIOD = Config().period


def _dwells(samples, level, *, tolerance=1.0):
    """Lengths of the stretches during which the table stands still within tolerance of level."""
    stretches, start = [], None
    for a, b in zip(samples, samples[1:]):
        inside = abs(b["true_angle"] - level) <= tolerance and b["true_angle"] == a["true_angle"]
        if inside and start is None:
            start = a["t"]
        elif not inside and start is not None:
            stretches.append(a["t"] - start)
            start = None
    return stretches


def test_hold_40_holds_within_one_degree_for_five_minutes():
    run = simulate("hold-40")
    assert run.result.exit_code == sim.EXIT_HOME
    arrived = next(s["t"] for s in run.samples if s["target"] == 40.0)  # the setpoint's arrival
    held = run.between(arrived + PERIOD, arrived + 300 - PERIOD)
    assert len(held) >= 300 / PERIOD - 2
    assert all(abs(s["true_angle"] - 40.0) <= 1.0 for s in held)
    assert max(abs(s["true_angle"] - 40.0) for s in held) < 0.5  # and in fact much better


def test_oscillate_dwells_thirty_seconds_at_each_end():
    run = simulate("oscillate")
    assert run.result.exit_code == sim.EXIT_HOME
    running = [s for s in run.samples if s["state"] == "running"]
    highs = [d for d in _dwells(running, 40.0) if d > 1]  # not a tick without a step on arrival
    lows = [d for d in _dwells(running, 0.0) if d > 1]
    assert len(highs) >= 10 and len(lows) >= 10
    # A dwell counts from arrival to departure; passing within 1 deg adds well under a second.
    assert all(abs(d - 30.0) <= 1.0 for d in highs), highs
    assert all(abs(d - 30.0) <= 1.0 for d in lows), lows
    assert run.result.t < 20 * 60 + 60  # the 20-minute preset, plus the way home


def test_profile_ends_home_with_a_rest_near_horizontal():
    run = simulate("gentle")
    ret = run.named("return")[0]
    assert ret["reason"] == "profile-done"
    rest = [s for s in run.samples if s["t"] > ret["t"] and abs(s["true_angle"] - 0.0) <= 0.5]
    assert rest and rest[-1]["t"] - rest[0]["t"] >= Config().motion.rest_time - 0.5
    assert abs(run.samples[-1]["true_angle"] - Config().table.home_angle) <= 1.0


def test_stop_halts_within_one_period_and_stays_latched():
    t_stop = 12.345  # mid-move, between two ticks
    # ...and then start pressed, which must be refused: the run goes on to t=30 to show it.
    run = simulate("hold-40", presses=[f"stop@{t_stop}", "start@30"], until=60)
    assert run.result.exit_code == sim.EXIT_LATCHED
    assert run.at(t_stop - 1)["true_angle"] != run.at(t_stop - 0.5)["true_angle"]  # it was moving
    after = [s for s in run.samples if s["t"] >= t_stop + PERIOD]
    assert after[-1]["t"] >= 30
    assert all(abs(s["true_angle"] - after[0]["true_angle"]) <= 0.1 for s in after)  # I2
    assert all(s["state"] == "stopped" for s in after)


def test_reset_clears_a_stop_but_never_moves_the_table():
    run = simulate("hold-40", presses=["stop@10", "reset@20"], until=40)
    after_reset = run.between(20, 40)
    assert all(s["state"] == "idle" for s in after_reset if s["t"] > 20)
    assert max(s["true_angle"] for s in after_reset) - min(s["true_angle"] for s in after_reset) < 1e-6
    assert run.result.exit_code == sim.EXIT_NOT_HOME  # --until ended it, nothing latched, not home


def test_reset_with_stop_still_held_keeps_the_latch():
    run = simulate("hold-40", presses=["stop@10:20", "reset@15"], until=40)
    assert run.at(16)["state"] == "stopped"
    assert any("still pressed" in e.get("message", "") for e in run.named("notice"))


def test_return_after_reset_brings_the_table_home():
    run = simulate("hold-40", presses=["stop@10", "reset@20", "return@25"])
    assert run.result.exit_code == sim.EXIT_HOME
    assert abs(run.samples[-1]["true_angle"] - Config().table.home_angle) <= 1.0


def test_start_and_jog_are_refused_while_stopped():
    run = simulate("hold-40", presses=["stop@5", "start@8", "down@9:3"], until=15)
    after = run.between(5 + PERIOD, 15)
    assert max(s["true_angle"] for s in after) - min(s["true_angle"] for s in after) <= 0.1
    assert run.result.exit_code == sim.EXIT_LATCHED


def test_session_timeout_brings_a_head_down_table_home():
    config = Config.model_validate({"limits": {"session_timeout": "1m"}})
    # jog head-down, let go, and leave: the table must come back by itself.
    run = simulate(config=config, presses=["down@0:50"])
    assert run.result.exit_code == sim.EXIT_HOME
    auto = run.named("return")
    assert auto and auto[0]["reason"] == "session-timeout"
    head_down = sum(PERIOD for s in run.samples if s["true_angle"] > 0)
    way_home = (max(s["true_angle"] for s in run.samples) - 0) / config.limits.max_speed
    assert head_down <= 60 + way_home + 1  # I5


def test_session_timeout_cuts_a_running_profile_short():
    from controller.setup.preflight import prepare_profile

    program = prepare_profile("hold-40", Config()).program  # 5 min, admitted by the default config
    config = Config.model_validate({"limits": {"session_timeout": "90s"}})
    run = simulate(config=config, program=program)
    assert run.named("return")[0]["reason"] == "session-timeout"
    assert run.result.exit_code == sim.EXIT_HOME
    assert run.result.t < 200


def test_jog_moves_only_while_held_within_limits():
    run = simulate(presses=["down@1:10", "reset@20"])  # the reset keeps the run going to t=20
    speed = Config().motion.jog_speed
    moved = run.at(11)["true_angle"] - run.at(1)["true_angle"]
    assert moved == pytest.approx(10 * speed, abs=0.5)
    still = run.between(11 + PERIOD, 20)
    assert max(s["true_angle"] for s in still) - min(s["true_angle"] for s in still) <= 0.01


def test_nothing_moves_before_a_person_asks():
    run = simulate(presses=["reset@5"], until=30)
    assert all(s["true_angle"] == run.samples[0]["true_angle"] for s in run.samples)  # I7
    assert run.simulation.hw.motor.steps == 0


def test_speed_never_exceeds_the_limit():
    run = simulate("oscillate")
    limit = Config().limits.max_speed * 1.05
    speeds = [abs(b["true_angle"] - a["true_angle"]) / PERIOD for a, b in zip(run.samples, run.samples[1:])]
    assert max(speeds) <= limit  # I6


def test_lost_imu_trips_within_a_tenth_of_a_second():
    run = simulate("hold-40", faults=["imu-disconnect@40"])
    trip = run.named("trip")[0]
    assert trip["reason"] == "imu-lost"
    assert 40 <= trip["t"] <= 40.1
    assert run.result.exit_code == sim.EXIT_LATCHED


def test_a_short_i2c_blip_is_ridden_through():
    run = simulate("gentle", faults=["imu-disconnect@30:0.02"])
    assert not run.named("trip")
    assert run.result.exit_code == sim.EXIT_HOME


def test_a_reset_does_not_start_an_overdue_timeout_return():
    config = Config.model_validate({"limits": {"session_timeout": "1m"}})
    run = simulate(config=config, presses=["down@0:45", "stop@50", "reset@120", "up@130:0.1"], until=300)
    window = run.between(120, 130)
    assert max(s["true_angle"] for s in window) - min(s["true_angle"] for s in window) <= 1e-9  # I4
    assert run.named("return")[-1]["reason"] == "session-timeout"  # once a person asked again
    assert run.result.exit_code == sim.EXIT_HOME


def test_a_hold_to_run_button_held_through_a_stop_needs_a_fresh_press():
    run = simulate(presses=["down@5:40", "stop@10", "reset@15", "up@20:1", "reset@50"])
    for window in (run.between(15, 20), run.between(21 + PERIOD, 50)):  # not before up, nor after it
        assert max(s["true_angle"] for s in window) - min(s["true_angle"] for s in window) <= 1e-9


def test_a_refused_press_is_not_a_request_for_motion():
    from controller.core.state import ButtonEvent, Context, Machine, on_button, on_trip

    m = on_button(Machine(), ButtonEvent("stop", True, 0), Context()).machine
    m = on_button(m, ButtonEvent("start", True, 0), Context()).machine
    assert not m.motion_requested
    m = on_button(on_trip(Machine(), "imu-lost"), ButtonEvent("down", True, 0), Context()).machine
    assert not m.motion_requested


def test_idle_timeout_brings_a_jogged_table_home():
    config = Config.model_validate({"limits": {"idle_timeout": "30s"}})
    run = simulate(config=config, presses=["down@0:45"])
    ret = run.named("return")[0]
    assert ret["reason"] == "idle-timeout" and 45 + 30 <= ret["t"] <= 45 + 31
    assert run.result.exit_code == sim.EXIT_HOME


def test_speed_stays_within_the_limit_at_full_speed():
    run = simulate("hold-40")  # 4 deg/s, the config's max_speed
    limit = Config().limits.max_speed * 1.05
    speeds = [abs(b["true_angle"] - a["true_angle"]) / PERIOD for a, b in zip(run.samples, run.samples[1:])]
    assert 3.9 <= max(speeds) <= limit  # I6, and it really ran at full speed


def test_a_reset_with_nothing_latched_leaves_a_session_running():
    run = simulate("hold-40", presses=["reset@100"])
    assert run.at(101)["state"] == "running"
    assert run.result.exit_code == sim.EXIT_HOME
