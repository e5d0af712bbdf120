"""Choosing the user on the table: a long press of select steps through the users, at home only."""

from __future__ import annotations

import pytest

from controller.shell import simulate as sim
from controller.setup.config import Config
from controller.records.history import History
from controller.shell.service import user_choices
from controller.setup.users import CONTRAINDICATIONS_VERSION

CONFIG = {"users": [{"name": "ana", "max_angle": 30, "max_speed": 2}, {"name": "bo", "max_angle": 20}],
          "presets": {"available": ["gentle", "hold-40"]}}


def run(tmp_path, presses, until=120, acknowledged=("ana",)):
    config = Config.model_validate(CONFIG)
    with History(tmp_path / "h.sqlite") as history:
        for name in acknowledged:
            history.acknowledge(name, CONTRAINDICATIONS_VERSION)
        users = user_choices(config, "test", first=None, history=history)
    samples, events = [], []
    s = sim.Simulation(config, users=users, presses=[sim.parse_press(p) for p in presses], until=until,
                       on_tick=samples.append, on_event=events.append)
    s.run()
    return samples, events, users


def test_the_users_and_what_each_is_offered(tmp_path):
    _, _, users = run(tmp_path, [], until=1)
    assert [u.name for u in users] == [None, "ana", "bo"]
    assert [p.name for p in users[0].presets] == ["gentle", "hold-40"]
    assert [p.name for p in users[1].presets] == ["gentle"]  # hold-40 is above ana's 30°
    assert [p.name for p in users[2].presets] == ["gentle"]  # and bo's 20°
    assert users[1].settings.limits.max_angle == 30 and users[1].settings.limits.max_speed == 2
    assert [u.acknowledged for u in users] == [True, True, False]


def test_a_long_press_makes_ana_the_user_and_her_limits_hold(tmp_path):
    # held 2 s: the next user; then a jog down held far longer than her 30° allows
    samples, events, _ = run(tmp_path, ["select@1:2", "down@5:60"], until=70)
    assert [e["name"] for e in events if e["event"] == "user"] == ["ana"]
    assert max(s["true_angle"] for s in samples) <= 30 + 1.0  # her max_angle, not the config's 60
    rates = [abs(b["true_angle"] - a["true_angle"]) / 0.02 for a, b in zip(samples, samples[1:])]
    assert max(rates) <= 2 * 1.05  # and her speed


def test_the_user_cannot_be_changed_away_from_home(tmp_path):
    samples, events, _ = run(tmp_path, ["down@1:35", "select@40:2"], until=45)
    assert not any(e["event"] == "user" for e in events)
    assert any(e["event"] == "notice" and e["message"] == "select held: the user can be changed only at home"
               for e in events)


def test_an_unacknowledged_user_is_refused_start(tmp_path):
    samples, events, _ = run(tmp_path, ["select@1:2", "select@5:2", "start@9"], until=15)
    assert [e["name"] for e in events if e["event"] == "user"] == ["ana", "bo"]
    assert any(e["event"] == "notice" and "has not acknowledged" in e["message"] for e in events)
    assert not any(e["event"] == "session" for e in events)
    assert max(s["true_angle"] for s in samples) < -59  # nothing moved


def test_a_short_press_still_selects_the_preset(tmp_path):
    _, events, _ = run(tmp_path, ["select@1"], until=3)
    assert [(e["preset"], e["number"]) for e in events if e["event"] == "select"] == [("hold-40", 2)]


# -- starting as a user: as if the table had been switched to them ---------------------------------

ANA = {"users": [{"name": "ana", "max_angle": 40, "max_head_down": "5m", "max_speed": 1.0}]}  # the README's


def test_starting_as_a_user_offers_what_fits_and_says_what_was_left_out(tmp_path):
    config = Config.model_validate(ANA)  # [presets] available: gentle, hold-40, oscillate
    said = []
    users = user_choices(config, "ana.toml", first="ana", history=None, say=said.append)
    assert [u.name for u in users] == ["ana", None]
    assert [p.name for p in users[0].presets] == ["gentle"]
    assert [p.name for p in users[1].presets] == ["gentle", "hold-40", "oscillate"]  # the config's own: all
    left_out = [line for line in said if line.startswith("not offered to user 'ana': ")]
    assert [line.split(": ", 2)[1] for line in left_out] == ["preset 'hold-40'", "preset 'oscillate'"], said
    assert all("\n" not in line for line in said)  # one line each
    assert "longer than user 'ana' max_head_down = 5m" in left_out[0]


def test_starting_as_a_user_none_of_the_presets_fits_is_refused_in_one_line():
    from controller.errors import ConfigError

    config = Config.model_validate({"users": [{"name": "bo", "max_angle": 10}]})
    with pytest.raises(ConfigError) as info:
        user_choices(config, "bo.toml", first="bo", history=None, say=lambda line: None)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("bo.toml: [presets] available: none fits user 'bo' (preset 'gentle': steps #1 (hold) "
                              "angle = 20 is above user 'bo' max_angle = 10"), message
    assert "; preset 'hold-40': " in message and "; preset 'oscillate': " in message, message


def test_a_progression_in_the_presets_is_offered_up_to_her_last_level(tmp_path):
    config = Config.model_validate({**ANA, "presets": {"available": ["build-up", "hold-40"]}})
    said = []
    with History(tmp_path / "h.sqlite") as history:
        history.set_level("ana", "build-up", 9)
        users = user_choices(config, "ana.toml", first="ana", history=history, say=said.append)
    (preset,) = users[0].presets
    assert (preset.name, preset.level, preset.final_level) == ("build-up", 6, 6)
    guest = users[1].presets[0]
    assert (guest.name, guest.level, guest.final_level) == ("build-up", 0, 10)
    assert any(line.startswith("preset 'build-up': for user 'ana' the progression stops at level 7") for line in said)


def test_the_session_log_keeps_each_users_last_level(tmp_path):
    from controller.records.sessionlog import SessionLog

    finals = {"guest": {"build-up": 10}, "ana": {"build-up": 6}}
    levels = {"guest": {"build-up": 0}, "ana": {"build-up": 6}}
    with History(tmp_path / "h.sqlite") as history:
        log = SessionLog(history, user=None, levels=levels["guest"], final_levels=finals["guest"], head_down=lambda: 0,
                         levels_of=levels.__getitem__, final_levels_of=finals.__getitem__)
        log.event({"event": "user", "name": "ana"})
        for record in ({"event": "session", "action": "start", "preset": "build-up"},
                       {"event": "session", "action": "complete"}, {"event": "home"}):
            log.event(record)
        assert history.level("ana", "build-up") == 6  # her last level, not the profile's 10


def test_interactive_as_a_user_offers_what_fits(tmp_path, monkeypatch, capsys):
    from controller.commands.cli import main
    from controller.shell.tui import SimulatorApp

    config = tmp_path / "ana.toml"
    config.write_text('[[users]]\nname = "ana"\nmax_angle = 40\nmax_head_down = "5m"\nmax_speed = 1.0\n',
                      encoding="utf-8")
    with History(tmp_path / "h.sqlite") as history:
        history.acknowledge("ana", CONTRAINDICATIONS_VERSION)
    seen = []

    def look(app):  # instead of a terminal
        app.simulation.step_until(1.0)
        seen.append((app.simulation.controller.state.user, [p.name for p in app.simulation.controller.state.presets],
                     [e["message"] for e in app.events if e["event"] == "notice"]))
        app.simulation.close()

    monkeypatch.setattr(SimulatorApp, "run", look)
    monkeypatch.setattr("controller.commands.simulate._has_terminal", lambda: True)
    assert main(["simulate", "--interactive", "--config", str(config), "--user", "ana",
                 "--history", str(tmp_path / "h.sqlite")]) == 0
    ((user, presets, notices),) = seen
    assert (user, presets) == ("ana", ["gentle"])
    assert [n.split(": ", 2)[1] for n in notices if n.startswith("not offered")] == ["preset 'hold-40'",
                                                                                      "preset 'oscillate'"]
    err = capsys.readouterr().err
    assert "note: not offered to user 'ana': preset 'hold-40'" in err
