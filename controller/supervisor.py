"""Interlocks: angle limits and goal admission, as pure checks that name a trip reason."""

from __future__ import annotations

from dataclasses import dataclass

# The estimate may pass a limit by this much before it trips: above sensor noise, and well inside
# the BRIEF's invariant I1 (the true angle never beyond a limit by more than 1 deg).
ANGLE_LIMIT_MARGIN = 0.5  # deg
# Within this of home the table counts as home (the session ends, its head-down timer resets).
HOME_TOLERANCE = 1.0  # deg


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


def admit_goal(goal: float, limits: Limits) -> float:
    """A goal as the planner may pursue it: never beyond max_angle or home."""
    return min(limits.max_angle, max(limits.home_angle, goal))


def check_angle(angle: float, limits: Limits) -> str | None:
    """The trip reason for an estimated angle outside the travel, or None."""
    if angle > limits.max_angle + ANGLE_LIMIT_MARGIN:
        return "over-angle"
    if angle < limits.home_angle - ANGLE_LIMIT_MARGIN:
        return "under-angle"
    return None


def at_home(angle: float, limits: Limits) -> bool:
    return abs(angle - limits.home_angle) <= HOME_TOLERANCE
