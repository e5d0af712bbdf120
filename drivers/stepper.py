"""Stepper motor on STEP / DIR / ENABLE lines through gpiozero; counts steps, halts holding torque."""

from __future__ import annotations

import math
import threading
import time
from typing import Callable, Protocol

from gpiozero import DigitalOutputDevice

# A move may ask for at most this much more than the configured top speed before it is clamped:
# the planner never asks for more, so a clamp means a bug, and the motor must not follow it.
STEP_RATE_MARGIN = 1.05


class PulseTrain(Protocol):
    """What sends step pulses: a thread toggling STEP on the Pi, a step counter in the simulator."""

    def emit(self, steps: int, duration: float) -> None:
        """Send |steps| pulses evenly over ``duration`` seconds, from now; the sign sets DIR."""

    def cancel(self) -> int:
        """Stop at once; return how many pulses of the current train were not sent."""

    def close(self) -> None: ...


PulseTrainFactory = Callable[[DigitalOutputDevice, DigitalOutputDevice], PulseTrain]


class Stepper:
    """A stepper driver (DRV8825, A4988, TMC in step/dir mode) that moves the table in whole steps.

    The position is kept in steps and reported in degrees. ``halt()`` stops pulses at once, may be
    called from any thread (the stop button calls it directly), and latches: no move is accepted
    until the control loop calls ``clear_halt`` with a token read before it saw the halt's cause.
    ENABLE stays on through a halt, so the motor keeps holding torque and the table cannot swing.
    """

    def __init__(
        self,
        *,
        step_pin: int | str,
        dir_pin: int | str,
        enable_pin: int | str,
        steps_per_degree: float,
        max_speed: float,
        pulses: PulseTrainFactory,
        pin_factory=None,
        enable_active_low: bool = True,
        dir_inverted: bool = False,
        position: float = 0.0,
    ) -> None:
        if steps_per_degree <= 0 or max_speed <= 0:
            raise ValueError("steps_per_degree and max_speed must be positive")
        self._step = DigitalOutputDevice(step_pin, pin_factory=pin_factory)
        # DIR high turns the table head-down, unless the motor is wired the other way round.
        self._dir = DigitalOutputDevice(dir_pin, active_high=not dir_inverted, pin_factory=pin_factory)
        # ENABLE is active low on common drivers; it starts disabled, and a hardware pull must
        # hold it disabled while the Pi boots or after the process exits (the pins then float).
        self._enable = DigitalOutputDevice(
            enable_pin, active_high=not enable_active_low, initial_value=False, pin_factory=pin_factory
        )
        self._pulses = pulses(self._step, self._dir)
        self.steps_per_degree = float(steps_per_degree)
        self._max_step_rate = max_speed * STEP_RATE_MARGIN * self.steps_per_degree
        self._lock = threading.Lock()
        self._steps = 0
        self._offset = float(position)  # degrees at step 0
        self._halted = False
        self._energized = False  # ENABLE written on: once, not at every move (a pin write is an I/O call)
        self._halt_count = 0
        self.clamped_moves = 0
        self._closed = False

    # -- position ------------------------------------------------------------------------------
    @property
    def position(self) -> float:
        """Degrees, counted from the steps sent since the last ``set_position``."""
        return self._offset + self._steps / self.steps_per_degree

    @property
    def steps(self) -> int:
        return self._steps

    def set_position(self, degrees: float) -> None:
        """Declare where the table is (from a trusted angle estimate), without moving it."""
        with self._lock:
            self._offset = degrees - self._steps / self.steps_per_degree

    # -- motion --------------------------------------------------------------------------------
    @property
    def enabled(self) -> bool:
        return bool(self._enable.value)

    @property
    def halted(self) -> bool:
        return self._halted

    @property
    def halt_count(self) -> int:
        """A token for ``clear_halt``: it changes with every halt."""
        return self._halt_count

    def move_to(self, degrees: float, duration: float) -> int:
        """Step toward ``degrees`` over ``duration`` seconds; returns the signed steps sent."""
        if duration <= 0:
            raise ValueError("a move needs a positive duration")
        with self._lock:
            if self._halted or self._closed:
                return 0
            wanted = round((degrees - self._offset) * self.steps_per_degree) - self._steps
            # One step more than the rate allows: the planner's positions are rounded to whole
            # steps, so a period at full speed may need ceil(rate x duration) of them.
            limit = math.floor(self._max_step_rate * duration) + 1
            if abs(wanted) > limit:
                self.clamped_moves += 1
                wanted = limit if wanted > 0 else -limit
            if wanted == 0:
                return 0
            if not self._energized:  # ENABLE goes on at the first move and stays on until close()
                self._enable.on()
                self._energized = True
            self._steps += wanted
            self._pulses.emit(wanted, duration)
            return wanted

    def halt(self) -> None:
        """Stop pulses at once and latch; ENABLE stays on (holding torque). Safe from any thread."""
        with self._lock:
            self._halt_count += 1
            self._halted = True
            if self._closed:
                return
            unsent = self._pulses.cancel()
            if unsent:
                self._steps -= unsent if self._dir.value else -unsent

    def clear_halt(self, token: int) -> bool:
        """Accept moves again, unless a halt came after ``token`` was read."""
        with self._lock:
            if token != self._halt_count:
                return False
            self._halted = False
            return True

    def close(self) -> None:
        """Stop pulses and release the driver (ENABLE off). Safe to call twice."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._pulses.cancel()
            self._pulses.close()
            for device in (self._enable, self._step, self._dir):
                device.close()

    def __enter__(self) -> Stepper:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class ThreadedPulseTrain:
    """Toggles STEP from a worker thread: good to about 1-2 kHz with gpiozero's lgpio pins.

    The control loop sends one train per period, sized to end with the period; a train that is
    still running when the next arrives has its unsent pulses added to the next (the stepper has
    counted them). ``cancel`` wakes the thread at once.
    """

    def __init__(self, step: DigitalOutputDevice, direction: DigitalOutputDevice, *, now=None, start_thread: bool = True) -> None:
        self._step, self._dir = step, direction
        self._now = now or time.monotonic
        self._cond = threading.Condition()
        self._train: tuple[int, float, float] | None = None  # (steps, start, interval)
        self._sent = 0
        self._closed = False
        self._abort = False
        self._thread = None
        if start_thread:
            self._thread = threading.Thread(target=self._run, name="step-pulses", daemon=True)
            self._thread.start()

    def emit(self, steps: int, duration: float) -> None:
        with self._cond:
            if self._train is not None:  # a late train's unsent pulses are counted: send them too
                left = self._train[0] - self._sent
                steps += left if self._dir.value else -left
            self._train = None
            if steps:
                self._dir.value = steps > 0  # DIR is set before the first STEP edge of the train
                self._train = (abs(steps), self._now(), duration / abs(steps))
            self._sent = 0
            self._cond.notify_all()

    def cancel(self) -> int:
        # Ask a burst in progress to let go first: a thread that fell behind sends its overdue
        # pulses back to back while holding the lock, and a halt must not wait for all of them.
        self._abort = True
        with self._cond:
            unsent = 0 if self._train is None else self._train[0] - self._sent
            self._train = None
            self._abort = False
            self._cond.notify_all()
            return unsent

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._train = None
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=1.0)

    def send_due(self) -> float | None:
        """Send every pulse that is due; return seconds until the next (None: no train)."""
        with self._cond:
            while self._train is not None:
                steps, start, interval = self._train
                if self._sent >= steps:
                    self._train = None
                    break
                delay = start + self._sent * interval - self._now()
                if delay > 0:
                    return delay
                if self._abort:  # a cancel is waiting for the lock: give it up between pulses
                    return None
                self._step.on()
                self._step.off()
                self._sent += 1
            return None

    def _run(self) -> None:
        with self._cond:
            while not self._closed:
                self._cond.wait(self.send_due())
