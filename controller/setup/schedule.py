"""What a simulated run is given to do: presses and faults at set times (``--press``, ``--fault``,
``--until``), and how long, at the most, a run with those inputs can take to end by itself."""

from __future__ import annotations

import re
from dataclasses import dataclass

from controller.core import session
from controller.errors import InputError
from controller.core.planner import move_time
from controller.core.state import BUTTONS
from controller.setup.validation import format_duration, parse_duration, shown

# The latest time a press, a fault, its end or --until may be: a day of simulated time is about ten
# minutes with --fast; later is a typo (5h for 5m) or a run nobody would wait for.
MAX_SCHEDULE_TIME = 24 * 3600.0  # s
MARGIN = 60.0  # s on top of the longest a run can take, for the last periods and the settling

_SCHEDULE = re.compile(r"^(?P<name>[A-Za-z0-9_-]+)@(?P<t>[^:]+)(?::(?P<hold>.+))?$")


@dataclass(frozen=True, order=True)
class Press:
    t: float
    name: str
    hold: float = 0.0


@dataclass(frozen=True, order=True)
class Fault:
    t: float
    kind: str
    duration: float | None = None


def parse_time(text: str, option: str, what: str = "") -> float:
    """Seconds from ``text`` (35.5, 90s, 2m, 1m30s, 1h), at most MAX_SCHEDULE_TIME; else InputError."""
    label = f"{option} {shown(what) if what else shown(text)}"
    try:
        seconds = parse_duration(text)
    except ValueError:
        raise InputError(f"{label}: {shown(text)} is not a time (use seconds, or 90s, 2m, 1m30s)") from None
    if seconds > MAX_SCHEDULE_TIME:
        raise InputError(f"{label}: {shown(text)} is more than the {format_duration(MAX_SCHEDULE_TIME)} a simulation "
                         "can schedule")
    return seconds


def _scheduled(text: str, option: str, form: str) -> re.Match:
    """The parts of one ``NAME@T[:LENGTH]`` option value; else InputError showing the ``form``."""
    m = _SCHEDULE.match(text.strip())
    if not m:
        raise InputError(f"{option} {shown(text)}: expected {form}")
    return m


def parse_press(text: str, buttons=BUTTONS) -> Press:
    """``NAME@T[:HOLD]``, e.g. ``stop@35.5`` or ``return@60:20``; ``buttons`` are those fitted."""
    m = _scheduled(text, "--press", "NAME@T[:HOLD], e.g. stop@35.5 or return@60:20")
    name = m["name"]
    if name not in BUTTONS:
        raise InputError(f"--press {shown(text)}: no button named {shown(name)} (buttons: {', '.join(BUTTONS)})")
    if name not in buttons:
        raise InputError(f"--press {shown(text)}: the table has no {name} button ([pins] {name} = false)")
    hold = parse_time(m["hold"], "--press", text) if m["hold"] else 0.0
    return Press(parse_time(m["t"], "--press", text), name, hold)


def parse_fault(text: str, kinds) -> Fault:
    """``KIND@T[:DURATION]``, e.g. ``imu-disconnect@40`` or ``stall@12:2``; ``kinds`` are those known."""
    m = _scheduled(text, "--fault", "KIND@T[:DURATION], e.g. imu-disconnect@40 or stall@12:2")
    kind = m["name"]
    if kind not in kinds:
        raise InputError(f"--fault {shown(text)}: no fault kind {shown(kind)} (kinds: {', '.join(kinds)})")
    duration = parse_time(m["hold"], "--fault", text) if m["hold"] else None
    if duration is not None and duration <= 0:
        raise InputError(f"--fault {shown(text)}: the duration must be positive")
    return Fault(parse_time(m["t"], "--fault", text), kind, duration)


def longest_run(settings, programs, presses=(), faults=()) -> float:
    """The latest a run with these inputs can end by itself (s): a run still going then is a bug.

    After the last press or fault ends, the most the table can still do is: a whole program (the
    longest, started anywhere, so plus a move across the whole range), an idle timeout or a session
    timeout, and the way home (a rest, and across the whole range at the slowest speed that applies,
    twice over).
    """
    lim = settings.limits
    last = max([p.t + p.hold for p in presses] + [f.t + (f.duration or 0.0) for f in faults], default=0.0)
    speeds = [settings.return_speed, settings.jog_speed, lim.max_speed / 2]
    speeds += [s for program in programs for s in [program.speed] + [leg.speed for block in program.blocks
                                                                      for leg in block.legs if leg.speed]]
    accels = [lim.max_accel] + [program.accel for program in programs]
    across = move_time(lim.max_angle - lim.home_angle, max_speed=min(speeds), max_accel=min(accels))
    longest = max((session.time_above(program, lim.home_angle)[1] for program in programs), default=0.0)
    way_home = settings.rest_time + 2 * across
    return last + longest + across + lim.session_timeout + settings.idle_timeout + way_home + MARGIN
