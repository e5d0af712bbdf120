"""Every trip reason as one table of data: code, what the table does, what the user is told, what clears it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Response(str, Enum):
    HALT_AND_HOLD = "halt and hold"  # motor stops at once, holding torque; return is hold-to-run


@dataclass(frozen=True, slots=True)
class TripReason:
    code: str  # as written to the trace and the log
    message: str  # what the user is told
    response: Response
    clears: str  # what must be true before reset clears it


REASONS: dict[str, TripReason] = {
    r.code: r
    for r in (
        TripReason(
            "over-angle",
            "the table went past the maximum head-down angle",
            Response.HALT_AND_HOLD,
            "the angle is back within limits.max_angle",
        ),
        TripReason(
            "under-angle",
            "the table went past the home (upright) end of its travel",
            Response.HALT_AND_HOLD,
            "the angle is back within table.home_angle",
        ),
        TripReason(
            "imu-lost",
            "the angle sensor stopped answering (I2C errors beyond the retry budget)",
            Response.HALT_AND_HOLD,
            "the sensor answers again",
        ),
        TripReason(
            "internal-error",
            "the controller hit an unexpected error; the log has the details",
            Response.HALT_AND_HOLD,
            "reset (the error is logged; report it)",
        ),
    )
}


def describe(code: str) -> str:
    reason = REASONS.get(code)
    return f"{code}: {reason.message}" if reason else code
