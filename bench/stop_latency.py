"""Stop latency in real time: from the stop pin's edge to the motor's last step pulse.

Real threads and the real clock: the stepper's pulse thread toggles a gpiozero mock STEP pin at
800 Hz (4 deg/s at 200 steps/deg) while a loop thread commands a move every 20 ms, and the stop
button (a gpiozero Button on a mock pin) halts the motor directly, as on the table.
"""

from __future__ import annotations

import random
import statistics
import threading
import time

from gpiozero.pins.mock import MockFactory

from controller.state import ButtonEvent
from drivers.buttons import ButtonPanel
from drivers.stepper import Stepper, ThreadedPulseTrain

PERIOD = 0.02
STEP_PIN, DIR_PIN, ENABLE_PIN, STOP_PIN = 20, 21, 16, 17


def _last_rising_edge(pin) -> float | None:
    """Absolute monotonic time of the pin's last rising edge (MockPin keeps deltas)."""
    t = pin._last_change
    for state in reversed(pin.states):
        if state.state:
            return t
        t -= state.timestamp
    return None


def measure(presses: int = 1000, *, seed: int = 1) -> tuple[list[float], list[float]]:
    """(edge to last step pulse, edge to halt done) in seconds; 0 when no pulse followed the edge."""
    rng = random.Random(seed)
    factory = MockFactory()
    motor = Stepper(step_pin=STEP_PIN, dir_pin=DIR_PIN, enable_pin=ENABLE_PIN, steps_per_degree=200, max_speed=4.0,
                    pulses=ThreadedPulseTrain, pin_factory=factory)
    events: list[ButtonEvent] = []
    halted: list[float] = []

    def halt() -> None:
        motor.halt()
        halted.append(time.monotonic())

    panel = ButtonPanel({"stop": STOP_PIN}, post=events.append, on_stop=halt, now=time.monotonic,
                        pin_factory=factory)
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
    latencies, halts = [], []
    try:
        for _ in range(presses):
            stop.drive_high()
            motor.clear_halt(motor.halt_count)
            step.clear_states()
            time.sleep(rng.uniform(0.03, 0.05))  # stepping at full speed
            edge = time.monotonic()
            if _last_rising_edge(step) is None or edge - _last_rising_edge(step) > 0.01:
                raise RuntimeError("the motor was not stepping when stop was pressed: the benchmark is broken")
            stop.drive_low()
            time.sleep(0.03)  # longer than a whole pulse train
            last = _last_rising_edge(step)
            latencies.append(max(0.0, last - edge) if last is not None else 0.0)
            halts.append(halted[-1] - edge)
    finally:
        running.clear()
        worker.join()
        panel.close()
        motor.close()
        factory.close()
    return latencies, halts


def summary(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "p50": statistics.median(ordered),
        "p99": ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
        "max": ordered[-1],
    }
