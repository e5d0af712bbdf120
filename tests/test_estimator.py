"""The angle estimator: converges on the tilt, integrates the gyro, learns its bias (pure)."""

from __future__ import annotations

import random

import pytest

import statistics

from controller.core.estimator import MAX_GAP, update


def test_first_sample_starts_from_the_tilt():
    est = update(None, tilt=12.5, gyro_rate=0.3, t=0.0, still=True, period=0.02)
    assert est.angle == 12.5 and est.gyro_bias == 0.0


def test_a_ramp_is_followed_closely_with_noisy_tilt_and_a_biased_gyro():
    rng = random.Random(1)
    est, bias, errors = None, 0.3, []
    for k in range(3000):  # 10 s still (the bias is learned), then a 4 deg/s ramp
        t = k * 0.02
        moving = t >= 10
        truth = -40 + (4 * (t - 10) if moving else 0)
        est = update(est, tilt=truth + rng.gauss(0, 1.0), gyro_rate=(4 if moving else 0) + bias + rng.gauss(0, 0.05),
                     t=t, still=not moving, period=0.02)
        if t > 12:
            errors.append(est.angle - truth)
    assert est.gyro_bias == pytest.approx(bias, abs=0.05)
    assert max(abs(e) for e in errors) < 0.5  # a plain tilt reading would be off by 3 deg at times


def test_a_gap_restarts_from_the_tilt_but_keeps_the_bias():
    est = update(None, tilt=0.0, gyro_rate=0.2, t=0.0, still=True, period=0.02)
    for k in range(1, 500):
        est = update(est, tilt=0.0, gyro_rate=0.2, t=k * 0.02, still=True, period=0.02)
    learned = est.gyro_bias
    later = update(est, tilt=30.0, gyro_rate=0.2, t=est.t + MAX_GAP + 0.1, still=True, period=0.02)
    assert later.angle == 30.0 and later.gyro_bias == learned > 0.1


def test_time_going_backwards_restarts_rather_than_integrating_garbage():
    est = update(None, tilt=5.0, gyro_rate=0.0, t=10.0, still=True, period=0.02)
    again = update(est, tilt=7.0, gyro_rate=100.0, t=9.0, still=False, period=0.02)
    assert again.angle == 7.0


def _moving_error_sd(rate_hz: int, seconds: float = 400.0) -> float:
    """The estimate's error (sd) on a long 2 deg/s ramp with step vibration on the tilt."""
    rng, period, est, errors = random.Random(7), 1.0 / rate_hz, None, []
    for k in range(int(seconds * rate_hz)):
        t = k * period
        truth = 2.0 * t
        est = update(est, tilt=truth + rng.gauss(0, 1.15), gyro_rate=2.0 + rng.gauss(0, 0.04), t=t, still=False,
                     period=period)
        if t > 10:
            errors.append(est.angle - truth)
    return statistics.pstdev(errors)


def test_a_coarse_loop_keeps_the_noise_of_a_fine_one():
    """The accelerometer is averaged over as many samples at 20 Hz as at 50 Hz: the vibration noise
    left in the estimate must not grow as the loop slows (at 20 Hz it grew by 1.6x, enough for a
    healthy table arriving home to trip under-angle)."""
    fine, coarse = _moving_error_sd(50), _moving_error_sd(20)
    assert coarse <= 1.1 * fine, f"sd {coarse:.3f} deg at 20 Hz, {fine:.3f} deg at 50 Hz"
