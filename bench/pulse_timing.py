"""Step-pulse timing of the real pulse thread on the real clock, at the highest step rate a config may ask for.

``ThreadedPulseTrain`` (drivers/stepper.py) plans each train as pulse k at start + k x interval and
sends each pulse when it is due. Here a loop thread sends one train per control period (20 ms, the
default rate) at MAX_STEP_RATE (controller/setup/config.py: the most steps/s any accepted config needs
at its max_speed), as the control loop does at full speed, and every rising edge of the mock STEP pin
is compared with its planned time. The pulse thread never sends early, so the deviation is lateness.
"""

from __future__ import annotations

import bisect
import threading
import time
from dataclasses import dataclass, field

from controller.setup.config import MAX_STEP_RATE, Config
from drivers.stepper import ThreadedPulseTrain
from gpiozero import DigitalOutputDevice
from pins import BenchFactory

STEP_PIN, DIR_PIN = 20, 21


class _PlannedPulseTrain(ThreadedPulseTrain):
    """The real pulse train, keeping each train's plan (start, interval) as ``emit`` made it."""

    def __init__(self, *args, **kwargs) -> None:
        self.plans: list[tuple[float, float]] = []
        super().__init__(*args, **kwargs)

    def emit(self, steps: int, duration: float) -> None:
        with self._cond:  # the same (reentrant) lock emit takes: no pulse goes out between the two
            super().emit(steps, duration)
            if self._train is not None:
                _, start, interval = self._train
                self.plans.append((start, interval))


@dataclass
class PulseTiming:
    lateness: list[float] = field(default_factory=list)  # s, each pulse's time minus its planned time
    rate: float = 0.0  # steps/s
    period: float = 0.0  # s per train


def lateness(edges: list[float], plans: list[tuple[float, float]]) -> list[float]:
    """Each edge against its train's plan: the k-th edge after a train's start is due at start + k x interval."""
    starts = [start for start, _ in plans]
    out, current, k = [], -1, 0
    for edge in edges:
        train = bisect.bisect_right(starts, edge) - 1
        if train < 0:
            continue  # before the first train: not a planned pulse
        if train != current:
            current, k = train, 0
        start, interval = plans[train]
        out.append(edge - (start + k * interval))
        k += 1
    return out


def measure(*, seconds: float = 5.0, rate: float = MAX_STEP_RATE) -> PulseTiming:
    """Send pulses at ``rate`` steps/s for ``seconds`` and time them against the plan."""
    period = Config().period
    steps = round(rate * period)
    factory = BenchFactory()
    step = DigitalOutputDevice(STEP_PIN, pin_factory=factory)
    direction = DigitalOutputDevice(DIR_PIN, pin_factory=factory)
    train = _PlannedPulseTrain(step, direction)
    pin = factory.pin(STEP_PIN)
    pin.clear_states()
    try:
        worker = threading.Thread(target=_loop, args=(train, steps, period, seconds), name="loop", daemon=True)
        worker.start()
        worker.join()
        time.sleep(period)  # the last train's pulses go out
        edges = list(pin.rising)
    finally:
        train.close()
        step.close()
        direction.close()
        factory.close()
    return PulseTiming(lateness(edges, train.plans), rate=steps / period, period=period)


def _loop(train: _PlannedPulseTrain, steps: int, period: float, seconds: float) -> None:
    """A train every period on an absolute schedule, as the real-time loop runs its periods."""
    start = time.monotonic()
    for n in range(round(seconds / period)):
        delay = start + n * period - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        train.emit(steps, period)


def report(out, measured: PulseTiming | None, *, suffix: str = "", why: str = "") -> None:
    """The figures; ``measured`` None: a case not run, for the reason ``why``."""
    if measured is None:
        out.comment(f"step_pulse*{suffix}: not measured: {why}")
    lateness = measured.lateness if measured else None
    out.figure(f"step_pulse_rate{suffix}", measured.rate if measured else None, "steps/s", digits=0)
    out.spread(f"step_pulse_lateness{suffix}", lateness, "us", scale=1e6,
               why="" if measured is None else "no pulse went out")
    out.figure(f"step_pulses_timed{suffix}", len(lateness) if lateness is not None else None, "pulses")
