"""Waiting on the real clock, for the few tests that run real threads (marked ``realtime``).

They never sleep for a fixed time and hope: they wait for a condition, with a deadline that
only a broken program (or a machine far too busy) reaches, and then name what did not happen.
A loaded machine makes them slower, not flaky.
"""

from __future__ import annotations

import subprocess
import time
from typing import Callable

POLL = 0.005  # s between looks: short next to a 50 ms control period, and nearly free


def wait_for(condition: Callable[[], object], timeout: float = 5.0, what: str | None = None) -> bool:
    """Poll ``condition`` until it is true; True then. At the deadline, AssertionError naming ``what``.

    Returns True so that ``assert wait_for(...)`` reads as before.
    """
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            break
        time.sleep(POLL)
    if condition():  # one last look: the deadline may have come while this thread was not running
        return True
    raise AssertionError(f"gave up after {timeout:g} s waiting for {what or getattr(condition, '__name__', 'it')}")


def periods_pass(controller, count: int, period: float, timeout: float = 10.0) -> None:
    """Wait until a control period that began ``count`` periods from now or later has completed.

    The loop sets ``controller.heartbeat`` to a period's start time once the period completes, so
    this is at least ``count * period`` of real time, with a loop that really ran through it: what
    a test that watches for motion (or its absence) needs, where a fixed sleep would watch nothing
    on a machine too busy to run the loop meanwhile.
    """
    until = controller.clock.now() + count * period
    wait_for(lambda: controller.heartbeat >= until, timeout, f"{count} control periods")


def end(proc: subprocess.Popen, timeout: float = 30.0) -> int:
    """SIGTERM a service (it halts and exits 0), and SIGKILL it if it has not gone within ``timeout``."""
    if proc.poll() is None:
        proc.terminate()
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait(10)
