"""CPU time per control tick on the simulated table, split into the code that runs on the Pi and the emulator's.

One run of the `oscillate` preset on virtual time (the default config, 50 Hz). Each ``Controller.tick``
is timed with the thread's CPU clock, and so is every call of the MPU-6050 emulator's ``i2c_rdwr``
inside it: that call is the emulated bus transaction, the only part of a tick that does not run on
the Pi (there the kernel's I2C driver and the wire take its place, about 0.39 ms of wall time for a
14-byte burst at 400 kHz, most of it waiting). So the tick's figure keeps all of the driver's own work
(the bus lock, the i2c_msg objects, the copies, the decoding) and the emulator's time is its own figure.
The pure step (``period.step``, the decisions of the period) is timed too, inside the tick: its figure
is the floor under the tick that no driver, emulator or trace work can lower.

The same run gives the angle estimate's error against the simulator's ground truth.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from controller.core import period
from controller.setup.config import Config
from controller.setup.preflight import prepare_profile
from controller.shell import simulate as sim


@dataclass
class TickCpu:
    controller: list[float] = field(default_factory=list)  # s of CPU per tick, the emulator's part taken out
    emulator: list[float] = field(default_factory=list)  # s of CPU per tick inside the emulator's i2c_rdwr
    pure_step: list[float] = field(default_factory=list)  # s of CPU per tick in period.step, the pure decisions
    transactions: int = 0  # emulated bus transactions during the ticks
    clock_read: float = 0.0  # s of CPU one read of the thread's CPU clock costs
    samples: list[dict] = field(default_factory=list)  # the trace's per-period samples
    simulated: float = 0.0  # s of virtual time the run covered
    exit_code: int = 0


def level_calibration(config: Config):
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


def _clock_read_cost() -> float:
    """What one ``thread_time_ns()`` costs: each timed emulator call adds about one to the tick's figure."""
    reads = 20000
    t0 = time.thread_time_ns()
    for _ in range(reads):
        time.thread_time_ns()
    return (time.thread_time_ns() - t0) / reads / 1e9


def measure(*, until: float | None = None, calibrated: bool = False, instrument: bool = True) -> TickCpu:
    """Run `oscillate` (to ``until`` s, or to its end) and time every tick; ``calibrated``: with `calibrate`'s level."""
    config = Config()
    program = prepare_profile("oscillate", config).program
    out = TickCpu()
    run = sim.Simulation(config, program=program, presses=[sim.Press(0.0, "start")], on_tick=out.samples.append,
                         until=until, calibration=level_calibration(config) if calibrated else None)
    if not instrument:
        result = run.run()
    else:
        step = period.step
        _instrument(run, out, step)
        try:
            result = run.run()
        finally:
            period.step = step
    out.simulated, out.exit_code = result.t, result.exit_code
    out.clock_read = _clock_read_cost()
    return out


def _instrument(run: sim.Simulation, out: TickCpu, step) -> None:
    emulator, controller = run.hw.emulator, run.controller
    # Instance attributes shadow the methods: BusioI2C calls emulator.i2c_rdwr, Table.period
    # calls controller.tick, both looked up on the instance each time.
    transfer, tick = emulator.i2c_rdwr, controller.tick
    in_emulator = [0]

    def timed_transfer(*msgs):
        t0 = time.thread_time_ns()
        try:
            return transfer(*msgs)
        finally:
            in_emulator[0] += time.thread_time_ns() - t0
            out.transactions += 1

    def timed_step(state, inputs):
        t0 = time.thread_time_ns()
        try:
            return step(state, inputs)
        finally:
            out.pure_step.append((time.thread_time_ns() - t0) / 1e9)

    def timed_tick():
        in_emulator[0] = 0
        t0 = time.thread_time_ns()
        record = tick()
        spent = time.thread_time_ns() - t0
        out.controller.append((spent - in_emulator[0]) / 1e9)
        out.emulator.append(in_emulator[0] / 1e9)
        return record

    emulator.i2c_rdwr = timed_transfer
    controller.tick = timed_tick
    # The loop calls period.step through the module (controller/shell/loop.py); measure() puts it back.
    period.step = timed_step


def _rms(values: list[float]) -> float | None:
    return math.sqrt(sum(v * v for v in values) / len(values)) if values else None


def estimate_errors(samples: list[dict]) -> tuple[float | None, float | None]:
    """RMS of (estimate - true angle), while the table moves and while it holds still."""
    moving, holding = [], []
    for a, b in zip(samples, samples[1:]):
        error = b["angle"] - b["true_angle"]
        (moving if b["true_angle"] != a["true_angle"] else holding).append(error)
    return _rms(moving), _rms(holding)


def report(out, *, quick: bool, progress) -> bool:
    """The tick's figures and the estimate's; False if a run did not end as the preset should."""
    until = 60.0 if quick else None
    progress(f"tick CPU: the oscillate preset at 50 Hz, {'60 s' if quick else 'all of it'}, every tick timed")
    timed = measure(until=until)
    ok = timed.exit_code == (sim.EXIT_NOT_HOME if quick else sim.EXIT_HOME)
    ticks = len(timed.controller)
    out.spread("tick_cpu_without_emulated_i2c", timed.controller, "us", scale=1e6, stats=("p50", "p99"))
    out.spread("emulated_i2c_cpu_per_tick", timed.emulator, "us", scale=1e6, stats=("p50", "p99"))
    # The pure decisions alone (inside the tick's figure): the part of a tick no driver, emulator or
    # trace change can make cheaper, the same work on the Pi.
    out.spread("pure_step_cpu_per_tick", timed.pure_step, "us", scale=1e6, stats=("p50", "p99"))
    out.figure("emulated_i2c_transactions_per_tick", timed.transactions / ticks if ticks else None, "transactions",
               digits=2)
    out.figure("tick_cpu_ticks_timed", ticks, "ticks")
    out.figure("thread_cpu_clock_read_cost", timed.clock_read * 1e6, "us", digits=2)
    progress("estimate error: the same preset again, with the calibration `calibrate` would measure")
    calibrated = measure(until=until, calibrated=True, instrument=False)
    for label, run in (("", timed), ("_calibrated", calibrated)):
        moving, holding = estimate_errors(run.samples)
        out.figure(f"estimate_rms_error_moving{label}", moving, "deg", digits=3, why="no period moved")
        out.figure(f"estimate_rms_error_holding{label}", holding, "deg", digits=3, why="no period held still")
    if not ok:
        out.comment(f"tick_cpu: the oscillate run ended with exit {timed.exit_code}, not as the preset should")
    return ok
