"""Clocks: the one seam for time. Real monotonic time on the table, virtual time in the simulator."""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    """What the controller needs of time: a monotonic reading and a way to wait."""

    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class MonotonicClock:
    """Real time from ``time.monotonic``; never the wall clock, which can jump."""

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class VirtualClock:
    """Simulated time that advances only when told to, so a 20-minute session runs in seconds.

    ``sleep`` advances the clock instead of waiting, which lets code written for real time
    (such as the adafruit driver's set-up delays) run unchanged and instantly.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()

    def now(self) -> float:
        return self._now

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.advance(seconds)

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"a clock cannot go backwards (advance by {seconds})")
        with self._lock:
            self._now += seconds

    def advance_to(self, t: float) -> None:
        with self._lock:
            if t < self._now:
                raise ValueError(f"a clock cannot go backwards (from {self._now} to {t})")
            self._now = float(t)
