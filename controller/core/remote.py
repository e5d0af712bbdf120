"""The phone remote's decisions, as pure functions: what a remote may press and hold, when a hold
lapses, when a remote start's warning is over, what a press's outcome was, and the status object.

The shell (controller/shell/remote_link.py) keeps these values, replaced whole on the server's
thread (no lock: the loop only reads them), and posts the button events they ask for; the
table's own state machine (core/state.py) still decides what every press means. Nothing here
can move the table: it only says which events to post.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Mapping, Sequence

from controller.core import period, state
from controller.core.reasons import REASONS, Trip
from controller.core.state import HOLD_TO_RUN, ButtonEvent

PRESSABLE = ("reset", "start", "return", "select")  # POST /api/press
HOLDABLE = tuple(sorted(HOLD_TO_RUN))  # {"hold": ...} over the WebSocket
NEEDS_ALLOW_MOTION = frozenset({"start", "up", "down"})  # the way home is never locked
# The state machine's notices that say a press changed nothing (core/state.py's wording).
# Notices of a press that changed nothing because what it asks for is so already: taken.
SATISFIED = ("already home",)
REFUSED_WORDS = ("ignored", "refused", "nothing to reset", "not possible", "there is only one",
                 "can be changed only")


@dataclass(frozen=True, slots=True)
class Verdict:
    """A refusal before anything is posted: the HTTP status and the reason, one line."""

    status: int
    reason: str


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a press comes from, for the words of a refusal: the phone remote, or MQTT."""

    label: str  # "the remote"
    section: str  # the config section whose allow_motion unlocks start
    hold_return: str  # what to do instead of a return press while a trip is latched


REMOTE = Origin("the remote", "remote", "hold the page's return button")


def press_verdict(button: str, *, allow_motion: bool, table, t: float, origin: Origin = REMOTE) -> Verdict | None:
    """Whether a remote may press ``button`` now (None: post it, and the table decides).

    Refused here only what the remote's own rules forbid, and a start the table would refuse
    (asked of the state machine itself, on ``table``, the snapshot), since a remote start
    sounds its warning before it is posted: the machine has the last word on everything else."""
    if button not in PRESSABLE:
        return Verdict(400, f"unknown button {button!r}: one of {', '.join(PRESSABLE)} (stop: POST /api/stop)")
    if button in NEEDS_ALLOW_MOTION and not allow_motion:
        return Verdict(403, f"{button} from {origin.label} needs [{origin.section}] allow_motion = true; "
                            "return, reset, select and stop always work")
    m = table.machine
    if button == "start":
        would = state.on_button(m, ButtonEvent("start", True, t), table.button_context())
        if not (would.session_started or would.returning_started):  # with the session time up: the way home
            return Verdict(409, would.notices[0] if would.notices else "start refused")
    if button == "return" and m.trip is not None and not m.stop_latched:
        return Verdict(409, f"tripped ({m.trip}): return is hold-to-run now: {origin.hold_return}")
    return None


def preset_steps(names: Sequence[str], selected: int, name: str) -> int | Verdict:
    """How many presses of select bring preset ``name`` up (0: it is selected), or a 404 refusal."""
    if name not in names:
        return Verdict(404, f"no preset {name!r} on the table (presets: {', '.join(names) or 'none'})")
    return (list(names).index(name) - selected) % len(names)


def outcome(records: list[dict]) -> tuple[bool, str | None]:
    """(accepted, reason) of a posted press, from the records its period reported after it: a
    notice in the state machine's words of refusal means the table did not take it."""
    notices = [r.get("message", "") for r in records if r.get("event") == "notice"]
    for notice in notices:
        if any(word in notice for word in REFUSED_WORDS):
            return False, notice
    return True, notices[0] if notices else None


# -- holds ------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Hold:
    """One client's hold-to-run button. ``pressed_at`` is the time its press was posted with (the
    table's button record carries it: ``seen`` once the table took it). An ``ended`` hold moves
    nothing: its renewals are ignored until the client releases (``{"hold": null}``), so a link
    that comes back, or a finger still down after a stop, never resumes motion by itself."""

    button: str
    renewed: float
    pressed_at: float
    seen: bool = False
    ended: str | None = None


Holds = Mapping[str, Hold]  # by client id; every function returns a new dict


@dataclass(frozen=True, slots=True)
class HoldResult:
    holds: dict
    posts: tuple[tuple[str, bool], ...] = ()  # (button, pressed) events to post, in order
    refused: str | None = None  # one line for the client


def request_hold(holds: Holds, client: str, button: str | None, *, now: float, allow_motion: bool,
                 table_held: frozenset[str]) -> HoldResult:
    """A client's ``{"hold": button}`` (a renewal, a new hold, or None: release)."""
    holds = dict(holds)
    mine = holds.get(client)
    if button is None:
        if mine is None:
            return HoldResult(holds)
        del holds[client]
        return HoldResult(holds, () if mine.ended else ((mine.button, False),))
    if button not in HOLD_TO_RUN:
        return HoldResult(holds, refused=f"unknown hold {button!r}: one of {', '.join(HOLDABLE)} or null")
    if button in NEEDS_ALLOW_MOTION and not allow_motion:
        return HoldResult(holds, refused=f"{button} from the remote needs [remote] allow_motion = true")
    if mine is not None and mine.button == button:
        if mine.ended:
            return HoldResult(holds, refused=f"the hold ended ({mine.ended}): release and press again")
        holds[client] = replace(mine, renewed=now)
        return HoldResult(holds)
    posts: list[tuple[str, bool]] = []
    if mine is not None:  # another button: release the old one first, as a finger would
        if mine.ended:
            return HoldResult(holds, refused=f"the hold ended ({mine.ended}): release and press again")
        del holds[client]
        posts.append((mine.button, False))
    others = [h for c, h in holds.items() if c != client and not h.ended]
    if others:
        return HoldResult(holds, tuple(posts), f"another remote holds {others[0].button}")
    if button in table_held:
        return HoldResult(holds, tuple(posts), f"{button} is already held on the table")
    holds[client] = Hold(button, renewed=now, pressed_at=now)
    posts.append((button, True))
    return HoldResult(holds, tuple(posts))


def releases_in_flight(posted: Mapping[str, int], periods: int) -> frozenset[str]:
    """The buttons whose release the remote posted and the loop may not have taken yet.

    ``posted`` maps a button to the periods run when its release was posted: the period then under
    way or the next one takes it, so until two more have run the table may still say it is held.
    That is the remote's own hold on its way out, not the table's: a finger lifted and put back
    within a period is a new press, not a button "already held on the table"."""
    return frozenset(b for b, at in posted.items() if periods < at + 2)


def levels(holds: Holds, *, now: float, lapse: float) -> frozenset[str]:
    """The buttons the remote holds now: what the control loop reads beside the pins' levels. A
    hold past ``lapse`` since its last renewal is not held, whether or not anyone noticed yet."""
    return frozenset(h.button for h in holds.values() if h.ended is None and now - h.renewed < lapse)


def seen(holds: Holds, button: str, t: float) -> dict:
    """The table reported the press of ``button`` posted at ``t``: that hold is the table's now."""
    return {c: replace(h, seen=True) if h.button == button and h.pressed_at == t else h for c, h in holds.items()}


def expire(holds: Holds, *, now: float, lapse: float, table_held: frozenset[str]) -> HoldResult:
    """After a period: end every hold that lapsed, and those the table let go of itself (a stop,
    a reset, a trip's latch: the button is no longer held there). A lapse is posted as a release
    (the loop's level check has released it already; this keeps the table's ``held`` honest)."""
    out, posts = {}, []
    for client, h in holds.items():
        if h.ended is None and now - h.renewed >= lapse:
            h = replace(h, ended="lapsed: no renewal within hold_lapse")
            if h.button in table_held:
                posts.append((h.button, False))
        elif h.ended is None and h.seen and h.button not in table_held:
            h = replace(h, ended="the table ended it")
        out[client] = h
    return HoldResult(out, tuple(posts))


def end_all(holds: Holds, why: str) -> dict:
    """A stop from the remote: every hold ends (the stop itself forgets them on the table)."""
    return {c: h if h.ended else replace(h, ended=why) for c, h in holds.items()}


# -- a remote start's warning -----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class StartWarning:
    """A remote start waiting out its warning: the start is posted at ``until`` unless cancelled."""

    until: float
    cancelled: str | None = None


def warning_due(w: StartWarning | None, now: float) -> bool:
    return w is not None and w.cancelled is None and now >= w.until


def warning_sounding(w: StartWarning | None, now: float) -> bool:
    return w is not None and w.cancelled is None and now < w.until


def cancels_warning(record: dict) -> str | None:
    """Why an event cancels a waiting remote start (a stop from anywhere, a trip), or None."""
    kind = record.get("event")
    if kind == "button" and record.get("name") == "stop" and record.get("action") == "press":
        return "start cancelled: stop pressed during the warning"
    if kind in ("trip", "deadman"):
        return f"start cancelled: tripped ({record.get('reason')})"
    return None


# -- failed attempts --------------------------------------------------------------------------------
MAX_FAILURES = 5  # wrong tokens from one address...
FAILURE_WINDOW = 60.0  # s ...within this long, and that address waits out the window


def failures_allowed(failures: Mapping[str, tuple[float, ...]], address: str, now: float) -> bool:
    recent = [t for t in failures.get(address, ()) if now - t < FAILURE_WINDOW]
    return len(recent) < MAX_FAILURES


def add_failure(failures: Mapping[str, tuple[float, ...]], address: str, now: float) -> dict:
    out = {a: ts for a, ts in failures.items() if ts and now - ts[-1] < FAILURE_WINDOW}
    out[address] = tuple(t for t in out.get(address, ()) if now - t < FAILURE_WINDOW)[-MAX_FAILURES:] + (now,)
    return out


# -- the status object ------------------------------------------------------------------------------
def status(s, *, t: float, allow_motion: bool, start_in: float | None = None) -> dict:
    """The remote contract's status object, flat, from the table's frozen snapshot ``s`` (a
    TableState): angle, target, goal and state as the trace's sample has them."""
    m = s.machine
    trip = REASONS.get(Trip(m.trip)) if m.trip in Trip._value2member_map_ else None
    sample = period.sample_record(s, t)
    return {
        "t": t,
        "state": m.state,
        "angle": sample["angle"],
        "target": sample["target"],
        "goal": s.goal,
        "head_down": s.head_down,
        "session_timeout": s.limits.session_timeout,
        "auto_return_in": s.auto_return_in,
        "trip": m.trip,
        "trip_message": trip.message if trip else None,
        "trip_clears": trip.clears if trip else None,
        "preset": s.preset.name if s.preset else None,
        "presets": [p.name for p in s.presets],
        "user": s.user,
        "held": sorted(m.held),
        "allow_motion": allow_motion,
        "stop_latched": m.stop_latched,
        "start_in": start_in,
        "max_angle": s.limits.max_angle,
        "home_angle": s.limits.home_angle,
    }
