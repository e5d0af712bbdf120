"""The interactive simulator, driven headlessly through Textual's pilot: keys move, stop and return the table."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("textual")

from controller.shell import simulate as sim  # noqa: E402
from controller.setup.config import Config  # noqa: E402
from controller.setup.preflight import prepare_profile  # noqa: E402
from controller.core.session import Preset  # noqa: E402
from controller.shell.tui import SimulatorApp, drawing  # noqa: E402


def test_the_drawing_tilts_with_the_angle():
    level, head_down, head_up = drawing(0.0), drawing(30.0), drawing(-45.0)
    row = lambda picture: next(i for i, line in enumerate(picture.splitlines()) if "O" in line)  # noqa: E731
    assert row(level) == 7 and row(head_down) > 7 and row(head_up) < 7  # the head is lower when head-down


def _app(profile="hold-40", speed=0.1):  # the tests move time themselves
    config = Config()
    prepared = prepare_profile(profile, config)
    run = sim.Simulation(config, presets=[Preset(prepared.profile.name, prepared.program)])
    return SimulatorApp(run, speed=speed, expected=prepared.duration), run


def test_keys_start_stop_reset_and_return_the_table():
    async def scenario():
        app, run = _app()
        async with app.run_test() as pilot:
            await pilot.pause()  # let the screen finish mounting
            app.advance(1.0)  # the power-on anchor
            home = run.hw.table.angle()
            await pilot.press("g")  # start
            app.advance(5.0)
            moving = run.hw.table.angle()
            assert moving > home + 10  # it moves
            await pilot.press("s")  # stop
            app.advance(0.1)
            stopped = run.hw.table.angle()
            app.advance(3.0)
            assert run.controller.state.machine.state == "stopped" and abs(run.hw.table.angle() - stopped) < 0.1
            screen = str(app.query_one("#state").render())
            assert "state      stopped" in screen
            await pilot.press("r")  # reset: never moves
            app.advance(2.0)
            assert abs(run.hw.table.angle() - stopped) < 0.1 and run.controller.state.machine.state == "idle"
            await pilot.press("h")  # return (held)
            app.advance(60.0)
            assert abs(run.hw.table.angle() - home) < 1.0  # home again
            await pilot.press("space")
            assert app.held == set()
        assert run._closed  # the app closed the simulated hardware

    asyncio.run(scenario())


def test_hold_to_run_jog_stops_when_let_go():
    async def scenario():
        config = Config()
        run = sim.Simulation(config, presets=[])
        app = SimulatorApp(run, speed=0.1)
        async with app.run_test() as pilot:
            await pilot.pause()  # let the screen finish mounting
            app.advance(1.0)
            start = run.hw.table.angle()
            await pilot.press("d")  # down, held
            app.advance(3.0)
            assert run.hw.table.angle() > start + 3  # 2°/s jog
            await pilot.press("space")  # let go
            app.advance(0.5)
            there = run.hw.table.angle()
            app.advance(2.0)
            assert abs(run.hw.table.angle() - there) < 0.05
            await pilot.press("g")  # no preset: start is refused, with a line in the log
            app.advance(0.2)
            log = "\n".join(str(line) for line in app.query_one("#log").lines)
            assert "start ignored: there is no preset to start" in log

    asyncio.run(scenario())


def test_shift_p_switches_the_user_at_home():
    async def scenario():
        from controller.shell.service import user_choices

        config = Config.model_validate({"users": [{"name": "ana", "max_angle": 30}]})
        users = user_choices(config, "test", first=None, history=None)
        run = sim.Simulation(config, presets=list(users[0].presets), users=users)
        app = SimulatorApp(run, speed=0.1)
        async with app.run_test() as pilot:
            await pilot.pause()  # let the screen finish mounting
            app.advance(1.0)
            await pilot.press("P")
            app.advance(2.0)
            await pilot.pause()
            assert run.controller.state.user == "ana"
            assert "user       ana" in str(app.query_one("#state").render())

    asyncio.run(scenario())


@pytest.mark.parametrize("size", [(41, 15), (30, 13), (25, 9), (60, 30)])
def test_the_head_is_drawn_at_every_angle_in_every_size(size):
    width, height = size
    for angle in range(-90, 91, 5):
        picture = drawing(float(angle), width=width, height=height)
        lines = picture.splitlines()
        assert "O" in picture, (angle, size)
        assert len(lines) == height and all(len(line) == width for line in lines)


def test_at_80_by_24_nothing_is_clipped():
    async def scenario():
        app, run = _app()
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            app.advance(1.0)
            await pilot.pause()
            screen = app.screen.region
            footer = app.query_one("Footer")
            keys = [key for key in footer.query("FooterKey")]
            assert len(keys) == len(SimulatorApp.BINDINGS)
            assert all(key.region.right <= screen.right and key.region.y == screen.bottom - 1 for key in keys)
            for name in ("#table", "#status", "#log"):
                region = app.query_one(name).region
                assert region.bottom <= footer.region.y and region.right <= screen.right, (name, region)
            table = app.query_one("#table")
            picture = str(table.render()).splitlines()
            assert len(picture) <= table.content_size.height and max(map(len, picture)) <= table.content_size.width
            assert any("O" in line for line in picture)  # the head, at home
            status = app.query_one("#state")
            text = str(status.render()).splitlines()
            assert len(text) <= status.content_size.height and max(map(len, text)) <= status.content_size.width
            bar = app.query_one("#progress")
            assert bar.region.bottom <= app.query_one("#status").region.bottom - 1  # inside its border

    asyncio.run(scenario())


def test_the_progress_bar_follows_a_preset_started_with_the_start_key():
    async def scenario():
        from controller.shell.service import user_choices

        config = Config()
        users = user_choices(config, "test", first=None, history=None)  # the config's presets, no PROFILE
        run = sim.Simulation(config, presets=list(users[0].presets), users=users)
        app = SimulatorApp(run, speed=0.1)
        async with app.run_test() as pilot:
            await pilot.pause()
            app.advance(1.0)
            await pilot.press("g")  # start the first preset (gentle)
            app.advance(60.0)
            await pilot.pause()
            bar = app.query_one("#progress")
            assert 0.2 < bar.percentage < 0.8, bar.percentage  # a minute into a session of about three

    asyncio.run(scenario())


def test_a_profile_given_starts_at_t_0_and_quitting_says_where_the_table_was_left(monkeypatch, capsys):
    from controller.commands.cli import main

    seen = []

    def run_for_five_seconds(app):  # instead of a terminal: 5 s of the table, then q
        app.simulation.step_until(5.0)
        seen.append(app.simulation)
        app.simulation.close()

    monkeypatch.setattr(SimulatorApp, "run", run_for_five_seconds)
    monkeypatch.setattr("controller.commands.simulate._has_terminal", lambda: True)
    assert main(["simulate", "hold-40", "--interactive"]) == 0
    (run,) = seen
    assert run.controller.state.machine.state == "running" and run.hw.table.angle() > -55  # started at t = 0
    out = capsys.readouterr().out.strip().splitlines()[-1]
    assert out.startswith("left the simulated table at t=5.0") and "state running, angle " in out, out


def test_without_a_terminal_it_is_refused_in_one_line(tmp_path):
    """Input from /dev/null and output to a pipe: a clear refusal, exit 2, not an app that waits
    for keys nobody can press (a real subprocess, so neither end is a terminal)."""
    import subprocess
    import sys

    with open("/dev/null") as nothing:
        done = subprocess.run([sys.executable, "-m", "controller", "simulate", "gentle", "--interactive"],
                              stdin=nothing, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 2, done
    assert done.stderr.strip() == ("inversion-table: error: --interactive needs a terminal: its keys are the buttons "
                                   "(to script them, use --press NAME@T, with --fast for no waiting)"), done.stderr
    assert done.stdout == ""


def test_q_quits_the_app():
    async def scenario():
        app, run = _app()
        async with app.run_test() as pilot:
            await pilot.pause()
            await pilot.press("q")
            await pilot.pause()
        assert run.closed

    asyncio.run(scenario())


def _docs_script():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "docs" / "interactive.py"
    spec = importlib.util.spec_from_file_location("docs_interactive", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, path.parent


def test_the_readme_picture_of_the_interactive_simulator_is_the_app_as_it_is_now():
    """docs/interactive.svg is what the app shows today (regenerate: python docs/interactive.py)."""
    import re

    script, docs = _docs_script()
    committed = (docs / "interactive.svg").read_text(encoding="utf-8")
    assert script.screen_text(script.screenshot()) == script.screen_text(committed)
    png = (docs / "interactive.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    view_width, view_height = map(float, re.search(r'viewBox="0 0 ([\d.]+) ([\d.]+)"', committed).groups())
    assert width == script.PNG_WIDTH and abs(height - width * view_height / view_width) <= 1  # made from the SVG
