"""Every trip reason as one table of data: code, what the table does, what the user is told, what clears it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Trip(str, Enum):
    """The codes the supervisor, the loop and the dead-man can trip with (as written to the trace)."""

    IMU_LOST = "imu-lost"
    I2C_ERRORS = "i2c-errors"
    IMU_FROZEN = "imu-frozen"
    IMU_IMPLAUSIBLE = "imu-implausible"
    IMU_DISAGREE = "imu-disagree"
    OVER_ANGLE = "over-angle"
    UNDER_ANGLE = "under-angle"
    STALL = "stall"
    TRACKING = "tracking"
    UNEXPECTED_MOTION = "unexpected-motion"
    REVERSED = "reversed"
    LOOP_STALL = "loop-stall"
    INTERNAL_ERROR = "internal-error"
    THREAD_CRASH = "thread-crash"

    def __str__(self) -> str:
        return self.value


class Response(str, Enum):
    HALT_AND_HOLD = "halt and hold"  # motor stops at once, holding torque; return is hold-to-run


@dataclass(frozen=True, slots=True)
class TripReason:
    code: Trip
    message: str  # what the user is told
    response: Response
    clears: str  # what must be true before reset clears it
    sensor_trusted: bool  # whether the angle estimate may still be used while this trip is latched
    reanchor: bool = False  # the step count is wrong: reset re-anchors it to the sensor's angle


_HOLD = Response.HALT_AND_HOLD
_GONE = "the condition is gone"

REASONS: dict[Trip, TripReason] = {
    r.code: r
    for r in (
        TripReason(Trip.IMU_LOST, "the angle sensor stopped answering (no good sample for 60 ms)", _HOLD,
                   "the sensor answers again", False),
        TripReason(Trip.I2C_ERRORS, "too many I2C errors talking to the angle sensor", _HOLD,
                   "one to two seconds of clean reads", False),
        TripReason(Trip.IMU_FROZEN, "the angle sensor's readings froze (identical raw bytes)", _HOLD,
                   "the readings change again", False),
        TripReason(Trip.IMU_IMPLAUSIBLE, "the angle sensor reports an impossible gravity magnitude", _HOLD,
                   "the magnitude is plausible again", False),
        TripReason(Trip.IMU_DISAGREE, "the accelerometer and the gyro disagree about the motion", _HOLD,
                   "they agree again", False),
        TripReason(Trip.OVER_ANGLE, "the table went past the maximum head-down angle", _HOLD,
                   "the angle is back within limits.max_angle", True),
        TripReason(Trip.UNDER_ANGLE, "the table went past the home (upright) end of its travel", _HOLD,
                   "the angle is back within table.home_angle", True),
        TripReason(Trip.STALL, "the table did not follow the motor (stall, obstruction), or the gyro misreads",
                   _HOLD, "at once; the step count is re-anchored to the sensor's angle", True, reanchor=True),
        TripReason(Trip.TRACKING, "the table's angle drifted from the step count (lost steps)", _HOLD,
                   "at once; the step count is re-anchored to the sensor's angle", True, reanchor=True),
        TripReason(Trip.UNEXPECTED_MOTION, "motion sensed that was not commanded (slip, back-driving), or the gyro misreads",
                   _HOLD, "the table is still again (the step count is re-anchored)", True, reanchor=True),
        TripReason(Trip.REVERSED, "the table turned against the motor (a drive wired or configured the other way round)",
                   _HOLD, "at once; the step count is re-anchored to the sensor's angle", True, reanchor=True),
        TripReason(Trip.LOOP_STALL, "the control loop stopped running (dead-man)", _HOLD,
                   "the loop runs again", True),
        TripReason(Trip.INTERNAL_ERROR, "the controller hit an unexpected error; the log has the details", _HOLD,
                   "at once; the error is in the log: please report it", True),
        TripReason(Trip.THREAD_CRASH, "a helper thread died with an error; the log has the details", _HOLD,
                   "at once; the error is in the log: please report it", True),
    )
}

assert set(REASONS) == set(Trip), "every trip code needs a row in the table"


def describe(code: Trip | str) -> str:
    reason = REASONS.get(Trip(code))
    return f"{reason.code.value}: {reason.message}" if reason else str(code)


def markdown_table() -> str:
    """The response table as it appears in docs/SAFETY.md (a test keeps the two identical)."""
    rows = ["| reason | what happened | what the table does | reset clears it when |", "|---|---|---|---|"]
    for r in REASONS.values():
        response = r.response.value + "; `return` is hold-to-run toward home at half speed"
        if not r.sensor_trusted:
            response += ", counting motor steps from the last trusted angle"
        rows.append(f"| `{r.code.value}` | {r.message} | {response} | {r.clears} |")
    return "\n".join(rows) + "\n"
