"""Sensing within a period: a sample folded into the estimate, the power-on anchor and the
re-anchoring after a tracking trip, and the supervisor's reading (pure)."""

from __future__ import annotations

import math

from controller.core import estimator, session, supervisor
from controller.core.state import Activity
from controller.core.table_state import Settings
from controller.core.planner import Setpoint, halted
from drivers.physics import STANDARD_GRAVITY  # constants only: drivers/physics.py imports nothing

# At power-on the step count is anchored to the mean tilt, and the gyro's bias to its mean rate,
# over supervisor.ANCHOR_TIME of good samples, at least this many: one sample's noise could put
# home a fraction of a degree off.
ANCHOR_MIN_SAMPLES = 5


def anchor_samples(settings: Settings) -> int:
    """How many still samples an anchor is the mean of: ANCHOR_TIME's worth, at least a few."""
    return max(ANCHOR_MIN_SAMPLES, math.ceil(supervisor.ANCHOR_TIME / settings.period - 1e-9))


def sense(p) -> None:
    """Fold this period's sample into the estimate (or the power-on anchor), and build the reading."""
    i, now = p.inputs, p.now
    commanded_rate = i.stepped_rate  # what the motor really stepped at over the last period
    planned_rate = p.setpoint.velocity
    sample = i.sample
    if sample is None:
        p.reading = supervisor.Reading(t=now, sample_ok=False, attempts=i.attempts, failures=i.failures)
        return
    ax, ay, az = sample.accel
    gravity = math.sqrt(ax * ax + ay * ay + az * az) / STANDARD_GRAVITY
    trustworthy = supervisor.GRAVITY_MIN <= gravity <= supervisor.GRAVITY_MAX and sample.raw != p.watch.last_raw
    tilt, gyro_rate = p.mount.tilt_deg(sample.accel), p.mount.rate_dps(sample.gyro)
    if trustworthy and p.estimate is None:
        p.anchor_tilts += (tilt,)
        p.anchor_rates += (gyro_rate,)
        if len(p.anchor_tilts) >= anchor_samples(p.settings):
            # power-on: anchor the step count to the mean tilt, and the gyro's bias to its mean
            # rate (nothing moves yet), so the tracking checks are exact from the first move
            tilt = sum(p.anchor_tilts) / len(p.anchor_tilts)
            bias = sum(p.anchor_rates) / len(p.anchor_rates)
            p.estimate = estimator.start(tilt=tilt, gyro_rate=gyro_rate, gyro_bias=bias, t=sample.t)
            p.set_position(p.estimate.angle)
            p.setpoint = Setpoint(p.estimate.angle)
            if p.machine.activity is Activity.RETURNING and p.program is not None:
                # `return` was pressed before the table's angle was known: its way home (rest
                # first, or not) was planned from the step count's zero, not from the table.
                p.program = p.return_program()
                p.progress = session.start(p.now)
    elif trustworthy:  # a doubtful sample is not folded in
        p.estimate = estimator.update(
            p.estimate, tilt=tilt, gyro_rate=gyro_rate, t=sample.t, still=p.setpoint.still,
            period=p.settings.period,
        )
        if p.reanchor is not None and p.setpoint.still:
            _reanchor_from(p, tilt)
    e = p.estimate
    p.reading = supervisor.Reading(
        t=now, sample_ok=True, attempts=i.attempts, failures=i.failures, raw=sample.raw, gravity=gravity,
        angle=e.angle if e else 0.0, rate=e.rate if e else 0.0, residual=e.residual if e else 0.0,
        position=p.position if e else 0.0, commanded_rate=commanded_rate, planned_rate=planned_rate,  # no angle yet: nothing to track
    )


def _reanchor_from(p, tilt: float) -> None:
    """Fold one still sample's accelerometer tilt into a re-anchoring after a tracking trip; once
    there are enough, the step count becomes their mean (the gyro plays no part)."""
    p.reanchor = list(p.reanchor) + [tilt]
    if len(p.reanchor) >= anchor_samples(p.settings):
        angle = sum(p.reanchor) / len(p.reanchor)
        p.reanchor = None
        p.set_position(angle)
        p.setpoint = halted(angle)
