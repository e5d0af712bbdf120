"""The ramp, pause and repeat steps: compiled to programs (pure) and run on the simulated table."""

from __future__ import annotations

import pytest

from controller.setup.config import Config
from controller.setup.preflight import prepare_profile
from tests.conftest import simulate

HEAD = 'name = "t"\n'


def profile(tmp_path, body: str) -> str:
    path = tmp_path / "p.toml"
    path.write_text(HEAD + body, encoding="utf-8")
    return str(path)


def test_a_ramp_moves_no_faster_than_it_says(tmp_path):
    path = profile(tmp_path, '[[steps]]\nkind = "ramp"\nangle = 10\nspeed = 0.5\n'
                             '[[steps]]\nkind = "hold"\nangle = 10\nduration = "5s"\n')
    run = simulate(program=prepare_profile(path, Config()).program)
    assert run.result.exit_code == 0
    arrived = next(s["t"] for s in run.samples if s["target"] is not None and s["target"] >= 10 - 1e-9)
    ramp = [s for s in run.samples if s["t"] <= arrived]
    rates = [(b["true_angle"] - a["true_angle"]) / (b["t"] - a["t"]) for a, b in zip(ramp, ramp[1:])]
    # from home (-60°) to 10° is 70° at 0.5 °/s: about 140 s after the power-on anchor
    assert max(rates) <= 0.5 * 1.05 and arrived == pytest.approx(140 + 1, abs=3)


def test_a_pause_holds_where_the_table_is(tmp_path):
    path = profile(tmp_path, '[[steps]]\nkind = "pause"\nduration = "10s"\n'
                             '[[steps]]\nkind = "hold"\nangle = -40\nduration = "5s"\n'
                             '[[steps]]\nkind = "pause"\nduration = "20s"\n')
    prepared = prepare_profile(path, Config())
    run = simulate(program=prepared.program)
    assert run.result.exit_code == 0
    first_pause = run.between(0.5, 10.0)
    assert max(s["true_angle"] for s in first_pause) - min(s["true_angle"] for s in first_pause) < 0.01  # still
    at_40 = [s for s in run.samples if s["target"] == -40]
    assert at_40[-1]["t"] - at_40[0]["t"] == pytest.approx(25, abs=1)  # hold 5 s, then pause 20 s there


def test_repeat_runs_its_steps_that_many_times(tmp_path):
    path = profile(tmp_path, '[[steps]]\nkind = "repeat"\ntimes = 3\n'
                             '[[steps.steps]]\nkind = "hold"\nangle = -50\nduration = "2s"\n'
                             '[[steps.steps]]\nkind = "hold"\nangle = -55\nduration = "2s"\n')
    prepared = prepare_profile(path, Config())
    assert [b.label for b in prepared.program.blocks] == [
        "steps #1 (repeat) steps #1 (hold)", "steps #1 (repeat) steps #2 (hold)"] * 3
    run = simulate(program=prepared.program)
    visits = sum(1 for a, b in zip(run.samples, run.samples[1:]) if b["target"] == -50 and a["target"] != -50)
    assert run.result.exit_code == 0 and visits == 3


def test_nested_steps_are_checked_against_the_limits(tmp_path):
    from controller.errors import ProfileError

    path = profile(tmp_path, '[[steps]]\nkind = "repeat"\ntimes = 2\n[[steps.steps]]\nkind = "ramp"\nangle = 75\nspeed = 1\n')
    with pytest.raises(ProfileError, match=r"steps #1 \(repeat\) steps #1 \(ramp\) angle = 75 is above \[limits\] max_angle = 60"):
        prepare_profile(path, Config())
    path = profile(tmp_path, '[[steps]]\nkind = "repeat"\ntimes = 2\n[[steps.steps]]\nkind = "repeat"\ntimes = 2\n'
                             '[[steps.steps.steps]]\nkind = "pause"\nduration = 1\n')
    with pytest.raises(ProfileError, match=r"steps #1 \(repeat\) steps #1: unknown kind 'repeat'"):
        prepare_profile(path, Config())


def test_an_oscillation_too_short_for_one_cycle_inside_a_repeat_is_named(tmp_path):
    from controller.errors import ProfileError

    path = profile(tmp_path, '[[steps]]\nkind = "repeat"\ntimes = 2\n[[steps.steps]]\nkind = "oscillate"\nhigh = 40\n'
                             'low = 0\ndwell_high = "30s"\ndwell_low = "30s"\nduration = "40s"\n')
    with pytest.raises(ProfileError, match=r"steps #1 \(repeat\) steps #1 \(oscillate\) duration = 40s is shorter"):
        prepare_profile(path, Config())


def test_a_slow_profile_comes_home_as_slowly_as_it_went_down():
    run = simulate("slow-entry")
    assert run.result.exit_code == 0
    rates = [abs(b["true_angle"] - a["true_angle"]) / (b["t"] - a["t"]) for a, b in zip(run.samples, run.samples[1:])]
    returning = [r for a, r in zip(run.samples[1:], rates) if a["state"] == "returning"]
    assert returning and max(returning) <= 0.5 * 1.05 and max(rates) <= 0.5 * 1.05
