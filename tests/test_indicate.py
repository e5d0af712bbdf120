"""Status LED and buzzer: the patterns (pure), and what the simulated table's pins show."""

from __future__ import annotations

import pytest

from controller.core import indicate
from controller.shell import simulate as sim
from controller.core.command import AUTO_MOVE_WARNING
from controller.setup.config import Config
from controller.core.indicate import LED_IDLE, LED_RUNNING, LED_STOPPED, LED_TRIPPED, LED_WARNING, Pattern
from controller.core.session import Preset

README = (__import__("pathlib").Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")


def test_levels_follow_the_pulses():
    blink = Pattern("b", ((0.5, 0.5),))
    assert [blink.level(t) for t in (0.0, 0.49, 0.5, 0.99, 1.0, 10.25, 10.75)] == [1, 1, 0, 0, 1, 1, 0]
    assert all(LED_IDLE.level(t) for t in (0.0, 0.3, 7.9))
    once = Pattern("o", ((0.3, 0.0),), repeat=False)
    assert (once.level(0.1), once.level(0.3), once.level(5.0)) == (True, False, False)
    double = LED_STOPPED
    assert [double.level(t) for t in (0.1, 0.2, 0.35, 0.5, 1.0, 1.55)] == [1, 0, 1, 0, 0, 1]


def test_a_count_is_n_pulses_once():
    three = indicate.count(3)
    edges = sum(1 for i in range(1, 200) if three.level(i * 0.01) and not three.level((i - 1) * 0.01))
    assert edges + three.level(0.0) == 3 and not three.level(three.length + 0.5)


@pytest.mark.parametrize(
    "state, kwargs, led",
    [
        ("tripped", {"auto_return_in": 1.0, "selected": 2, "since_selected": 0.1}, LED_TRIPPED),
        ("stopped", {"auto_return_in": 1.0}, LED_STOPPED),
        ("running", {"auto_return_in": AUTO_MOVE_WARNING}, LED_WARNING),
        ("idle", {"auto_return_in": AUTO_MOVE_WARNING + 0.1}, LED_IDLE),
        ("running", {"auto_return_in": None}, LED_RUNNING),
        ("returning", {}, LED_RUNNING),
        ("idle", {"selected": 2, "since_selected": 0.1}, indicate.count(2)),
        ("idle", {"selected": 2, "since_selected": 5.0}, LED_IDLE),
    ],
)
def test_the_most_urgent_state_wins(state, kwargs, led):
    assert indicate.patterns(state, **kwargs)[0] == led


def test_the_readme_documents_the_patterns():
    assert indicate.markdown_table() in README


def test_the_pins_play_the_patterns_from_when_each_began():
    """drivers.indicators plays what controller.indicate picks: a change restarts it, the pin follows its level."""
    from gpiozero.pins.mock import MockFactory

    from drivers.indicators import Indicators

    factory = MockFactory()
    pins = Indicators(led_pin=26, buzzer_pin=None, pin_factory=factory)
    assert pins.playing() == {"led": "silent"} and pins.levels() == {"led": False}
    shown = []
    for t, pattern in ((0.0, indicate.SILENT), (1.0, LED_RUNNING), (1.4, LED_RUNNING), (1.6, LED_RUNNING),
                       (1.7, LED_TRIPPED), (1.75, LED_TRIPPED), (1.85, LED_TRIPPED)):
        pins.show(pattern, indicate.SILENT, t)
        shown.append((pins.playing()["led"], pins.levels()["led"], factory.pin(26).state))
    assert shown == [("silent", False, 0), ("running", True, 1), ("running", True, 1), ("running", False, 0),
                     ("tripped", True, 1), ("tripped", True, 1), ("tripped", False, 0)]
    pins.close()
    factory.close()


def _run(config, presses, until=None):
    """A simulated run recording (t, led level, buzzer level, events) every period."""
    levels, events = [], []
    holder = {}

    def tick(record):
        lv = holder["s"].hw.indicators.levels()
        levels.append((record["t"], lv.get("led"), lv.get("buzzer")))

    s = sim.Simulation(config, presses=[sim.parse_press(p) for p in presses], until=until, on_tick=tick,
                       on_event=events.append, presets=[Preset("a", None), Preset("b", None), Preset("c", None)])
    holder["s"] = s
    result = s.run()
    return result, levels, events


def test_the_buzzer_warns_before_an_idle_timeout_return_and_not_before():
    config = Config.model_validate({"limits": {"idle_timeout": "30s"}})
    result, levels, events = _run(config, ["down@1:40"])  # from -60° at 2°/s: to +20°, head-down
    assert result.exit_code == sim.EXIT_HOME
    returned = next(e["t"] for e in events if e["event"] == "return")
    assert returned == pytest.approx(1 + 40 + 30, abs=0.1)  # the idle timeout, counted from the release
    warned = next(e["t"] for e in events if e["event"] == "indicate" and e["buzzer"] == "warning")
    assert warned == pytest.approx(returned - AUTO_MOVE_WARNING, abs=0.05)
    beeps = [b for t, _, b in levels if warned <= t < returned]
    assert any(beeps) and not all(beeps)  # it beeps, on and off
    assert not any(b for t, _, b in levels if t < warned - 0.05 or t > returned + 0.05)  # silent otherwise
    assert any(e["event"] == "notice" and "returns home by itself in 10 s (idle timeout)" in e["message"] for e in events)


def test_a_stop_beeps_once_and_a_select_is_counted_out_on_the_pins():
    result, levels, events = _run(Config(), ["select@1", "stop@5", "reset@8"], until=12)
    count = [(t, led, buzz) for t, led, buzz in levels if 1.0 <= t < 1.0 + indicate.count(2).length]
    rising = sum(1 for a, b in zip(count, count[1:]) if b[2] and not a[2]) + count[0][2]
    assert rising == 2  # preset 2 of 3: two beeps
    assert any(e["event"] == "select" and e["number"] == 2 and e["preset"] == "b" for e in events)
    stop_beep = [b for t, _, b in levels if 5.0 <= t < 8.0]
    assert stop_beep[0] and any(stop_beep) and not stop_beep[-1]  # one beep, then quiet while stopped
    assert sum(1 for a, b in zip(stop_beep, stop_beep[1:]) if b and not a) == 0


def test_the_buzzer_warns_before_a_session_timeout_return():
    config = Config.model_validate({"limits": {"session_timeout": "60s", "idle_timeout": "30m"}})
    result, levels, events = _run(config, ["down@1:40", "down@50:300"])  # held head-down past the timeout
    returned = next(e for e in events if e["event"] == "return")
    assert returned["reason"] == "session-timeout"
    warned = next(e["t"] for e in events if e["event"] == "indicate" and e["buzzer"] == "warning")
    assert warned == pytest.approx(returned["t"] - AUTO_MOVE_WARNING, abs=0.05)
    assert any(e["event"] == "notice" and "(session timeout)" in e["message"] for e in events)


def test_after_a_reset_with_the_time_up_a_motion_button_brings_the_table_home():
    """Rule 6 holds the table after the reset until a person asks; when one does, with the session
    time up, the one motion the session timeout allows is the way home, so start (or down) begins
    it, and says so. Refusing it left the table head-down for good (an adversarial-test find)."""
    config = Config.model_validate({"limits": {"session_timeout": "30s", "idle_timeout": "30m"}})
    # jog head-down, stop before the timeout, wait past it, reset, then press start, then down
    result, levels, events = _run(config, ["down@1:45", "stop@46", "reset@90", "start@92", "down@94:2"])
    notices = [e["message"] for e in events if e["event"] == "notice"]
    assert "start: the session time is up; the table returns home instead (stop halts it)" in notices
    assert "down ignored while returning: the session time is up" in notices  # the return is not begun again
    (returned,) = [e for e in events if e["event"] == "return"]
    assert (returned["t"], returned["reason"]) == (92.0, "session-timeout")  # at the press, not before it
    assert result.exit_code == sim.EXIT_HOME


def test_a_head_up_profile_with_a_short_timeout_gets_no_false_warning():
    """A profile that only ever goes to -10 deg (head-up) with a 10 s session timeout: the look-ahead
    along its way up is not a descent, so no "returns home by itself" warning (none follows: the
    table is never head-down). An adversarial tester's find: it warned at 11.3 s, at -17.6 deg."""
    from controller.core import session
    from tests.conftest import simulate

    config = Config.model_validate({"limits": {"session_timeout": "10s"}})
    program = session.Program((session.Block((session.Leg(-10.0, 1.0),)),), speed=4.0, accel=config.limits.max_accel)
    run = simulate(config=config, program=program)
    assert run.result.exit_code == sim.EXIT_HOME
    assert not [e for e in run.events if e["event"] == "notice" and "by itself" in e["message"]]
    assert not [e for e in run.events if e["event"] == "indicate" and e["buzzer"] == "warning"]
    assert [e["reason"] for e in run.events if e["event"] == "return"] == ["profile-done"]
