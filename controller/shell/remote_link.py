"""The phone remote's link to the table: it posts button events and reads snapshots, as a button does.

The web server's thread calls ``stop``, ``press``, ``hold``, ``release_client`` and ``status``;
the control loop's thread calls ``levels`` (with the pins' levels), ``_on_event`` (every event
the table reports), ``_after_period`` and ``_indicate``. They share a few values behind one lock
that is held only for a pure function's call (controller/core/remote.py decides everything), so
the loop never waits on the server. A hold lapses on the loop's own clock: ``levels`` leaves a
hold out once ``hold_lapse`` has passed since its renewal, so a hold ends even if the server's
thread has died.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from dataclasses import dataclass, field

from controller.core import remote as rules
from controller.core.indicate import BUZZ_WARNING, LED_WARNING
from controller.core.state import ButtonEvent

EVENTS_KEPT = 2000  # the last events, for the WebSocket's pushes


@dataclass
class Ticket:
    """A press posted with time ``t``: the records its period reported after it, once ``done``."""

    button: str
    t: float
    records: list = field(default_factory=list)
    capturing: bool = False
    done: bool = False
    cancelled: str | None = None  # a start whose warning a stop cut short


class RemoteLink:
    def __init__(self, table, *, allow_motion: bool, start_warning: float, hold_lapse: float) -> None:
        self.table = table
        self.allow_motion, self.start_warning, self.hold_lapse = allow_motion, start_warning, hold_lapse
        self._lock = threading.Lock()
        self._holds: dict = {}
        self._tickets: list[Ticket] = []
        self._warning: rules.StartWarning | None = None
        self._warning_ticket: Ticket | None = None
        self._seq = itertools.count(1)
        self.events: deque = deque(maxlen=EVENTS_KEPT)  # (seq, record), appended by the loop's thread
        table.listeners.append(self._on_event)
        table.after_period.append(self._after_period)
        table.extra_levels.append(self.levels)
        table.indicate_overrides.append(self._indicate)

    @property
    def controller(self):
        return self.table.controller

    def now(self) -> float:
        return self.table.now()

    # -- the server's thread -----------------------------------------------------------------------
    def stop(self) -> None:
        """The stop button's path: post the press, halt the motor at once, post the release
        (unless the table's own stop reads pressed: its release edge will say when)."""
        t = self.now()
        self.controller.post(ButtonEvent("stop", True, t))
        self.table.hw.motor.halt()
        with self._lock:
            self._holds = rules.end_all(self._holds, "stop pressed")
            self._cancel_warning("start cancelled: stop pressed during the warning")
        try:
            physical = "stop" in self.table.panel.pressed()
        except Exception:  # a closed panel: nothing to wait for
            physical = False
        if not physical:
            self.controller.post(ButtonEvent("stop", False, t))

    def press(self, button: str) -> Ticket:
        """Post a press and release of ``button``; a start waits out its warning first (on the
        loop's thread, which posts it unless a stop came meanwhile)."""
        with self._lock:
            t = self.now()
            ticket = Ticket(button, t)
            if button == "start":
                if self._warning_ticket is not None and not self._warning_ticket.done:
                    ticket.done, ticket.cancelled = True, "a remote start is already counting down"
                    return ticket
                self._warning = rules.StartWarning(until=t + self.start_warning)
                self._warning_ticket = ticket
                return ticket
            self._tickets.append(ticket)
        self._post_press(button, t)
        return ticket

    def select(self, steps: int) -> Ticket:
        """``steps`` short presses of select, in one period (POST /api/preset)."""
        with self._lock:
            ticket = Ticket("select", self.now())
            self._tickets.append(ticket)
        for _ in range(steps):
            self._post_press("select", ticket.t)
        return ticket

    def _post_press(self, button: str, t: float) -> None:
        self.controller.post(ButtonEvent(button, True, t))
        self.controller.post(ButtonEvent(button, False, t))

    def hold(self, client: str, button: str | None) -> str | None:
        """A client's hold (or its renewal, or None: release); a refusal's reason, or None."""
        with self._lock:
            result = rules.request_hold(self._holds, client, button, now=self.now(), allow_motion=self.allow_motion,
                                        table_held=self.table.state.machine.held - self._mine())
            self._holds = result.holds
            for name, pressed in result.posts:
                held = self._holds.get(client)
                t = held.pressed_at if pressed and held is not None else self.now()
                self.controller.post(ButtonEvent(name, pressed, t))
        return result.refused

    def release_client(self, client: str) -> None:
        """A socket closed: its hold ends at once."""
        self.hold(client, None)

    def hold_of(self, client: str) -> tuple[str | None, str | None]:
        """(the button the client holds, why it ended or None)."""
        h = self._holds.get(client)
        return (None, None) if h is None else (h.button, h.ended)

    def events_after(self, seq: int) -> list[tuple[int, dict]]:
        """The events reported since ``seq`` (0: none before now is wanted, see ``last_seq``)."""
        with self._lock:
            return [e for e in self.events if e[0] > seq]

    def last_seq(self) -> int:
        with self._lock:
            return self.events[-1][0] if self.events else 0

    def status(self) -> dict:
        now = self.now()
        w = self._warning
        start_in = max(0.0, w.until - now) if rules.warning_sounding(w, now) else None
        return rules.status(self.table.state, t=now, allow_motion=self.allow_motion, start_in=start_in)

    def _mine(self) -> frozenset[str]:
        return frozenset(h.button for h in self._holds.values() if h.ended is None)

    def _cancel_warning(self, why: str) -> None:
        """With the lock held."""
        if self._warning is not None and self._warning.cancelled is None and self._warning_ticket is not None \
                and not self._warning_ticket.capturing and not self._warning_ticket.records:
            self._warning = rules.StartWarning(self._warning.until, cancelled=why)
            self._warning_ticket.cancelled, self._warning_ticket.done = why, True
            self._warning_ticket = None

    # -- the control loop's thread (and the dead-man's, for its event) ----------------------------
    def levels(self) -> frozenset[str]:
        return rules.levels(self._holds, now=self.now(), lapse=self.hold_lapse)

    def _on_event(self, record: dict) -> None:
        with self._lock:
            self.events.append((next(self._seq), record))
            why = rules.cancels_warning(record)
            if why is not None:
                self._cancel_warning(why)
            if record.get("event") == "button":
                if record.get("action") == "press":
                    self._holds = rules.seen(self._holds, record.get("name"), record.get("t"))
                for ticket in self._tickets:
                    if ticket.capturing and record.get("name") != ticket.button:
                        ticket.capturing = False  # another button's press: its notices are its own
                    elif record.get("name") == ticket.button and record.get("t") == ticket.t:
                        ticket.capturing = True
            for ticket in self._tickets:
                if ticket.capturing:
                    ticket.records.append(record)

    def _after_period(self, record: dict) -> None:
        now = self.now()
        post = None
        with self._lock:
            for ticket in self._tickets:
                if ticket.records:
                    ticket.done, ticket.capturing = True, False
            self._tickets = [t for t in self._tickets if not t.done]
            result = rules.expire(self._holds, now=now, lapse=self.hold_lapse,
                                  table_held=self.table.state.machine.held)
            self._holds = result.holds
            if rules.warning_due(self._warning, now) and self._warning_ticket is not None:
                ticket, self._warning, self._warning_ticket = self._warning_ticket, None, None
                ticket.t = now
                self._tickets.append(ticket)
                post = ticket
        for name, pressed in result.posts:
            self.controller.post(ButtonEvent(name, pressed, now))
        if post is not None:
            self._post_press(post.button, post.t)

    def _indicate(self, now: float, led, buzzer):
        """The LED and buzzer say "about to move" while a remote start counts down."""
        if rules.warning_sounding(self._warning, now) and self.table.state.machine.state not in ("stopped", "tripped"):
            return LED_WARNING, BUZZ_WARNING
        return led, buzzer
