"""Setpoint planner: the next commanded position under speed and acceleration limits (pure)."""

from __future__ import annotations

import math
from dataclasses import dataclass

# A setpoint this close to its goal, moving this slowly, has arrived: it snaps onto the goal.
# Both are far below one motor step (1/200 deg) and one tick's worth of acceleration.
ARRIVE_DISTANCE = 1e-3  # deg
ARRIVE_SPEED = 1e-2  # deg/s


@dataclass(frozen=True, slots=True)
class Setpoint:
    """Where the motor is commanded to be, and how fast it is going there."""

    position: float  # deg
    velocity: float = 0.0  # deg/s

    @property
    def still(self) -> bool:
        return self.velocity == 0.0


def step_toward(sp: Setpoint, goal: float, *, max_speed: float, max_accel: float, dt: float) -> Setpoint:
    """Advance ``sp`` by one period ``dt`` toward ``goal``, time-optimally within the limits.

    The velocity follows the braking curve v = sqrt(2·a·d), so the setpoint decelerates in time to
    stop on the goal; it never exceeds ``max_speed`` (or, if it was faster when the cap was lowered,
    brakes down to it at ``max_accel``), changes by at most ``max_accel·dt`` per period
    (except to stop exactly on the goal from below one tick of acceleration) and never overshoots.
    If the goal moves behind a moving setpoint, it brakes at ``max_accel`` and comes back.
    """
    if max_speed <= 0 or max_accel <= 0 or dt <= 0:
        raise ValueError("max_speed, max_accel and dt must be positive")
    distance = goal - sp.position
    dv = max_accel * dt
    if abs(distance) <= ARRIVE_DISTANCE and abs(sp.velocity) <= max(ARRIVE_SPEED, dv):
        return Setpoint(goal, 0.0)
    direction = 1.0 if distance > 0 else -1.0
    # The speed from which we can still stop on the goal, accounting for the discrete step:
    # solving v·dt/2 + v²/(2a) = d keeps the per-tick position update from overshooting.
    reach = abs(distance)
    brake_speed = max_accel * (-dt / 2 + math.sqrt(dt * dt / 4 + 2 * reach / max_accel))
    desired = direction * min(max_speed, brake_speed, reach / dt)
    # Within one tick's acceleration of the desired speed. A lowered speed cap (a return slower
    # than the move it interrupts) is reached by braking at max_accel too, not in one jump.
    velocity = min(max(desired, sp.velocity - dv), sp.velocity + dv)
    position = sp.position + velocity * dt
    # Never pass the goal while approaching it: stop on it instead.
    if velocity * direction > 0 and (goal - position) * direction < 0:
        return Setpoint(goal, 0.0)
    return Setpoint(position, velocity)


def halted(position: float) -> Setpoint:
    """The setpoint after a halt: where the motor is, not moving."""
    return Setpoint(position, 0.0)


def move_time(distance: float, *, max_speed: float, max_accel: float) -> float:
    """Time for a rest-to-rest move of ``distance`` degrees with a trapezoidal speed profile."""
    d = abs(distance)
    if d == 0:
        return 0.0
    ramp_distance = max_speed * max_speed / max_accel  # accelerate and brake at full speed
    if d <= ramp_distance:
        return 2.0 * math.sqrt(d / max_accel)  # triangular: never reaches max_speed
    return d / max_speed + max_speed / max_accel
