"""The real-time shell: the control loop on its own thread at a fixed rate, watched by the dead-man."""

from __future__ import annotations

import logging
import threading

from controller.shell import realtime
from controller.shell.deadman import heartbeat_stale
from controller.shell.notify import Notifier
from controller.core.reasons import Trip
from controller.shell.table import Table

# A period that starts this late is skipped rather than run twice: catching up would send two
# periods of steps at once.
MAX_LATENESS_PERIODS = 1

log = logging.getLogger("inversion_table")


class RealTimeLoop:
    """Runs ``table.period()`` every period on a thread named ``control-loop``.

    The table's dead-man watches the loop's heartbeat from a thread of its own; a thread that dies
    of an exception trips (the table's crash hook); systemd's watchdog is fed from the loop itself,
    and only while its heartbeat is fresh, so a hung loop stops the pings and systemd restarts it.
    """

    def __init__(self, table: Table, *, notifier: Notifier | None = None) -> None:
        self.table, self.controller = table, table.controller
        self.clock, self.period = table.hw.clock, table.settings.period
        self.notifier = notifier or Notifier(address="")
        self.deadman = table.deadman
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.overruns = 0

    def start(self) -> None:
        # Settled here, not by each caller: any process that runs a loop (the service, a test's
        # worker with a heap of 200,000 objects and full collections of 200-650 ms) would
        # otherwise hold the GIL that long in a collection, on whichever thread allocates.
        realtime.settle_heap()
        self.controller.heartbeat = self.controller.alive = self.clock.now()
        self.deadman.start()
        self._thread = threading.Thread(target=self._run, name="control-loop", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        realtime.request(realtime.LOOP_PRIORITY, "control loop")
        due = self.clock.now()
        last_ping = float("-inf")
        while not self._stop.is_set():
            if self.table.loop_stalled:  # a hung loop, on purpose (tests and fault drills)
                self._stop.wait(self.period)
                continue
            try:
                self.table.period()
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
        self.table.loop_stalled = stalled

    def close(self) -> None:
        """Stop the loop, then the dead-man; the motor is left halted. Safe to call twice."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
        self.deadman.close()
        self.table.hw.motor.halt()

    def __enter__(self) -> RealTimeLoop:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()
