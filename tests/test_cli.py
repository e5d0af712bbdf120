"""The command line as a user meets it: exit codes, one-line errors, the trace contract."""

from __future__ import annotations

import subprocess
import sys

import pytest

from controller.cli import main
from controller.trace import read_trace


def _err_lines(capsys):
    return [line for line in capsys.readouterr().err.splitlines() if line.strip()]


def test_oscillate_runs_to_home_and_the_trace_follows_the_contract(tmp_path, capsys):
    log = tmp_path / "out.jsonl"
    assert main(["simulate", "oscillate", "--fast", "--log", str(log)]) == 0
    out = capsys.readouterr().out
    assert "home and idle" in out and "exit 0" in out
    records = read_trace(log)
    samples = [r for r in records if "event" not in r]
    events = [r for r in records if "event" in r]
    assert len(samples) > 19 * 60 * 50  # a sample every control period of a ~20-minute session
    for s in samples[:: len(samples) // 50]:
        assert {"t", "angle", "true_angle", "target", "state"} <= set(s)
        assert all(isinstance(s[k], (int, float)) for k in ("t", "angle", "true_angle", "target"))
    periods = {round(b["t"] - a["t"], 6) for a, b in zip(samples, samples[1:])}
    assert periods == {0.02}
    assert events[0]["event"] == "limits" and events[0]["max_angle"] == 60  # what the run's limits were
    assert events[1] == {"t": 0.0, "event": "button", "name": "start", "action": "press"}
    assert any(e["event"] == "home" for e in events)
    assert samples[-1]["state"] == "idle" and abs(samples[-1]["true_angle"] - (-60)) <= 1


def test_stop_ends_with_exit_3_and_a_button_event(tmp_path):
    log = tmp_path / "t.jsonl"
    assert main(["simulate", "hold-40", "--fast", "--press", "stop@35.5", "--log", str(log)]) == 3
    assert {"t": 35.5, "event": "button", "name": "stop", "action": "press"} in read_trace(log)


def test_until_ends_with_exit_4():
    assert main(["simulate", "hold-40", "--fast", "--until", "30"]) == 4


def test_no_profile_and_nothing_scheduled_is_home_at_once():
    assert main(["simulate", "--fast"]) == 0


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["simulate", "gentel", "--fast"], "did you mean 'gentle'"),
        (["simulate", "gentle", "--press", "stp@3"], "no button named 'stp'"),
        (["simulate", "gentle", "--press", "stop"], "expected NAME@T[:HOLD]"),
        (["simulate", "gentle", "--fault", "meteor@3"], "no fault kind 'meteor'"),
        (["simulate", "gentle", "--until", "soon"], "is not a time"),
        (["simulate", "--config", "/no/such/config.toml"], "no such config file"),
        (["simulate", "--seed", "x"], "invalid int value"),
        (["frobnicate"], "invalid choice"),
        (["profiles", "check", "/no/such/profile.toml"], "no such"),
    ],
)
def test_bad_input_is_one_line_on_stderr_with_exit_2(argv, expected, capsys):
    assert main(argv) == 2
    lines = _err_lines(capsys)
    assert len(lines) == 1 and expected in lines[0], lines
    assert "Traceback" not in lines[0]


def test_a_profile_with_a_typo_names_the_file_field_and_fix(tmp_path, capsys):
    bad = tmp_path / "mine.toml"
    bad.write_text('name = "mine"\n[[steps]]\nkind = "hold"\nanlge = 20\nduration = "2m"\n')
    assert main(["simulate", str(bad), "--fast"]) == 2
    (line,) = _err_lines(capsys)
    assert str(bad) in line and "anlge" in line and "did you mean 'angle'" in line


def test_a_profile_above_max_angle_is_rejected_before_anything_runs(tmp_path, capsys):
    steep = tmp_path / "steep.toml"
    steep.write_text('name = "steep"\n[[steps]]\nkind = "hold"\nangle = 70\nduration = "1m"\n')
    log = tmp_path / "never.jsonl"
    assert main(["simulate", str(steep), "--fast", "--log", str(log)]) == 2
    (line,) = _err_lines(capsys)
    assert "angle = 70 is above [limits] max_angle = 60" in line
    assert not log.exists()


def test_a_profile_longer_than_the_session_timeout_is_rejected_naming_both(tmp_path, capsys):
    long = tmp_path / "long.toml"
    long.write_text('name = "long"\n[[steps]]\nkind = "hold"\nangle = 30\nduration = "25m"\n')
    assert main(["profiles", "check", str(long)]) == 2
    (line,) = _err_lines(capsys)
    assert str(long) in line and "session_timeout = 20m" in line


def test_profiles_lists_and_checks(capsys):
    assert main(["profiles"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in ("gentle", "hold-40", "oscillate"))
    from profiles import preset_names  # noqa: F401 - the shipped presets are files

    assert main(["profiles", "check", "oscillate"]) == 0
    assert "ok" in capsys.readouterr().out


def test_python_dash_m_controller_runs_the_same_command():
    done = subprocess.run([sys.executable, "-m", "controller", "profiles"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "oscillate" in done.stdout


def test_a_press_of_a_button_the_table_does_not_have_is_refused(tmp_path, capsys):
    config = tmp_path / "c.toml"
    config.write_text("[pins]\nselect = false\n", encoding="utf-8")
    assert main(["simulate", "--fast", "--config", str(config), "--press", "select@1"]) == 2
    assert "--press 'select@1': the table has no select button ([pins] select = false)" in capsys.readouterr().err


def _into_a_closed_pipe(args, *, buffered: bool):
    """Run the command with its stdout a pipe whose reader has gone (as after `| head -1`)."""
    import os

    env = dict(os.environ)
    env.pop("PYTHONUNBUFFERED", None)
    if not buffered:
        env["PYTHONUNBUFFERED"] = "1"
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the command writes a byte
    try:
        done = subprocess.run([sys.executable, "-m", "controller", *args], stdout=write, stderr=subprocess.PIPE,
                              text=True, timeout=120, env=env)
    finally:
        os.close(write)
    return done


@pytest.mark.parametrize("buffered", [True, False])
@pytest.mark.parametrize("args", [["profiles"], ["simulate", "hold-40", "--fast", "--log", "/dev/stdout"],
                                  ["doctor", "--sim"]])  # doctor writes through rich, which would exit 1
def test_output_into_a_closed_pipe_ends_quietly_with_141(args, buffered):
    done = _into_a_closed_pipe(args, buffered=buffered)
    assert done.stderr == "" and done.returncode == 141, (done.returncode, done.stderr)


def _simulate_in_a_subprocess(*args):
    return subprocess.run([sys.executable, "-m", "controller", "simulate", *args], capture_output=True, text=True,
                          timeout=120)


def test_each_trip_and_notice_of_a_fast_run_is_printed_once_and_says_what_happened():
    done = _simulate_in_a_subprocess("hold-40", "--fast", "--fault", "imu-disconnect@20", "--press", "return@22:60")
    both = done.stdout + done.stderr
    assert both.count("imu-lost") == 2, both  # the trip's line, and the end line naming the latched trip
    (trip,) = [line for line in both.splitlines() if "trip " in line and "imu-lost" in line]
    assert "the angle sensor stopped answering" in trip
    assert both.count("return held: moving toward home") == 1, both


def test_a_run_with_nothing_to_do_says_the_table_stayed_home(capsys):
    assert main(["simulate", "--fast"]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert "nothing ran" in line and "stayed home and idle" in line and "nan" not in line, line
    assert "short of home" not in line


def test_a_sensor_dead_from_power_on_trips_before_the_run_ends(capsys):
    assert main(["simulate", "--fast", "--fault", "imu-disconnect@0"]) == 3
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert "tripped (imu-lost)" in line and "nan" not in line and "no reading from the sensor" in line, line


def test_a_hold_to_run_return_with_the_sensor_lost_ends_saying_the_step_count_brought_it_home(capsys):
    assert main(["simulate", "hold-40", "--fast", "--fault", "imu-disconnect@20", "--press", "return@22:60"]) == 3
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert "home by the step count" in line, line
    assert "angle by the step count -60.0°" in line and "is stale" in line, line
