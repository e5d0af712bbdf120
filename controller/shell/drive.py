"""The two clocks a table runs on: real time (the loop's own thread) and virtual time (periods run
as time is let pass). Code that waits for the table, such as `calibrate` and the simulated person,
sleeps through one of these and runs unchanged on either."""

from __future__ import annotations

import time

from controller.shell.runner import RealTimeLoop
from controller.shell.table import Table


class VirtualTime:
    """Virtual time: ``sleep(s)`` runs every control period that falls due in the next ``s``
    seconds, then leaves the clock there. A busy machine cannot make a period late."""

    def __init__(self, clock) -> None:
        self.clock = clock
        self.table: Table | None = None
        self._t0 = 0.0
        self._ticks = 0

    def now(self) -> float:
        return self.clock.now()

    def drive(self, table: Table) -> None:
        """Start running ``table``'s periods (the first now) as time is let pass."""
        self.table, self._t0, self._ticks = table, self.clock.now(), 0
        table.deadman_inline = True  # no dead-man thread: it looks after every period

    def sleep(self, seconds: float) -> None:
        end = self.clock.now() + max(0.0, seconds)
        table = self.table
        if table is not None:
            period = table.settings.period
            while (due := self._t0 + self._ticks * period) <= end + 1e-12:
                self.clock.advance_to(max(due, self.clock.now()))
                self._ticks += 1
                table.period()
        self.clock.advance_to(max(end, self.clock.now()))

    def stop(self) -> None:
        self.table = None


class RealTime:
    """Real time: the table's periods run on the control-loop thread; ``sleep`` only waits."""

    def __init__(self, clock) -> None:
        self.clock = clock
        self.loop: RealTimeLoop | None = None

    def now(self) -> float:
        return self.clock.now()

    def drive(self, table: Table) -> None:
        self.loop = RealTimeLoop(table)
        self.loop.start()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def stop(self) -> None:
        if self.loop is not None:
            self.loop.close()
            self.loop = None
