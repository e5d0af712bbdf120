"""The table's state machine: button meanings, latches and activities, as pure transitions."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum

BUTTONS = ("stop", "reset", "start", "return", "up", "down", "select")
MOTION_BUTTONS = frozenset({"start", "return", "up", "down"})  # the only ways motion may begin (I7)
HOLD_TO_RUN = frozenset({"up", "down", "return"})  # act only while held
# `select` pressed and released quickly steps to the next preset; held this long, to the next user.
LONG_PRESS = 1.5  # s


class Activity(str, Enum):
    """What the table is doing when nothing is latched."""

    IDLE = "idle"
    RUNNING = "running"  # a profile session
    RETURNING = "returning"  # on its way home (button, profile finished, or timeout)
    JOGGING = "jogging"  # up or down held


@dataclass(frozen=True, slots=True)
class ButtonEvent:
    name: str
    pressed: bool  # False: released
    t: float


@dataclass(frozen=True, slots=True)
class Machine:
    """The whole decision state. Latches (stop, trip) take precedence over the activity."""

    activity: Activity = Activity.IDLE
    stop_latched: bool = False
    trip: str | None = None
    held: frozenset[str] = frozenset()
    jog_direction: int = 0  # +1 head-down (`down`), -1 head-up (`up`)
    return_reason: str | None = None  # why RETURNING: button, profile-done, session-timeout
    # A person has asked for motion (an accepted start/return/up/down) since power-on or the last
    # reset: until then nothing moves, not even an automatic return (safety rule 6).
    motion_requested: bool = False
    select_since: float | None = None  # when `select` went down (it acts on release: short or long)

    @property
    def state(self) -> str:
        """The name shown to people and written to the trace."""
        if self.stop_latched:
            return "stopped"
        if self.trip is not None:
            return "tripped"
        return self.activity._value_  # .value is an enum descriptor call; this is read several times a period

    @property
    def latched(self) -> bool:
        return self.stop_latched or self.trip is not None

    @property
    def recovering(self) -> bool:
        """A trip is latched and `return` is held: hold-to-run toward home at reduced speed."""
        return not self.stop_latched and self.trip is not None and "return" in self.held


@dataclass(frozen=True, slots=True)
class Context:
    """What the machine needs to know about the world to decide a button's meaning."""

    profile_selected: bool = True
    presets: int = 1  # how many presets `select` steps through
    at_home: bool = False
    trip_cause_active: bool = False  # the supervisor still sees the trip's cause
    session_time_up: bool = False  # head-down past the session timeout (say, while a stop held it)
    users: int = 1  # how many users a long press of `select` steps through
    user_acknowledged: bool = True  # the current user has acknowledged the contraindications


@dataclass(frozen=True, slots=True)
class Outcome:
    machine: Machine
    notices: tuple[str, ...] = field(default_factory=tuple)  # one line each, for the log and status
    session_started: bool = False  # a profile must be (re)started from the current position
    returning_started: bool = False  # a return plan must be built from the current position
    select_next: bool = False  # step to the next preset (it never moves the table)
    user_next: bool = False  # step to the next user (only at home; it never moves the table)


def on_button(m: Machine, ev: ButtonEvent, ctx: Context) -> Outcome:
    """Apply one button press or release."""
    if ev.name not in BUTTONS:
        raise ValueError(f"unknown button {ev.name!r}")
    held = m.held | {ev.name} if ev.pressed else m.held - {ev.name}
    m = replace(m, held=held)
    if not ev.pressed:
        return _on_release(m, ev, ctx)
    name = ev.name
    if name == "stop":
        # A stop forgets the hold-to-run buttons held before it: after the reset they need a
        # fresh press, or a jog or recovery held from before would resume by itself.
        return Outcome(_halted(replace(m, stop_latched=True, held=m.held - HOLD_TO_RUN | {"stop"})))
    if name == "reset":
        return _on_reset(m, ctx)
    if name == "select":
        # Choosing what start will run never moves the table. It is refused while latched (the
        # LED and buzzer show the latch, not the count, so the choice could not be seen) and
        # during a session (it would change nothing).
        if m.latched:
            return Outcome(m, (f"select ignored while {m.state}",))
        if m.activity is not Activity.IDLE:
            return Outcome(m, (f"select ignored while {m.activity.value}",))
        return Outcome(replace(m, select_since=ev.t))  # short or long: decided on release
    if m.stop_latched:
        return Outcome(m, (f"{name} ignored: stop is latched; release stop and press reset first",))
    if m.trip is not None:
        if name == "return":
            m = replace(m, motion_requested=True)
            return Outcome(m, ("return held: moving toward home at reduced speed while held",))
        return Outcome(m, (f"{name} ignored: tripped ({m.trip}); hold return to come home, or reset",))
    if name in ("start", "down") and ctx.session_time_up:
        # A person asks for motion (after a reset, say, that left the table head-down and waiting),
        # and the session time is up: the one motion the session timeout allows is the way home,
        # so it begins now. Refusing it left the table head-down with nothing that would ever bring
        # it home (found by an adversarial test: 1695 s head-down against a 60 s timeout).
        if m.activity is Activity.RETURNING:  # already on the way: a new plan would start its rest again
            return Outcome(m, (f"{name} ignored while returning: the session time is up",))
        returning = begin_return(replace(m, motion_requested=True), "session-timeout")
        notice = f"{name}: the session time is up; the table returns home instead (stop halts it)"
        return replace(returning, notices=(notice,) + returning.notices)
    if name == "start":
        if m.activity is not Activity.IDLE:
            return Outcome(m, (f"start ignored while {m.activity.value}",))
        # Refused, it is still a person asking for motion (rule 6): from here the timeouts may
        # bring a head-down table home. Left waiting, a table restarted head-down stayed there for
        # good after a refused start (I5, found by the pure step's property test).
        # Said, away from home: the table may move by itself later (announced again before it does).
        armed = "" if ctx.at_home else "; the timeouts may now bring the table home by itself"
        if not ctx.profile_selected:
            return Outcome(replace(m, motion_requested=True), (f"start ignored: there is no preset to start{armed}",))
        if not ctx.user_acknowledged:
            return Outcome(replace(m, motion_requested=True),
                           ("start ignored: this user has not acknowledged the contraindications "
                            f"(inversion-table users ack NAME){armed}",))
        return Outcome(replace(m, activity=Activity.RUNNING, motion_requested=True), session_started=True)
    if name == "return":
        if ctx.at_home and m.activity in (Activity.IDLE, Activity.JOGGING):
            return Outcome(_halted(m), ("already home",))
        if m.activity is Activity.RETURNING:
            return Outcome(m)
        return begin_return(replace(m, motion_requested=True), "button")
    # up / down
    if m.activity in (Activity.RUNNING, Activity.RETURNING):
        return Outcome(m, (f"{name} ignored while {m.activity.value}: press return or stop",))
    direction = 1 if name == "down" else -1
    return Outcome(replace(m, activity=Activity.JOGGING, jog_direction=direction, motion_requested=True))


def _on_release(m: Machine, ev: ButtonEvent, ctx: Context) -> Outcome:
    name = ev.name
    if name == "select" and m.select_since is not None:
        held_for, m = ev.t - m.select_since, replace(m, select_since=None)
        if m.latched or m.activity is not Activity.IDLE:
            return Outcome(m)  # something happened while it was held: choose nothing
        if held_for >= LONG_PRESS:
            if ctx.users < 2:
                return Outcome(m, ("select held: there is only one user",))
            if not ctx.at_home:  # at home every user's limits hold; elsewhere they might not
                return Outcome(m, ("select held: the user can be changed only at home",))
            return Outcome(m, user_next=True)
        if ctx.presets < 2:
            return Outcome(m, ("select: there is only one preset" if ctx.presets else "select ignored: there is no preset",))
        return Outcome(m, select_next=True)
    if name in ("up", "down") and m.activity is Activity.JOGGING:
        other = "down" if name == "up" else "up"
        if other in m.held:  # the other jog button is still held: follow it
            return Outcome(replace(m, jog_direction=1 if other == "down" else -1))
        return Outcome(_halted(m))
    return Outcome(m)


def _on_reset(m: Machine, ctx: Context) -> Outcome:
    """Reset clears latches whose cause is gone. It never starts motion (ISO 13850): afterwards
    nothing moves, not even an overdue automatic return, until a person presses a motion button."""
    if not m.latched:
        return Outcome(m, ("reset: nothing to reset",))  # a running session goes on undisturbed
    notices = []
    if m.stop_latched:
        if "stop" in m.held:
            notices.append("reset refused: the stop button is still pressed")
        else:
            m = replace(m, stop_latched=False)
            notices.append("stop cleared")
    if m.trip is not None and not m.stop_latched:
        if ctx.trip_cause_active:
            notices.append(f"reset refused: the cause of the trip ({m.trip}) is still present")
        else:
            notices.append(f"trip cleared ({m.trip})")
            m = replace(m, trip=None)
    m = replace(m, motion_requested=False, held=m.held - HOLD_TO_RUN)
    return Outcome(_halted(m), tuple(notices))


def on_trip(m: Machine, reason: str) -> Machine:
    """Latch a trip. An already latched trip is kept: the first reason is the one that matters."""
    if m.trip is not None:
        return m
    return _halted(replace(m, trip=reason))


def begin_return(m: Machine, reason: str) -> Outcome:
    """Go home at comfort speed (button, end of profile, or session timeout)."""
    if m.latched:
        return Outcome(m, (f"return ({reason}) not possible while {m.state}",))
    m = replace(m, activity=Activity.RETURNING, jog_direction=0, return_reason=reason)
    return Outcome(m, returning_started=True)


def arrived_home(m: Machine) -> Machine:
    if m.activity is Activity.RETURNING:
        return replace(m, activity=Activity.IDLE, return_reason=None)
    return m


def _halted(m: Machine) -> Machine:
    return replace(m, activity=Activity.IDLE, jog_direction=0, return_reason=None)
