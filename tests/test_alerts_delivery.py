"""Alerts delivered through Apprise to a real local HTTP receiver, from whole simulated sessions.

The table runs on virtual time (controller/shell/simulate.py: the real controller, simulated
hardware) with the alerts' watch on its after-period pipeline; the alerts go out from the real
sender threads through Apprise's ``json://`` to a receiver on a loopback port. Sending is real
time, so these wait for what was received with deadlines (tests/waiting.py), never fixed sleeps.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from controller.core.table_state import UserChoice
from controller.setup.config import Config
from controller.setup.preflight import prepare_profile
from controller.core.session import Preset
from controller.shell import simulate as sim
from controller.shell.alerter import Alerter, AlertWatch, table_name
from tests.alert_receiver import Receiver, refused_url
from tests.waiting import wait_for

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
HOME_AGAIN = "Table 'table-1' (user ana): home again at -59°, 1 min 4 s after the alert. All clear."


def session(config: Config, presses=(), faults=()) -> sim.Simulation:
    """hold-40 started at t = 0 by user ana, with the presses and faults given."""
    program = prepare_profile("hold-40", config).program
    presets = [Preset("hold-40", program, "hold-40")]
    ana = UserChoice("ana", tuple(presets), sim.settings_from(config), acknowledged=True)
    return sim.Simulation(config, presets=presets, users=[ana], presses=[sim.Press(0.0, "start")] + [
        sim.parse_press(p) for p in presses], faults=[sim.parse_fault(f) for f in faults])


def alerts_config(*urls: str) -> Config:
    return Config.model_validate({"alerts": {"urls": list(urls), "name": "table-1"}})


def run_with_alerts(config, receivers_expected, *, presses=(), faults=()):
    """The session on virtual time, its alerts to the config's URLs; the simulation's result."""
    s = session(config, presses, faults)
    with Alerter(config.alerts.urls) as alerter:
        AlertWatch(s.table, alerter, stuck_after=config.alerts.stuck_after, name="table-1")
        result = s.run()
        for receiver, count in receivers_expected:
            wait_for(lambda: len(receiver.received) >= count, 20.0, f"{count} alert(s) at {receiver.url}")
    return result


@pytest.mark.realtime
def test_a_stop_held_head_down_for_stuck_after_alerts_and_the_all_clear_follows_at_home():
    with Receiver() as rx:
        config = alerts_config(rx.url)
        result = run_with_alerts(config, [(rx, 2)], presses=["stop@25", "reset@100", "return@101"])
        assert result.exit_code == sim.EXIT_HOME
        assert rx.messages() == [
            "Table 'table-1' (user ana): stopped at 37° head-down for 1 min. Press RESET, then RETURN on the table "
            "to bring it home; if it does not move, lower it by hand (see the manual).",
            HOME_AGAIN,
        ]
        assert rx.messages()[0] in README  # the README's example is this one
        assert [r["title"] for r in rx.received] == ["Inversion table 'table-1': someone may be stuck",
                                                     "Inversion table 'table-1': home again"]


@pytest.mark.realtime
def test_a_trip_during_a_session_alerts_at_once_and_hold_to_run_home_gives_the_all_clear():
    with Receiver() as rx:
        config = alerts_config(rx.url)
        result = run_with_alerts(config, [(rx, 2)], faults=["imu-disconnect@20"], presses=["return@30:60"])
        trip, home = rx.messages()
        assert trip.startswith("Table 'table-1' (user ana): tripped at about 18° head-down (by the motor's step "
                               "count: the angle sensor is not trusted) (imu-lost: the angle sensor stopped "
                               "answering (no good sample for 60 ms)), head-down for 4 s. Hold RETURN"), trip
        assert home.startswith("Table 'table-1' (user ana): home again at about -59° (by the motor's step count"), home
        assert result.exit_code == sim.EXIT_LATCHED  # home by the step count, the trip still latched


@pytest.mark.realtime
def test_a_session_that_ends_well_sends_nothing():
    with Receiver() as rx:
        config = alerts_config(rx.url)
        s = session(config, ["stop@25", "reset@40", "return@41"])  # stopped 15 s: less than stuck_after
        with Alerter(config.alerts.urls) as alerter:
            AlertWatch(s.table, alerter, stuck_after=60.0, name="table-1")
            assert s.run().exit_code == sim.EXIT_HOME
        assert rx.requests == 0 and alerter.sent == []


@pytest.mark.realtime
def test_a_receiver_down_or_slow_changes_nothing_in_the_trace_and_delays_no_period():
    """The same session with alerts to a refused port and to a receiver that holds every request
    until the run is over, and with no alerts: the trace is the same, and no period waited."""
    presses = ["stop@25", "reset@100", "return@101"]
    plain = session(Config(), presses)
    samples, events = [], []
    plain.on_tick, plain.on_event = samples.append, events.append
    plain.run()
    with Receiver(held=True) as slow:
        config = alerts_config(refused_url(), slow.url)
        s = session(config, presses)
        alerted_samples, alerted_events = [], []
        s.on_tick, s.on_event = alerted_samples.append, alerted_events.append
        with Alerter(config.alerts.urls) as alerter:
            watch = AlertWatch(s.table, alerter, stuck_after=60.0, name="table-1")
            hook_times = []

            def timed(record, hook=s.table.after_period.pop()):  # the watch's own hook, timed
                start = time.perf_counter()
                hook(record)
                hook_times.append(time.perf_counter() - start)

            s.table.after_period.append(timed)
            s.run()
            # The run is over, every period ran, and the slow receiver still holds the first alert.
            wait_for(lambda: slow.requests == 1, 10.0, "the first alert at the slow receiver")
            assert slow.received == []
            slow.release()
            wait_for(lambda: len(slow.received) == 2, 20.0, "both alerts at the slow receiver")
            alerter.close(drain=0.0)  # the refused port would be retried for an hour
        assert watch.alerter is alerter and len(hook_times) == len(alerted_samples)
    assert alerted_samples == samples and alerted_events == events
    assert max(hook_times) < 0.05, max(hook_times)  # a queue put, never a send


def test_a_bug_in_the_alerts_rules_never_trips_the_table(monkeypatch, caplog):
    from controller.core import alerts as rules

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(rules, "watch", broken)
    s = session(alerts_config(refused_url()), ["stop@25", "reset@40", "return@41"])
    with Alerter(s.config.alerts.urls) as alerter:
        watch = AlertWatch(s.table, alerter, stuck_after=60.0, name="table-1")
        result = s.run()
        alerter.close(drain=0.0)
    assert result.exit_code == sim.EXIT_HOME and watch.broken and "trip" not in result.why
    assert "alerts: the rules failed (a bug; please report it)" in caplog.text


@pytest.mark.realtime
def test_a_failed_send_is_retried_after_the_back_off(caplog):
    """The receiver answers 500 to the first try: the alert goes again 2 s later, and is taken."""
    import logging

    caplog.set_level(logging.INFO, logger="inversion_table")
    with Receiver(fail_first=1) as rx:
        config = alerts_config(rx.url)
        run_with_alerts(config, [(rx, 1)], faults=["imu-disconnect@20"])
        assert rx.requests == 2 and rx.messages()[0].startswith("Table 'table-1' (user ana): tripped at about 18° ")
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("alert ")]
    assert lines[0].startswith(f"alert trip to {rx.url} failed (try 1)") and lines[0].endswith("; next try in 2 s")
    assert lines[1] == f"alert trip sent to {rx.url}"


def test_alerts_name_the_table_as_the_config_says_else_as_the_dashboard_does_else_by_host():
    mqtt = {"host": "localhost", "name": "table-2"}
    assert table_name(Config.model_validate({"alerts": {"name": "ward-3"}, "mqtt": mqtt})) == "ward-3"
    assert table_name(Config.model_validate({"mqtt": mqtt})) == "table-2"
    assert table_name(Config()) == socket.gethostname()
