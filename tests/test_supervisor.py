"""The supervisor's checks, one condition at a time, on plain readings (pure)."""

from __future__ import annotations

import pytest

from controller.core.reasons import Trip
from controller.core.supervisor import (
    FROZEN_AFTER, IMU_LOST_AFTER, Limits, Reading, Tracking, admit_goal, cause_active, supervise, watch_start,
)

LIMITS = Limits(home_angle=-60, max_angle=60, max_speed=4, max_accel=4, session_timeout=1200)
TRACK = Tracking()
DT = 0.02


def run(readings):
    """Feed readings; return (watch, first trip and its time)."""
    w = watch_start(0.0)
    for r in readings:
        w, reason = supervise(w, r, LIMITS, TRACK)
        if reason is not None:
            return w, reason, r.t
    return w, None, None


def good(t, **kw):
    kw.setdefault("raw", bytes([int(t / DT) % 256]) * 14)  # changing bytes, as noise makes them
    return Reading(t=t, sample_ok=True, attempts=1, failures=0, **kw)


def times(n, start=0.02):
    return [start + i * DT for i in range(n)]


def test_healthy_readings_never_trip():
    assert run([good(t, angle=10, position=10.5, rate=2.0, commanded_rate=2.1) for t in times(500)])[1] is None


def test_no_sample_trips_imu_lost_after_60ms():
    readings = [good(t) for t in times(10)] + [Reading(t=t, sample_ok=False, attempts=3, failures=3) for t in times(10, 0.22)]
    _, reason, t = run(readings)
    assert reason is Trip.IMU_LOST and t - 0.20 == pytest.approx(IMU_LOST_AFTER, abs=DT)


def _bus(pattern, period):
    """Readings at ``period`` with (attempts, failures) cycling through ``pattern`` for 2 s."""
    out = []
    for i in range(int(2.0 / period)):
        attempts, failures = pattern[i % len(pattern)]
        ok = failures < attempts
        out.append(Reading(t=(i + 1) * period, sample_ok=ok, attempts=attempts, failures=failures,
                           raw=bytes([i % 256]) * 14 if ok else None))
    return out


def test_the_error_share_is_a_share_of_transfers_not_of_periods():
    """Three periods read at the first try, then one that needed three tries (two failed): a third
    of all transfers fail. An average of each period's share reads 17 % and never trips."""
    w = watch_start(0.0)
    reason = None
    for r in _bus([(1, 0), (1, 0), (1, 0), (3, 2)], 0.05):
        w, reason = supervise(w, r, LIMITS, TRACK)
        if reason is not None:
            break
    assert reason is Trip.I2C_ERRORS and r.t <= 1.0


@pytest.mark.parametrize("period", [0.05, 0.02, 0.005])
def test_one_period_of_failed_transfers_is_ridden_through(period):
    """A blip: one period whose three tries all fail, then a clean bus (20, 50 and 200 Hz)."""
    pattern = [(1, 0)] * 10 + [(3, 3)] + [(1, 0)] * 200
    w = watch_start(0.0)
    for r in _bus(pattern, period):
        w, reason = supervise(w, r, LIMITS, TRACK)
        assert reason is None, (r.t, reason, w.error_share)


def test_an_error_storm_with_samples_getting_through_trips_i2c_errors():
    readings = [Reading(t=t, sample_ok=True, attempts=2, failures=1, raw=bytes([i % 256]) * 14) for i, t in enumerate(times(100))]
    assert run(readings)[1] is Trip.I2C_ERRORS


def test_identical_bytes_trip_frozen():
    readings = [good(t, raw=b"\x01" * 14) for t in times(50)]
    _, reason, t = run(readings)
    assert reason is Trip.IMU_FROZEN and t <= 0.02 + FROZEN_AFTER + 2 * DT


@pytest.mark.parametrize("g", [0.5, 1.3, 3.5])
def test_implausible_gravity_trips(g):
    assert run([good(t, gravity=g) for t in times(10)])[1] is Trip.IMU_IMPLAUSIBLE


def test_one_implausible_sample_is_tolerated():
    readings = [good(t, gravity=3.0 if i == 5 else 1.0) for i, t in enumerate(times(50))]
    assert run(readings)[1] is None


def test_accelerometer_and_gyro_disagreeing_trips():
    assert run([good(t, residual=3.0) for t in times(20)])[1] is Trip.IMU_DISAGREE


@pytest.mark.parametrize("angle, reason", [(60.6, Trip.OVER_ANGLE), (-60.6, Trip.UNDER_ANGLE)])
def test_beyond_the_travel_trips(angle, reason):
    assert run([good(0.02, angle=angle, position=angle)])[1] is reason


# A period ahead at 20 Hz, the longest period a config allows.
COARSE = 0.05


def _one(angle, *, position, rate, commanded_rate, dt=COARSE):
    w = watch_start(0.0)
    w, _ = supervise(w, good(0.0, angle=angle, position=position), LIMITS, TRACK)
    return supervise(w, good(dt, angle=angle, position=position, rate=rate, commanded_rate=commanded_rate),
                     LIMITS, TRACK)[1]


def test_a_table_arriving_home_at_speed_is_not_judged_a_period_past_it():
    """The step count is home and the motor was commanded at 3.2 deg/s toward it: the planner
    brakes it to a stop there, so the check does not add a period's motion beyond home (it did, and
    an uncalibrated estimate 0.4 deg low tripped a healthy 20 Hz table on arrival)."""
    assert _one(-60.4, position=-59.98, rate=-3.2, commanded_rate=-3.2) is None


def test_motion_the_command_does_not_explain_is_judged_a_period_ahead():
    # the same estimate, but the table moves at 3.2 deg/s with no step commanded (a slip, a runaway)
    assert _one(-60.4, position=-59.98, rate=-3.2, commanded_rate=0.0) is Trip.UNDER_ANGLE
    # and a drive turning twice as far as it is stepped: half its motion is unexplained
    assert _one(-60.45, position=-59.98, rate=-4.0, commanded_rate=-2.0) is Trip.UNDER_ANGLE
    assert _one(-60.45, position=-59.98, rate=-2.0, commanded_rate=-2.0) is None


def test_commanded_motion_short_of_the_end_is_judged_a_period_ahead():
    # far from home in step count, the commanded motion goes on: the estimate will be past the margin
    assert _one(60.35, position=55.0, rate=4.0, commanded_rate=4.0) is Trip.OVER_ANGLE


def test_a_stall_trips_within_the_tracking_time():
    _, reason, t = run([good(t, rate=0.0, commanded_rate=2.0) for t in times(50)])
    assert reason is Trip.STALL and t <= 0.02 + TRACK.time + DT


def test_motion_while_still_commanded_trips_unexpected_motion():
    assert run([good(t, rate=1.5, commanded_rate=0.0) for t in times(50)])[1] is Trip.UNEXPECTED_MOTION


def test_a_drift_from_the_step_count_trips_tracking():
    assert run([good(t, angle=10, position=12.5) for t in times(50)])[1] is Trip.TRACKING


def test_a_brief_mismatch_is_tolerated():
    readings = [good(t, rate=0.0 if i < 5 else 2.0, commanded_rate=2.0) for i, t in enumerate(times(100))]
    assert run(readings)[1] is None


def test_cause_active_follows_the_condition():
    w = watch_start(0)
    assert cause_active(Trip.IMU_LOST, w, Reading(t=1, sample_ok=False, attempts=3, failures=3), LIMITS)
    assert not cause_active(Trip.IMU_LOST, w, good(1), LIMITS)
    assert cause_active(Trip.OVER_ANGLE, w, good(1, angle=61), LIMITS)
    assert not cause_active(Trip.OVER_ANGLE, w, good(1, angle=59), LIMITS)
    assert not cause_active(Trip.STALL, w, good(1), LIMITS)  # cleared by reset, which re-anchors


def test_goals_are_admitted_only_within_the_travel():
    assert admit_goal(75, LIMITS) == 60 and admit_goal(-80, LIMITS) == -60 and admit_goal(12.5, LIMITS) == 12.5


def _coarse(t_index: int, rate: float) -> float:
    """A coarse drive on a slow move: one period in five sends a step, the others none."""
    return rate * 5 if t_index % 5 == 0 else 0.0


def test_a_coarse_drive_that_stalls_trips_though_only_one_period_in_five_steps():
    readings = [good(t, rate=0.0, commanded_rate=_coarse(i, 1.0), planned_rate=1.0) for i, t in enumerate(times(100))]
    reason, at = None, None
    w = watch_start(0.0)
    for r in readings:
        w, reason = supervise(w, r, LIMITS, TRACK)
        if reason is not None:
            at = r.t
            break
    assert reason is Trip.STALL and at <= TRACK.time + 0.15


def test_a_healthy_coarse_drive_never_trips():
    readings = [good(t, rate=_coarse(i, 1.0), commanded_rate=_coarse(i, 1.0), planned_rate=1.0)
                for i, t in enumerate(times(500))]
    assert run(readings)[1] is None


@pytest.mark.parametrize("period", [0.005, 0.01, 0.02, 0.03, 0.05])
def test_a_dead_sensor_trips_imu_lost_not_i2c_errors(period):
    """Every transfer failing is a lost sensor (within 60 ms), not a share of errors: a period with
    no sample leaves the share to the next good one, and names the fault as it is."""
    w = watch_start(0.0)
    for k in range(1, 40):
        w, reason = supervise(w, Reading(t=k * period, sample_ok=False, attempts=3, failures=3), LIMITS, TRACK)
        if reason is not None:
            break
    assert reason is Trip.IMU_LOST and k * period <= IMU_LOST_AFTER + period
