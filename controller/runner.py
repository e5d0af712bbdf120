"""The real-time shell: the control loop on its own thread at a fixed rate, watched by the dead-man."""

from __future__ import annotations

import logging
import threading
from typing import Callable

from controller.deadman import DeadMan, heartbeat_stale, install_crash_hook
from controller.loop import Controller
from controller.notify import Notifier
from controller.reasons import Trip

# A period that starts this late is skipped rather than run twice: catching up would send two
# periods of steps at once.
MAX_LATENESS_PERIODS = 1

log = logging.getLogger("inversion_table")


class RealTimeLoop:
    """Runs ``controller.tick()`` every period on a thread named ``control-loop``.

    The dead-man watches the loop's heartbeat from a thread of its own; a thread that dies of an
    exception trips (``install_crash_hook``); systemd's watchdog is fed from the loop itself, and
    only while its heartbeat is fresh, so a hung loop stops the pings and systemd restarts it.
    """

    def __init__(
        self,
        controller: Controller,
        *,
        clock,
        period: float,
        halt,
        notifier: Notifier | None = None,
        on_tick: Callable[[dict], None] | None = None,
    ) -> None:
        self.controller, self.clock, self.period = controller, clock, period
        self.on_tick = on_tick
        self.notifier = notifier or Notifier(address="")
        self.deadman = DeadMan(
            heartbeat=lambda: controller.heartbeat, halt=halt, post_trip=controller.post_trip,
            now=clock.now, period=period,
        )
        self._halt = halt
        self._stop = threading.Event()
        self._paused = threading.Event()  # tests use it to stall the loop on purpose
        self._thread: threading.Thread | None = None
        self._uninstall_hook = None
        self.overruns = 0

    def start(self) -> None:
        self._uninstall_hook = install_crash_hook(halt=self._halt, post_trip=self.controller.post_trip)
        self.controller.heartbeat = self.clock.now()
        self.deadman.start()
        self._thread = threading.Thread(target=self._run, name="control-loop", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        due = self.clock.now()
        last_ping = float("-inf")
        while not self._stop.is_set():
            if self._paused.is_set():
                self._stop.wait(self.period)
                continue
            record = self.controller.tick()
            if self.on_tick is not None:
                try:
                    self.on_tick(record)
                except Exception:  # the LED or a log line failing must not stop the loop, but must be seen
                    log.exception("after a control period")
                    self.controller.trip(Trip.INTERNAL_ERROR)
            now = self.clock.now()
            # Fed only while this period completed (fresh heartbeat) and the dead-man is watching:
            # a loop that fails every period, or runs without its dead-man, gets restarted.
            fresh = not heartbeat_stale(self.controller.heartbeat, now, self.period)
            if fresh and self.deadman.watching and now - last_ping >= self.notifier.watchdog_interval:
                self.notifier.watchdog()
                last_ping = now
            due += self.period
            late = self.clock.now() - due
            if late > MAX_LATENESS_PERIODS * self.period:
                self.overruns += 1
                log.warning("control loop overran by %.1f ms; skipping ahead", late * 1000)
                due = self.clock.now()
            self._stop.wait(max(0.0, due - self.clock.now()))

    def stall(self, stalled: bool) -> None:
        """Stop (or resume) running periods, as a hung loop would (for tests and fault drills)."""
        (self._paused.set if stalled else self._paused.clear)()

    def close(self) -> None:
        """Stop the loop, then the dead-man; the motor is left halted. Safe to call twice."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
        self.deadman.close()
        if self._uninstall_hook is not None:
            self._uninstall_hook()
            self._uninstall_hook = None
        self._halt()

    def __enter__(self) -> RealTimeLoop:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()
