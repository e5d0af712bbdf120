"""The README stays true: its commands, the CI script, the trip reasons and the config defaults."""

from __future__ import annotations

import re
from pathlib import Path

from controller.config import DEFAULT_CONFIG_TOML
from controller.reasons import REASONS
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


def test_every_trip_reason_is_in_the_readme_table():
    for code in REASONS:
        assert f"| `{code}` |" in README, code


def test_every_fault_kind_is_documented():
    for kind in FAULT_KINDS:
        assert f"`{kind}`" in README, kind


def test_the_readme_shows_the_real_config_defaults():
    body = DEFAULT_CONFIG_TOML.split("\n[table]", 1)[1]
    assert "[table]" + body.rstrip() in README
