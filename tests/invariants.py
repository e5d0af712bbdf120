"""The safety invariants I1-I8 (docs/SAFETY.md, the brief) as checks of one simulated run, judged on
the simulator's ground truth (``true_angle``). Shared by the property tests.

``violations(...)`` returns every check that broke (the first instance of each, with a count and by
how much); ``check_invariants(...)`` asserts there are none.
"""

from __future__ import annotations

import math

from dataclasses import dataclass

from controller.shell import simulate as sim
from controller.core.planner import move_time
from controller.core.state import MOTION_BUTTONS

WINDOW = 5  # periods: speeds are judged over WINDOW periods, so one step of quantisation does not count
SPEED_WINDOW = 0.1  # s: and over at least this long, at any loop rate
# The brief's "Head-down time": head-down means above +1 deg (HEAD_DOWN_ABOVE), a table flat at 0 is not.
BRIEF_HEAD_DOWN_ABOVE = 1.0  # deg
# I8 for a stall: a stall can only be seen while the motor is asked to move. The deadline runs from the
# first moment the commanded motion has been at least this fast for a whole second of the fault.
STALL_VISIBLE_SPEED = 0.5  # deg/s
I8_TABLE_DEADLINE = 1.0  # s: a stall or a slip trips within 1 s (I8)
EPS = 1e-9


@dataclass
class Violation:
    check: str  # "I1", "I5", "I8 stall", ...
    t: float  # simulated time of the first instance
    detail: str  # what was seen
    excess: float = 0.0  # by how much, in the check's unit (deg, deg/s or s)
    count: int = 1  # how many instances of this check in the run

    def __str__(self) -> str:
        more = f" ({self.count} instances)" if self.count > 1 else ""
        return f"{self.check} at t={self.t:.3f}: {self.detail}; excess {self.excess:.4g}{more}"


class _Found:
    def __init__(self) -> None:
        self.by_check: dict[str, Violation] = {}

    def add(self, check: str, t: float, detail: str, excess: float = 0.0) -> None:
        v = self.by_check.get(check)
        if v is None:
            self.by_check[check] = Violation(check, t, detail, excess)
        else:
            v.count += 1
            if excess > v.excess:  # keep the first instance's time, and the worst excess
                v.excess = excess

    def list(self) -> list[Violation]:
        return list(self.by_check.values())


def _moved(a, b) -> bool:
    return abs(b["true_angle"] - a["true_angle"]) > EPS


def applied_faults(run) -> list:
    """The faults as the simulator applied them, from its trace's fault events: a kind is on from an
    ``active`` event to the next inactive one. (Two overlapping faults of one kind are one fault to
    the simulator: the first to end ends it.)"""
    on: dict[str, float] = {}
    out = []
    for e in run.events:
        if e["event"] != "fault":
            continue
        kind = e["kind"]
        if e["active"]:
            on.setdefault(kind, e["t"])
        elif kind in on:
            t0 = on.pop(kind)
            out.append(sim.Fault(t0, kind, e["t"] - t0))
    out += [sim.Fault(t0, kind, None) for kind, t0 in on.items()]
    return sorted(out)


def violations(run, config, presses, faults, started_by_profile, *, head_down_above: float = 0.0,
               table_faults: bool = False, horizon: float | None = None, faults_from_trace: bool = False) -> list[Violation]:
    """Every invariant the run broke.

    ``head_down_above``: the angle above which I5 counts time as head-down (0 for the original
    property test; the brief says +1 deg, BRIEF_HEAD_DOWN_ABOVE). ``table_faults`` adds I8 for
    stalls and slips and the dead-man's halt (rule 2) after a loop stall. ``faults_from_trace``
    judges the faults as the simulator applied them (``applied_faults``) rather than as scheduled.
    """
    if faults_from_trace:
        faults = applied_faults(run)
    found = _Found()
    lim = config.limits
    home, top, period = config.table.home_angle, lim.max_angle, config.period
    samples = run.samples
    far = (horizon if horizon is not None else run.result.t) * 2 + 1e6
    slip_from = min((f.t for f in faults if f.kind == "slip"), default=float("inf"))
    physics_ok = [s["t"] < slip_from for s in samples]  # a slipping drive is the mechanics' job

    # I1: within the travel, with 1 deg of margin.
    for s, ok in zip(samples, physics_ok):
        if ok:
            above, below = s["true_angle"] - (top + 1), (home - 1) - s["true_angle"]
            if above > 0 or below > 0:
                found.add("I1", s["t"], f"true angle {s['true_angle']:.3f} outside [{home - 1:g}, {top + 1:g}]",
                          max(above, below))
    # I6: speed within 1.05 x max_speed, judged over at least 0.1 s (WINDOW periods at 50 Hz) and
    # with one motor step of quantisation: a coarse drive moves in steps, at any loop rate.
    window = max(WINDOW, math.ceil(SPEED_WINDOW / period - 1e-9))
    step = 1.0 / config.steps_per_degree

    def too_fast(a, b, limit):
        return abs(b["true_angle"] - a["true_angle"]) > limit * (b["t"] - a["t"]) + step + 1e-6

    for a, b, ok in zip(samples, samples[window:], physics_ok[window:]):
        if ok:
            speed = abs(b["true_angle"] - a["true_angle"]) / (b["t"] - a["t"])
            if too_fast(a, b, lim.max_speed * 1.05):
                found.add("I6", a["t"], f"{speed:.3f} deg/s over {a['t']:.3f}..{b['t']:.3f}, max_speed {lim.max_speed:g}",
                          speed - lim.max_speed * 1.05)
    # I7: nothing moves before the first motion button.
    first = min([p.t for p in presses if p.name in MOTION_BUTTONS] + ([0.0] if started_by_profile else []), default=far)
    for a, b in zip(samples, samples[1:]):
        if b["t"] <= first and b["t"] < slip_from and _moved(a, b):
            found.add("I7", b["t"], f"moved {a['true_angle']:.4f} -> {b['true_angle']:.4f} before any motion button",
                      abs(b["true_angle"] - a["true_angle"]))
    # I2 / I3: after a stop, and while that stop stays latched, nothing moves.
    for p in presses:
        if p.name == "stop" and p.t < slip_from:
            latched = []
            for s in samples:
                if s["t"] < p.t + period or s["t"] >= slip_from:
                    continue
                if s["state"] != "stopped":
                    break
                latched.append(s)
            if latched:
                drift = max(abs(s["true_angle"] - latched[0]["true_angle"]) for s in latched)
                if drift > 0.1:
                    found.add("I2", p.t, f"moved {drift:.3f} deg after the stop pressed at {p.t:g}", drift - 0.1)
    held_return = [(p.t, p.t + p.hold) for p in presses if p.name == "return"]
    for a, b in zip(samples, samples[1:]):
        if b["t"] >= slip_from or not _moved(a, b):
            continue
        if a["state"] == "stopped" and b["state"] == "stopped":
            found.add("I3 stop", b["t"], f"moved {a['true_angle']:.4f} -> {b['true_angle']:.4f} while stopped",
                      abs(b["true_angle"] - a["true_angle"]))
        if a["state"] == "tripped" and b["state"] == "tripped":
            if not any(t0 <= a["t"] and b["t"] <= t1 + period for t0, t1 in held_return):
                found.add("I3 hold", b["t"], f"moved {a['true_angle']:.4f} -> {b['true_angle']:.4f} while tripped, "
                          "return not held", abs(b["true_angle"] - a["true_angle"]))
            if not b["true_angle"] < a["true_angle"]:
                found.add("I3 toward home", b["t"], f"moved {a['true_angle']:.4f} -> {b['true_angle']:.4f} (away "
                          "from home) while tripped", b["true_angle"] - a["true_angle"])
    tripped = [s for s in samples if s["state"] == "tripped" and s["t"] < slip_from]
    for a, b in zip(tripped, tripped[window:]):
        if b["t"] - a["t"] <= window * period + 1e-9:
            speed = abs(b["true_angle"] - a["true_angle"]) / (b["t"] - a["t"])
            if too_fast(a, b, lim.max_speed / 2 * 1.05):
                found.add("I3 speed", a["t"], f"{speed:.3f} deg/s while tripped, half max_speed {lim.max_speed / 2:g}",
                          speed - lim.max_speed / 2 * 1.05)
    # I4: a reset never causes motion: after a reset of a latched stop or trip, nothing moves until a
    # person presses a motion button.
    waiting = []  # (from, to): after such a reset, before the next press of a motion button
    for p in presses:
        if p.name == "reset":
            # Strictly before: a press at a tick's own time is taken in that tick, so its sample
            # already shows the reset done (idle), and the reset would look like one of nothing.
            before = [s for s in samples if s["t"] < p.t]
            if not before or before[-1]["state"] not in ("stopped", "tripped"):
                continue  # a reset with nothing latched changes nothing
            asked = min((q.t for q in presses if q.name in MOTION_BUTTONS and q.t >= p.t), default=far)
            waiting.append((p.t, asked))
            window = [s for s in samples if p.t <= s["t"] <= asked and s["t"] < slip_from]
            for a, b in zip(window, window[1:]):
                if _moved(a, b):
                    found.add("I4", b["t"], f"moved {a['true_angle']:.4f} -> {b['true_angle']:.4f} after the reset "
                              f"at {p.t:g}", abs(b["true_angle"] - a["true_angle"]))
                    break
    # I5: head-down time per excursion from home, under automatic control, is bounded. (Not while a
    # stop or trip holds the table, nor after a reset until someone asks again: rule 6 forbids
    # moving then, and it takes precedence.)
    bound = lim.session_timeout + move_time(top, max_speed=lim.max_speed, max_accel=lim.max_accel) + 2 * period
    head_down = 0.0
    for s in samples:
        if abs(s["true_angle"] - home) <= 1.0:
            head_down = 0.0
        elif (s["true_angle"] > head_down_above and s["state"] not in ("stopped", "tripped") and s["t"] < slip_from
              and not any(t0 <= s["t"] <= t1 for t0, t1 in waiting)):
            head_down += period
            if head_down > bound:
                found.add("I5", s["t"], f"head-down (above {head_down_above:g} deg) for {head_down:.2f} s, bound "
                          f"{bound:.2f} s (session_timeout {lim.session_timeout:g} s)", head_down - bound)
    # I8: a lost IMU trips within 0.1 s; a frozen one within 1 s.
    # (A fault that comes while the loop is stalled is caught by the dead-man, which has already
    # halted the motor and posted its own trip: the loop cannot see the sensor then.)
    trips = [e for e in run.events if e["event"] in ("trip", "deadman")]
    stalls = [(f.t, f.t + (f.duration or 1e9)) for f in faults if f.kind == "loop-stall"]
    for f, deadline in [(f, 0.1) for f in faults if f.kind == "imu-disconnect" and (f.duration or 99) > 0.1] + \
                       [(f, 1.0) for f in faults if f.kind == "imu-freeze" and (f.duration or 99) > 1.0]:
        if any(t0 <= f.t + deadline and f.t <= t1 for t0, t1 in stalls):
            if not any(e["event"] == "deadman" and e["t"] <= f.t + deadline + 1e-9 for e in trips):
                found.add("I8 stall", f.t, f"{f.kind} at {f.t:g} inside a loop stall: no dead-man trip by "
                          f"{f.t + deadline:g}", deadline)
            continue
        if run.result.t >= f.t + deadline:
            if not (any(e["t"] <= f.t + deadline + 1e-9 for e in trips) or any(
                    s["state"] == "stopped" for s in samples if f.t <= s["t"] <= f.t + deadline)):
                late = min((e["t"] - f.t for e in trips if e["t"] > f.t), default=float("inf"))
                found.add(f"I8 {f.kind}", f.t, f"{f.kind} at {f.t:g}: no trip within {deadline:g} s "
                          f"(first trip after {late:.3f} s)", late - deadline)
    if table_faults:
        _table_faults(found, run, config, faults, stalls, samples)
        _dead_man(found, run, config, faults, samples, slip_from)
    # The exit code tells the truth.
    if run.result.exit_code == sim.EXIT_HOME:
        if not (abs(run.result.true_angle - home) <= 1.0 and run.result.state == "idle"):
            found.add("exit code", run.result.t, f"exit 0 but true angle {run.result.true_angle:.3f}, state "
                      f"{run.result.state}", abs(run.result.true_angle - home))
    return found.list()


def _table_faults(found: _Found, run, config, faults, loop_stalls, samples) -> None:
    """I8 for the drive: a stall or a slip that lasts trips within 1 s.

    A slip (the table sliding head-down whatever the motor does) is there to see at once. A stall is
    only there to see while the motor is asked to move: its second starts once the commanded motion
    has been at least STALL_VISIBLE_SPEED for a whole second of the fault, in a state not already
    latched (a latched trip is not entered again).
    """
    deadline = I8_TABLE_DEADLINE
    trips = [e for e in run.events if e["event"] in ("trip", "deadman")]
    for f in faults:
        if f.kind not in ("stall", "slip") or (f.duration is not None and f.duration <= deadline):
            continue
        end = f.t + (f.duration if f.duration is not None else 1e12)
        if any(t0 <= f.t + deadline + 1.0 and f.t <= t1 for t0, t1 in loop_stalls):
            continue  # the dead-man's
        if f.kind == "slip":
            first = next((s for s in samples if s["t"] >= f.t), None)
            if first is None or run.result.t < f.t + deadline:
                continue
            if first["state"] in ("tripped", "stopped"):
                continue  # already latched
            if not any(f.t - EPS <= e["t"] <= f.t + deadline + EPS for e in trips):
                late = min((e["t"] - f.t for e in trips if e["t"] >= f.t), default=float("inf"))
                found.add("I8 slip", f.t, f"slip at {f.t:g}: no trip within {deadline:g} s (first trip after "
                          f"{late:.3f} s)", late - deadline)
            continue
        # stall: when does a second of visible commanded motion begin?
        during = [s for s in samples if f.t - EPS <= s["t"] < end]
        start, window = None, None
        for a, b in zip(during, during[1:]):
            if a["state"] in ("tripped", "stopped") or b["state"] in ("tripped", "stopped"):
                start = None  # latched: nothing commanded, and a latched trip is not entered again
                continue
            ta, tb = a.get("target"), b.get("target")
            # Before the power-on anchor the trace's target is the sensor's angle, not a command.
            anchoring = ta is None or tb is None or ta == a.get("angle") or tb == b.get("angle")
            speed = 0.0 if anchoring else abs(tb - ta) / (b["t"] - a["t"])
            if speed < STALL_VISIBLE_SPEED:
                start = None
                continue
            if start is None:
                start = a["t"]
            if b["t"] - start >= deadline - EPS:
                window = (start, b["t"], speed)
                break
        if window is None:
            continue  # it tripped before a whole second of visible motion, or there was none
        # A whole second of visible commanded motion with the table stalled and nothing latched.
        start, t_end, speed = window
        late = min((e["t"] - start for e in trips if e["t"] >= start), default=float("inf"))
        found.add("I8 stall", f.t, f"stall at {f.t:g}, motion commanded from {start:.3f} (at {speed:.2f} deg/s): "
                  f"no trip within {deadline:g} s (first trip {late:.3f} s after the motion began)", late - deadline)


def _dead_man(found: _Found, run, config, faults, samples, slip_from) -> None:
    """Rule 2: once the loop stalls, the motor halts within two control periods. The true angle after
    the stall may differ from the last period's by at most two periods of motion at max_speed."""
    period, speed = config.period, config.limits.max_speed * 1.05
    for f in faults:
        if f.kind != "loop-stall" or f.t >= slip_from or (f.duration is not None and f.duration <= 2 * period):
            continue
        before = [s for s in samples if s["t"] < f.t]
        if not before:
            continue
        a = before[-1]
        end = f.t + f.duration if f.duration is not None else None
        after = next((s for s in samples if end is not None and s["t"] >= end), None)
        if after is not None:
            t_b, angle_b = after["t"], after["true_angle"]
        elif end is None or run.result.t <= end:
            t_b, angle_b = run.result.t, run.result.true_angle  # the run ended inside the stall
        else:
            continue
        if t_b >= slip_from:
            continue
        drift = abs(angle_b - a["true_angle"])
        allowed = 2 * period * speed + 1e-6
        if drift > allowed:
            found.add("R2 dead-man", f.t, f"loop stall at {f.t:g}: the table moved {drift:.3f} deg from "
                      f"{a['t']:.3f} to {t_b:.3f} (two periods allow {allowed:.3f})", drift - allowed)


def no_trip_without_fault(run) -> list[Violation]:
    """(a) With no fault injected, nothing trips: a trip on an accepted config with no fault is a bug."""
    found = _Found()
    for e in run.events:
        if e["event"] in ("trip", "deadman"):
            found.add("a trip without fault", e["t"], f"{e['event']} {e.get('reason')} with no fault injected")
    return found.list()


def not_cut_short(run) -> list[Violation]:
    """(b) A profile the load check accepts is never cut short by the session timeout."""
    found = _Found()
    for e in run.events:
        if e["event"] == "return" and e.get("reason") == "session-timeout":
            found.add("b cut short", e["t"], "the session-timeout return began during an accepted profile")
    return found.list()


def check_invariants(run, config, presses, faults, started_by_profile, **kw) -> None:
    broken = violations(run, config, presses, faults, started_by_profile, **kw)
    assert not broken, "\n".join(map(str, broken))
