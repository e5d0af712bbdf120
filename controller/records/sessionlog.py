"""Turns the controller's events into history rows and progression levels (the shell around history.py)."""

from __future__ import annotations

import logging
import queue
import threading
from typing import Callable

from controller.records.history import History
from controller.setup.users import GUEST


log = logging.getLogger("inversion_table")


class BackgroundWriter:
    """Runs history writes on a thread of their own: a write synced to an SD card can take longer
    than a control period, and the control loop must never wait for one.

    ``on_start`` runs first on the writer's thread (the service sets its scheduling there).
    """

    def __init__(self, *, on_start: Callable[[], object] = lambda: None) -> None:
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._on_start = on_start
        self._thread = threading.Thread(target=self._run, name="history-writer", daemon=True)
        self._thread.start()

    def __call__(self, job: Callable[[], None]) -> None:
        self._jobs.put(job)

    def _run(self) -> None:
        try:
            self._on_start()
        except Exception:  # its scheduling is a nicety: the writes go on without it
            log.exception("history: setting up the writer's thread failed")
        while (job := self._jobs.get()) is not None:
            try:
                job()
            except Exception:  # a full disk must not end the service; the session goes unrecorded
                log.exception("history: a write failed")

    def close(self) -> None:
        """Finish the queued writes, then stop. Safe to call twice."""
        if self._thread.is_alive():
            self._jobs.put(None)
            self._thread.join(timeout=5.0)


class SessionLog:
    """Follows sessions through the controller's event records and writes one history row each.

    ``submit`` runs a write (at once in the simulator, on a BackgroundWriter in the service).
    ``on_level`` hears a progressive profile's new level after a completed session.
    """

    def __init__(
        self,
        history: History,
        *,
        user: str | None,
        levels: dict[str, int],
        final_levels: dict[str, int],
        head_down: Callable[[], float],
        submit: Callable[[Callable[[], None]], None] = lambda job: job(),
        on_level: Callable[[str, int], None] = lambda profile, level: None,
        levels_of: Callable[[str], dict[str, int]] | None = None,
        final_levels_of: Callable[[str], dict[str, int]] | None = None,
    ) -> None:
        self.history, self.user = history, user or GUEST
        # A user's levels and last levels (each user's own: the last that fits their limits), when
        # the table switches to them.
        self._levels_of, self._final_levels_of = levels_of, final_levels_of
        self.levels, self.final_levels = dict(levels), final_levels
        self._head_down, self._submit, self._on_level = head_down, submit, on_level
        self._id: list[int | None] = [None]  # filled in by the write (on the writer's thread)
        self.profile: str | None = None
        self.max_angle: float | None = None
        self.completed = False
        self.outcome: str | None = None

    def tick(self, record: dict) -> None:
        if self.profile is not None and record.get("angle") is not None:
            self.max_angle = record["angle"] if self.max_angle is None else max(self.max_angle, record["angle"])

    def event(self, record: dict) -> None:
        kind = record.get("event")
        if kind == "user":  # the table was switched to another user (only ever at home, idle)
            self.user = record["name"]
            if self._levels_of is not None:
                self.levels = dict(self._levels_of(self.user))
            if self._final_levels_of is not None:
                self.final_levels = dict(self._final_levels_of(self.user))
            return
        if kind == "session" and record.get("action") == "start":
            self._begin(record.get("preset", "profile"))
        elif self.profile is None:
            return
        elif kind == "session" and record.get("action") == "complete":
            self.completed = True
        elif kind == "trip":
            self._end(f"trip: {record['reason']}")
        elif kind == "button" and record.get("name") == "stop" and record.get("action") == "press":
            self._end("stopped")
        elif kind == "return" and not self.completed:
            self.outcome = "timeout" if record.get("reason") in ("session-timeout", "idle-timeout") else "returned"
        elif kind == "home":
            self._end("completed" if self.completed else self.outcome or "returned")

    def interrupt(self, outcome: str = "service stopped") -> None:
        """The service is shutting down cleanly: a session still open ends with ``outcome``."""
        if self.profile is not None:
            self._end(outcome)

    def _begin(self, profile: str) -> None:
        self.profile, self.max_angle, self.completed, self.outcome = profile, None, False, None
        level = self.levels.get(profile) if profile in self.final_levels else None
        box: list[int | None] = [None]
        self._id = box
        user, history = self.user, self.history
        self._submit(lambda: box.__setitem__(0, history.begin(user=user, profile=profile, level=level)))

    def _end(self, outcome: str) -> None:
        profile, box, history = self.profile, self._id, self.history
        head_down, max_angle = self._head_down(), self.max_angle
        self.profile = None

        def write() -> None:
            if box[0] is not None:
                history.end(box[0], outcome=outcome, head_down=head_down,
                            max_angle=None if max_angle is None else round(max_angle, 2))

        self._submit(write)
        if outcome == "completed" and profile in self.final_levels:
            # A completed session moves a progressive profile on; a stopped or tripped one does not.
            level = min(self.levels.get(profile, 0) + 1, self.final_levels[profile])
            self.levels[profile] = level
            user = self.user
            self._submit(lambda: history.set_level(user, profile, level))
            self._on_level(profile, level)
