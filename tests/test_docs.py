"""The README stays true: its commands, the CI script, the trip reasons and the config defaults."""

from __future__ import annotations

import re
from pathlib import Path

from controller.setup.config import DEFAULT_CONFIG_TOML
from controller.core.reasons import REASONS, Trip, markdown_table
from drivers.sim.hardware import FAULT_KINDS

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _quick_start() -> list[str]:
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", section)


def test_quick_start_is_two_commands_and_ci_runs_the_test_one():
    commands = _quick_start()
    assert len(commands) == 2
    assert "simulate oscillate" in commands[0]
    assert commands[1] in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


SAFETY = (ROOT / "docs" / "SAFETY.md").read_text(encoding="utf-8")


def test_the_response_table_in_the_docs_is_the_one_in_the_code():
    assert markdown_table() in SAFETY
    for code in REASONS:
        assert f"| `{code.value}` |" in SAFETY, code
    assert "docs/SAFETY.md" in README


def test_every_trip_the_code_can_raise_is_in_the_table():
    """No trip is raised with a bare string: every reason is a Trip member with a row."""
    for path in list((ROOT / "controller").glob("*.py")) + list((ROOT / "drivers").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"\btrip\(\s*[\"']", text), f"{path.name} trips with a bare string"
        for name in re.findall(r"Trip\.([A-Z0-9_]+)", text):
            assert Trip[name] in REASONS, (path.name, name)


def test_every_fault_kind_is_documented():
    for kind in FAULT_KINDS:
        assert f"`{kind}`" in README and f"| `{kind}` |" in SAFETY, kind


def test_the_readme_shows_the_real_config_defaults():
    body = DEFAULT_CONFIG_TOML.split("\n[table]", 1)[1].split("\n[presets]", 1)[0]
    assert "[table]" + body.rstrip() + "\n```" in README


def test_the_example_config_is_the_defaults():
    assert (ROOT / "systemd" / "config.example.toml").read_text(encoding="utf-8") == DEFAULT_CONFIG_TOML


def test_the_readme_profile_example_passes_its_own_checks(tmp_path):
    from controller.setup.config import Config
    from controller.setup.preflight import prepare_profile

    section = README.split("## Profiles", 1)[1].split("\n## ", 1)[0]
    example = re.search(r"```toml\n(.+?)```", section, re.S).group(1)
    path = tmp_path / "example.toml"
    path.write_text(example, encoding="utf-8")
    prepared = prepare_profile(str(path), Config())
    assert [step.kind for step in prepared.profile.steps] == ["hold", "oscillate"]


def test_the_readme_names_every_test_file_that_runs_on_the_real_clock():
    """And each of those files marks its real-clock tests ``realtime`` (pyproject.toml registers it)."""
    section = README.split("## Development", 1)[1]
    clock = re.compile(r"time\.sleep\(|MonotonicClock\(|time\.monotonic\(\)|real_time_pacer|wait_for\(|periods_pass\(")
    texts = {path.name: path.read_text(encoding="utf-8") for path in (ROOT / "tests").glob("test_*.py")
             if path.name != "test_docs.py"}
    real_time = sorted(name for name, text in texts.items() if clock.search(text) or "mark.realtime" in text)
    assert real_time  # the service, the runner and the calibration run in real time
    for name in real_time:
        assert f"`{name}`" in section, name
        assert "@pytest.mark.realtime" in texts[name], f"{name} uses the real clock but marks no test realtime"
    assert "no timing flakiness" not in README and "no sleeps" not in README
    assert "realtime:" in (ROOT / "pyproject.toml").read_text(encoding="utf-8")  # the marker is registered


def _users_section() -> str:
    return README.split("## Users and history", 1)[1].split("\n## ", 1)[0]


def test_the_readme_users_walkthrough_runs_as_written(tmp_path, monkeypatch, capsys):
    """The README's users example: its config saved where its commands say, and every command run as
    written (in a fresh folder, saying yes to the contraindications), each exiting 0."""
    import shlex

    from controller.commands.cli import main
    from controller.records.history import History

    section = _users_section()
    config = re.search(r"```toml\n(.+?)```", section, re.S).group(1)
    commands = [shlex.split(line, comments=True) for line in
                re.search(r"```sh\n(.+?)```", section, re.S).group(1).splitlines() if line.strip()]
    assert [c[:2] for c in commands] == [["inversion-table", "users"]] * 2 + [["inversion-table", "simulate"],
                                                                          ["inversion-table", "history"]]
    (config_name,) = {c[c.index("--config") + 1] for c in commands if "--config" in c}
    monkeypatch.chdir(tmp_path)
    (tmp_path / config_name).write_text(config, encoding="utf-8")
    monkeypatch.setattr("builtins.input", lambda prompt="": "yes")
    outputs = []
    for command in commands:
        assert main(command[1:]) == 0, (command, capsys.readouterr())
        outputs.append(capsys.readouterr())
    assert "ana          max_angle 40°, max_head_down 5m, max_speed 1°/s; contraindications not acknowledged" in (
        outputs[0].out)
    assert "Recorded for ana." in outputs[1].out
    # the note the README shows is the one the simulation gives
    note = re.search(r"```\n(note: .+?)\n```", section).group(1)
    assert note in outputs[2].err.splitlines(), outputs[2].err
    assert "ended at" in outputs[2].out and "home and idle" in outputs[2].out
    with History(tmp_path / "history.sqlite") as history:
        (session,) = history.sessions("ana")
        assert (session.profile, session.level, session.outcome) == ("build-up", 0, "completed")
    assert "ana: 1 session(s), 1 completed" in outputs[3].out


def test_the_readme_says_what_the_users_table_offers_her(tmp_path):
    from controller.setup.config import Config
    from controller.shell.service import user_choices
    from controller.setup.validation import validate_toml_text

    section = _users_section()
    config = validate_toml_text(re.search(r"```toml\n(.+?)```", section, re.S).group(1), Config,
                                error_cls=ValueError, source="README")
    said = []
    ana = user_choices(config, "ana.toml", first="ana", history=None, say=said.append)[0]
    claim = re.search(r"she is offered `(\w+)`, and a\s+line each says why `(\S+)` and `(\S+)` were left out "
                      r"\((\w+) and (\w+) head-down at her speed\)", section)
    assert claim, "the README's sentence on what she is offered"
    offered, *left_out = claim.groups()
    assert [p.name for p in ana.presets] == [offered]
    for name, time in zip(left_out[:2], left_out[2:]):
        (line,) = [line for line in said if line.startswith(f"not offered to user 'ana': preset '{name}'")]
        assert re.search(rf"head-down for up to {time}[ ,]", line), line
