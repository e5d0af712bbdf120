"""The README stays true: its commands, the CI script, the trip reasons and the config defaults."""

from __future__ import annotations

import re
from pathlib import Path

from controller.config import DEFAULT_CONFIG_TOML
from controller.reasons import REASONS, Trip, markdown_table
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
    from controller.config import Config
    from controller.preflight import prepare_profile

    section = README.split("## Profiles", 1)[1].split("\n## ", 1)[0]
    example = re.search(r"```toml\n(.+?)```", section, re.S).group(1)
    path = tmp_path / "example.toml"
    path.write_text(example, encoding="utf-8")
    prepared = prepare_profile(str(path), Config())
    assert [step.kind for step in prepared.profile.steps] == ["hold", "oscillate"]


def test_the_readme_names_every_test_file_that_runs_on_the_real_clock():
    section = README.split("## Development", 1)[1]
    clock = re.compile(r"time\.sleep\(|MonotonicClock\(|time\.monotonic\(\)|real_time_pacer")
    real_time = sorted(path.name for path in (ROOT / "tests").glob("test_*.py")
                       if path.name != "test_docs.py" and clock.search(path.read_text(encoding="utf-8")))
    assert real_time  # the service, the runner and the calibration run in real time
    for name in real_time:
        assert f"`{name}`" in section, name
    assert "no timing flakiness" not in README
