"""Real-time scheduling: each service thread at its own SCHED_FIFO priority, the loop's and the dead-man's on top."""

from __future__ import annotations

import gc
import logging
import os

# SCHED_FIFO priorities. The dead-man sits above the loop, so a loop that spins cannot starve the
# thread that must halt it. The systemd unit starts the whole service at LOOP_PRIORITY
# (CPUSchedulingPolicy=fifo), so every thread starts there; the remote's, MQTT's, the alerts' and
# the history writer's threads then lower themselves, so a flood of requests cannot take the
# loop's CPU. The kernel keeps 5% of each second for everything else
# (/proc/sys/kernel/sched_rt_runtime_us), so a runaway cannot lock up the Pi.
LOOP_PRIORITY = 50
DEADMAN_PRIORITY = 51

log = logging.getLogger("inversion_table")
_REAL_TIME_POLICIES = tuple(getattr(os, name) for name in ("SCHED_FIFO", "SCHED_RR") if hasattr(os, name))


def request(priority: int, thread: str) -> bool:
    """Put the calling thread at SCHED_FIFO ``priority``, above or below where it starts; say what
    was granted, once per thread. Refused (no CAP_SYS_NICE or RLIMIT_RTPRIO, a sandbox, not Linux),
    it runs on as it is."""
    if not hasattr(os, "sched_setscheduler"):
        log.warning("%s: no real-time scheduling on this system; a busy machine can delay it", thread)
        return False
    policy = current = None
    try:
        policy = os.sched_getscheduler(0)
        current = os.sched_getparam(0).sched_priority
        if policy in _REAL_TIME_POLICIES:
            if current != priority:
                # Only the priority changes, so sched_setparam: the unit's RestrictRealtime= refuses
                # sched_setscheduler to a real-time policy, even one the thread already has.
                os.sched_setparam(0, os.sched_param(priority))
        else:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
    except OSError as exc:
        if policy in _REAL_TIME_POLICIES:  # the unit's priority stands
            log.info("%s: real-time scheduling (SCHED_FIFO priority %d; %d refused)", thread, current, priority)
            return True
        risk = ("a busy machine can delay a period past the dead-man's two" if priority >= LOOP_PRIORITY else
                "on a busy machine the loop may wait for it while it holds Python's lock")
        log.warning("%s: real-time scheduling refused (%s): it runs at normal priority, and %s (the systemd "
                    "unit sets CPUSchedulingPolicy=fifo)", thread, exc.strerror or exc, risk)
        return False
    log.info("%s: real-time scheduling (SCHED_FIFO priority %d)", thread, priority)
    return True


def settle_heap() -> None:
    """Collect once, then keep everything alive out of later collections (``gc.freeze``): call it
    just before the loop starts. A full collection runs on whichever thread allocates when one is
    due, and holds the GIL throughout; over the ~50,000 objects the service's imports leave it took
    28 ms here (on the remote's thread, under a flood of status requests), and the loop waits as
    long. Frozen, a full collection looks only at what was made since."""
    gc.collect()
    gc.freeze()
