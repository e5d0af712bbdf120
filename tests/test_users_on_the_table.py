"""Choosing the user on the table: a long press of select steps through the users, at home only."""

from __future__ import annotations

from controller import simulate as sim
from controller.config import Config
from controller.history import History
from controller.service import user_choices
from controller.users import CONTRAINDICATIONS_VERSION

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
