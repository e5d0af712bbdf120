"""Tests of profile files, durations, the presets, and the check of a profile against the config."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import check_lines
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

import profiles
from controller.config import Config, LimitsConfig, TableConfig
from controller.errors import ProfileError
from controller.validation import DURATION_ERROR, Duration, format_duration
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
        (HEAD + 'max_speed = 0\n' + hold(20), "max_speed: must be > 0 (got 0)"),
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
