"""Dead-man: step pulses only while the control loop's heartbeat is fresh; crashed threads trip."""

from __future__ import annotations

import logging
import threading
import traceback
from typing import Callable

from controller.shell import realtime
from controller.core.reasons import Trip

# Safety rule 2 (docs/SAFETY.md): if the loop stalls or crashes, the motor halts within two control periods.
DEADMAN_PERIODS = 2
# The watcher looks this many times per control period, so it acts within the two periods.
CHECKS_PER_PERIOD = 4

log = logging.getLogger("inversion_table")


def heartbeat_stale(heartbeat: float, now: float, period: float) -> bool:
    """Whether the loop has missed its deadline (pure)."""
    return now - heartbeat >= DEADMAN_PERIODS * period - 1e-9


class DeadMan:
    """Halts the step pulses when the heartbeat goes stale, and posts the trip to the loop.

    Halting here is the dead-man itself (rule 2): the loop that should act is the one that
    stopped. The trip is only posted (rule 1): the loop latches it when, or if, it runs again;
    until then the stepper's halt latch keeps every pulse out.
    """

    def __init__(
        self,
        *,
        heartbeat: Callable[[], float],
        halt: Callable[[], None],
        post_trip: Callable[[Trip], None],
        now: Callable[[], float],
        period: float,
    ) -> None:
        self._heartbeat, self._halt, self._post_trip, self._now = heartbeat, halt, post_trip, now
        self.period = period
        self.fired = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def check(self) -> bool:
        """One look at the heartbeat; returns True if it fired now."""
        beat, now = self._heartbeat(), self._now()
        if heartbeat_stale(beat, now, self.period):
            if not self.fired:
                self.fired = True
                # Post before halting, like the stop button: the loop then cannot clear this
                # halt without having seen its cause (see Stepper.clear_halt).
                self._post_trip(Trip.LOOP_STALL)
                self._halt()
                log.error("dead-man: the control loop missed its heartbeat (its last period began %.0f ms "
                          "ago, limit %.0f ms: %d periods); motor halted",
                          1000 * (now - beat), 1000 * DEADMAN_PERIODS * self.period, DEADMAN_PERIODS)
                return True
        else:
            self.fired = False  # the loop runs again; a later stall must fire again
        return False

    @property
    def watching(self) -> bool:
        """Whether the watcher thread is alive (the service feeds systemd only while it is)."""
        return self._thread is not None and self._thread.is_alive() and not self._stop.is_set()

    def start(self) -> None:
        """Watch from a thread of its own, on real time (the simulator calls ``check`` itself)."""
        self._thread = threading.Thread(target=self._run, name="dead-man", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        realtime.request(realtime.DEADMAN_PRIORITY, "dead-man")
        while not self._stop.wait(self.period / CHECKS_PER_PERIOD):
            self.check()

    def close(self) -> None:
        """Stop watching. Safe to call twice."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=1.0)
        self._thread = None

    def __enter__(self) -> DeadMan:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


_crash_listeners: list[tuple[Callable[[], None], Callable[[Trip], None]]] = []
_crash_lock = threading.Lock()
_previous_hook = None


def install_crash_hook(*, halt: Callable[[], None], post_trip: Callable[[Trip], None]) -> Callable[[], None]:
    """Any thread that dies of an exception halts the motor and trips; returns an uninstaller.

    The dying thread can no longer post anything useful later, so it halts the pulses as the
    dead-man would, then posts ``thread-crash`` for the loop to latch and report. Several tables
    may listen at once (tests hold more than one); each uninstaller removes its own, in any order.
    """
    global _previous_hook
    listener = (halt, post_trip)
    with _crash_lock:
        if not _crash_listeners:
            _previous_hook = threading.excepthook
            threading.excepthook = _hook
        _crash_listeners.append(listener)

    def uninstall() -> None:
        with _crash_lock:
            if listener in _crash_listeners:
                _crash_listeners.remove(listener)
                if not _crash_listeners and threading.excepthook is _hook:
                    threading.excepthook = _previous_hook

    return uninstall


def _hook(args: threading.ExceptHookArgs) -> None:
    with _crash_lock:
        listeners, previous = list(_crash_listeners), _previous_hook
    try:
        for halt, post_trip in listeners:
            post_trip(Trip.THREAD_CRASH)  # posted first, then halted: see DeadMan.check
            halt()
        name = args.thread.name if args.thread is not None else "?"
        details = "".join(traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback))
        log.error("thread %s died: %s", name, details)
    finally:
        (previous or threading.__excepthook__)(args)
