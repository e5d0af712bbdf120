"""Stop latency in real time: from the stop pin's edge to the motor's last step pulse, and to the halt done.

Real threads and the real clock, at the default config's rates: the stepper's pulse thread toggles a
mock STEP pin at 800 steps/s (4 deg/s at 200 steps/deg) while a loop thread commands a move every
control period (20 ms), and the stop button (a gpiozero ``DigitalInputDevice``, through
``ButtonPanel``, as on the table) halts the motor directly. The stop edge is delivered as lgpio delivers it, from a callback
thread of its own (bench/pins.py), so a pulse can go out between the edge and the halt. Three spans
from the edge (the time the pin changed): to the callback thread taking it up (the scheduler's
share), to the halt done (``motor.halt()`` returned), and to the last step pulse (0 when none
followed the edge: the halt came before the next pulse was due).

Each press waits for the motor to be stepping (a busy machine can be slow to get the loop thread round
again after a release); a press for which it never starts within STEPPING_WAIT is skipped and counted,
and with no press measured the figures say "not measured". A halt that never comes is counted too.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field

from controller.core.state import BUTTONS, ButtonEvent
from controller.setup.config import Config
from drivers.buttons import ButtonPanel
from drivers.stepper import Stepper, ThreadedPulseTrain
from pins import BenchFactory, last_rising_edge, stepping

STEP_PIN, DIR_PIN, ENABLE_PIN, STOP_PIN = 20, 21, 16, 17
STEPPING_WAIT = 2.0  # s after a release for the motor to be stepping again before the press is skipped
HALT_WAIT = 5.0  # s for the halt after an edge; one that takes longer is counted as missing, not waited for
SETTLE = 0.005  # s after the halt before the last pulse is read: a pulse after the halt would show


@dataclass
class Measurement:
    latencies: list[float] = field(default_factory=list)  # s, edge to the last step pulse (0: none followed)
    halts: list[float] = field(default_factory=list)  # s, edge to the halt done
    deliveries: list[float] = field(default_factory=list)  # s, edge to the callback thread taking it up
    skipped: int = 0  # presses not made: the motor was not stepping within STEPPING_WAIT
    missing_halts: int = 0  # presses whose halt did not come within HALT_WAIT
    step_rate: float = 0.0  # steps/s the motor was commanded to
    period: float = 0.0  # s between the loop's moves

    @property
    def pulses_after_edge(self) -> int:
        """Presses where at least one step pulse went out after the edge."""
        return sum(1 for latency in self.latencies if latency > 0)


def _wait_until(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.0005)
    return True


def measure(*, presses: int = 1000, seed: int = 1, progress=None) -> Measurement:
    """Press stop ``presses`` times while the motor steps: the latencies, in seconds."""
    config = Config()
    period, speed = config.period, config.limits.max_speed
    rng = random.Random(seed)
    factory = BenchFactory()
    motor = Stepper(step_pin=STEP_PIN, dir_pin=DIR_PIN, enable_pin=ENABLE_PIN, steps_per_degree=config.steps_per_degree,
                    max_speed=speed, pulses=ThreadedPulseTrain, pin_factory=factory)
    result = Measurement(step_rate=speed * config.steps_per_degree, period=period)
    halted: list[float] = []

    def halt() -> None:
        motor.halt()
        halted.append(time.monotonic())

    panel = ButtonPanel({"stop": STOP_PIN}, names=BUTTONS, post=lambda *edge: ButtonEvent(*edge),
                        on_stop=halt, now=time.monotonic, pin_factory=factory)
    running = threading.Event()
    running.set()

    def loop() -> None:  # the control loop's part: a move at full speed every period
        target = 0.0
        while running.is_set():
            target += speed * period
            if motor.move_to(target, period) == 0:
                target = motor.position
            time.sleep(period)

    worker = threading.Thread(target=loop, name="loop", daemon=True)
    worker.start()
    step, stop = factory.pin(STEP_PIN), factory.pin(STOP_PIN)
    try:
        for done in range(presses):
            if progress is not None and done and done % 250 == 0:
                progress(f"  {done} of {presses} presses")
            stop.drive_high()
            motor.clear_halt(motor.halt_count)
            step.clear_states()
            time.sleep(rng.uniform(0.03, 0.05))  # stepping at full speed, on a quiet machine
            if not _wait_until(lambda: stepping(step, 2 / result.step_rate + 0.005), STEPPING_WAIT):
                result.skipped += 1  # a busy machine: not measured, rather than a press on a still motor
                continue
            halts_before = len(halted)
            stop.drive_low()
            edge = stop._last_change  # when the pin changed: the edge, as lgpio's tick would stamp it
            if not _wait_until(lambda: len(halted) > halts_before, HALT_WAIT):
                result.missing_halts += 1
                continue
            time.sleep(SETTLE)
            last = last_rising_edge(step)
            result.latencies.append(max(0.0, last - edge) if last is not None else 0.0)
            result.halts.append(halted[halts_before] - edge)
            result.deliveries.append(stop.delivered - edge)
    finally:
        running.clear()
        worker.join()
        panel.close()
        motor.close()
        factory.close()
    return result


def report(out, measured: Measurement | None, *, suffix: str = "", why: str = "") -> None:
    """The figures; ``measured`` None (a case not run, for the reason ``why``) or with no press made: `not measured`."""
    if measured is None:
        out.comment(f"stop_*{suffix}: not measured: {why}")
        measured = Measurement()
        counts = None
    else:
        counts = measured
    if measured.missing_halts:
        none = f"{measured.missing_halts} presses did not halt within {HALT_WAIT:g} s"
    else:
        none = "" if counts is None else "the motor was never stepping when a press was due (a busy machine)"
    for name, values in (("stop_to_last_pulse", measured.latencies), ("stop_to_halt", measured.halts),
                         ("stop_edge_to_callback", measured.deliveries)):
        out.spread(f"{name}{suffix}", values, "ms", scale=1e3, digits=3, why=none)
        none = ""  # said once
    for name, value in (("stop_presses_measured", len(measured.latencies)),
                        ("stop_presses_with_a_pulse_after_the_edge", measured.pulses_after_edge),
                        ("stop_presses_skipped_motor_not_stepping", measured.skipped),
                        ("stop_presses_not_halted", measured.missing_halts)):
        out.figure(f"{name}{suffix}", value if counts is not None else None, "presses")
