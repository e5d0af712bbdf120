"""Tests of the config file: defaults, hard bounds, cross-section checks, and the error messages."""

from __future__ import annotations

import pytest

from tests.conftest import check_lines

from controller.setup.config import DEFAULT_CONFIG_TOML, Config, LimitsConfig, load_config
from controller.errors import ConfigError, InputError
from controller.setup.validation import validate_toml_text


def write(tmp_path, text: str, name: str = "config.toml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def error_of(path: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.__cause__ is None and info.value.__suppress_context__  # no chained traceback
    msg = str(info.value)
    check_lines(msg, path)
    return msg


def test_defaults_are_the_documented_ones():
    c = Config()
    assert (c.table.home_angle, c.table.steps_per_degree) == (-60, 200)
    assert (c.limits.max_angle, c.limits.max_speed, c.limits.max_accel) == (60, 4, 4)
    assert c.limits.session_timeout == 20 * 60
    assert (c.motion.return_speed, c.motion.jog_speed, c.motion.rest_angle) == (3, 2, 0)
    assert c.motion.rest_time == 15
    assert c.control.rate == 50
    assert c.period == pytest.approx(0.02)


def test_default_config_text_parses_to_the_defaults():
    assert validate_toml_text(DEFAULT_CONFIG_TOML, Config, error_cls=ConfigError, source="x") == Config()


def test_default_config_text_written_to_a_file_loads(tmp_path):
    assert load_config(write(tmp_path, DEFAULT_CONFIG_TOML)) == Config()


def test_no_path_gives_defaults_and_an_empty_file_too(tmp_path):
    assert load_config(None) == Config()
    assert load_config(write(tmp_path, "")) == Config()


def test_partial_file_keeps_other_defaults(tmp_path):
    c = load_config(write(tmp_path, '[limits]\nmax_angle = 45\nsession_timeout = "1m30s"\n[control]\nrate = 100\n'))
    assert c.limits.max_angle == 45 and c.limits.session_timeout == 90
    assert c.limits.max_speed == 4 and c.period == pytest.approx(0.01)


def test_config_is_frozen():
    c = Config()
    with pytest.raises(Exception):
        c.limits.max_angle = 80  # type: ignore[misc]


@pytest.mark.parametrize(
    "section, key, value, limit",
    [
        ("table", "home_angle", "0", "must be ≤ -5"),
        ("table", "home_angle", "-90", "must be ≥ -89"),
        ("table", "steps_per_degree", "5", "must be ≥ 10"),
        ("table", "steps_per_degree", "30000", "must be ≤ 20000"),
        ("limits", "max_angle", "95", "must be ≤ 90 (the hard ceiling)"),
        ("limits", "max_angle", "0", "must be > 0"),
        ("limits", "max_speed", "11", "must be ≤ 10"),
        ("limits", "max_speed", "-1", "must be ≥ 0.05 (the slowest a move may go)"),
        ("limits", "max_speed", "0.001", "must be ≥ 0.05 (the slowest a move may go)"),
        ("limits", "max_accel", "0.01", "must be ≥ 0.05 (the gentlest acceleration)"),
        ("limits", "max_accel", "25", "must be ≤ 20"),
        ("limits", "session_timeout", '"3h"', "must be ≤ 2h"),
        ("limits", "session_timeout", "5", "must be ≥ 10s"),
        ("motion", "return_speed", "0", "must be ≥ 0.05 (the slowest a move may go)"),
        ("motion", "jog_speed", "12", "must be ≤ 10"),
        ("motion", "rest_time", '"6m"', "must be ≤ 5m"),
        ("control", "rate", "10", "must be ≥ 20"),
        ("control", "rate", "500", "must be ≤ 200"),
    ],
)
def test_each_bound_names_file_key_and_limit(tmp_path, section, key, value, limit):
    path = write(tmp_path, f"[{section}]\n{key} = {value}\n")
    msg = error_of(path)
    assert msg.startswith(f"{path}: [{section}] {key}: {limit}")
    got = repr(value[1:-1]) if value.startswith('"') else value
    assert msg.splitlines()[0].endswith(f"(got {got})")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("[limits]\nmax_angle = nan\n", "[limits] max_angle: must be a finite number"),
        ("[limits]\nmax_angle = inf\n", "[limits] max_angle: must be a finite number"),
        ("[limits]\nmax_angle = true\n", "[limits] max_angle: must be a number (got True)"),
        ('[limits]\nmax_angle = "60"\n', "[limits] max_angle: must be a number (got '60')"),
        ("[control]\nrate = 50.5\n", "[control] rate: must be a whole number (got 50.5)"),
        ('[limits]\nsession_timeout = "20 minutes"\n', '[limits] session_timeout: not a duration: use seconds (90)'),
        ("limits = 3\n", "[limits]: must be a table (got 3)"),
    ],
)
def test_wrong_types_are_rejected_not_coerced(tmp_path, text, expected):
    path = write(tmp_path, text)
    assert error_of(path).startswith(f"{path}: {expected}")


def test_return_speed_above_max_speed_names_both_keys(tmp_path):
    path = write(tmp_path, "[limits]\nmax_speed = 4\n[motion]\nreturn_speed = 5\n")
    assert error_of(path) == f"{path}: [motion] return_speed = 5 is above [limits] max_speed = 4"


def test_lowering_max_speed_below_default_comfort_speeds_is_caught(tmp_path):
    path = write(tmp_path, "[limits]\nmax_speed = 2.5\n")
    assert error_of(path) == f"{path}: [motion] return_speed = 3 (the default) is above [limits] max_speed = 2.5"


def test_several_cross_problems_one_line_each(tmp_path):
    path = write(tmp_path, "[motion]\nreturn_speed = 5\njog_speed = 4.5\nrest_angle = -70\n")
    lines = error_of(path).splitlines()
    assert lines == [
        f"{path}: [motion] return_speed = 5 is above [limits] max_speed = 4 (and 2 more problems)",
        f"{path}: [motion] jog_speed = 4.5 is above [limits] max_speed = 4",
        f"{path}: [motion] rest_angle = -70 is below [table] home_angle = -60",
    ]


def test_rest_angle_may_not_be_head_down(tmp_path):
    path = write(tmp_path, "[limits]\nmax_angle = 30\n[motion]\nrest_angle = 5\n")
    assert error_of(path).startswith(f"{path}: [motion] rest_angle: must be ≤ 0 (a rest is never head-down)")


def test_many_problems_first_line_counts_the_rest(tmp_path):
    path = write(tmp_path, "[limits]\nmax_angle = 95\nmax_speed = 0\n[control]\nrate = 1\n")
    msg = error_of(path)
    assert msg.splitlines()[0] == f"{path}: [limits] max_angle: must be ≤ 90 (the hard ceiling) (got 95) (and 2 more problems)"
    assert f"{path}: [control] rate: must be ≥ 20 (got 1)" in msg.splitlines()


def test_unknown_section_suggests_the_right_one(tmp_path):
    path = write(tmp_path, "[limts]\nmax_angle = 50\n")
    assert error_of(path) == f"{path}: unknown table [limts] (did you mean [limits]?)"


def test_unknown_key_suggests_the_right_one(tmp_path):
    path = write(tmp_path, "[limits]\nmax_angel = 50\n")
    assert error_of(path) == f"{path}: [limits]: unknown key 'max_angel' (did you mean 'max_angle'?)"


@pytest.mark.parametrize("text, hint", [
    ("rate = 50\n", "unknown key 'rate' (it goes in [control])"),  # a section's option written at the top
    ("max_angle = 50\n", "unknown key 'max_angle' (it goes in [limits])"),
    ("remot = 1\n", "unknown key 'remot' (did you mean 'remote'?)"),  # no section has it: the closest name
])
def test_an_option_written_outside_its_table_is_pointed_to_it(tmp_path, text, hint):
    path = write(tmp_path, text)
    assert error_of(path) == f"{path}: {hint}"


def test_unknown_key_without_a_close_match(tmp_path):
    path = write(tmp_path, "[limits]\ncolour = 'red'\n")
    assert error_of(path) == f"{path}: [limits]: unknown key 'colour'"


def test_invalid_toml(tmp_path):
    path = write(tmp_path, "[limits]\nmax_angle = = 3\n")
    msg = error_of(path)
    assert msg.startswith(f"{path}: not valid TOML: ") and "line 2" in msg


def test_not_utf8(tmp_path):
    path = tmp_path / "config.toml"
    path.write_bytes(b"[limits]\nmax_angle = 60 # \xff\n")
    assert error_of(str(path)) == f"{path}: not valid TOML: the file is not UTF-8 text"


def test_missing_file(tmp_path):
    path = str(tmp_path / "nope.toml")
    assert error_of(path) == f"{path}: no such config file"


def test_directory_instead_of_file(tmp_path):
    assert error_of(str(tmp_path)) == f"{tmp_path}: is a directory, not a config file"


def test_config_error_is_an_input_error_and_a_value_error(tmp_path):
    with pytest.raises(InputError):
        load_config(str(tmp_path / "nope.toml"))
    with pytest.raises(ValueError):
        load_config(str(tmp_path / "nope.toml"))


def test_models_also_validate_when_built_in_code():
    with pytest.raises(ValueError):
        LimitsConfig(max_angle=120)
    with pytest.raises(ValueError, match=r"return_speed = 3 \(the default\) is above"):
        Config(limits=LimitsConfig(max_speed=2.0))


# --- numbers and texts no file should hold: each is one short line, never a traceback or a hang ---

HUGE = "1" + "0" * 400  # an integer beyond any float (1e400), as TOML reads it: a Python int


@pytest.mark.parametrize(
    "section, key, value, limit",
    [
        ("motion", "rest_time", HUGE, "must be ≤ 5m"),
        ("limits", "idle_timeout", HUGE, "must be ≤ 30m"),
        ("limits", "session_timeout", HUGE, "must be ≤ 2h"),
        ("tracking", "time", HUGE, "must be ≤ 0.7s (so a stall trips within 1 s, counting the power-on anchor)"),
        ("motion", "rest_time", f'"{HUGE}s"', "must be ≤ 5m"),
        ("limits", "max_angle", HUGE, "must be ≤ 90 (the hard ceiling)"),
        ("table", "home_angle", "-" + HUGE, "must be ≥ -89"),
        ("limits", "max_speed", "2" + "0" * 308, "must be ≤ 10 (the hard speed limit)"),
        ("control", "rate", HUGE, "must be ≤ 200"),
        ("pins", "stop", HUGE, "must be ≤ 27 (the 40-pin header ends at GPIO27)"),
    ],
)
def test_a_number_too_large_for_a_float_names_the_key_and_its_limit(tmp_path, section, key, value, limit):
    path = write(tmp_path, f"[{section}]\n{key} = {value}\n")
    msg = error_of(path)
    assert msg.startswith(f"{path}: [{section}] {key}: {limit} (got "), msg
    # The value is described, not printed in full. Counted past the file's name, whose length is the
    # machine's (an xdist worker's tmp_path is longer): 124 is what 200 in all left it in one process.
    assert len(msg) - len(f"{path}: ") < 124 and "\n" not in msg, msg


@pytest.mark.parametrize("padding", [" " * 400, "1h" + " " * 400, "1" * 400 + " "], ids=["spaces", "unit", "digits"])
def test_a_long_duration_text_is_rejected_at_once(tmp_path, padding):
    import time

    path = write(tmp_path, f'[motion]\nrest_time = "{padding}x"\n')
    started = time.perf_counter()
    msg = error_of(path)
    assert time.perf_counter() - started < 0.5  # the duration pattern never backtracks
    assert msg.startswith(f"{path}: [motion] rest_time: not a duration") and len(msg) < 250, msg


def test_a_long_unknown_key_and_a_long_value_are_cut_short(tmp_path):
    path = write(tmp_path, f"[limits]\n{'k' * 5000} = 1\n[calibration]\nfile = 3\n[presets]\navailable = 5\n"
                           f"[gpio]\npin_factory = \"{'x' * 5000}\"\n")
    lines = error_of(path).splitlines()
    assert lines[0].startswith(f"{path}: [limits]: unknown key '{'k' * 40}...'")
    assert any(line.startswith(f"{path}: [gpio] pin_factory: ") and line.endswith("...' (5000 characters))")
               for line in lines), lines
    assert all(len(line) < 250 for line in lines), lines


@pytest.mark.parametrize(
    "section, key, value, expected",
    [
        ("limits", "max_angle", "1" * 5000, "must be ≤ 90 (the hard ceiling) (got a number of 5000 digits)"),
        ("control", "rate", "1_" * 4400 + "0", "must be ≤ 200 (got a number of 4401 digits)"),
        ("table", "home_angle", "-" + "9" * 4301, "must be ≥ -89 (got a negative number of 4301 digits)"),
        ("motion", "rest_time", "9" * 4301, "must be ≤ 5m (got a number of 4301 digits)"),
    ],
)
def test_an_integer_too_long_for_python_to_read_names_the_key_and_its_limit(tmp_path, section, key, value, expected):
    # tomllib raises a bare ValueError for more than 4300 digits; the key is still named
    path = write(tmp_path, f"# a comment 1234\n[{section}]\n{key} = {value}\n")
    assert error_of(path) == f"{path}: [{section}] {key}: {expected}"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("a = " + "[" * 5000 + "]" * 5000 + "\n", "not valid TOML: line 1: arrays or tables nested too deeply"),
        ("[limits]\nmax_angle = " + "{a = " * 3000 + "1" + "}" * 3000 + "\n",
         "not valid TOML: line 2: arrays or tables nested too deeply"),
        (".".join(["a"] * 30000) + " = 1\n", "not valid TOML: line 1: a key of more than 16 dotted parts"),
        ("[x]\n[" + ".".join(['"a"'] * 10000) + "]\n", "not valid TOML: line 2: a key of more than 16 dotted parts"),
    ],
    ids=["arrays", "inline-tables", "dotted-key", "dotted-table"],
)
def test_toml_nested_too_deeply_is_one_line_at_once(tmp_path, text, expected):
    import time

    path = write(tmp_path, text)
    started = time.perf_counter()
    assert error_of(path) == f"{path}: {expected}"
    assert time.perf_counter() - started < 0.5  # tomllib takes 20 s over a 30000-part dotted key


def test_a_file_over_64_kib_is_refused_unread(tmp_path):
    path = write(tmp_path, "[limits]\nmax_angle = 45\n" + "# padding\n" * 7000)
    assert error_of(path) == f"{path}: more than 64 KiB, too large for a config file"
    assert load_config(write(tmp_path, "[limits]\nmax_angle = 45\n" + "# padding\n" * 6000)).limits.max_angle == 45


def test_dev_zero_as_a_config_is_refused_not_read_forever():
    assert error_of("/dev/zero") == "/dev/zero: more than 64 KiB, too large for a config file"


def test_a_text_that_merely_mentions_dots_and_digits_still_loads(tmp_path):
    text = ('# see 1.2.3.4 and a.b.c, 12345678901234567890\n[limits]\nmax_angle = 45.5\nsession_timeout = "1m30s"\n'
            '[presets]\navailable = ["gentle"]  # a.b.c.d.e.f.g.h.i.j.k.l.m.n.o (15 parts)\n')
    assert load_config(write(tmp_path, text)).limits.max_angle == 45.5


def test_a_long_unknown_user_name_is_cut_short_in_the_message():
    with pytest.raises(ConfigError) as info:
        Config().user("a" * 5000)
    assert str(info.value).startswith("no user named 'aaaaaaaaaa") and len(str(info.value)) < 300
