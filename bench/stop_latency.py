"""Stop latency in real time: from the stop pin's edge to the motor's last step pulse.

Real threads and the real clock: the stepper's pulse thread toggles a gpiozero mock STEP pin at
800 Hz (4 deg/s at 200 steps/deg) while a loop thread commands a move every 20 ms, and the stop
button (a gpiozero Button on a mock pin) halts the motor directly, as on the table.

Each press waits for the motor to be stepping (a busy machine can be slow to get the loop thread
round again after a release); a press for which it never starts within STEPPING_WAIT is skipped
and counted, and with no press measured the figures say "not measured".
"""

from __future__ import annotations

import random
import statistics
import threading
import time
from dataclasses import dataclass, field

from gpiozero.pins.mock import MockFactory

from controller.core.state import BUTTONS, ButtonEvent
from drivers.buttons import ButtonPanel
from drivers.stepper import Stepper, ThreadedPulseTrain

PERIOD = 0.02
STEP_PIN, DIR_PIN, ENABLE_PIN, STOP_PIN = 20, 21, 16, 17
STEPPING_WAIT = 2.0  # s after a release for the motor to be stepping again before the press is skipped
STEPPING = 0.01  # s: a rising edge on STEP this recent means the motor is stepping (pulses every 1.25 ms)


@dataclass
class Measurement:
    latencies: list[float] = field(default_factory=list)  # s, edge to the last step pulse (0: none followed)
    halts: list[float] = field(default_factory=list)  # s, edge to the halt done
    skipped: int = 0  # presses not made: the motor was not stepping within STEPPING_WAIT


def _last_rising_edge(pin) -> float | None:
    """Absolute monotonic time of the pin's last rising edge (MockPin keeps deltas)."""
    t = pin._last_change
    for state in reversed(pin.states):
        if state.state:
            return t
        t -= state.timestamp
    return None


def _stepping(step) -> bool:
    last = _last_rising_edge(step)
    return last is not None and time.monotonic() - last <= STEPPING


def _wait_until(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.0005)
    return True


def measure(presses: int = 1000, *, seed: int = 1) -> Measurement:
    """Press stop ``presses`` times while the motor steps: the latencies, in seconds."""
    rng = random.Random(seed)
    factory = MockFactory()
    motor = Stepper(step_pin=STEP_PIN, dir_pin=DIR_PIN, enable_pin=ENABLE_PIN, steps_per_degree=200, max_speed=4.0,
                    pulses=ThreadedPulseTrain, pin_factory=factory)
    events: list[ButtonEvent] = []
    halted: list[float] = []

    def halt() -> None:
        motor.halt()
        halted.append(time.monotonic())

    panel = ButtonPanel({"stop": STOP_PIN}, names=BUTTONS, post=lambda *edge: events.append(ButtonEvent(*edge)),
                        on_stop=halt, now=time.monotonic, pin_factory=factory)
    running = threading.Event()
    running.set()

    def loop() -> None:
        target = 0.0
        while running.is_set():
            target += 4.0 * PERIOD
            if motor.move_to(target, PERIOD) == 0:
                target = motor.position
            time.sleep(PERIOD)

    worker = threading.Thread(target=loop, name="loop", daemon=True)
    worker.start()
    step, stop = factory.pin(STEP_PIN), factory.pin(STOP_PIN)
    result = Measurement()
    try:
        for _ in range(presses):
            stop.drive_high()
            motor.clear_halt(motor.halt_count)
            step.clear_states()
            time.sleep(rng.uniform(0.03, 0.05))  # stepping at full speed, on a quiet machine
            if not _wait_until(lambda: _stepping(step), STEPPING_WAIT):  # a busy one: wait for it
                result.skipped += 1
                continue
            halts_before = len(halted)
            edge = time.monotonic()
            stop.drive_low()
            if not _wait_until(lambda: len(halted) > halts_before, 1.0):
                raise RuntimeError("the stop button did not halt the motor within 1 s")  # a real failure
            time.sleep(0.03)  # longer than a whole pulse train
            last = _last_rising_edge(step)
            result.latencies.append(max(0.0, last - edge) if last is not None else 0.0)
            result.halts.append(halted[halts_before] - edge)
    finally:
        running.clear()
        worker.join()
        panel.close()
        motor.close()
        factory.close()
    return result


def lines(measured: Measurement) -> list[str]:
    """The figures as `name: value unit` lines; "not measured" when no press could be made."""
    out = []
    for name, values in (("stop_to_last_pulse", measured.latencies), ("stop_to_halt", measured.halts)):
        if not values:
            out.append(f"{name}: not measured (the motor was never stepping when a press was due: a busy machine)")
            continue
        for stat, value in summary(values).items():
            out.append(f"{name}_{stat}: {value * 1000:.3f} ms")
    made = len(measured.latencies)
    skipped = (f" ({measured.skipped} skipped: the motor was not stepping within {STEPPING_WAIT:g} s)"
               if measured.skipped else "")
    out.append(f"stop_presses: {made} measured of {made + measured.skipped}{skipped}")
    return out


def summary(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "p50": statistics.median(ordered),
        "p99": ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
        "max": ordered[-1],
    }
