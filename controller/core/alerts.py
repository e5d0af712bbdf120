"""When someone may be stuck on the table, what the alert says, and how its sending is retried (pure).

The shell (controller/shell/alerter.py) calls ``watch`` after every control period with what the
table's snapshot says (``observe``) and sends whatever alert it returns, from a thread of its own.
An incident opens with its one alert and closes with its one all-clear, when the table is home:
whatever else happens in between (a reset, another stop, a trip on the way home) sends nothing
more, so a person who already got the alert is not flooded while they are on their way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from controller.core import supervisor
from controller.core.command import HEAD_DOWN_ABOVE
from controller.core.reasons import REASONS, Trip

# What to do, written for the person who gets the alert. A latched stop ignores RETURN until RESET
# (core/state.py); a latched trip makes RETURN hold-to-run, slowly, by the step count if need be.
DO_AFTER_STOP = ("Press RESET, then RETURN on the table to bring it home; if it does not move, lower it by hand "
                 "(see the manual).")
DO_AFTER_TRIP = ("Hold RETURN on the table to bring it home (it moves slowly, only while held); if it does not "
                 "move, lower it by hand (see the manual).")
DO_AFTER_SERVICE_STOP = ("Start the controller again and hold RETURN on the table, or lower it by hand "
                         "(see the manual).")

# Retrying a delivery: the first retry after RETRY_FIRST, each wait twice the last, at most
# RETRY_LONGEST, and no new try once RETRY_FOR has passed since the first. An alert an hour late
# may still get someone to the table; after that the log says it was never delivered.
RETRY_FIRST = 2.0  # s
RETRY_LONGEST = 60.0  # s
RETRY_FOR = 3600.0  # s


@dataclass(frozen=True, slots=True)
class Observation:
    """What one period's snapshot says, as far as a stranded person is concerned."""

    t: float
    state: str  # the trace's state name: idle, running, returning, jogging, stopped, tripped
    stop_latched: bool = False
    trip: str | None = None
    angle: float | None = None  # the best angle known (None: not known at all)
    by_steps: bool = False  # the angle is the motor's step count: the sensor is not trusted
    home: bool = False
    user: str | None = None

    @property
    def head_down(self) -> bool:
        return self.angle is not None and self.angle > HEAD_DOWN_ABOVE

    @property
    def latched(self) -> bool:
        return self.stop_latched or self.trip is not None


def observe(s, t: float) -> Observation:
    """The observation of a TableState snapshot ``s`` at time ``t``.

    While a trip distrusts the sensor, its last estimate is stale: the step count (anchored to the
    last trusted angle, and moved by hold-to-run) is the better guess of where the table is."""
    m = s.machine
    reason = _reason(m.trip)
    by_steps = reason is not None and not reason.sensor_trusted and s.anchored
    if by_steps:
        angle = s.setpoint.position
    elif s.estimate is not None:
        angle = s.estimate.angle
    else:
        angle = s.setpoint.position if s.anchored else None
    home = angle is not None and supervisor.at_home(angle, s.limits)
    return Observation(t=t, state=m.state, stop_latched=m.stop_latched, trip=m.trip, angle=angle,
                       by_steps=by_steps, home=home, user=s.user)


def _reason(trip: str | None):
    """The trip's row in the reasons table (None: no trip, or a code the table does not know)."""
    return REASONS.get(Trip(trip)) if trip in Trip._value2member_map_ else None


@dataclass(frozen=True, slots=True)
class Alert:
    kind: str  # "stuck", "trip", "stopping", "all-clear" or "test"
    title: str
    body: str


@dataclass(frozen=True, slots=True)
class Watch:
    """What the rules remember between periods."""

    head_down_since: float | None = None  # continuously head-down since
    stuck_since: float | None = None  # continuously latched and head-down since
    trip: str | None = None  # the trip latched at the last observation
    incident_at: float | None = None  # an alert went out then; the all-clear is still due
    stopping_sent: bool = False


def watch(w: Watch, obs: Observation, *, stuck_after: float, name: str) -> tuple[Watch, Alert | None]:
    """One period's observation: the new memory, and the alert to send now (or None)."""
    t = obs.t
    head_down_since = (w.head_down_since if w.head_down_since is not None else t) if obs.head_down else None
    latched_head_down = obs.latched and obs.head_down
    stuck_since = (w.stuck_since if w.stuck_since is not None else t) if latched_head_down else None
    new_trip = obs.trip is not None and w.trip is None
    w = replace(w, head_down_since=head_down_since, stuck_since=stuck_since, trip=obs.trip)
    if w.incident_at is not None:
        if obs.home:
            return replace(w, incident_at=None), all_clear(obs, name=name, since=w.incident_at)
        return w, None
    if new_trip and obs.angle is not None and not obs.home:  # a trip during a session: at once
        return replace(w, incident_at=t), tripped(obs, name=name, head_down_for=_since(head_down_since, t))
    if stuck_since is not None and t - stuck_since >= stuck_after:
        return replace(w, incident_at=t), stuck(obs, name=name, stuck_for=t - stuck_since)
    return w, None


def service_stopping(w: Watch, obs: Observation, *, name: str) -> tuple[Watch, Alert | None]:
    """The service is stopping (SIGTERM, or an error): an alert if the table is head-down, or if an
    incident is open (its all-clear will never come). Once only."""
    if w.stopping_sent or not (obs.head_down or w.incident_at is not None):
        return w, None
    return replace(w, stopping_sent=True), stopping(obs, name=name, head_down_for=_since(w.head_down_since, obs.t))


def _since(start: float | None, t: float) -> float | None:
    return None if start is None else t - start


# -- what an alert says ---------------------------------------------------------------------------
def who(name: str, user: str | None) -> str:
    """``Table 'table-1' (user ana)``: the first words of every alert."""
    return f"Table '{name}' " + (f"(user {user})" if user is not None else "(no user chosen)")


def where(obs: Observation) -> str:
    """``42° head-down``, ``about 42° head-down (by the motor's step count: ...)``, ``-20°``, ``an unknown angle``."""
    if obs.angle is None:
        return "an unknown angle"
    text = f"{'about ' if obs.by_steps else ''}{round(obs.angle):d}°" + (" head-down" if obs.head_down else "")
    if obs.by_steps:
        text += " (by the motor's step count: the angle sensor is not trusted)"
    return text


def duration_text(seconds: float) -> str:
    """``45 s``, ``1 min``, ``2 min 5 s``, ``1 h 5 min``: whole seconds, as a person says them."""
    total = max(0, round(seconds))
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    if h:
        return f"{h} h" + (f" {m} min" if m else "")
    if m:
        return f"{m} min" + (f" {s} s" if s else "")
    return f"{s} s"


def title(name: str, what: str) -> str:
    return f"Inversion table '{name}': {what}"


def stuck(obs: Observation, *, name: str, stuck_for: float) -> Alert:
    """A stop (or a trip) latched with the table head-down for ``stuck_for``."""
    what = "stopped" if obs.stop_latched else f"tripped ({obs.trip})"
    do = DO_AFTER_STOP if obs.stop_latched else DO_AFTER_TRIP
    body = f"{who(name, obs.user)}: {what} at {where(obs)} for {duration_text(stuck_for)}. {do}"
    return Alert("stuck", title(name, "someone may be stuck"), body)


def tripped(obs: Observation, *, name: str, head_down_for: float | None) -> Alert:
    """A trip latched away from home: the table holds where it is until someone brings it back."""
    reason = _reason(obs.trip)
    why = f" ({obs.trip}: {reason.message})" if reason else f" ({obs.trip})"
    held = f", head-down for {duration_text(head_down_for)}" if head_down_for is not None else ""
    do = DO_AFTER_STOP if obs.stop_latched else DO_AFTER_TRIP
    body = f"{who(name, obs.user)}: tripped at {where(obs)}{why}{held}. {do}"
    return Alert("trip", title(name, "someone may be stuck"), body)


def stopping(obs: Observation, *, name: str, head_down_for: float | None) -> Alert:
    held = f" (head-down for {duration_text(head_down_for)})" if head_down_for is not None else ""
    body = (f"{who(name, obs.user)}: the controller stopped with the table at {where(obs)}{held}: it can no longer "
            f"bring the table home or send the all-clear. {DO_AFTER_SERVICE_STOP}")
    return Alert("stopping", title(name, "controller stopped, someone may be stuck"), body)


def all_clear(obs: Observation, *, name: str, since: float) -> Alert:
    body = f"{who(name, obs.user)}: home again at {where(obs)}, {duration_text(obs.t - since)} after the alert. All clear."
    return Alert("all-clear", title(name, "home again"), body)


def test_alert(name: str) -> Alert:
    body = (f"{who(name, None)}: a test alert from `inversion-table alerts test`. A real alert says when someone "
            "may be stuck on the table, and a second one when it is home again.")
    return Alert("test", title(name, "test alert"), body)


# -- retries --------------------------------------------------------------------------------------
def retry_delay(failures: int, elapsed: float) -> float | None:
    """The wait before the next try after ``failures`` failed tries (1 or more), ``elapsed`` s
    after the first; None: give up."""
    if failures < 1:
        raise ValueError("retry_delay counts failed tries from 1")
    delay = min(RETRY_LONGEST, RETRY_FIRST * 2.0 ** min(failures - 1, 30))
    return None if elapsed + delay > RETRY_FOR else delay


# -- secrets in URLs ------------------------------------------------------------------------------
_WORD = re.compile(r"[^:/@?&=#.\s]+")


def secret_words(url: str, private_url: str) -> tuple[str, ...]:
    """The parts of ``url`` that its private form (Apprise's ``url(privacy=True)``) hides: its
    passwords and tokens, longest first."""
    shown = set(_WORD.findall(private_url))
    return tuple(sorted({w for w in _WORD.findall(url) if w not in shown}, key=lambda w: (-len(w), w)))


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` with every secret replaced by ``****``, wherever it appears."""
    for secret in secrets:
        text = re.sub(rf"(?<![^:/@?&=#.\s]){re.escape(secret)}(?![^:/@?&=#.\s])", "****", text)
    return text


def masked(private_url: str) -> str:
    """What a log line shows of a URL: its private form without the query (Apprise's defaults)."""
    return private_url.split("?", 1)[0]
