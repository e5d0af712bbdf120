"""Property tests over the whole accepted config space (issue 9): random valid configs, random profiles
that pass the load check, random presses and holds, and fault schedules with several faults in
sequence and overlapping, on the whole simulated table, judged on the simulator's ground truth.

Each example is a config file and a profile file, as TOML, validated by the real models (the config
by ``Config.model_validate``, the profile by the real load check, ``prepare_profile``), then run as
``inversion-table simulate PROFILE --config CONFIG --press ... --fault ... --until T --fast`` would
run it. A config or profile the models refuse is skipped (and counted: ``--hypothesis-show-statistics``
shows the classes, and ``INVERSION_TABLE_CONFIG_STATS=FILE`` appends them as JSON lines).

Checked (tests/invariants.py): I1-I8 on the true angle, with I5 counting head-down as the brief does
(above +1 deg), I3's recovery only toward home at no more than half max_speed, I8 for stalls and slips
(a trip within 1 s), the dead-man's halt after a loop stall (rule 2), and:
(a) no trip without a fault: an accepted config with no fault injected never trips;
(b) a profile the load check accepts is never cut short by the session timeout (no press, no fault).

CI runs INVERSION_TABLE_CONFIG_EXAMPLES examples (default 30); set it higher for a real search.
INVERSION_TABLE_CONFIG_HORIZON sets the simulated seconds per example (default 150).
INVERSION_TABLE_CONFIG_SHRINK=1 lets hypothesis shrink a failure (slow: every try is a whole run).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, Phase, assume, event, given, note, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from controller.shell import simulate as sim
from controller.setup.config import (
    HARD_MAX_ACCEL, HARD_MAX_ANGLE, HARD_MAX_SPEED, MAX_HOME_ANGLE, MAX_RATE, MAX_REST_TIME, MAX_SESSION_TIMEOUT,
    MAX_STEP_RATE, MAX_STEPS_PER_DEGREE, MIN_HOME_ANGLE, MIN_RATE, MIN_SESSION_TIMEOUT, MIN_STEPS_PER_DEGREE, Config,
)
from controller.errors import ProfileError, StartupRefused
from controller.setup.preflight import prepare_profile
from controller.core.state import BUTTONS
from drivers.sim.hardware import FAULT_KINDS
from tests.conftest import simulate
from tests.invariants import BRIEF_HEAD_DOWN_ABOVE, Violation, no_trip_without_fault, not_cut_short, violations

EXAMPLES = int(os.environ.get("INVERSION_TABLE_CONFIG_EXAMPLES", "30"))
HORIZON = float(os.environ.get("INVERSION_TABLE_CONFIG_HORIZON", "150"))  # s of simulated time per example
SHRINK = os.environ.get("INVERSION_TABLE_CONFIG_SHRINK", "") not in ("", "0")
STATS_FILE = os.environ.get("INVERSION_TABLE_CONFIG_STATS")
HOLDS = [0.0, 0.0, 0.3, 1.0, 2.0, 5.0, 20.0, 60.0]  # s a button is held (2 s: a long press of select)
FAULT_DURATIONS = [0.02, 0.1, 0.5, 1.5, 3.0, 10.0, 30.0, None]  # None: to the end of the run
REFUSED: Counter = Counter()  # why the models refused a drawn config or profile, by class
_PROFILE_DIR = Path(tempfile.mkdtemp(prefix="props-configs-"))


# -- TOML, as a person would write it -------------------------------------------------------------
def _value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k} = {_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(v)


def to_toml(doc: dict) -> str:
    """Top-level keys, then [section] tables, then [[array]] tables (of the profile's steps)."""
    lines = [f"{k} = {_value(v)}" for k, v in doc.items() if not isinstance(v, (dict, list))]
    for k, v in doc.items():
        if isinstance(v, dict):
            lines += ["", f"[{k}]"] + [f"{kk} = {_value(vv)}" for kk, vv in v.items()]
    for k, v in doc.items():
        if isinstance(v, list):
            for item in v:
                lines += ["", f"[[{k}]]"] + [f"{kk} = {_value(vv)}" for kk, vv in item.items()]
    return "\n".join(lines) + "\n"


# -- drawing --------------------------------------------------------------------------------------
def _num(draw, lo: float, hi: float, *, digits: int = 2, edges=()) -> float:
    """A number in [lo, hi] as a person writes it (rounded), often one of ``edges`` or an end."""
    choice = draw(st.integers(0, 9))
    if choice == 0:
        x = lo
    elif choice == 1:
        x = hi
    elif choice == 2 and edges:
        x = draw(st.sampled_from(list(edges)))
    else:
        x = round(draw(st.floats(lo, hi)), digits)
    return min(hi, max(lo, x))


def _log_num(draw, lo: float, hi: float, *, digits: int = 3) -> float:
    """Log-uniform in [lo, hi], rounded: small and large values alike."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.sampled_from([lo, hi]))
    x = math.exp(draw(st.floats(math.log(lo), math.log(hi))))
    return min(hi, max(lo, float(f"{x:.{digits}g}")))


def _duration(draw, seconds: float):
    """A duration as TOML: a number of seconds, or text like "90s", "1m30s"."""
    seconds = round(seconds, 2)
    form = draw(st.integers(0, 3))
    if form == 0:
        return seconds
    if form == 1:
        return f"{seconds:g}s"
    if form == 2 and seconds >= 60 and seconds == int(seconds):
        m, s = divmod(int(seconds), 60)
        h, m = divmod(m, 60)
        return (f"{h}h" if h else "") + (f"{m}m" if m else "") + (f"{s}s" if s else "")
    return seconds


@st.composite
def config_dicts(draw) -> dict:
    """A config file as a dict, over the whole accepted space of every key drawn (defaults elsewhere).

    Each key is within its own documented bounds; the checks across sections (comfort speeds under
    max_speed, rest_angle above home, the step rate) can refuse the combination, as they should.
    """
    doc: dict = {}
    table: dict = {"home_angle": _num(draw, MIN_HOME_ANGLE, MAX_HOME_ANGLE, digits=1, edges=(-60, -45, -30, -10))}
    max_speed = _log_num(draw, 0.1, HARD_MAX_SPEED)
    limits: dict = {
        "max_angle": _num(draw, 1.0, HARD_MAX_ANGLE, digits=1, edges=(2, 30, 45, 60)),
        "max_speed": max_speed,
        "max_accel": _log_num(draw, 0.1, HARD_MAX_ACCEL),
    }
    if draw(st.integers(0, 6)) > 0:  # mostly short, so the runs reach it
        timeout = _num(draw, MIN_SESSION_TIMEOUT, 120.0, digits=1, edges=(15, 30, 60))
    else:
        timeout = _num(draw, 120.0, MAX_SESSION_TIMEOUT, digits=0, edges=(600, 1200))
    limits["session_timeout"] = _duration(draw, timeout)
    if draw(st.booleans()):
        limits["idle_timeout"] = _duration(draw, _num(draw, 10.0, 60.0 if draw(st.integers(0, 4)) else 1800.0, digits=1))
    motion: dict = {}
    for key in ("return_speed", "jog_speed"):
        pick = draw(st.integers(0, 9))
        if pick < 7:
            motion[key] = _log_num(draw, min(0.05, max_speed), max_speed)
        elif pick < 9:
            motion[key] = _log_num(draw, 0.05, HARD_MAX_SPEED)  # may be above max_speed: refused
        # else: the default (3.0 or 2.0), refused if above max_speed
    home = table["home_angle"]
    if draw(st.integers(0, 5)):
        motion["rest_angle"] = _num(draw, home if draw(st.integers(0, 9)) else -HARD_MAX_ANGLE, 0.0, digits=1, edges=(0.0, -5.0))
    if draw(st.integers(0, 5)):
        motion["rest_time"] = _duration(draw, _num(draw, 0.0, 20.0 if draw(st.integers(0, 4)) else MAX_REST_TIME, digits=1))
    # the drive: [table] steps_per_degree (mostly within the step-rate check), or a [motor] drive train
    motor: dict = {}
    drive = draw(st.integers(0, 9))
    if drive < 7:
        top = min(MAX_STEPS_PER_DEGREE, MAX_STEP_RATE / max_speed)
        table["steps_per_degree"] = _log_num(draw, MIN_STEPS_PER_DEGREE, top)
    elif drive < 9:
        table["steps_per_degree"] = _log_num(draw, MIN_STEPS_PER_DEGREE, MAX_STEPS_PER_DEGREE)  # may be refused
    else:
        motor["steps_per_rev"] = draw(st.sampled_from([48, 200, 400]))
        motor["microsteps"] = draw(st.sampled_from([1, 2, 4, 8, 16, 32, 64, 128, 256]))
        motor["gear_ratio"] = _log_num(draw, 1.0, 100.0)
    if draw(st.integers(0, 4)) == 0:
        motor["reverse"] = True
    elif draw(st.booleans()):
        motor["reverse"] = False
    doc["table"], doc["limits"] = table, limits
    if motion:
        doc["motion"] = motion
    doc["control"] = {"rate": draw(st.integers(MIN_RATE, MAX_RATE))}
    if motor:
        doc["motor"] = motor
    if draw(st.integers(0, 3)):
        tracking: dict = {}
        for key, lo, hi in (("position_tolerance", 0.5, 5.0), ("rate_tolerance", 0.1, 2.0), ("rate_share", 0.0, 1.0)):
            if draw(st.integers(0, 4)):
                tracking[key] = _num(draw, lo, hi)
        if draw(st.integers(0, 4)):
            tracking["time"] = _duration(draw, _num(draw, 0.05, 0.8))
        doc["tracking"] = tracking
    return doc


@st.composite
def profile_dicts(draw, config: Config) -> dict:
    """A profile file as a dict: hold, oscillate, ramp (slow ones too), pause and repeat steps.

    Angles are mostly within the config's travel (else the load check refuses them); a slow ramp
    goes only a few degrees, so the run stays short.
    """
    home, top = config.table.home_angle, config.limits.max_angle
    lo = max(home, -45.0)

    def angle():
        if draw(st.integers(0, 19)) == 0:  # outside the travel: refused at load
            return round(draw(st.floats(-HARD_MAX_ANGLE, HARD_MAX_ANGLE)), 1)
        return _num(draw, lo, top, digits=1, edges=(0.0, 0.5, 1.0, 1.5, top, lo))

    def simple(prev: float) -> tuple[dict, float]:
        kind = draw(st.sampled_from(["hold", "hold", "oscillate", "ramp", "ramp", "pause"]))
        if kind == "hold":
            a = angle()
            return {"kind": "hold", "angle": a, "duration": _duration(draw, _num(draw, 0.5, 30.0, digits=1))}, a
        if kind == "oscillate":
            low = angle()
            high = min(top, round(low + _num(draw, 1.0, 40.0, digits=1), 1))
            assume(high > low)
            step = {"kind": "oscillate", "high": high, "low": low,
                    "dwell_high": _duration(draw, _num(draw, 0.0, 10.0, digits=1)),
                    "dwell_low": _duration(draw, _num(draw, 0.0, 10.0, digits=1))}
            if draw(st.booleans()):
                step["cycles"] = draw(st.integers(1, 3))
            else:
                step["duration"] = _duration(draw, _num(draw, 5.0, 60.0, digits=1))
            return step, low
        if kind == "ramp":
            if draw(st.booleans()):  # slow: 0.05 to 0.5 deg/s, for vertigo
                speed = _num(draw, 0.05, 0.5, edges=(0.1, 0.2))
                a = round(min(top, max(lo, prev + draw(st.floats(-1, 1)) * speed * 40)), 1)
            else:
                speed, a = _num(draw, 0.5, HARD_MAX_SPEED, digits=1), angle()
            return {"kind": "ramp", "angle": a, "speed": speed}, a
        return {"kind": "pause", "duration": _duration(draw, _num(draw, 0.5, 20.0, digits=1))}, prev

    steps, prev = [], home
    for _ in range(draw(st.integers(1, 4))):
        if draw(st.integers(0, 5)) == 0:
            inner = []
            for _ in range(draw(st.integers(1, 2))):
                s, prev = simple(prev)
                inner.append(s)
            steps.append({"kind": "repeat", "times": draw(st.integers(1, 3)), "steps": inner})
        else:
            s, prev = simple(prev)
            steps.append(s)
    doc: dict = {"name": "drawn"}
    if draw(st.booleans()):
        cap = config.limits.max_speed if draw(st.integers(0, 9)) else HARD_MAX_SPEED  # above the config's: refused
        doc["max_speed"] = _log_num(draw, 0.05, cap)
    doc["steps"] = steps
    return doc


@st.composite
def press_lists(draw, horizon: float) -> list:
    return draw(st.lists(
        st.builds(sim.Press, t=st.floats(0, horizon * 0.7).map(lambda x: round(x, 2)), name=st.sampled_from(BUTTONS),
                  hold=st.sampled_from(HOLDS)),
        max_size=6,
    ))


@st.composite
def fault_schedules(draw, horizon: float) -> list:
    """1 to 4 faults: in sequence, or overlapping the one before."""
    faults = []
    t = 0.0 if draw(st.integers(0, 14)) == 0 else round(draw(st.floats(0.2, horizon * 0.5)), 2)
    for _ in range(draw(st.integers(1, 4))):
        duration = draw(st.sampled_from(FAULT_DURATIONS))
        faults.append(sim.Fault(t, draw(st.sampled_from(FAULT_KINDS)), duration))
        span = duration if duration is not None else 5.0
        if draw(st.booleans()):  # the next one overlaps this one
            t = round(t + draw(st.floats(0, span)), 2)
        else:
            t = round(t + span + draw(st.floats(0, 20)), 2)
        if t > horizon * 0.8:
            break
    return faults


# -- refusals -------------------------------------------------------------------------------------
REFUSAL_CLASSES = (  # (class, a phrase of the model's message)
    ("config: return_speed (the default 3) above max_speed", "return_speed = 3 (the default) is above"),
    ("config: jog_speed (the default 2) above max_speed", "jog_speed = 2 (the default) is above"),
    ("config: return_speed above max_speed", "return_speed ="),
    ("config: jog_speed above max_speed", "jog_speed ="),
    ("config: rest_angle below home_angle", "rest_angle"),
    ("config: step rate above 2000 steps/s at max_speed", "steps/s, above the"),
    ("config: [motor] steps per degree outside 1..20000", "steps per degree, outside"),
    ("profile: head-down longer than session_timeout", "keeps the user head-down"),
    ("profile: an oscillate duration shorter than one cycle", "shorter than one cycle"),
    ("profile: max_speed above the config's", "a profile can only lower it"),
    ("profile: an angle above max_angle", "is above [limits] max_angle"),
    ("profile: an angle below home_angle", "is below [table] home_angle"),
)


def _refused(message: str, what: str) -> None:
    """Count why the model refused (one class per problem line), then skip the example."""
    classes: list[str] = []
    for line in message.splitlines():
        name = next((n for n, phrase in REFUSAL_CLASSES if n.startswith(what) and phrase in line),
                    f"{what}: other: {line[:100]}")
        if name not in classes:
            classes.append(name)
    for name in classes:
        REFUSED[name] += 1
        event(f"refused {name}")
    REFUSED[f"{what}s refused"] += 1
    if STATS_FILE:
        with open(STATS_FILE, "a", encoding="utf-8") as out:
            out.write(json.dumps({"refused": what, "classes": classes, "message": message}) + "\n")
    assume(False)


def validate_config(doc: dict) -> Config:
    try:
        return Config.model_validate(doc)
    except ValidationError as exc:
        _refused("\n".join(str(e["msg"]) for e in exc.errors()), "config")
        raise AssertionError("unreachable")  # pragma: no cover


def load_checked(doc: dict, config: Config, name: str):
    path = _PROFILE_DIR / f"{name}.toml"
    path.write_text(to_toml(doc), encoding="utf-8")
    try:
        return prepare_profile(str(path), config)
    except ProfileError as exc:
        _refused(str(exc), "profile")
        raise AssertionError("unreachable")  # pragma: no cover


# -- one example ----------------------------------------------------------------------------------
@dataclass
class Example:
    mode: str  # clean (a profile, no press, no fault), presses, faults
    config_doc: dict
    config: Config
    profile_doc: dict | None
    prepared: object | None
    presses: list = field(default_factory=list)
    faults: list = field(default_factory=list)
    horizon: float = HORIZON

    def command(self, config_path: str = "CONFIG.toml", profile_path: str = "PROFILE.toml") -> str:
        words = ["inversion-table", "simulate"]
        if self.profile_doc is not None:
            words.append(profile_path)
        words += ["--config", config_path]
        words += [f"--press {p.name}@{p.t:g}" + (f":{p.hold:g}" if p.hold else "") for p in self.presses]
        words += [f"--fault {f.kind}@{f.t:g}" + (f":{f.duration:g}" if f.duration is not None else "") for f in self.faults]
        words += [f"--until {self.horizon:g}", "--fast"]
        return " ".join(words)

    def describe(self) -> str:
        text = f"mode {self.mode}\n# CONFIG.toml\n{to_toml(self.config_doc)}"
        if self.profile_doc is not None:
            text += f"# PROFILE.toml\n{to_toml(self.profile_doc)}"
        return text + self.command() + "\n"


def draw_example(data, horizon: float = HORIZON) -> Example:
    mode = data.draw(st.sampled_from(["clean", "clean", "presses", "faults", "faults"]), label="mode")
    doc = data.draw(config_dicts(), label="config")
    config = validate_config(doc)
    profile_doc = prepared = None
    if mode == "clean" or data.draw(st.integers(0, 4), label="profile?"):
        profile_doc = data.draw(profile_dicts(config), label="profile")
        if mode == "clean" and data.draw(st.booleans(), label="tight timeout"):
            # A session timeout just above what the load check says the profile needs: the edge
            # where an accepted profile could still be cut short. (Still a valid config.)
            roomy = Config.model_validate(doc | {"limits": doc["limits"] | {"session_timeout": MAX_SESSION_TIMEOUT}})
            need = load_checked(profile_doc, roomy, "roomy").head_down
            timeout = min(MAX_SESSION_TIMEOUT, max(MIN_SESSION_TIMEOUT,
                                                   math.ceil((need + data.draw(st.floats(0, 3), label="slack")) * 10) / 10))
            doc = doc | {"limits": doc["limits"] | {"session_timeout": timeout}}
            config = validate_config(doc)
        prepared = load_checked(profile_doc, config, "drawn")
    presses, faults = [], []
    if mode in ("presses", "faults"):
        presses = data.draw(press_lists(horizon), label="presses")
    if mode == "faults":
        faults = data.draw(fault_schedules(horizon), label="faults")
        # the interesting part: someone holds return (or presses stop or reset) right after a fault
        after = round(faults[0].t + data.draw(st.sampled_from([0.05, 0.5, 3.0]), label="after"), 2)
        presses = presses + [sim.Press(after, data.draw(st.sampled_from(["return", "return", "stop", "reset"]), label="who"),
                                       data.draw(st.sampled_from([0.0, 10.0, 60.0]), label="how long"))]
    event(f"mode {mode}")
    return Example(mode, doc, config, profile_doc, prepared, presses, faults, horizon)


def run_example(ex: Example):
    """Run an example as `simulate --fast` does; the run, and every invariant it broke."""
    program = ex.prepared.program if ex.prepared is not None else None
    stuck_at_boot = any(f.kind == "stop-stuck" and f.t <= 0 for f in ex.faults)
    try:
        run = simulate(config=ex.config, program=program, presses=list(ex.presses), faults=list(ex.faults),
                       until=ex.horizon)
    except StartupRefused:
        if stuck_at_boot:
            return None, []  # rule 6: a stop stuck at boot refuses start-up, and nothing ran
        raise
    if stuck_at_boot:
        return run, [Violation("R6 stuck stop", 0.0, "started up with the stop button stuck pressed")]
    broken = violations(run, ex.config, ex.presses, ex.faults, program is not None,
                        head_down_above=BRIEF_HEAD_DOWN_ABOVE, table_faults=True, horizon=ex.horizon,
                        faults_from_trace=True)
    if not ex.faults:
        broken += no_trip_without_fault(run)
        if not ex.presses and program is not None:
            broken += not_cut_short(run)
    return run, broken


PHASES = tuple(Phase) if SHRINK else tuple(p for p in Phase if p is not Phase.shrink)


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None, phases=PHASES,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(data=st.data())
def test_invariants_hold_over_the_accepted_config_space(data):
    ex = draw_example(data)
    note(ex.describe())
    run, broken = run_example(ex)
    if run is None:
        event("start-up refused (stop stuck at boot)")
        return
    event(f"ended {run.result.why.split(' (')[0].split(':')[0]}")
    assert not broken, f"{ex.command()}\n" + "\n".join(map(str, broken)) + f"\nended: {run.result}"
