"""The phone remote's link to the table: it posts button events and reads snapshots, as a button does.

Two threads touch it, and the control loop never waits on the other:

- the control loop's thread (and the dead-man's, for its event) only appends each event to a
  deque, counts periods, and reads two values the server replaces whole (``levels`` for the
  holds, ``_indicate`` for a start's warning): no lock, nothing that can block;
- the web server's thread does the rest: it posts presses and holds, and ``pump()`` (every
  ``PUMP_EVERY``) reads the new events to see what the table made of them, ends holds that
  lapsed or that the table let go of, and posts a remote start once its warning is over.

A hold lapses on the loop's own clock: ``levels`` leaves a hold out once ``hold_lapse`` has
passed since its renewal, so a hold ends even if the server's thread has stopped altogether.
Every decision is controller/core/remote.py's.
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass, field

from controller.core import remote as rules
from controller.core.indicate import BUZZ_WARNING, LED_WARNING
from controller.core.state import ButtonEvent

EVENTS_KEPT = 2000  # the last events, for the WebSocket's pushes and the pump
PUMP_EVERY = 0.01  # s


@dataclass
class Ticket:
    """A press posted with time ``t``: the records its period reported after it, once ``done``."""

    button: str
    t: float
    records: list = field(default_factory=list)
    period: int | None = None  # the period that took it
    done: bool = False
    cancelled: str | None = None  # a start whose warning a stop cut short


class RemoteLink:
    def __init__(self, table, *, allow_motion: bool, start_warning: float, hold_lapse: float) -> None:
        self.table = table
        self.allow_motion, self.start_warning, self.hold_lapse = allow_motion, start_warning, hold_lapse
        self._holds: dict = {}  # replaced whole, never changed in place (the loop reads it)
        self._released: dict[str, int] = {}  # button -> periods run when its release was posted
        self._warning: rules.StartWarning | None = None  # likewise
        self._warning_ticket: Ticket | None = None
        self._tickets: list[Ticket] = []
        self._seq = itertools.count(1)
        self._pumped = 0  # the last event seq the pump has looked at
        self.periods = 0  # periods run (written by the loop's thread only)
        self.events: deque = deque(maxlen=EVENTS_KEPT)  # (seq, period, record)
        table.listeners.append(self._on_event)
        table.after_period.append(self._after_period)
        table.extra_levels.append(self.levels)
        table.indicate_overrides.append(self._indicate)

    @property
    def controller(self):
        return self.table.controller

    def now(self) -> float:
        return self.table.now()

    # -- the control loop's thread: append, count, read; never a lock ----------------------------
    def _on_event(self, record: dict) -> None:
        self.events.append((next(self._seq), self.periods, record))

    def _after_period(self, record: dict) -> None:
        self.periods += 1

    def levels(self) -> frozenset[str]:
        return rules.levels(self._holds, now=self.now(), lapse=self.hold_lapse)

    def _indicate(self, now: float, led, buzzer):
        """The LED and buzzer say "about to move" while a remote start counts down."""
        if rules.warning_sounding(self._warning, now) and self.table.state.machine.state not in ("stopped", "tripped"):
            return LED_WARNING, BUZZ_WARNING
        return led, buzzer

    # -- the server's thread -----------------------------------------------------------------------
    def events_after(self, seq: int) -> list[tuple[int, dict]]:
        """The events reported since ``seq``."""
        return [(s, r) for s, _, r in self.events.copy() if s > seq]  # copy(): one C call, atomic

    def last_seq(self) -> int:
        events = self.events.copy()
        return events[-1][0] if events else 0

    def stop(self) -> None:
        """The stop button's path: post the press, halt the motor at once, post the release
        (unless the table's own stop reads pressed: its release edge will say when)."""
        t = self.now()
        self.controller.post(ButtonEvent("stop", True, t))
        self.table.hw.motor.halt()
        self._holds = rules.end_all(self._holds, "stop pressed")
        self._cancel_warning("start cancelled: stop pressed during the warning")
        try:
            physical = "stop" in self.table.panel.pressed()
        except Exception:  # a closed panel: nothing to wait for
            physical = False
        if not physical:
            self.controller.post(ButtonEvent("stop", False, t))

    def press(self, button: str) -> Ticket:
        """Post a press and release of ``button``; a start waits out its warning first (``pump``
        posts it then, unless a stop or a trip came meanwhile)."""
        ticket = Ticket(button, self.now())
        if button == "start":
            if self._warning_ticket is not None:
                ticket.done, ticket.cancelled = True, "a remote start is already counting down"
            else:
                self._warning = rules.StartWarning(until=ticket.t + self.start_warning)
                self._warning_ticket = ticket
            return ticket
        self._tickets.append(ticket)
        self._post_press(button, ticket.t)
        return ticket

    def select(self, steps: int) -> Ticket:
        """``steps`` short presses of select, all taken in one period (POST /api/preset)."""
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
        now = self.now()
        # By button, not by holder: a press of the same button on the table itself within those
        # two periods is not seen as held either, so both may hold it a moment; the same motion,
        # and a release from either side ends it (the safe way round).
        on_its_way_out = rules.releases_in_flight(self._released, self.periods)
        result = rules.request_hold(self._holds, client, button, now=now, allow_motion=self.allow_motion,
                                    table_held=self.table.state.machine.held - self._mine() - on_its_way_out)
        releases = [(n, p) for n, p in result.posts if not p]
        for name, _ in releases:  # a release first: never two holds at once, not even for a period
            self._post_release(name, now)
        self._holds = result.holds
        for name, pressed in result.posts:
            if pressed:
                self.controller.post(ButtonEvent(name, True, result.holds[client].pressed_at))
        return result.refused

    def _post_release(self, button: str, t: float) -> None:
        self.controller.post(ButtonEvent(button, False, t))
        in_flight = rules.releases_in_flight(self._released, self.periods)
        self._released = {**{b: n for b, n in self._released.items() if b in in_flight}, button: self.periods}

    def release_client(self, client: str) -> None:
        """A socket closed: its hold ends at once."""
        self.hold(client, None)

    def hold_of(self, client: str) -> tuple[str | None, str | None]:
        """(the button the client holds, why it ended or None)."""
        h = self._holds.get(client)
        return (None, None) if h is None else (h.button, h.ended)

    def status(self) -> dict:
        now = self.now()
        w = self._warning
        start_in = max(0.0, w.until - now) if rules.warning_sounding(w, now) else None
        return rules.status(self.table.state, t=now, allow_motion=self.allow_motion, start_in=start_in)

    def _mine(self) -> frozenset[str]:
        return frozenset(h.button for h in self._holds.values() if h.ended is None)

    def _cancel_warning(self, why: str) -> None:
        if self._warning_ticket is not None:
            self._warning = rules.StartWarning(self._warning.until, cancelled=why)
            self._warning_ticket.cancelled, self._warning_ticket.done = why, True
            self._warning_ticket = None

    def pump(self) -> None:
        """What the table made of what was posted: run every PUMP_EVERY on the server's thread."""
        now, periods = self.now(), self.periods
        for seq, period, record in self.events.copy():
            if seq <= self._pumped:
                continue
            self._pumped = seq
            why = rules.cancels_warning(record)
            if why is not None:
                self._cancel_warning(why)
            if record.get("event") == "button" and record.get("action") == "press":
                self._holds = rules.seen(self._holds, record.get("name"), record.get("t"))
            for ticket in self._tickets:
                if ticket.period is None and record.get("event") == "button" and \
                        record.get("name") == ticket.button and record.get("t") == ticket.t:
                    ticket.period = period
                if ticket.period == period:
                    if record.get("event") == "button" and record.get("name") != ticket.button:
                        ticket.period = -1  # another button's press: what follows is its own
                    else:
                        ticket.records.append(record)
        for ticket in self._tickets:
            if ticket.period is not None and periods > ticket.period:
                ticket.done = True
        self._tickets = [t for t in self._tickets if not t.done]
        result = rules.expire(self._holds, now=now, lapse=self.hold_lapse, table_held=self.table.state.machine.held)
        self._holds = result.holds
        for name, pressed in result.posts:
            if pressed:
                self.controller.post(ButtonEvent(name, True, now))
            else:
                self._post_release(name, now)
        if rules.warning_due(self._warning, now) and self._warning_ticket is not None:
            ticket, self._warning, self._warning_ticket = self._warning_ticket, None, None
            ticket.t = self.now()
            self._tickets.append(ticket)
            self._post_press(ticket.button, ticket.t)
