"""Benchmarks of the controller on the simulated table; prints one `name: value unit` per line.

    python bench/run.py

Figures: simulated seconds per wall second for the `oscillate` preset; the controller's CPU time
per control tick with the I2C transfer excluded (median); the RMS error of the angle estimate
against the simulator's ground truth, while moving and while holding, without and with the
calibration `calibrate` would measure on the simulated sensor; and the stop latency in
real time (real threads and clock, gpiozero mock pins) over 1000 presses (STOP_PRESSES to change).
"""

from __future__ import annotations

import math
import os
import platform
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from controller.shell import simulate as sim  # noqa: E402
from controller.setup.config import Config  # noqa: E402
from controller.setup.preflight import prepare_profile  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stop_latency  # noqa: E402


def _level_calibration(config: Config):
    """What `calibrate`'s level step measures on the simulated sensor (the same chip, level, still)."""
    from controller.setup import calibration as cal
    from drivers.clock import VirtualClock
    from drivers.i2c import BusioI2C
    from drivers.imu import Mount, Mpu6050Imu
    from drivers.sim.mpu6050 import Motion, Mpu6050Emulator

    clock = VirtualClock()
    imu = Mpu6050Imu(BusioI2C(Mpu6050Emulator(motion=lambda: Motion(0.0, 0.0, False), seed=7)), clock=clock)
    samples = []
    for _ in range(100):  # 2 s at 50 Hz, as calibrate takes
        clock.advance(config.period)
        samples.append(imu.read())
    level = cal.measure_level(samples, Mount())
    return cal.Calibration(forward="+x", normal="+z", zero_offset=level.zero_offset, gyro_bias=level.gyro_bias,
                           tilt_checked=10.0, steps_per_degree=config.steps_per_degree, created="bench")


def _oscillate_run(*, instrument: bool, calibrated: bool = False):
    config = Config()
    program = prepare_profile("oscillate", config).program
    samples: list[dict] = []
    run = sim.Simulation(config, program=program, presses=[sim.Press(0.0, "start")], on_tick=samples.append,
                         calibration=_level_calibration(config) if calibrated else None)
    tick_cpu: list[int] = []
    if instrument:
        imu, controller = run.hw.imu, run.controller
        read, tick = imu.read, controller.tick
        in_read = [0]

        def timed_read():
            t0 = time.thread_time_ns()
            try:
                return read()
            finally:
                in_read[0] += time.thread_time_ns() - t0

        def timed_tick():
            in_read[0] = 0
            t0 = time.thread_time_ns()
            record = tick()
            tick_cpu.append(time.thread_time_ns() - t0 - in_read[0])
            return record

        imu.read = timed_read
        controller.tick = timed_tick
    wall = time.perf_counter()
    result = run.run()
    wall = time.perf_counter() - wall
    return result, samples, wall, tick_cpu


def _rms(values) -> float:
    values = list(values)
    return math.sqrt(sum(v * v for v in values) / len(values)) if values else float("nan")


def _print_errors(label: str, samples: list[dict]) -> None:
    moving, holding = [], []
    for a, b in zip(samples, samples[1:]):
        error = b["angle"] - b["true_angle"]
        (moving if b["true_angle"] != a["true_angle"] else holding).append(error)
    print(f"estimate_rms_error_moving{label}: {_rms(moving):.3f} deg")
    print(f"estimate_rms_error_holding{label}: {_rms(holding):.3f} deg")


def main() -> None:
    result, samples, wall, _ = _oscillate_run(instrument=False)
    assert result.exit_code == 0, result
    print(f"# machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"oscillate_simulated_per_wall: {result.t / wall:.0f} s/s")
    print(f"oscillate_wall_time: {wall:.2f} s")
    _, _, _, tick_cpu = _oscillate_run(instrument=True)
    print(f"tick_cpu_median_excluding_i2c: {statistics.median(tick_cpu) / 1000:.1f} µs")
    _print_errors("", samples)
    _, calibrated_samples, _, _ = _oscillate_run(instrument=False, calibrated=True)
    _print_errors("_calibrated", calibrated_samples)
    presses = int(os.environ.get("STOP_PRESSES", "1000"))
    for line in stop_latency.lines(stop_latency.measure(presses)):
        print(line)


if __name__ == "__main__":
    main()
