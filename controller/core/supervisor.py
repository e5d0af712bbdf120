"""Interlocks and sensor trust: pure checks of each period's reading that name a trip reason."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import NamedTuple

from controller.core.reasons import Trip

# -- safety timings and margins (safety rules 3-5, invariants I1, I8) ----------------------------
# The estimate may pass a travel limit by this much before it trips: above sensor noise (0.05 deg
# at rest), and inside I1 (the true angle never beyond a limit by more than 1 deg) with room for an
# uncalibrated estimate's error near vertical (about 0.6 deg at -85 in the simulator). The estimate
# checked is the one predicted a period ahead (angle + rate x period), so speed and loop rate do
# not eat the margin. (A drive turning the wrong way is caught sooner, by REVERSED_AFTER.)
ANGLE_LIMIT_MARGIN = 0.5  # deg
# Within this of home the table counts as home (the session ends, its head-down timer resets).
HOME_TOLERANCE = 1.0  # deg
# No good sample for this long and the IMU is lost (I8: trip within 0.1 s of losing it).
IMU_LOST_AFTER = 0.06  # s
# The look-ahead of the travel-limit check is one period, never more than this (the longest period
# a config allows, 20 Hz): a late period must not make a still table look as if it were leaving.
LIMIT_LEAD_MAX = 0.05  # s
# Share of I2C transfers failing over the last I2C_ERROR_TIME (failed transfers over all transfers,
# each counted by a running average): a bus this bad is not trusted even if retries still get
# samples through. A share of transfers, not an average of each period's share: a period read at
# the first try is one transfer, not a weight equal to a period that needed three, so a 50 % storm
# reads as 50 % (averaging each period's share read it as 33 %, and it tripped after 1 s at times).
# Half a second, so that one period of three failed transfers at 20 Hz (a 20-50 ms blip) stays
# below the limit.
I2C_ERROR_SHARE = 0.25
I2C_ERROR_TIME = 0.5  # s
# A live MPU-6050 never returns the same 14 bytes twice: its noise alone moves ~50 LSB. This many
# seconds of identical bytes is a frozen sensor (I8: trip within 1 s).
FROZEN_AFTER = 0.25  # s
# The table only turns slowly, so the accelerometer measures gravity: 1 g. Outside this band for
# IMPLAUSIBLE_AFTER the reading is not gravity and the angle cannot be trusted.
GRAVITY_MIN, GRAVITY_MAX = 0.85, 1.15  # g
IMPLAUSIBLE_AFTER = 0.06  # s
# The accelerometer's tilt and the gyro-propagated angle disagreeing by this much (low-passed).
DISAGREE_LIMIT = 2.0  # deg
DISAGREE_AFTER = 0.1  # s


@dataclass(frozen=True, slots=True)
class Limits:
    """The limits in force for the current session: the config's, lowered by profile and user."""

    home_angle: float
    max_angle: float
    max_speed: float
    max_accel: float
    session_timeout: float

    def __post_init__(self) -> None:
        if not self.home_angle < 0 < self.max_angle <= 90:
            raise ValueError(f"limits out of order: home {self.home_angle}, max {self.max_angle}")
        if self.max_speed <= 0 or self.max_accel <= 0 or self.session_timeout <= 0:
            raise ValueError("speed, acceleration and session timeout limits must be positive")


@dataclass(frozen=True, slots=True)
class Tracking:
    """How closely the measured motion must follow the commanded one (config [tracking])."""

    position_tolerance: float = 2.0  # deg between the estimate and the step count
    rate_tolerance: float = 0.1  # deg/s between the gyro and the commanded speed ...
    rate_share: float = 0.05  # ... plus this share of the commanded speed
    time: float = 0.3  # s a mismatch must last before it trips


# The table turning against the motor (a drive wired or configured the wrong way round) is no
# question of tolerance: the gyro sees the opposite sign. This long of it is enough to trip, so the
# wrong way costs a fraction of a degree, not the travel limit's margin.
REVERSED_AFTER = 0.1  # s
# At power-on the step count and the gyro's bias are anchored over this long of still samples;
# nothing is tracked before that, so it counts against I8's second (config.py checks the sum).
ANCHOR_TIME = 0.2  # s
# A stall is watched by the gyro: at speed v the table should turn at v, and turns at 0. That
# mismatch must clear the tolerance by as much again (sensor noise must not hide it for `time`),
# so a stall is seen within `time` only at speeds of at least this factor times the tolerance.
STALL_VISIBLE_FACTOR = 2.0
# The slowest slide of a slipping drive that must trip within 1 s (the simulator's slip is 1.5
# deg/s); slower slides are caught by the position check, later.
SLIP_VISIBLE_RATE = 1.5  # deg/s


def slowest_watched_speed(tracking: Tracking) -> float:
    """The slowest commanded speed at which a stall still trips within ``tracking.time`` (deg/s)."""
    return STALL_VISIBLE_FACTOR * tracking.rate_tolerance / max(1e-9, 1.0 - tracking.rate_share)


def too_slow_advice(tracking: Tracking, speed: float, *, floors: dict[str, float]) -> str:
    """How to make ``speed`` watchable for a stall, for a message: only advice that can work. The
    [tracking] options are lowered only down to ``floors`` (the config's minimum of each)."""
    lower = [name for name, floor in floors.items() if getattr(tracking, name) > floor]
    if not lower or speed < slowest_watched_speed(replace(tracking, **floors)) - 1e-9:
        return f"raise the speed to at least {slowest_watched_speed(tracking):.3g} deg/s"
    return "raise the speed, or lower [tracking] " + " or ".join(lower)


def slip_allowance(tracking: Tracking, max_speed: float) -> float:
    """The largest rate mismatch tolerated at ``max_speed``, times the noise factor (deg/s): a slip
    slower than this could go unseen by the rate check."""
    return STALL_VISIBLE_FACTOR * (tracking.rate_tolerance + tracking.rate_share * max_speed)


class Reading(NamedTuple):
    """One period's facts, as plain values. (A named tuple, like Watch: one of each is built
    every control period, and a frozen dataclass costs several times as much to build.)"""

    t: float
    sample_ok: bool  # a good sample arrived this period
    attempts: int  # I2C transfers tried this period
    failures: int  # of which failed
    raw: bytes | None = None  # the sample's 14 bytes
    gravity: float = 1.0  # |accel| in g
    angle: float = 0.0  # estimate, deg
    rate: float = 0.0  # bias-corrected gyro, deg/s
    residual: float = 0.0  # accelerometer minus gyro-propagated angle, deg
    position: float = 0.0  # the step count, deg
    commanded_rate: float = 0.0  # the speed the motor was stepping at over the last period
    planned_rate: float = 0.0  # the planner's speed over the last period (a slow move may send no step)


class Watch(NamedTuple):
    """What the supervisor remembers between periods: when each condition began."""

    last_good: float = 0.0
    failed: float = 0.0  # failed transfers per period, running average over I2C_ERROR_TIME
    transfers: float = 1.0  # transfers per period, the same way (a clean bus: one per period)
    last_raw: bytes | None = None
    frozen_since: float | None = None
    implausible_since: float | None = None
    disagree_since: float | None = None
    rate_mismatch_since: float | None = None
    reversed_since: float | None = None
    position_error_since: float | None = None
    last_t: float | None = None

    @property
    def error_share(self) -> float:
        """The share of I2C transfers that failed, over the last I2C_ERROR_TIME."""
        return self.failed / self.transfers if self.transfers > 0 else 0.0


# The trips that say the table does not follow the step count (so the step count is wrong).
TRACKING_TRIPS = frozenset({Trip.STALL, Trip.TRACKING, Trip.UNEXPECTED_MOTION, Trip.REVERSED})


def _since(start: float | None, active: bool, now: float) -> float | None:
    if not active:
        return None
    return now if start is None else start


def _lasted(start: float | None, now: float, limit: float) -> bool:
    return start is not None and now - start >= limit - 1e-9


def watch_start(now: float) -> Watch:
    return Watch(last_good=now, last_t=now)


def supervise(w: Watch, r: Reading, limits: Limits, tracking: Tracking) -> tuple[Watch, Trip | None]:
    """Fold one period's reading into the watch; return the first trip reason that applies."""
    dt = 0.0 if w.last_t is None else max(0.0, r.t - w.last_t)
    beta = dt / (I2C_ERROR_TIME + dt) if dt else 0.0
    failed = (1 - beta) * w.failed + beta * r.failures
    transfers = (1 - beta) * w.transfers + beta * r.attempts if r.attempts else w.transfers
    # Each period's watch is built whole, once (not by dataclasses.replace, which looks up the
    # fields every call): this runs every control period.
    if not r.sample_ok:
        w = Watch(last_good=w.last_good, failed=failed, transfers=transfers, last_raw=w.last_raw, frozen_since=w.frozen_since,
                  implausible_since=w.implausible_since, disagree_since=w.disagree_since,
                  rate_mismatch_since=w.rate_mismatch_since, reversed_since=w.reversed_since,
                  position_error_since=w.position_error_since, last_t=r.t)
        if r.t - w.last_good >= IMU_LOST_AFTER - 1e-9:
            return w, Trip.IMU_LOST
        # A period with no sample at all is the lost sensor's to judge (it trips within 60 ms, and
        # names the fault better); the share of failed transfers trips on the next good sample.
        return w, None
    same = r.raw is not None and r.raw == w.last_raw
    frozen_since = _since(w.frozen_since, same, r.t)
    implausible_since = _since(w.implausible_since, not GRAVITY_MIN <= r.gravity <= GRAVITY_MAX, r.t)
    disagree_since = _since(w.disagree_since, abs(r.residual) > DISAGREE_LIMIT, r.t)
    # The tracking checks keep what they knew unless they are reached (a doubtful or tripping
    # sample is judged before them).
    mismatch_since, reversed_since, position_error_since = w.rate_mismatch_since, w.reversed_since, w.position_error_since
    reason = None
    if (failed / transfers if transfers > 0 else 0.0) >= I2C_ERROR_SHARE:  # Watch.error_share, of the new watch
        reason = Trip.I2C_ERRORS
    elif same and _lasted(frozen_since, r.t, FROZEN_AFTER):
        reason = Trip.IMU_FROZEN
    elif _lasted(implausible_since, r.t, IMPLAUSIBLE_AFTER):
        reason = Trip.IMU_IMPLAUSIBLE
    elif implausible_since is not None or frozen_since is not None:
        pass  # a doubtful sample: judge nothing else on it
    elif _lasted(disagree_since, r.t, DISAGREE_AFTER):
        reason = Trip.IMU_DISAGREE
    else:
        reason = check_angle(r.angle + limit_lead(r, limits, dt), limits)
        if reason is None:
            mismatch_since, reversed_since, position_error_since, reason = _track(w, r, tracking)
    return Watch(last_good=r.t, failed=failed, transfers=transfers, last_raw=r.raw, frozen_since=frozen_since,
                 implausible_since=implausible_since, disagree_since=disagree_since,
                 rate_mismatch_since=mismatch_since, reversed_since=reversed_since,
                 position_error_since=position_error_since, last_t=r.t), reason


def limit_lead(r: Reading, limits: Limits, dt: float) -> float:
    """How far the table will have moved when the next period can look again (deg).

    At speed, a limit reached in the middle of a period would otherwise be passed by a period's
    worth of motion. The motion the motor was commanded goes on only as far as the planner takes
    the step count, and the planner never takes it past an end of the travel: a table arriving
    home at speed is braking to a stop there, not heading a period's motion beyond it. What the
    command does not explain (a slip, a drive turning further than it is stepped) goes on in full.
    (At no more than max_speed: a coarse step is a burst of rate that ends with its period.)
    """
    lead = min(dt, LIMIT_LEAD_MAX)
    rate = max(-limits.max_speed, min(limits.max_speed, r.rate))
    commanded = r.commanded_rate * lead
    if commanded < 0:
        commanded = max(commanded, min(0.0, limits.home_angle - r.position))
    else:
        commanded = min(commanded, max(0.0, limits.max_angle - r.position))
    return commanded + (rate - r.commanded_rate) * lead


def _track(w: Watch, r: Reading, tracking: Tracking) -> tuple[float | None, float | None, float | None, Trip | None]:
    """Does the table follow the motor? In the spirit of Klipper's verify_heater. Returns the new
    (rate_mismatch_since, reversed_since, position_error_since) of the watch, and the trip.

    A coarse drive at a high loop rate sends no step in some periods of a slow move: such a
    period says nothing about the drive (only the gyro's noise would speak), so it neither starts
    nor ends a mismatch; else a stall, seen only in the periods that step, would never last
    ``time``. A slip shows in the periods that step, too.
    """
    allowed = tracking.rate_tolerance + tracking.rate_share * abs(r.commanded_rate)
    mismatch = abs(r.rate - r.commanded_rate) > allowed
    between_steps = r.commanded_rate == 0.0 and r.planned_rate != 0.0
    reversed_ = mismatch and not between_steps and r.rate * r.commanded_rate < 0 and min(abs(r.rate), abs(r.commanded_rate)) > allowed
    off = abs(r.angle - r.position) > tracking.position_tolerance
    mismatch_since = w.rate_mismatch_since if between_steps else _since(w.rate_mismatch_since, mismatch, r.t)
    reversed_since = _since(w.reversed_since, reversed_, r.t)
    position_error_since = _since(w.position_error_since, off, r.t)
    reason = None
    if reversed_ and _lasted(reversed_since, r.t, min(REVERSED_AFTER, tracking.time)):
        reason = Trip.REVERSED  # the table turns against the motor
    elif mismatch and not between_steps and _lasted(mismatch_since, r.t, tracking.time):
        direction = 1.0 if r.commanded_rate > 0 else -1.0
        if abs(r.commanded_rate) > tracking.rate_tolerance and r.rate * direction < abs(r.commanded_rate):
            reason = Trip.STALL  # slower than commanded: stalled, obstructed, lost steps
        else:
            reason = Trip.UNEXPECTED_MOTION  # moving with none commanded, or faster: slip, back-driving
    elif _lasted(position_error_since, r.t, tracking.time):
        reason = Trip.TRACKING
    return mismatch_since, reversed_since, position_error_since, reason


def cause_active(reason: Trip, w: Watch, r: Reading, limits: Limits) -> bool:
    """Whether a latched trip's cause is still present, so reset must not clear it."""
    if reason is Trip.IMU_LOST:
        return not r.sample_ok
    if reason is Trip.I2C_ERRORS:
        return w.error_share >= I2C_ERROR_SHARE / 4 or not r.sample_ok
    if reason is Trip.IMU_FROZEN:
        return w.frozen_since is not None or not r.sample_ok
    if reason is Trip.IMU_IMPLAUSIBLE:
        return w.implausible_since is not None or not r.sample_ok
    if reason is Trip.IMU_DISAGREE:
        return abs(r.residual) > DISAGREE_LIMIT / 2 or not r.sample_ok
    if reason in (Trip.OVER_ANGLE, Trip.UNDER_ANGLE):
        return check_angle(r.angle, limits) is not None
    if reason in TRACKING_TRIPS:
        # Reset re-anchors the step count to the sensor, so the sensor must be trustworthy:
        # answering, and its accelerometer and gyro agreeing.
        untrusted = not r.sample_ok or abs(r.residual) > DISAGREE_LIMIT / 2
        return untrusted or (reason is Trip.UNEXPECTED_MOTION and w.rate_mismatch_since is not None)
    return False


def admit_goal(goal: float, limits: Limits) -> float:
    """A goal as the planner may pursue it: never beyond max_angle or home."""
    return min(limits.max_angle, max(limits.home_angle, goal))


def within_travel(before: float, after: float, limits: Limits) -> float:
    """Where a setpoint moving from ``before`` toward ``after`` may go: never further beyond
    max_angle or home than it already is. The planner brakes at max_accel when its goal moves
    behind it, and braking from a way toward a limit carried a setpoint 0.0024 deg past home (found
    by the pure step's property test). A table beyond a limit already (a restart above a lowered
    max_angle) is not jumped back: it comes back at its own pace."""
    if after > limits.max_angle and after > before:
        return max(before, limits.max_angle)
    if after < limits.home_angle and after < before:
        return min(before, limits.home_angle)
    return after


def check_angle(angle: float, limits: Limits) -> Trip | None:
    """The trip reason for an estimated angle outside the travel, or None."""
    if angle > limits.max_angle + ANGLE_LIMIT_MARGIN:
        return Trip.OVER_ANGLE
    if angle < limits.home_angle - ANGLE_LIMIT_MARGIN:
        return Trip.UNDER_ANGLE
    return None


def at_home(angle: float, limits: Limits) -> bool:
    return abs(angle - limits.home_angle) <= HOME_TOLERANCE
