"""The pure step's own promises, beside the property test: the one trip path, a restart's latches,
and a halted motor's plan (controller/core/period.py)."""

from __future__ import annotations

from controller.core import period
from controller.core.reasons import Trip
from controller.core.table_state import Halt, Inputs, Report, SetPosition
from controller.setup.calibration import mount_for
from controller.setup.config import Config
from controller.shell.restart import RestartState
from controller.shell.table import settings_from

CONFIG = Config()
SETTINGS = settings_from(CONFIG)
MOUNT = mount_for(CONFIG, None)


def _start(**kw):
    return period.initial(SETTINGS, mount=MOUNT, position=-60.0, now=0.0, **kw)


def test_a_trip_halts_first_then_latches_and_reports_once():
    state, _ = _start()
    state, actions = period.trip(state, Trip.STALL, now=1.0)
    assert isinstance(actions[0], Halt)
    assert [a.record["reason"] for a in actions if isinstance(a, Report)] == [Trip.STALL]
    assert state.machine.trip is Trip.STALL and state.setpoint.velocity == 0.0 and state.program is None
    again, more = period.trip(state, Trip.IMU_LOST, now=1.1)
    assert more == [] and again.machine.trip is Trip.STALL  # latched: the first reason stands


def test_a_restored_trip_goes_through_the_trip_path():
    """A restart used to latch the trip without halting or reporting it."""
    state, actions = _start(restored=RestartState(20.0, trip=Trip.IMU_LOST, head_down=30.0))
    kinds = [type(a) for a in actions]
    assert kinds[:2] == [SetPosition, Halt]  # the last trusted angle, then the halt
    assert [a.record for a in actions if isinstance(a, Report)] == [{"t": 0.0, "event": "trip", "reason": Trip.IMU_LOST}]
    assert state.machine.trip is Trip.IMU_LOST and state.head_down == 30.0 and state.blind_anchor


def test_a_restored_stop_is_held_by_a_halt():
    state, actions = _start(restored=RestartState(-12.0, stop_latched=True))
    assert Halt() in actions and state.machine.stop_latched


def test_a_period_with_a_halted_motor_plans_nothing():
    state, _ = _start()
    state, actions = period.step(state, Inputs(t=0.01, position=-60.0, halted=True, halt_token=1))
    assert not any(type(a).__name__ == "Move" for a in actions)
    assert period.halted_at(state, -60.0) is state  # already planned from where it stands
    moved = period.halted_at(state, -59.5)
    assert moved.setpoint.position == -59.5 and moved.setpoint.velocity == 0.0 and moved.position == -59.5


def test_return_pressed_before_the_angle_is_known_stays_home():
    """A property-test find: `return` at power-on, before the anchor, was planned from the step
    count's zero, so with rest_angle = -20 the table drove from home up to -20 deg and back."""
    from tests.conftest import simulate

    config = Config.model_validate({"motion": {"rest_angle": -20}})
    run = simulate(config=config, presses=["return@0:20"])
    assert max(s["true_angle"] for s in run.samples) <= config.table.home_angle + 1.0
    assert run.result.exit_code == 0


def test_a_trip_posted_before_the_period_is_the_reason_given_not_one_its_reading_would_give():
    """The dead-man halted the motor and posted loop-stall while the loop was stalled; the first
    period after it also reads no sample for long enough to trip imu-lost. The posted trip came
    first, and its halt explains what the period sees: loop-stall is the reason latched (seen
    under load: a run --sim latched stall instead, and the fault-parity test failed)."""
    state, _ = _start()
    lost = SETTINGS.period * 10  # past the 60 ms of imu-lost
    state, actions = period.step(state, Inputs(t=lost, sample=None, attempts=3, failures=3, position=-60.0,
                                               halted=True, halt_token=1, events=(Trip.LOOP_STALL,)))
    assert state.machine.trip == Trip.LOOP_STALL
    assert [a.record["reason"] for a in actions if type(a) is Report and a.record.get("event") == "trip"] == [
        Trip.LOOP_STALL]


def test_time_head_down_before_the_anchor_counts():
    """The angle is not known until the power-on anchor, but I5 counts from power-on: a restart
    head-down (the restored angle) counts each period until then; one at home does not."""
    dt = SETTINGS.period
    state, _ = _start(restored=RestartState(20.0, head_down=30.0))
    for k in (1, 2):
        state, _ = period.step(state, Inputs(t=k * dt, position=20.0, halt_token=0))
        assert state.estimate is None and abs(state.head_down - (30.0 + k * dt)) < 1e-9
    home, _ = _start()
    home, _ = period.step(home, Inputs(t=dt, position=-60.0, halt_token=0))
    assert home.estimate is None and home.head_down == 0.0


def test_a_setpoint_never_goes_further_beyond_a_limit_than_it_is():
    from controller.core.supervisor import Limits, within_travel

    lim = Limits(home_angle=-77.0, max_angle=10.0, max_speed=2.0, max_accel=8.0, session_timeout=10.0)
    assert within_travel(-76.9543, -77.0024, lim) == -77.0  # braking away from its goal past home: stops there
    assert within_travel(9.99, 10.01, lim) == 10.0
    assert within_travel(-76.0, -76.5, lim) == -76.5 and within_travel(5.0, 6.0, lim) == 6.0  # inside: as planned
    assert within_travel(12.0, 11.9, lim) == 11.9  # beyond already (a restart above a lowered max_angle): comes back
    assert within_travel(12.0, 12.1, lim) == 12.0  # and never goes further out
    assert within_travel(-78.0, -78.1, lim) == -78.0 and within_travel(-78.0, -77.5, lim) == -77.5
