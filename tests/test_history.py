"""History (SQLite), users' limits and acknowledgements, and progressive profiles, through the CLI."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys

import pytest

from controller.commands.cli import main
from controller.records.history import IN_PROGRESS, History, HistoryError
from controller.records.sessionlog import BackgroundWriter
from controller.setup.users import CONTRAINDICATIONS_VERSION
from tests.waiting import wait_for

STEP_UP = """name = "step-up"
description = "10° and 10 s more after each completed session, from 10°/10 s to 30°/30 s"
[progression]
start = { angle = 10, time = "10s" }
target = { angle = 30, time = "30s" }
step = { angle = 10, time = "10s" }
"""


@pytest.fixture
def files(tmp_path):
    profile = tmp_path / "step-up.toml"
    profile.write_text(STEP_UP, encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text('[[users]]\nname = "ana"\nmax_angle = 45\nmax_head_down = "10m"\n'
                      '[[users]]\nname = "bo"\nmax_angle = 30\nmax_speed = 2\n', encoding="utf-8")
    history = tmp_path / "history.sqlite"
    with History(history) as h:
        h.acknowledge("ana", CONTRAINDICATIONS_VERSION)
        h.acknowledge("bo", CONTRAINDICATIONS_VERSION)
    return str(profile), str(config), str(history)


def simulate(profile, config, history, *extra, user="ana"):
    return main(["simulate", profile, "--fast", "--config", config, "--history", history, "--user", user, *extra])


def test_a_progressive_profile_advances_stops_at_its_target_and_not_after_an_aborted_session(files, capsys):
    profile, config, history = files
    assert simulate(profile, config, history) == 0
    assert simulate(profile, config, history, "--press", "stop@20") == 3  # aborted: no progress
    for _ in range(3):
        assert simulate(profile, config, history) == 0
    with History(history) as h:
        sessions = h.sessions("ana")
        assert [(s.level, s.outcome) for s in sessions] == [
            (0, "completed"), (1, "stopped"), (1, "completed"), (2, "completed"), (2, "completed")]
        assert h.level("ana", "step-up") == 2  # the target: it stays there
    # each session held what its level said: 10°, then 20°, then 30° (the target) twice
    peaks = [s.max_angle for s in sessions if s.outcome == "completed"]  # the estimate (uncalibrated: ~0.5° off)
    assert peaks == pytest.approx([10, 20, 30, 30], abs=1)
    assert [round(s.head_down) for s in sessions if s.outcome == "completed"] == sorted(
        round(s.head_down) for s in sessions if s.outcome == "completed")


def test_a_users_limits_refuse_a_preset_that_asks_for_more(files, capsys):
    _, config, history = files
    assert simulate("hold-40", config, history, user="bo") == 2
    err = capsys.readouterr().err
    assert "preset 'hold-40': steps #1 (hold) angle = 40 is above user 'bo' max_angle = 30 (user 'bo'" in err


def test_a_users_speed_cap_slows_a_faster_preset_with_a_note(files, capsys):
    _, config, history = files
    assert simulate("gentle", config, history, "--log", history + ".jsonl", user="bo") == 0
    # gentle asks for no speed of its own, so the config's 4 deg/s would be its speed: it is slowed, and says so
    assert "note: preset 'gentle': slowed to 2 deg/s, user 'bo' max_speed ([limits] max_speed = 4)" in capsys.readouterr().err
    import json

    rows = [json.loads(line) for line in open(history + ".jsonl", encoding="utf-8")]
    samples = [r for r in rows if "true_angle" in r]
    rates = [abs(b["true_angle"] - a["true_angle"]) / 0.02 for a, b in zip(samples, samples[1:])]
    assert max(rates) <= 2 * 1.05  # bo's max_speed, not the config's 4


def test_an_unacknowledged_user_is_refused_until_they_acknowledge(tmp_path, files, capsys, monkeypatch):
    profile, config, _ = files
    history = str(tmp_path / "fresh.sqlite")
    assert simulate("gentle", config, history) == 2
    # the hint is the command to type: with the --config and --history the refused one had
    assert (f"user 'ana' has not acknowledged the contraindications yet: run `inversion-table users ack ana "
            f"--config {config} --history {history}` first (once)") in capsys.readouterr().err
    monkeypatch.setattr("builtins.input", lambda prompt: "no")
    assert main(["users", "ack", "ana", "--config", config, "--history", history]) == 1
    monkeypatch.setattr("builtins.input", lambda prompt: "yes")
    assert main(["users", "ack", "ana", "--config", config, "--history", history]) == 0
    assert "glaucoma" in capsys.readouterr().out
    assert simulate("gentle", config, history) == 0


def test_an_unknown_user_is_named(files, capsys):
    profile, config, history = files
    assert simulate(profile, config, history, user="cy") == 2
    assert "no user named 'cy' (users: ana, bo)" in capsys.readouterr().err


def test_the_history_command_lists_and_summarises(files, capsys):
    profile, config, history = files
    simulate(profile, config, history)
    capsys.readouterr()
    assert main(["history", "--history", history, "--config", config]) == 0
    out = capsys.readouterr().out
    assert "step-up" in out and "ana: 1 session(s), 1 completed" in out


def test_the_file_is_in_wal_mode_and_a_stranger_file_is_refused(tmp_path):
    path = tmp_path / "h.sqlite"
    History(path).close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(HistoryError, match="not a history file"):
        History(junk)


def test_writes_from_the_service_run_on_their_own_thread():
    import threading

    seen = []
    writer = BackgroundWriter(on_start=lambda: seen.append(("start", threading.current_thread().name)))
    writer(lambda: seen.append(("write", threading.current_thread().name)))
    writer.close()
    writer.close()
    assert seen == [("start", "history-writer"), ("write", "history-writer")]  # its scheduling set first


def _trace_time(path: str) -> float | None:
    """The time of the last whole sample in a trace being written, or None before the first."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return None
    for line in reversed(lines):
        try:
            return float(json.loads(line)["t"])
        except (ValueError, KeyError):
            continue  # the line being written
    return None


@pytest.mark.realtime
def test_a_kill_mid_session_leaves_every_earlier_session_intact(files):
    """SIGKILL in the middle of a session (real time, so it is surely mid-way): the file opens,
    passes SQLite's integrity check, and holds every earlier session as it was."""
    profile, config, history = files
    for _ in range(2):
        assert simulate(profile, config, history) == 0
    trace = os.path.join(os.path.dirname(history), "trace.jsonl")
    proc = subprocess.Popen([sys.executable, "-m", "controller", "simulate", "hold-40", "--config", config,
                             "--history", history, "--user", "ana", "--log", trace],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def in_progress() -> bool:
        with History(history) as h:
            return any(s.outcome == IN_PROGRESS for s in h.sessions())

    try:
        wait_for(in_progress, 30, "the session's row, in progress")
        wait_for(lambda: _trace_time(trace) is not None, 30, "the session's trace")
        row_seen_at = _trace_time(trace)
        wait_for(lambda: _trace_time(trace) >= row_seen_at + 1.0, 30, "a second more of the session")  # well inside
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        proc.kill()
    with sqlite3.connect(history) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    with History(history) as h:
        sessions = h.sessions()
    assert [(s.profile, s.outcome) for s in sessions] == [
        ("step-up", "completed"), ("step-up", "completed"), ("hold-40", IN_PROGRESS)]
    assert all(s.ended and s.head_down > 0 for s in sessions[:2])


def test_a_users_time_limit_is_named_as_hers(files, capsys):
    _, config, history = files
    with open(config, "a", encoding="utf-8") as f:
        f.write('[[users]]\nname = "sue"\nmax_head_down = "4m"\n')
    with History(history) as h:
        h.acknowledge("sue", CONTRAINDICATIONS_VERSION)
    assert simulate("hold-40", config, history, user="sue") == 2
    err = capsys.readouterr().err
    assert "longer than user 'sue' max_head_down = 4m" in err and "choose a shorter profile" in err


def test_a_user_needs_a_history_and_a_closed_prompt_acknowledges_nothing(files, capsys, monkeypatch):
    profile, config, history = files
    assert main(["simulate", "gentle", "--fast", "--config", config, "--user", "ana"]) == 2
    assert "--user needs --history FILE" in capsys.readouterr().err

    def closed(prompt):
        raise EOFError

    monkeypatch.setattr("builtins.input", closed)
    assert main(["users", "ack", "bo", "--config", config, "--history", history + ".new"]) == 1
    assert "Not acknowledged: nothing recorded." in capsys.readouterr().out


def test_piped_the_history_table_truncates_nothing(files, capsys):
    profile, config, history = files
    simulate(profile, config, history)
    capsys.readouterr()
    assert main(["history", "--history", history, "--config", config]) == 0
    out = capsys.readouterr().out  # captured: not a terminal
    with History(history) as h:
        (session,) = h.sessions("ana")
    assert session.started[:16] in out and "…" not in out, out


def test_a_user_without_sessions_is_told_so(files, capsys):
    profile, config, history = files
    simulate(profile, config, history)
    capsys.readouterr()
    assert main(["history", "--history", history, "--config", config, "--user", "nobody"]) == 0
    captured = capsys.readouterr()
    assert f"no sessions of user 'nobody' in {history}" in captured.out + captured.err
    assert "┏" not in captured.out  # no empty table


# -- users on a fresh machine: no /var/lib/inversion-table, perhaps no config ---------------------

def test_run_names_the_ack_command_with_its_own_options(tmp_path, files, capsys):
    _, config, _ = files
    history = str(tmp_path / "fresh.sqlite")
    assert main(["run", "--sim", "--config", config, "--user", "ana", "--history", history]) == 2
    assert (f"run `inversion-table users ack ana --config {config} --history {history}` first (once)"
            in capsys.readouterr().err)


def test_the_ack_hint_quotes_a_path_with_a_space(tmp_path, files, capsys):
    _, config, _ = files
    history = str(tmp_path / "my history.sqlite")
    assert simulate("gentle", config, history) == 2
    assert f"--history '{history}'` first" in capsys.readouterr().err


@pytest.fixture
def fresh(tmp_path):
    """A config with ana whose [history] file is in a folder that does not exist yet."""
    config = tmp_path / "ana.toml"
    history = tmp_path / "state" / "history.sqlite"
    config.write_text(f'[history]\nfile = "{history}"\n[[users]]\nname = "ana"\nmax_angle = 40\n'
                      'max_head_down = "5m"\nmax_speed = 1.0\n', encoding="utf-8")
    return str(config), history


def test_listing_the_users_needs_no_history(fresh, capsys):
    config, history = fresh
    assert main(["users", "--config", config]) == 0
    out = capsys.readouterr().out
    assert ("ana          max_angle 40°, max_head_down 5m, max_speed 1°/s; contraindications not acknowledged "
            "(no history yet)") in out, out
    assert f"no history at {history} yet" in out, out
    assert not history.parent.exists()  # listing writes nothing


def test_without_a_config_users_says_which_config_it_read(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("controller.commands.options.DEFAULT_CONFIG_PATH", str(tmp_path / "etc" / "config.toml"))
    assert main(["users"]) == 0
    assert capsys.readouterr().out.startswith(
        f"no users in the shipped defaults (there is no {tmp_path / 'etc' / 'config.toml'}): add [[users]] to a config")
    assert main(["users", "ack", "ana"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("inversion-table: error: no user named 'ana' in the shipped defaults (there is no "), line


def test_ack_creates_the_history_folder(fresh, capsys, monkeypatch):
    config, history = fresh
    monkeypatch.setattr("builtins.input", lambda prompt: "yes")
    assert main(["users", "ack", "ana", "--config", config]) == 0
    with History(history) as h:
        assert h.acknowledged("ana", CONTRAINDICATIONS_VERSION)
    capsys.readouterr()
    assert main(["users", "--config", config]) == 0
    assert "contraindications acknowledged" in capsys.readouterr().out


def test_ack_that_cannot_create_the_folder_says_which_and_what_to_do(tmp_path, capsys, monkeypatch):
    blocker = tmp_path / "var"
    blocker.write_text("a file where the folder should be", encoding="utf-8")
    config = tmp_path / "c.toml"
    config.write_text(f'[history]\nfile = "{blocker / "lib" / "history.sqlite"}"\n[[users]]\nname = "ana"\n',
                      encoding="utf-8")
    monkeypatch.setattr("builtins.input", lambda prompt: pytest.fail("asked before the history could be kept"))
    assert main(["users", "ack", "ana", "--config", str(config)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"inversion-table: error: {blocker / 'lib' / 'history.sqlite'}: cannot create the folder "
                           f"{blocker / 'lib'} ("), line
    assert line.endswith("--history FILE for a file elsewhere"), line


# -- a progression beyond a user's limits goes as far as they allow -------------------------------

ANA = {"users": [{"name": "ana", "max_angle": 40, "max_head_down": "5m", "max_speed": 1.0}]}  # the README's


def test_a_progression_beyond_her_time_limit_stops_at_the_last_level_that_fits():
    from controller.setup.config import Config
    from controller.setup.preflight import prepare_profile

    config = Config.model_validate(ANA)
    # Head-down counts the way down (at her 1°/s, 1° per second above +1°) and the hold: the
    # session timeout brings the table home after that, so the way back is not counted (I5).
    for stored in (6, 9):  # at the last level that fits, and past it (her limits were lowered since)
        prepared = prepare_profile("build-up", config, user="ana", level=stored)
        assert (prepared.level, prepared.final_level) == (6, 6)
        (step,) = prepared.profile.steps
        assert (step.angle, step.duration) == (32, 240)  # 20° + 6 x 2°, 1 minute + 6 x 30 s: 31 s + 4 m
        assert prepared.head_down <= 300
        slowed, note = prepared.notes  # the next level: 33 s + 4m30s = 5m3s
        assert slowed == "preset 'build-up': slowed to 1 deg/s, user 'ana' max_speed ([limits] max_speed = 4)"
        assert note == ("preset 'build-up': for user 'ana' the progression stops at level 7 (32° for 4m): level 8 "
                        "(34° for 4m30s) would exceed user 'ana' max_head_down = 5m (head-down for up to 5m3s)"), note
    first = prepare_profile("build-up", config, user="ana", level=0)
    assert first.level == 0 and first.profile.steps[0].angle == 20 and first.final_level == 6
    assert prepare_profile("build-up", config).final_level == 10  # nobody in particular: to the target


def test_a_progression_beyond_her_angle_stops_below_it_and_one_that_never_fits_is_refused():
    from controller.setup.config import Config
    from controller.errors import ProfileError
    from controller.setup.preflight import prepare_profile

    config = Config.model_validate({"users": [{"name": "cy", "max_angle": 25}, {"name": "di", "max_angle": 15}]})
    prepared = prepare_profile("build-up", config, user="cy", level=10)
    assert (prepared.level, prepared.profile.steps[0].angle) == (2, 24)
    assert prepared.notes == ("preset 'build-up': for user 'cy' the progression stops at level 3 (24° for 2m): "
                              "level 4 (26° for 2m30s) would exceed user 'cy' max_angle = 25",)
    with pytest.raises(ProfileError) as info:  # not even its first session fits: refused, as today
        prepare_profile("build-up", config, user="di")
    assert str(info.value).startswith("preset 'build-up': steps #1 (hold) angle = 20 is above user 'di' max_angle = 15")


def test_a_progression_beyond_the_config_itself_is_still_refused_at_load(tmp_path):
    from controller.setup.config import Config
    from controller.errors import ProfileError
    from controller.setup.preflight import prepare_profile

    config = Config.model_validate({"limits": {"max_angle": 35}, "users": [{"name": "ana", "max_angle": 30}]})
    for user in (None, "ana"):
        with pytest.raises(ProfileError, match=r"^preset 'build-up' \(at its target\): steps #1 \(hold\) angle = 40 "
                                               r"is above \[limits\] max_angle = 35"):
            prepare_profile("build-up", config, user=user)


def test_at_her_last_level_a_completed_session_keeps_her_there(tmp_path, capsys):
    config = tmp_path / "ana.toml"
    config.write_text('[[users]]\nname = "ana"\nmax_angle = 40\nmax_head_down = "5m"\nmax_speed = 1.0\n',
                      encoding="utf-8")
    history = str(tmp_path / "h.sqlite")
    with History(history) as h:
        h.acknowledge("ana", CONTRAINDICATIONS_VERSION)
        h.set_level("ana", "build-up", 6)
    assert simulate("build-up", str(config), history) == 0
    err = capsys.readouterr().err
    assert "note: preset 'build-up': for user 'ana' the progression stops at level 7 (32° for 4m)" in err, err
    with History(history) as h:
        (session,) = h.sessions("ana")
        assert (session.level, session.outcome) == (6, "completed")
        assert session.max_angle == pytest.approx(32, abs=1)
        # I5: her 5 minutes, plus the way back up from 32° to +1° at her 1°/s (the recorded time has it)
        assert session.head_down <= 300 + 31 + 1
        assert h.level("ana", "build-up") == 6  # not 7: she stays at the last level that fits


def test_a_users_limits_can_only_lower_the_configs(tmp_path):
    from controller.setup.config import load_config
    from controller.errors import ConfigError

    path = tmp_path / "c.toml"
    path.write_text('[limits]\nmax_angle = 50\nsession_timeout = "10m"\nmax_speed = 3\n'
                    '[[users]]\nname = "ana"\nmax_angle = 55\nmax_head_down = "15m"\nmax_speed = 3.5\n'
                    '[[users]]\nname = "bo"\nmax_angle = 50\nmax_head_down = "10m"\nmax_speed = 3\n'  # equal: fine
                    '[[users]]\nname = "ana"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    first, *rest = [line.removeprefix(f"{path}: ") for line in str(info.value).splitlines()]
    assert first.endswith(" (and 3 more problems)"), first
    lines = [first.removesuffix(" (and 3 more problems)"), *rest]
    assert lines == [
        "users #1 (ana) max_angle = 55 is above [limits] max_angle = 50: a user's limits can only lower the config's",
        "users #1 (ana) max_head_down = 15m is above [limits] session_timeout = 10m: a user's limits can only lower "
        "the config's",
        "users #1 (ana) max_speed = 3.5 is above [limits] max_speed = 3: a user's limits can only lower the config's",
        "users #3 (ana): the name is already users #1's",
    ], lines
