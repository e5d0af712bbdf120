"""The simulated table: true angle from the step pulses the motor driver receives, with faults."""

from __future__ import annotations

import math
from dataclasses import dataclass

from gpiozero import DigitalOutputDevice

from drivers.clock import Clock
from drivers.sim.mpu6050 import Motion

# The frame's mechanical ends: a real table cannot turn past these.
FRAME_MIN = -90.0
FRAME_MAX = 90.0
SLIP_RATE = 1.5  # deg/s the table slides head-down while the drive slips (gravity wins)
# Trains follow each other back to back; a sample this close after one ends still feels its motion
# (float rounding of tick times must not make a moving table look still for an instant).
TRAIN_JOIN = 1e-6  # s


@dataclass
class _Train:
    start: float
    duration: float
    steps: float  # signed; fractional once a train is split at a commit


class SimTable:
    """Integrates step pulse trains through the gear ratio into the table's true angle.

    It only moves while the driver's ENABLE line is active, and takes the direction from the DIR
    pin's level. Faults: ``stall`` (pulses arrive but the
    table does not move) and ``slip`` (the table slides head-down whatever the motor does).
    """

    def __init__(self, *, clock: Clock, steps_per_degree: float, angle: float, enabled=lambda: True) -> None:
        self._clock = clock
        self.steps_per_degree = steps_per_degree
        self._base = angle  # angle at the start of the current train
        self._base_t = clock.now()
        self._train: _Train | None = None
        self._enabled = enabled  # reads the driver's ENABLE line, as the real driver chip does
        self.stalled = False
        self.slipping = False

    # -- ground truth --------------------------------------------------------------------------
    def angle(self, t: float | None = None) -> float:
        return self.motion(t).angle_deg

    def rate(self, t: float | None = None) -> float:
        return self.motion(t).rate_dps

    def stepping(self, t: float | None = None) -> bool:
        return self.motion(t).stepping

    def motion(self, t: float | None = None) -> Motion:
        """The truth at ``t`` (default: now), as the IMU emulator feels it: the angle, the rate and
        whether pulses are arriving, worked out together (ENABLE is read once)."""
        t = self._clock.now() if t is None else t
        tr = self._train
        angle, rate, stepping = self._base, 0.0, False
        if tr is not None:
            stepping = tr.start <= t <= tr.start + tr.duration + TRAIN_JOIN
            if not self.stalled and self._enabled():  # a stalled or disabled drive turns nothing
                if t > tr.start:
                    angle += tr.steps * min(1.0, (t - tr.start) / tr.duration) / self.steps_per_degree
                if stepping:
                    rate = tr.steps / tr.duration / self.steps_per_degree
        if self.slipping:
            angle += SLIP_RATE * (t - self._base_t)
            rate = SLIP_RATE + rate
        return Motion(min(FRAME_MAX, max(FRAME_MIN, angle)), rate, stepping)

    # -- the driver's side ---------------------------------------------------------------------
    def pulses(self, steps: int, duration: float) -> None:
        """A new train of pulses starts now; what is left of the previous one is sent with it."""
        self._commit(self._clock.now())
        left = self._train.steps if self._train is not None else 0.0
        self._train = _Train(self._clock.now(), duration, steps + left)

    def cancel(self) -> int:
        """Pulses stop now; returns how many of the current train were not sent."""
        now = self._clock.now()
        tr = self._train
        unsent = 0
        if tr is not None:
            total = round(abs(tr.steps))
            sent = math.floor(total * min(1.0, (now - tr.start) / tr.duration))
            unsent = total - sent
            self._train = _Train(tr.start, tr.duration, sent if tr.steps > 0 else -sent)
            self._train.duration = max(now - tr.start, 1e-12)
        self._commit(now)
        return unsent

    def set_fault(self, kind: str, active: bool) -> None:
        if kind == "stall":
            self._commit(self._clock.now())
            self.stalled = active
        elif kind == "slip":
            self._commit(self._clock.now())
            self.slipping = active
        else:
            raise ValueError(f"unknown table fault {kind!r}")

    def _commit(self, t: float) -> None:
        """Fold the elapsed part of the current train (and any slip) into the base angle."""
        new_base = self.angle(t)
        tr = self._train
        if tr is not None:
            done = tr.steps * min(1.0, max(0.0, t - tr.start) / tr.duration)
            remaining = tr.steps - done
            rest = tr.start + tr.duration - t
            self._train = _Train(t, rest, remaining) if rest > 1e-12 and abs(remaining) > 1e-9 else None
        self._base, self._base_t = new_base, t


class SimPulseTrain:
    """The simulator's pulse train: counts pulses into the table instead of toggling STEP."""

    def __init__(self, step: DigitalOutputDevice, direction: DigitalOutputDevice, *, table: SimTable,
                 wired_reversed: bool = False) -> None:
        self._dir = direction
        self._table = table
        self._reversed = wired_reversed  # a motor whose coils are swapped turns the other way
        self._head_down: bool | None = None  # what this train last wrote to DIR (None: nothing yet)

    def emit(self, steps: int, duration: float) -> None:
        head_down = steps > 0
        if head_down is not self._head_down:  # set the real (mock) DIR pin when the direction changes, ...
            self._dir.value = self._head_down = head_down
        # ... then read its level as the driver chip does
        sign = 1 if bool(self._dir.pin.state) != self._reversed else -1  # DIR high: head-down, unless reversed
        self._table.pulses(sign * abs(steps), duration)

    def cancel(self) -> int:
        return self._table.cancel()

    def close(self) -> None:
        pass
