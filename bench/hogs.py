"""CPU hogs: busy processes the benchmark starts and stops itself, to measure timing on a loaded machine."""

from __future__ import annotations

import contextlib
import resource
import subprocess
import sys
import time
from dataclasses import dataclass

# A Python busy loop rather than `yes > /dev/null`: the same on every platform, and all of it user CPU
# (yes spends much of its time in the kernel writing to /dev/null).
HOG = "while True: pass"
WARM_UP = 0.3  # s for the hogs to be running before anything is measured


@dataclass
class HogRun:
    count: int
    wall: float = 0.0  # s they ran
    cpu: float = 0.0  # s of CPU they got, together

    @property
    def busy(self) -> float | None:
        """The share of their wall time the hogs were on a CPU (1.0: each had one to itself)."""
        return self.cpu / (self.wall * self.count) if self.wall > 0 and self.count else None


@contextlib.contextmanager
def running(count: int):
    """``count`` busy processes while the block runs; they are killed and reaped however it ends."""
    run = HogRun(count)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    procs = [subprocess.Popen([sys.executable, "-c", HOG], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
             for _ in range(count)]
    started = time.monotonic()
    try:
        time.sleep(WARM_UP)
        yield run
    finally:
        for proc in procs:
            proc.kill()
        for proc in procs:
            proc.wait()
        run.wall = time.monotonic() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)  # reaped children only: these hogs, now
        run.cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
