"""Angle estimate from accelerometer tilt and gyro rate: a complementary filter (pure)."""

from __future__ import annotations

from typing import NamedTuple

# The accelerometer is trusted over this time scale, the gyro below it. One second averages away
# the step vibration (about 1 deg of tilt noise per sample) while a 0.3 deg/s gyro bias, once
# learned, costs nothing.
TIME_CONSTANT = 1.0  # s
# ... and over at least this many samples: the vibration noise left in the estimate shrinks with the
# number of samples averaged, not with seconds, so a coarse loop (20 Hz) averages over a longer time
# (2.5 s) to keep the same noise as 50 Hz (a 20 Hz table arriving home at speed otherwise saw its
# estimate 0.5 deg below the truth, past the limit margin, and tripped under-angle with no fault).
MIN_SAMPLES_AVERAGED = 50
# Gyro bias is learned only while the motor is commanded still, over this time scale.
BIAS_TIME_CONSTANT = 5.0  # s
# Only a small, slow difference is gyro bias: a jump bigger than this is a fault, not learned.
BIAS_MAX_STEP = 1.0  # deg/s
# The accelerometer's disagreement with the gyro-propagated angle, averaged over this time scale:
# the supervisor trips when it grows (one sensor is lying).
RESIDUAL_TIME_CONSTANT = 0.5  # s
# A gap longer than this between samples (the IMU was lost) restarts the filter from the tilt.
MAX_GAP = 0.5  # s


class Estimate(NamedTuple):
    angle: float  # deg, head-down positive
    rate: float  # deg/s, bias-corrected gyro
    gyro_bias: float  # deg/s
    t: float  # time of the sample it came from
    residual: float = 0.0  # deg, accelerometer tilt minus the gyro-propagated angle, low-passed


def start(*, tilt: float, gyro_rate: float, gyro_bias: float, t: float) -> Estimate:
    """The first estimate, with a gyro bias measured while the table stood still."""
    return Estimate(angle=tilt, rate=gyro_rate - gyro_bias, gyro_bias=gyro_bias, t=t)


def time_constant(period: float) -> float:
    """The accelerometer's time scale for a loop of this period (s)."""
    return max(TIME_CONSTANT, MIN_SAMPLES_AVERAGED * period)


def update(previous: Estimate | None, *, tilt: float, gyro_rate: float, t: float, still: bool,
           period: float) -> Estimate:
    """Fold one sample into the estimate.

    ``tilt`` is the accelerometer's angle, ``gyro_rate`` the raw rate about the tilt axis,
    ``still`` says that no motion is commanded (so the gyro should read zero) and ``period`` is
    the loop's nominal period (a late sample does not change the filter's time scale).
    """
    if previous is None or not (0.0 <= t - previous.t <= MAX_GAP):
        bias = previous.gyro_bias if previous is not None else 0.0
        return Estimate(angle=tilt, rate=gyro_rate - bias, gyro_bias=bias, t=t)
    dt = t - previous.t
    bias = previous.gyro_bias
    if still and abs(gyro_rate - bias) < BIAS_MAX_STEP:
        bias += (gyro_rate - bias) * min(1.0, dt / BIAS_TIME_CONSTANT)
    rate = gyro_rate - bias
    predicted = previous.angle + rate * dt
    tau = time_constant(period)
    alpha = tau / (tau + dt)
    angle = alpha * predicted + (1.0 - alpha) * tilt
    beta = dt / (RESIDUAL_TIME_CONSTANT + dt)
    residual = (1.0 - beta) * previous.residual + beta * (tilt - predicted)
    return Estimate(angle=angle, rate=rate, gyro_bias=bias, t=t, residual=residual)
