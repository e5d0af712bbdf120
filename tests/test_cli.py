"""The command line as a user meets it: exit codes, one-line errors, the trace contract."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from controller.commands.cli import main
from controller.setup.config import Config
from controller.records.trace import read_trace


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
                                  ["doctor", "--sim"],  # doctor writes through rich, which would exit 1
                                  ["simulate", "gentle"]])  # real time: its first line is printed inside a period
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


@pytest.mark.parametrize("command", [["simulate", "{dir}", "--fast"], ["profiles", "check", "{dir}"],
                                     ["simulate", "{dir}", "--interactive"]])
def test_a_directory_given_as_a_profile_is_called_a_directory(tmp_path, capsys, command):
    folder = tmp_path / "presets"
    folder.mkdir()
    assert main([part.format(dir=folder) for part in command]) == 2
    (line,) = _err_lines(capsys)
    assert f"{folder}: is a directory, not a profile file" in line and "no preset or profile file named" not in line


@pytest.fixture
def low_config(tmp_path):
    config = tmp_path / "low.toml"
    config.write_text("[limits]\nmax_angle = 30\n", encoding="utf-8")
    return str(config)


@pytest.mark.parametrize("argv", [
    ["profiles", "--config", "{c}", "check", "hold-40"],
    ["profiles", "check", "hold-40", "--config", "{c}"],
])
def test_profiles_takes_config_before_or_after_the_action(argv, low_config, capsys):
    assert main([a.format(c=low_config) for a in argv]) == 2
    assert "above [limits] max_angle = 30" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["profiles", "--config", "{c}"], ["profiles", "list", "--config", "{c}"],
                                  ["profiles", "--config", "{c}", "list"]])
def test_profiles_list_takes_config_and_says_what_the_table_offers(argv, tmp_path, capsys):
    config = tmp_path / "offers.toml"
    config.write_text('[presets]\navailable = ["gentle", "slow-entry"]\n[[users]]\nname = "bo"\nmax_angle = 25\n',
                      encoding="utf-8")
    assert main([a.format(c=config) for a in argv]) == 0
    out = capsys.readouterr().out
    assert f"on the table ({config}, [presets] available): gentle, slow-entry" in out
    assert "offered to user 'bo': gentle\n" in out  # slow-entry's 30 deg is above her 25
    assert "not offered to user 'bo': preset 'slow-entry'" in out


@pytest.mark.parametrize("available, problem", [
    (None, "[presets] available: preset 'hold-40': steps #1 (hold) angle = 40 is above [limits] max_angle = 30"),
    ('["gentle", "hold40"]', "[presets] available: no preset or profile file named 'hold40' (did you mean 'hold-40'?"),
])
def test_profiles_list_refuses_what_run_would_refuse(available, problem, low_config, capsys):
    """A preset the table offers that is no preset, or does not fit the config, is refused by
    `profiles` as `run` refuses it, not listed as if the table could run it."""
    if available is not None:
        Path(low_config).write_text(f"[presets]\navailable = {available}\n", encoding="utf-8")
    assert main(["profiles", "--config", low_config]) == 2
    assert f"error: {low_config}: {problem}" in capsys.readouterr().err
    assert main(["run", "--sim", "--config", low_config, "--until", "0"]) == 2
    assert problem in capsys.readouterr().err


def test_users_takes_config_before_the_action(tmp_path, capsys, monkeypatch):
    config = tmp_path / "c.toml"
    config.write_text('[[users]]\nname = "ana"\n', encoding="utf-8")
    history = tmp_path / "h.sqlite"
    monkeypatch.setattr("builtins.input", lambda prompt="": "yes")
    assert main(["users", "--config", str(config), "--history", str(history), "ack", "ana"]) == 0
    assert main(["users", "--config", str(config), "--history", str(history)]) == 0
    assert "ana          the config limits; contraindications acknowledged" in capsys.readouterr().out


def test_the_profiles_list_keeps_its_columns_with_a_long_name(capsys):
    from profiles import preset_names

    assert main(["profiles"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.split(" ", 1)[0] in preset_names()]
    assert len(lines) == len(preset_names())
    starts = {len(line) - len(line.split(" ", 1)[1].lstrip()) for line in lines}
    assert len(starts) == 1, lines  # every description starts in the same column


@pytest.mark.parametrize("command", ["plot", "history", "profiles", "users"])
def test_every_command_has_a_description_in_its_help(command, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    out = capsys.readouterr().out
    assert out.split("\n\n")[1].strip() and not out.split("\n\n")[1].startswith(("positional", "options")), out


def test_simulate_help_lists_every_exit_status(capsys):
    with pytest.raises(SystemExit):
        main(["simulate", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    for code in ("0 home", "1 internal error", "2 input rejected", "3 stop or trip latched", "4 not home",
                 "130 interrupted (Ctrl-C)", "141 "):
        assert code in out, code


def _interrupt_once_started(argv: list[str], started) -> tuple[int, str, str]:
    """Run ``inversion-table ARGV``, SIGINT it once ``started(stdout so far)`` holds; (code, out, err)."""
    import os
    import selectors
    import signal
    import time

    proc = subprocess.Popen([sys.executable, "-m", "controller", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    try:
        watch = selectors.DefaultSelector()
        watch.register(proc.stdout, selectors.EVENT_READ)
        seen, deadline = "", time.monotonic() + 60
        while not started(seen) and time.monotonic() < deadline:
            if watch.select(timeout=0.2):
                seen += os.read(proc.stdout.fileno(), 4096).decode()  # unbuffered: select sees it all
        assert started(seen), seen
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    return proc.returncode, seen + out, err


@pytest.mark.realtime
def test_ctrl_c_in_a_real_time_run_says_where_the_table_was_left():
    """On the real clock: a run in real time, interrupted with SIGINT once the session has started,
    ends at the next period boundary (the signal only sets a flag) and says where the table was left."""
    code, out, err = _interrupt_once_started(["simulate", "hold-40"], lambda seen: "session  start" in seen)
    assert code == 130, err
    last = (out + err).strip().splitlines()[-1]
    assert "interrupted (Ctrl-C) at t=" in last and "state running, angle " in last and "exit 130" in last, last
    assert "Traceback" not in err


@pytest.mark.realtime
def test_ctrl_c_in_a_fast_run_says_where_the_table_was_left(tmp_path):
    """The same with --fast (a run of a day of virtual time, interrupted once its trace shows the session)."""
    trace = tmp_path / "t.jsonl"

    def started(_seen) -> bool:
        return trace.exists() and '"event":"session"' in trace.read_text(encoding="utf-8")

    code, out, err = _interrupt_once_started(["simulate", "hold-40", "--fast", "--press", "stop@23h", "--log", str(trace)],
                                             started)
    assert code == 130, err
    last = (out + err).strip().splitlines()[-1]
    assert "interrupted (Ctrl-C) at t=" in last and "angle " in last and "exit 130" in last, last
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["simulate", "--fast", "--press", "stop@25h"], "--press 'stop@25h': '25h' is more than the 24h a simulation can schedule"),
        (["simulate", "--fast", "--press", "return@1:24h1s"], "--press 'return@1:24h1s': '24h1s' is more than the 24h"),
        (["simulate", "--fast", "--fault", "stall@90000"], "--fault 'stall@90000': '90000' is more than the 24h"),
        (["simulate", "--fast", "--fault", "stall@1:2d"], "--fault 'stall@1:2d': '2d' is not a time"),
        (["simulate", "--fast", "--until", "1" + "0" * 400], "--until '1000000000000000000000000000000000000000...' "
                                                             "(401 characters): '1000"),
        (["simulate", "--fast", "--press", "stop@" + " " * 3000 + "x"], "is not a time"),
        (["simulate", "--fast", "--press", "a" * 3000 + "@1"], "no button named 'aaaaaaaaaa"),
        (["simulate", "--fast", "--seed", "1" * 5000], "argument --seed: invalid int value: '1111111111"),
        (["simulate", "--interactive", "--speed", "x" * 5000], "argument --speed: invalid float value: 'xxxxxxxx"),
        (["simulate", "--interactive", "--speed", "nan"], "--speed nan: must be between 0.1 and 100"),
    ],
    ids=["press-25h", "hold-24h1s", "fault-90000", "fault-2d", "until-400-digits", "press-spaces", "press-long-name",
         "seed-5000-digits", "speed-long", "speed-nan"],
)
def test_a_time_beyond_a_day_or_a_long_option_is_one_short_line_with_exit_2(argv, expected, capsys):
    import time

    started = time.perf_counter()
    assert main(argv) == 2
    assert time.perf_counter() - started < 1.0
    (line,) = _err_lines(capsys)
    assert expected in line and len(line) < 300, line


def test_the_longest_a_run_may_take_follows_from_its_inputs(tmp_path):
    """A run is cut (as a bug) only past the latest it could end: a stop at 5h, a slow 5h33m profile."""
    from controller.shell import simulate as sim
    from controller.setup.config import load_config
    from controller.setup.preflight import prepare_profile

    run = sim.Simulation(Config(), presses=[sim.Press(5 * 3600, "stop")])
    try:
        assert run.max_time > 5 * 3600 + 20 * 60  # the press, then a session timeout at the least
    finally:
        run.close()
    config_file = tmp_path / "slow.toml"
    config_file.write_text('[limits]\nmax_speed = 0.5\nsession_timeout = "2h"\n[motion]\nreturn_speed = 0.5\n'
                           'jog_speed = 0.5\n', encoding="utf-8")
    profile = tmp_path / "long.toml"
    profile.write_text('name = "long"\n' + "".join(f'[[steps]]\nkind = "hold"\nangle = {a}\nduration = "{d}"\n'
                                                    for a, d in ((-20, "2h"), (-30, "2h"), (30, "1h30m"))))
    config = load_config(str(config_file))
    prepared = prepare_profile(str(profile), config)
    assert prepared.duration > 5.5 * 3600  # longer than the 4 h the simulator used to allow any run
    run = sim.Simulation(config, program=prepared.program, presses=[sim.Press(0.0, "start")])
    try:
        way_home = 90 / 0.5 + config.motion.rest_time  # from 30° to -60° at 0.5 deg/s, and the rest
        assert run.max_time > prepared.duration + way_home
    finally:
        run.close()


# --- a log that cannot be written --------------------------------------------------------------

class _DiskFillsAfter:
    """open() for the trace, onto a file whose disk is full after ``room`` bytes (ENOSPC from then on)."""

    def __init__(self, room: int) -> None:
        self.room = room

    def __call__(self, path, mode="r", encoding=None):
        import errno
        import io

        fill = self

        class Raw(io.RawIOBase):
            def writable(self):
                return True

            def write(self, data):
                if len(data) > fill.room:
                    raise OSError(errno.ENOSPC, "No space left on device")
                fill.room -= len(data)
                return len(data)

        return io.TextIOWrapper(io.BufferedWriter(Raw(), buffer_size=8192), encoding=encoding)


@pytest.mark.parametrize("path", ["/dev/full", "/proc/version"])
def test_a_log_that_takes_nothing_is_refused_before_anything_runs(path, capsys):
    import os

    if not os.path.exists(path):
        pytest.skip(f"no {path} here")
    assert main(["simulate", "gentle", "--fast", "--log", path]) == 2
    (line,) = _err_lines(capsys)
    assert line.startswith(f"inversion-table: error: {path}: cannot write the log: ")
    assert capsys.readouterr().out == ""  # no run, no result line


@pytest.mark.parametrize("log", ["missing/folder/t.jsonl", "."], ids=["missing-folder", "a-directory"])
def test_a_log_in_a_missing_folder_or_a_directory_is_refused(tmp_path, monkeypatch, log, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["simulate", "gentle", "--fast", "--log", log]) == 2
    (line,) = _err_lines(capsys)
    assert line.startswith(f"inversion-table: error: {log}: cannot write the log: ")


def test_a_disk_that_fills_mid_run_ends_the_run_there_held_with_one_line_and_exit_1(monkeypatch, capsys):
    from controller.records import trace

    monkeypatch.setattr(trace, "open", _DiskFillsAfter(200_000), raising=False)
    assert main(["simulate", "hold-40", "--fast", "--log", "out.jsonl"]) == 1
    captured = capsys.readouterr()
    (line,) = [x for x in captured.err.splitlines() if x.strip()]
    assert line.startswith("inversion-table: error: out.jsonl: cannot write the log: No space left on device at t=")
    assert line.endswith("°") and "the run stopped there, the simulated motor halted and holding at" in line
    assert "Traceback" not in captured.err and "ended at" not in captured.out


def test_a_disk_that_fills_mid_run_halts_the_simulated_motor(monkeypatch):
    from controller.records import trace
    from controller.shell import simulate as sim
    from controller.errors import OutputError
    from controller.setup.preflight import prepare_profile

    monkeypatch.setattr(trace, "open", _DiskFillsAfter(100_000), raising=False)
    run = sim.Simulation(Config(), program=prepare_profile("hold-40", Config()).program,
                         presses=[sim.Press(0.0, "start")], trace=trace.TraceWriter("out.jsonl"))
    with pytest.raises(OutputError, match=r"No space left on device at t=\d+\.\d\d s"):
        run.run()
    assert run.hw.motor.halted and run.closed
    assert 0 < run.now() < 60  # it stopped mid-run, where the disk filled (about 1000 samples in)


def test_a_disk_that_fills_at_the_last_flush_says_the_end_of_the_log_is_lost(tmp_path, monkeypatch, capsys):
    from controller.records import trace

    argv = ["simulate", "--fast", "--press", "down@1:3", "--press", "return@5", "--log"]
    assert main(argv + [str(tmp_path / "whole.jsonl")]) == 0
    whole = (tmp_path / "whole.jsonl").stat().st_size
    capsys.readouterr()
    monkeypatch.setattr(trace, "open", _DiskFillsAfter(whole - 1), raising=False)  # all but the last byte
    assert main(argv + ["out.jsonl"]) == 1
    (line,) = _err_lines(capsys)
    assert line.startswith("inversion-table: error: out.jsonl: cannot write the log: No space left on device: its "
                           "end is lost; the run itself ended at t="), line
    assert line.endswith("home and idle (exit 0)"), line
