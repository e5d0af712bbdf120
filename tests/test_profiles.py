"""Tests of profile files, durations, the presets, and the check of a profile against the config."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import check_lines
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

import profiles
from controller.core import session
from controller.setup.config import Config, LimitsConfig, TableConfig
from controller.errors import ProfileError
from controller.setup.validation import DURATION_ERROR, Duration, format_duration
from profiles import (
    HoldStep, OscillateStep, Profile, check_profile_limits, load_profile, preset_names, resolve_profile,
)

# The example from BRIEF.md, "Profile files", copied verbatim.
BRIEF_EXAMPLE = '''\
name = "oscillate"
description = "30 s head-down at 40°, 30 s flat, for 20 minutes"
max_speed = 3.0            # optional, deg/s; can only lower the config's limit

[[steps]]
kind = "hold"
angle = 20
duration = "2m"            # time held after arriving: seconds, or "90s", "2m", "1m30s"

[[steps]]
kind = "oscillate"
high = 40
low = 0
dwell_high = "30s"         # time held at `high` after arriving
dwell_low = "30s"          # time held at `low` after arriving
duration = "20m"           # whole cycles while time remains (or: cycles = 20)
'''

HEAD = 'name = "test"\n'
DURATION = TypeAdapter(Duration)


def write(tmp_path, text: str, name: str = "profile.toml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def error_of(tmp_path, text: str) -> tuple[str, str]:
    path = write(tmp_path, text)
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    msg = str(info.value)
    check_lines(msg, path)
    return path, msg


def limits_error(profile: Profile, config: Config, source: str = "p.toml") -> str:
    with pytest.raises(ProfileError) as info:
        check_profile_limits(profile, config, source=source, config_source="config.toml")
    msg = str(info.value)
    check_lines(msg, source)
    return msg


def hold(angle, duration='"1m"') -> str:
    return f'[[steps]]\nkind = "hold"\nangle = {angle}\nduration = {duration}\n'


def oscillate(**over) -> str:
    fields = {"high": 40, "low": 0, "dwell_high": '"30s"', "dwell_low": '"30s"', "duration": '"20m"', **over}
    body = "".join(f"{k} = {v}\n" for k, v in fields.items() if v is not None)
    return f'[[steps]]\nkind = "oscillate"\n{body}'


# --- durations ---------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "text, seconds",
    [("90s", 90), ("2m", 120), ("1m30s", 90), (45, 45), (45.5, 45.5), ("90", 90), ("1h", 3600),
     ("1.5m", 90), ("1h 5m", 3900), ("1H5M", 3900), (" 2m 10s ", 130), (0, 0), ("0s", 0)],
)
def test_duration_accepts(text, seconds):
    assert DURATION.validate_python(text) == seconds


@pytest.mark.parametrize("text", ["2 minutes", "-5s", "m", "", "5x", "1s30m", "-5", -5, True, "nan", float("inf"), [3]])
def test_duration_rejects_with_the_duration_message(text):
    with pytest.raises(ValidationError) as info:
        DURATION.validate_python(text)
    assert info.value.errors()[0]["msg"] == DURATION_ERROR


@pytest.mark.parametrize("value", [10**400, 2**1100, "1" * 400, "9" * 306 + "h", "1" * 400 + "s"],
                         ids=["1e400", "2**1100", "400-digit-text", "1e306h", "400-digit-s"])
def test_a_duration_too_large_for_a_float_is_too_large_not_a_crash(value):
    with pytest.raises(ValidationError) as info:
        DURATION.validate_python(value)
    assert info.value.errors()[0]["type"] == "too_large"  # shown as the field's upper limit


@pytest.mark.parametrize("text", [" " * 2000 + "x", "1h" + " " * 2000 + "x", " 1" * 2000, "1" * 2000 + "x"],
                         ids=["spaces", "unit-then-spaces", "spaced-digits", "digits"])
def test_a_long_duration_text_is_rejected_in_linear_time(text):
    import time

    started = time.perf_counter()
    with pytest.raises(ValidationError):
        DURATION.validate_python(text)
    assert time.perf_counter() - started < 0.1


@pytest.mark.parametrize("seconds, text", [(90, "1m30s"), (1200, "20m"), (45, "45s"), (3720, "1h2m"), (0, "0s"),
                                           (2.5, "2.5s"), (3600, "1h"), (3661, "1h1m1s")])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


@given(st.integers(min_value=0, max_value=10**7) | st.floats(min_value=0, max_value=10**6))
def test_format_duration_round_trips(seconds):
    back = DURATION.validate_python(format_duration(seconds))
    assert back == (seconds if isinstance(seconds, int) else pytest.approx(seconds, abs=0.0005))


# --- presets -----------------------------------------------------------------------------------

ALL_PRESETS = ["build-up", "decompression", "gentle", "hold-40", "oscillate", "slow-entry"]


@pytest.mark.parametrize("name", ALL_PRESETS)
def test_every_preset_loads_and_fits_the_default_config(name):
    profile, source = resolve_profile(name)
    assert source == f"preset '{name}'"
    assert profile.name == name and len(profile.description) > 20
    check_profile_limits(profile, Config(), source=source)  # raises if it does not fit


def test_preset_contents():
    gentle, hold40, osc = (resolve_profile(n)[0] for n in ("gentle", "hold-40", "oscillate"))
    assert gentle.steps == [HoldStep(kind="hold", angle=20, duration=120)]
    assert hold40.steps == [HoldStep(kind="hold", angle=40, duration=300)]
    assert osc.max_speed == 3.0
    assert osc.steps == [OscillateStep(kind="oscillate", high=40, low=0, dwell_high=30, dwell_low=30, duration=1200)]


def test_preset_files_are_package_data_and_load_as_paths():
    assert preset_names() == ALL_PRESETS
    folder = Path(profiles.__file__).parent / "presets"
    for name in preset_names():
        assert load_profile(folder / f"{name}.toml") == resolve_profile(name)[0]


# --- loading -----------------------------------------------------------------------------------

def test_brief_example_loads(tmp_path):
    p = load_profile(write(tmp_path, BRIEF_EXAMPLE))
    assert p.name == "oscillate" and p.max_speed == 3.0
    assert p.steps[0] == HoldStep(kind="hold", angle=20, duration=120)
    assert p.steps[1] == OscillateStep(kind="oscillate", high=40, low=0, dwell_high=30, dwell_low=30, duration=1200)
    check_profile_limits(p, Config(), source="x")


def test_cycles_instead_of_duration(tmp_path):
    p = load_profile(write(tmp_path, HEAD + oscillate(duration=None, cycles=20)))
    assert p.steps[0].cycles == 20 and p.steps[0].duration is None


def test_a_typo_comes_first_because_it_explains_the_rest(tmp_path):
    path, msg = error_of(tmp_path, 'name = ""\n' + hold(20) + '[[steps]]\nkind = "hold"\nangel = 30\nduration = 5\n')
    assert msg.splitlines() == [
        f"{path}: steps #2 (hold): unknown key 'angel' (did you mean 'angle'?) (and 1 more problem)",
        f"{path}: name: must not be empty (got '')",
    ]


@pytest.mark.parametrize(
    "text, expected",
    [
        (HEAD + '[[steps]]\nkind = "hold"\nanlge = 20\nduration = "2m"\n',
         "steps #1 (hold): unknown key 'anlge' (did you mean 'angle'?)"),
        (HEAD + "max_sped = 3\n" + hold(20), "unknown key 'max_sped' (did you mean 'max_speed'?)"),
        (HEAD + hold(20) + '[[steps]]\nkind = "hld"\nangle = 20\n',
         "steps #2: unknown kind 'hld' (did you mean 'hold'?); valid kinds: 'hold', 'oscillate', 'pause', 'ramp', 'repeat'"),
        (HEAD + "[[steps]]\nangle = 20\n", "steps #1: missing key 'kind' (one of 'hold', 'oscillate', 'pause', 'ramp', 'repeat')"),
        (HEAD + hold(5) + oscillate(high=10, low=20), "steps #2 (oscillate): high = 10 must be above low = 20"),
        (HEAD + hold(5) + oscillate(high=20, low=20), "steps #2 (oscillate): high = 20 must be above low = 20"),
        (HEAD + oscillate(cycles=20), "steps #1 (oscillate): give either duration or cycles, not both"),
        (HEAD + hold(95), "steps #1 (hold) angle: must be ≤ 90 (the hard ceiling) (got 95)"),
        (HEAD + oscillate(low=-91), "steps #1 (oscillate) low: must be ≥ -90 (the hard floor) (got -91)"),
        (HEAD + hold(20, '"2 minutes"'), f"steps #1 (hold) duration: {DURATION_ERROR} (got '2 minutes')"),
    ],
    ids=["typo", "top-level-typo", "unknown-kind", "no-kind", "high<low", "high=low", "duration+cycles",
         "above-ceiling", "below-floor", "bad-duration"],
)
def test_exact_messages(tmp_path, text, expected):
    path, msg = error_of(tmp_path, text)
    assert msg == f"{path}: {expected}"


def test_two_step_problems_are_two_lines(tmp_path):
    path, msg = error_of(tmp_path, HEAD + oscillate(high=0, low=10, cycles=3))
    assert msg.splitlines() == [
        f"{path}: steps #1 (oscillate): high = 0 must be above low = 10 (and 1 more problem)",
        f"{path}: steps #1 (oscillate): give either duration or cycles, not both",
    ]


@pytest.mark.parametrize(
    "text, expected",
    [
        (HEAD + hold(20, 0), "steps #1 (hold) duration: must be > 0s (got 0)"),
        (HEAD + oscillate(duration=None), 'steps #1 (oscillate): needs either duration (e.g. "20m") or cycles (e.g. 20)'),
        (HEAD + oscillate(duration=None, cycles=0), "steps #1 (oscillate) cycles: must be ≥ 1 (got 0)"),
        (HEAD + oscillate(dwell_low=-1), f"steps #1 (oscillate) dwell_low: {DURATION_ERROR} (got -1)"),
        (HEAD + 'max_speed = 0\n' + hold(20), "max_speed: must be ≥ 0.05 (the slowest a move may go) (got 0)"),
        ('name = ""\n' + hold(20), "name: must not be empty (got '')"),
        (f'name = "{"x" * 61}"\n' + hold(20), "name: must be at most 60 characters long"),
        (HEAD + "steps = []\n", "steps: must not be empty"),
        (HEAD, "needs [[steps]] (or a [progression])"),
        (hold(20), "name: missing (this key is required)"),
        (HEAD + '[[steps]]\nkind = "hold"\nduration = "1m"\n', "steps #1 (hold) angle: missing (this key is required)"),
        (HEAD + '[[steps]]\nkind = "hold"\nangle = "20"\nduration = "1m"\n', "steps #1 (hold) angle: must be a number (got '20')"),
    ],
)
def test_field_errors(tmp_path, text, expected):
    path, msg = error_of(tmp_path, text)
    assert msg.startswith(f"{path}: {expected}")


def test_several_problems_first_line_counts_them(tmp_path):
    path, msg = error_of(tmp_path, 'name = ""\n' + hold(95) + hold(20, '"soon"'))
    lines = msg.splitlines()
    assert len(lines) == 3 and lines[0].endswith("(and 2 more problems)")
    assert f"{path}: steps #2 (hold) duration: {DURATION_ERROR} (got 'soon')" in lines


def test_invalid_toml_and_missing_file(tmp_path):
    path, msg = error_of(tmp_path, 'name = "x\n')
    assert msg.startswith(f"{path}: not valid TOML: ")
    missing = str(tmp_path / "none.toml")
    with pytest.raises(ProfileError, match=r"^.*none\.toml: no such profile file$"):
        load_profile(missing)


# --- resolve_profile ---------------------------------------------------------------------------

def test_resolve_a_path_keeps_the_path_as_label(tmp_path):
    path = write(tmp_path, HEAD + hold(20))
    profile, label = resolve_profile(path)
    assert label == path and profile.steps[0].angle == 20
    other = write(tmp_path, HEAD + hold(25), name="mine.prof")  # an existing file, whatever its name
    assert resolve_profile(other) == (load_profile(other), other)


def test_resolve_a_missing_toml_path_is_a_file_error(tmp_path):
    path = str(tmp_path / "gentle.toml")
    with pytest.raises(ProfileError, match="no such profile file"):
        resolve_profile(path)


@pytest.mark.parametrize("name", ["presets", "mine.toml"])
def test_resolve_a_directory_says_it_is_one(tmp_path, name):
    folder = tmp_path / name
    folder.mkdir()
    with pytest.raises(ProfileError) as info:
        resolve_profile(str(folder))
    assert str(info.value).startswith(f"{folder}: is a directory, not a profile file (name a .toml file in it, or a "
                                      "preset: inversion-table profiles lists them)"), info.value


@pytest.mark.parametrize("name", ["x" * 5000, "a\x00b"])
def test_resolve_a_name_no_path_can_be_is_an_unknown_preset(name):
    with pytest.raises(ProfileError, match="^no preset or profile file named"):
        resolve_profile(name)


def test_resolve_unknown_name_lists_presets_and_suggests():
    with pytest.raises(ProfileError) as info:
        resolve_profile("gentel")
    msg = str(info.value)
    assert msg.startswith("no preset or profile file named 'gentel'")
    assert "did you mean 'gentle'?" in msg and "presets: build-up, decompression, gentle, hold-40, oscillate, slow-entry" in msg
    with pytest.raises(ProfileError) as info:
        resolve_profile("zzz")
    assert str(info.value) == "no preset or profile file named 'zzz' (presets: build-up, decompression, gentle, hold-40, oscillate, slow-entry)"


# --- check_profile_limits ----------------------------------------------------------------------

def test_angle_above_max_angle_names_file_field_and_both_numbers(tmp_path):
    path = write(tmp_path, HEAD + hold(20) + oscillate(high=70))
    msg = limits_error(load_profile(path), Config(), source=path)
    assert msg == f"{path}: steps #2 (oscillate) high = 70 is above [limits] max_angle = 60 (config.toml)"


def test_angle_below_home_angle_and_the_default_config_label(tmp_path):
    profile = load_profile(write(tmp_path, HEAD + hold(-70)))
    with pytest.raises(ProfileError) as info:
        check_profile_limits(profile, Config(), source="p.toml")
    assert str(info.value) == "p.toml: steps #1 (hold) angle = -70 is below [table] home_angle = -60 (the config)"


def test_profile_max_speed_can_only_lower_the_config(tmp_path):
    profile = load_profile(write(tmp_path, HEAD + "max_speed = 6\n" + hold(20)))
    msg = limits_error(profile, Config())
    assert msg.startswith("p.toml: max_speed = 6 is above [limits] max_speed = 4 (config.toml)")
    check_profile_limits(profile, Config(limits=LimitsConfig(max_speed=6)), source="p.toml")  # fits a faster config


def test_a_lower_config_limit_rejects_a_preset():
    profile, source = resolve_profile("hold-40")
    msg = limits_error(profile, Config(limits=LimitsConfig(max_angle=30)), source=source)
    assert msg == "preset 'hold-40': steps #1 (hold) angle = 40 is above [limits] max_angle = 30 (config.toml)"


def test_several_limit_problems_one_line_each():
    profile = Profile(name="x", max_speed=5, steps=[HoldStep(kind="hold", angle=80, duration=60),
                                                    HoldStep(kind="hold", angle=-20, duration=60)])
    config = Config(table=TableConfig(home_angle=-10))
    assert limits_error(profile, config).splitlines() == [
        "p.toml: steps #1 (hold) angle = 80 is above [limits] max_angle = 60 (config.toml) (and 2 more problems)",
        "p.toml: steps #2 (hold) angle = -20 is below [table] home_angle = -10 (config.toml)",
        "p.toml: max_speed = 5 is above [limits] max_speed = 4 (config.toml); a profile can only lower it",
    ]


# --- bounds that keep every time finite: a speed floor, the longest step, the most cycles and steps ---

@pytest.mark.parametrize(
    "text, expected",
    [
        (HEAD + "max_speed = 1.0e-320\n" + hold(20), "max_speed: must be ≥ 0.05 (the slowest a move may go)"),
        (HEAD + '[[steps]]\nkind = "ramp"\nangle = 20\nspeed = 0.01\n',
         "steps #1 (ramp) speed: must be ≥ 0.05 (the slowest a move may go) (got 0.01)"),
        (HEAD + oscillate(dwell_high="1e308", dwell_low="1e308"),
         "steps #1 (oscillate) dwell_high: must be ≤ 2h (the longest session timeout) (got 1e+308)"),
        (HEAD + hold(20, '"2h1s"'), "steps #1 (hold) duration: must be ≤ 2h (the longest session timeout) (got '2h1s')"),
        (HEAD + hold(20, "1" + "0" * 400), "steps #1 (hold) duration: must be ≤ 2h (the longest session timeout) "
                                           "(got a number of 401 digits)"),
        (HEAD + hold("1" + "0" * 400), "steps #1 (hold) angle: must be ≤ 90 (the hard ceiling) (got a number of 401 digits)"),
        (HEAD + '[[steps]]\nkind = "pause"\nduration = "3h"\n',
         "steps #1 (pause) duration: must be ≤ 2h (the longest session timeout) (got '3h')"),
        (HEAD + oscillate(duration='"2h30m"'), "steps #1 (oscillate) duration: must be ≤ 2h (the longest session timeout)"),
        (HEAD + oscillate(duration=None, cycles=100000000000), "steps #1 (oscillate) cycles: must be ≤ 1000 (got 100000000000)"),
        (HEAD + oscillate(duration=None, cycles="9" * 5000), "steps #1 (oscillate) cycles: must be ≤ 1000 (got a number of 5000 digits)"),
        (HEAD + hold(20) * 101, "steps: must have at most 100 entries"),
        (HEAD + '[[steps]]\nkind = "repeat"\ntimes = 2\n' + hold(20).replace("[[steps]]", "[[steps.steps]]") * 101,
         "steps #1 (repeat) steps: must have at most 100 entries"),
        (HEAD + '[progression]\nstart = { angle = 20, time = "1m" }\ntarget = { angle = 40, time = "3h" }\n'
                'step = { angle = 2, time = "30s" }\n',
         "[progression] target time: must be ≤ 2h (the longest session timeout) (got '3h')"),
    ],
    ids=["max_speed-1e-320", "ramp-speed", "dwells-1e308", "hold-2h1s", "hold-400-digits", "angle-400-digits",
         "pause-3h", "oscillate-2h30m", "cycles-1e11", "cycles-5000-digits", "101-steps", "101-repeated-steps",
         "progression-3h"],
)
def test_bounds_that_keep_every_time_finite(tmp_path, text, expected):
    import time

    started = time.perf_counter()
    path, msg = error_of(tmp_path, text)
    assert msg.startswith(f"{path}: {expected}"), msg
    assert time.perf_counter() - started < 1.0


def _numbers(model, seen=None):
    """(model, field name, field) of every number a file can give, in ``model`` and the models in it."""
    from typing import Literal, get_args, get_origin

    from controller.setup.validation import _models_in

    seen = set() if seen is None else seen
    if model in seen:
        return
    seen.add(model)
    for name, field in model.model_fields.items():
        todo, leaves = [field.annotation], set()
        while todo:
            ann = todo.pop()
            if get_origin(ann) is Literal:
                continue  # a few named values: bounded by being listed
            leaves.add(ann)
            todo.extend(get_args(ann))
        if leaves & {int, float}:
            yield model, name, field
        for inner in _models_in(field.annotation):
            yield from _numbers(inner, seen)


def test_every_number_a_config_or_profile_gives_has_an_upper_limit():
    """A number without one reaches the checks and the simulator as 1e308, or as 10**11 cycles."""
    from annotated_types import Le, Lt

    from controller.setup.validation import _metadata

    checked_by_a_list = {("ImuConfig", "address"), ("ImuConfig", "accept_ids")}  # only 0x68/0x69, the clone ids
    unbounded = [f"{m.__name__}.{name}" for root in (Config, Profile) for m, name, field in _numbers(root)
                 if not any(isinstance(meta, (Le, Lt)) for meta in _metadata(field))
                 and (m.__name__, name) not in checked_by_a_list]
    assert unbounded == []


# --- the load check's head-down time: closed form in the cycles ---------------------------------

def _time_above_cycle_by_cycle(program, start_angle, threshold=0.0):
    """The load check as it was, one cycle at a time: the reference for the closed form."""
    from controller.core import session
    from controller.core.planner import move_time

    above = total = 0.0
    at = start_angle
    for block in program.blocks:
        cycles, elapsed = 0, 0.0
        while block.cycles is None or cycles < block.cycles:
            one = session.cycle_time(block, at, program)
            if block.within is not None and elapsed + one > block.within + 1e-9:
                break
            for leg in block.legs:
                t_move, goal = session._move(program, leg, at)
                part = move_time(max(goal, threshold) - max(at, threshold), max_speed=session.leg_speed(program, leg),
                                 max_accel=program.accel)
                above += min(part, t_move) + (leg.dwell if goal >= threshold else 0.0)
                total += t_move + leg.dwell
                at = goal
            elapsed += one
            cycles += 1
    return above, total


@st.composite
def _programs(draw):
    from controller.core import session

    angle = st.floats(-60, 60, allow_nan=False)
    blocks = []
    for _ in range(draw(st.integers(1, 4))):
        legs = tuple(session.Leg(draw(angle | st.none()), draw(st.floats(0, 60)), draw(st.none() | st.floats(0.05, 4)))
                     for _ in range(draw(st.integers(1, 3))))
        if all(leg.goal is None for leg in legs) or draw(st.booleans()):
            blocks.append(session.Block(legs, cycles=draw(st.integers(1, 30))))
        else:
            legs = (session.Leg(draw(angle), draw(st.floats(0, 60))),) + legs  # a cycle that moves takes time
            legs += (session.Leg(legs[0].goal + draw(st.floats(1, 20)), 0.0),)
            blocks.append(session.Block(legs, cycles=None, within=draw(st.floats(0, 3600))))
    return session.Program(tuple(blocks), speed=draw(st.floats(0.05, 10)), accel=draw(st.floats(0.05, 20)))


@given(program=_programs(), start=st.floats(-60, 0), threshold=st.sampled_from([0.0, 1.0]))
def test_the_head_down_time_in_closed_form_is_the_cycle_by_cycle_one(program, start, threshold):
    from controller.core import session

    assert session.time_above(program, start, threshold) == pytest.approx(
        _time_above_cycle_by_cycle(program, start, threshold), rel=1e-9, abs=1e-6)


def test_the_head_down_time_of_a_hundred_billion_cycles_is_computed_at_once():
    import time

    from controller.core import session

    legs = (session.Leg(40.0, 30.0), session.Leg(0.0, 30.0))
    program = session.Program((session.Block(legs, cycles=100_000_000_000),), speed=3.0, accel=4.0)
    started = time.perf_counter()
    above, total = session.time_above(program, -60.0)
    assert time.perf_counter() - started < 0.1
    one = session.cycle_time(session.Block(legs), 0.0, program)
    assert total == pytest.approx(session.cycle_time(session.Block(legs), -60.0, program) + (100_000_000_000 - 1) * one)
    assert above > 100_000_000_000 * 60  # both dwells count: 0 is not below the threshold 0


def test_the_most_cycles_a_profile_can_hold_are_checked_at_once_against_the_longest_profile(tmp_path, mocker):
    """Ten million cycles, one at a time, took half a minute: the check works out a block's two kinds of
    cycle (its first, and every later one) and multiplies, so twice the cycles cost not one more look."""
    from controller.setup.preflight import prepare_profile

    looks = mocker.spy(session, "_one_cycle")

    def check(cycles: int, name: str) -> tuple[str, int]:
        inner = oscillate(high=-10, low=-20, dwell_high=0, dwell_low=0, duration=None, cycles=cycles)
        body = '[[steps]]\nkind = "repeat"\ntimes = 100\n' + inner.replace("[[steps]]", "[[steps.steps]]") * 20
        path = write(tmp_path, HEAD + body * 5, name)  # 10000 steps of that many cycles: head-up, so no session timeout
        before = looks.call_count
        with pytest.raises(ProfileError) as info:
            prepare_profile(path, Config())
        assert str(info.value).startswith(f"{path}: its steps last about ")
        assert str(info.value).endswith("at 4 deg/s, longer than the 24h a profile may last")
        return looks.call_count - before

    assert check(1000, "ten-million.toml") == check(500, "five-million.toml") > 0


def test_a_profile_of_more_than_ten_thousand_steps_once_unrolled_is_refused(tmp_path):
    body = '[[steps]]\nkind = "repeat"\ntimes = 100\n' + hold(-20, 1).replace("[[steps]]", "[[steps.steps]]") * 51
    path, msg = error_of(tmp_path, HEAD + body * 2)
    assert msg == f"{path}: steps: 10200 steps once the repeats are unrolled, more than the 10000 a profile may run"


def test_a_long_head_up_profile_within_a_day_is_accepted(tmp_path):
    from controller.setup.preflight import prepare_profile

    body = '[[steps]]\nkind = "repeat"\ntimes = 11\n' + hold(-20, '"2h"').replace("[[steps]]", "[[steps.steps]]")
    prepared = prepare_profile(write(tmp_path, HEAD + body), Config())
    assert prepared.head_down == 0 and 22 * 3600 < prepared.duration < 24 * 3600


def test_a_long_preset_name_is_cut_short_in_the_message():
    with pytest.raises(ProfileError) as info:
        resolve_profile("a" * 5000)
    assert str(info.value).startswith("no preset or profile file named 'aaaaaaaaaa") and len(str(info.value)) < 300


@pytest.mark.parametrize("tracking, speed, advice", [
    ({}, 0.1, "raise the speed to at least 0.211 deg/s"),  # rate_tolerance at its floor: lowering the share cannot do it
    ({"rate_tolerance": 0.2}, 0.3, "raise the speed, or lower [tracking] rate_tolerance or rate_share"),
    ({"rate_tolerance": 0.2, "rate_share": 0.0}, 0.3, "raise the speed, or lower [tracking] rate_tolerance"),
    ({"rate_tolerance": 0.2}, 0.1, "raise the speed to at least 0.421 deg/s"),  # below 0.2, the slowest any config watches
])
def test_a_ramp_too_slow_to_watch_gets_only_advice_that_can_work(tracking, speed, advice, tmp_path):
    from controller.setup.preflight import prepare_profile

    path = tmp_path / "slow.toml"
    path.write_text(f'name = "slow"\n[[steps]]\nkind = "ramp"\nangle = 20\nspeed = {speed}\n', encoding="utf-8")
    with pytest.raises(ProfileError) as info:
        prepare_profile(str(path), Config.model_validate({"tracking": tracking}))
    assert str(info.value).endswith(f"can see within 1 s (the config): {advice}"), str(info.value)
