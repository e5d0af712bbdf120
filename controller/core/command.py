"""What the motor is asked to do this period, and the session's head-down clock (pure)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from controller.core.state import Activity, Machine
from controller.core.supervisor import Limits

# While a trip is latched, hold-to-run return goes no faster than this share of max_speed (I3).
RECOVERY_SPEED_SHARE = 0.5
# Time counts as head-down while the angle is above this (the BRIEF's one definition): a table
# resting flat at 0 deg, or near it with sensor noise, is not head-down.
HEAD_DOWN_ABOVE = 1.0  # deg
# A table about to move by itself (a timeout return) warns this long before: the LED, the buzzer
# and a log line, so nobody is surprised by motion nobody pressed for.
AUTO_MOVE_WARNING = 10.0  # s
SETPOINT_ROUNDING = 1e-9  # deg: a setpoint resting "at 0" may carry float noise
# seconds_until_due skips its walk only when no instant of it can be due by at least this much:
# far above any float rounding of sums of a few thousand seconds.
LOOK_AHEAD_MARGIN = 1.0  # s


@dataclass(frozen=True, slots=True)
class Command:
    """Pursue ``goal`` at up to ``speed``; a None goal means hold still right where the motor is."""

    goal: float | None
    speed: float = 0.0


HOLD = Command(None)


def motion_permitted(m: Machine) -> bool:
    """Whether the motor may step at all in this state (the stepper's halt latch may be cleared)."""
    return not m.stop_latched and (m.trip is None or m.recovering)


def choose(
    m: Machine,
    *,
    limits: Limits,
    program_goal: float | None,
    program_speed: float,
    jog_speed: float,
    return_speed: float,
    position: float | None = None,
) -> Command:
    """The goal for this period. ``program_goal`` and ``program_speed`` are the running profile's
    or the return's; every speed is capped by ``limits.max_speed`` whatever asked for it.
    ``position`` is where the step count says the table is (None: not known yet)."""
    if m.stop_latched:
        return HOLD  # I3: nothing moves at all while a stop is latched
    if m.trip is not None:
        if m.recovering and position is not None and position > limits.home_angle:
            # hold-to-run, toward home only (never from beyond it), at reduced speed
            return Command(limits.home_angle, min(return_speed, limits.max_speed * RECOVERY_SPEED_SHARE))
        return HOLD
    if not m.motion_requested:
        return HOLD  # I7: nothing moves before a person asks
    if m.activity is Activity.JOGGING:
        goal = limits.max_angle if m.jog_direction > 0 else limits.home_angle
        return Command(goal, min(jog_speed, limits.max_speed))
    if m.activity is Activity.RUNNING and program_goal is not None:
        return Command(program_goal, min(program_speed, limits.max_speed))
    if m.activity is Activity.RETURNING and program_goal is not None:
        # The return's program carries its speed: the comfort speed (a slow profile's cap lowers
        # it), or max_speed once a return would end past I5's bound (core/clocks.py). Capping it
        # at return_speed here again would keep a hurried return at the comfort speed.
        return Command(program_goal, min(program_speed, limits.max_speed))
    return HOLD


def head_down(*, angle: float, setpoint: float) -> bool:
    """Head-down if either the estimate or the commanded position says so: neither sensor noise
    nor a lagging sensor can hide time from the timeouts."""
    return angle > HEAD_DOWN_ABOVE or setpoint > HEAD_DOWN_ABOVE + SETPOINT_ROUNDING


def head_down_time(previous: float, *, angle: float, setpoint: float, dt: float, home: bool) -> float:
    """Seconds spent head-down in this session; the clock restarts once the table is home."""
    if home:
        return 0.0
    return previous + dt if head_down(angle=angle, setpoint=setpoint) else previous


def time_to_come_up(angle: float, velocity: float, *, speed: float, accel: float) -> float:
    """Seconds until a return at ``speed`` begun now has the table out of head-down (pure bound).

    A table still heading down must first brake (v/a seconds, v²/2a degrees further); one already
    heading home only speeds up to ``speed``. The table passes HEAD_DOWN_ABOVE on its way, so
    there is no braking at the end.
    """
    brake_time = brake_distance = 0.0
    if velocity > 0:
        brake_time, brake_distance = velocity / accel, velocity * velocity / (2 * accel)
    above = angle + brake_distance - HEAD_DOWN_ABOVE
    if above <= 0:
        return 0.0
    u = min(speed, max(0.0, -velocity))  # already heading home (a faster one is slowed to speed)
    ramp_time, ramp_distance = (speed - u) / accel, (speed * speed - u * u) / (2 * accel)
    if ramp_distance >= above:
        return brake_time + (math.sqrt(u * u + 2 * accel * above) - u) / accel
    return brake_time + ramp_time + (above - ramp_distance) / speed


def i5_allowance(angle: float, velocity: float, *, limits: Limits) -> float:
    """I5's allowance past session_timeout from here: a return at max_speed, braking first if need
    be, but never more than the one from max_angle at rest. A table still heading down fast on a
    gentle max_accel brakes for longer than that (K3 in docs/SAFETY.md): the user is not to pay for
    the braking, so the return begins early by it instead."""
    fast = time_to_come_up(angle, velocity, speed=limits.max_speed, accel=limits.max_accel)
    return min(fast, time_to_come_up(limits.max_angle, 0.0, speed=limits.max_speed, accel=limits.max_accel))


def return_allowance(angle: float, velocity: float, *, limits: Limits, return_speed: float) -> float:
    """How much longer than I5's allowance (i5_allowance) a return at ``return_speed`` from here
    takes: the session-timeout return begins this much early."""
    slow = time_to_come_up(angle, velocity, speed=min(return_speed, limits.max_speed), accel=limits.max_accel)
    return max(0.0, slow - i5_allowance(angle, velocity, limits=limits))


def seconds_to_timeout(head_down: float, *, angle: float, limits: Limits, return_speed: float,
                       velocity: float = 0.0, period: float = 0.0) -> float:
    """Head-down seconds left before the session-timeout return must begin (0 once it is due).

    Invariant I5 bounds head-down time by session_timeout plus a return at max_speed, but the
    table comes home at the gentler return_speed, after braking if it is still heading down. So
    the return begins early by the difference, and a sleeping user is still out in time.
    """
    # The clock is read once a period, and the countdown may run faster than the clock while the
    # table goes further down (warning_lead): begin a period's worth of countdown early.
    lead = period * warning_lead(velocity, limits=limits, return_speed=return_speed)
    return _left(head_down, return_allowance(angle, velocity, limits=limits, return_speed=return_speed) + lead, limits)


def _left(head_down: float, early: float, limits: Limits) -> float:
    """seconds_to_timeout's answer, once its early start (the slow return's allowance and the lead) is known."""
    return max(0.0, limits.session_timeout - (head_down + early))


def timeout_due(head_down: float, *, angle: float, limits: Limits, return_speed: float,
                velocity: float = 0.0, period: float = 0.0) -> bool:
    """Whether the session-timeout return must begin now."""
    return seconds_to_timeout(head_down, angle=angle, limits=limits, return_speed=return_speed,
                              velocity=velocity, period=period) <= 0.0


def seconds_until_due(head_down: float, *, angle: float, velocity: float, limits: Limits, return_speed: float,
                      period: float, horizon: float) -> float | None:
    """When the session-timeout return will begin if the table goes on as it is going now
    (head-down at ``velocity``, up to max_angle); None if not within ``horizon`` seconds.

    Going further down makes the way back longer, so the countdown can run faster than the clock
    (and start before the table is head-down at all): a warning "in N s" must look ahead.
    """
    step = max(period, horizon / 40)
    # What does not change over the look-ahead is worked out once: this runs every period of a descent.
    lead = period * warning_lead(velocity, limits=limits, return_speed=return_speed)
    # Most periods of a descent are far from the timeout: if even the most the countdown could
    # reach over the horizon (all of it counted head-down, and as the allowance the slow return's
    # whole way up from max_angle, which bounds return_allowance anywhere below it, since
    # time_to_come_up only grows with the angle) stays LOOK_AHEAD_MARGIN short of the timeout, no
    # instant of the walk below can be due: the answer is None without it.
    slowest = time_to_come_up(limits.max_angle, velocity, speed=min(return_speed, limits.max_speed),
                              accel=limits.max_accel)
    if head_down + horizon + slowest + lead < limits.session_timeout - LOOK_AHEAD_MARGIN:
        return None
    rising = max(0.0, velocity)
    below_for = 0.0 if angle > HEAD_DOWN_ABOVE else (HEAD_DOWN_ABOVE - angle) / max(velocity, 1e-9)
    instants = []  # the look-ahead's instants, summed as a walk would sum them
    t = 0.0
    while t <= horizon + 1e-9:
        instants.append(t)
        t += step

    def due(t: float) -> bool:
        ahead = min(limits.max_angle, angle + rising * t)
        counted = head_down + max(0.0, t - below_for)
        early = return_allowance(ahead, velocity, limits=limits, return_speed=return_speed) + lead
        return _left(counted, early, limits) <= 0.0

    # Once due, due at every later instant: the counted time grows with t, and so does the
    # allowance, since the angle ahead only grows and a slower return's extra time grows with the
    # way back. So the first due instant is found by bisection, in 6 looks instead of up to 41.
    lo, hi = 0, len(instants)
    while lo < hi:
        mid = (lo + hi) // 2
        if due(instants[mid]):
            hi = mid
        else:
            lo = mid + 1
    return instants[lo] if lo < len(instants) else None


def warning_lead(velocity: float, *, limits: Limits, return_speed: float) -> float:
    """How fast the timeout's countdown runs, in countdown seconds per second (at least 1).

    Going further head-down makes the way back longer: each second at ``velocity`` adds
    velocity x (1/return_speed - 1/max_speed) to the return, so the countdown runs faster than
    the clock.
    """
    if velocity <= 0:
        return 1.0
    return 1.0 + velocity * max(0.0, 1.0 / min(return_speed, limits.max_speed) - 1.0 / limits.max_speed)
