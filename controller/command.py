"""What the motor is asked to do this period, and the session's head-down clock (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from controller.planner import move_time
from controller.state import Activity, Machine
from controller.supervisor import Limits

# While a trip is latched, hold-to-run return goes no faster than this share of max_speed (I3).
RECOVERY_SPEED_SHARE = 0.5
# Time counts as head-down while the angle is above this (positive is head-down).
HEAD_DOWN_ABOVE = 0.0  # deg
# A table about to move by itself (a timeout return) warns this long before: the LED, the buzzer
# and a log line, so nobody is surprised by motion nobody pressed for.
AUTO_MOVE_WARNING = 10.0  # s
SETPOINT_ROUNDING = 1e-9  # deg: a setpoint resting "at 0" may carry float noise


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
) -> Command:
    """The goal for this period. ``program_goal`` and ``program_speed`` are the running profile's
    or the return's; every speed is capped by ``limits.max_speed`` whatever asked for it."""
    if m.stop_latched:
        return HOLD  # I3: nothing moves at all while a stop is latched
    if m.trip is not None:
        if m.recovering:  # hold-to-run, toward home only, at reduced speed
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
        return Command(program_goal, min(program_speed, return_speed, limits.max_speed))
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


def seconds_to_timeout(head_down: float, *, angle: float, limits: Limits, return_speed: float) -> float:
    """Head-down seconds left before the session-timeout return must begin (0 once it is due).

    Invariant I5 bounds head-down time by session_timeout plus a return at max_speed, but the
    table comes home at the gentler return_speed. So the return begins early by the difference,
    and a sleeping user is still out in time.
    """
    above = max(0.0, angle - HEAD_DOWN_ABOVE)
    slow = move_time(above, max_speed=min(return_speed, limits.max_speed), max_accel=limits.max_accel)
    fast = move_time(above, max_speed=limits.max_speed, max_accel=limits.max_accel)
    return max(0.0, limits.session_timeout - (head_down + (slow - fast)))


def timeout_due(head_down: float, *, angle: float, limits: Limits, return_speed: float) -> bool:
    """Whether the session-timeout return must begin now."""
    return seconds_to_timeout(head_down, angle=angle, limits=limits, return_speed=return_speed) <= 0.0
