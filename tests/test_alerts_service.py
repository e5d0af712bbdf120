"""Alerts in the service (`run`, `run --sim`) on the real clock, and `inversion-table alerts test`.

Real threads, the real clock and a real local HTTP receiver (tests/alert_receiver.py) reached
through Apprise's ``json://``: marked ``realtime``, waiting for conditions with deadlines.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading

import pytest

from controller.commands.cli import main
from controller.core.reasons import Trip
from controller.setup.config import Config
from controller.shell import alerter, restart
from controller.shell.service import Service, load_presets
from drivers.clock import MonotonicClock
from drivers.sim import hardware
from tests.alert_receiver import Receiver, refused_url
from tests.waiting import periods_pass, wait_for

RATE = 20  # Hz: the dead-man's 100 ms survive a busy machine


# Home just below horizontal and a brisk jog: head-down within two seconds.
NEAR_HORIZONTAL = {"control": {"rate": RATE}, "table": {"home_angle": -5},
                   "motion": {"rest_angle": -5, "jog_speed": 4.0}}


def service_with_alerts(*urls: str) -> Service:
    config = Config.model_validate({**NEAR_HORIZONTAL, "alerts": {"urls": list(urls), "name": "table-1"}})
    hw = hardware.build(config, clock=MonotonicClock())
    return Service(config, hw, presets=load_presets(config, "test"))


def jog_head_down(svc: Service) -> None:
    """Hold `down` until the table is head-down."""
    svc.hw.press("down")
    wait_for(lambda: svc.controller.state.estimate is not None and svc.controller.state.estimate.angle > 2.0, 30.0,
             "the table head-down")
    svc.hw.release("down")


@pytest.mark.realtime
def test_the_service_stopping_head_down_alerts_before_it_is_gone(monkeypatch, caplog):
    monkeypatch.setattr(alerter, "DRAIN_TIMEOUT", 0.5)  # the refused URL is retried this long, not 10 s
    caplog.set_level(logging.INFO, logger="inversion_table")
    refused = refused_url()
    with Receiver() as rx:
        svc = service_with_alerts(rx.url, refused)
        try:
            svc.start()
            jog_head_down(svc)
        finally:
            svc.close()
            svc.close()
        (message,) = rx.messages()
    assert message.startswith("Table 'table-1' (no user chosen): the controller stopped with the table at "), message
    assert "° head-down (head-down for " in message
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("alert ")]
    assert f"alert stopping sent to {rx.url}" in lines
    assert any(line.startswith(f"alert stopping to {refused} failed (try 1)") for line in lines), lines
    assert lines[-1].startswith(f"alert stopping to {refused} not sent"), lines


@pytest.mark.realtime
def test_a_slow_or_refusing_receiver_delays_no_control_period(monkeypatch):
    """A trip head-down sends an alert at once; one receiver holds it, the other refuses: the loop
    runs on at its rate meanwhile, with no overrun."""
    monkeypatch.setattr(alerter, "DRAIN_TIMEOUT", 0.5)
    with Receiver(held=True) as slow:
        svc = service_with_alerts(slow.url, refused_url())
        try:
            svc.start()
            jog_head_down(svc)
            svc.table.inject("imu-disconnect", True)
            wait_for(lambda: svc.controller.state.machine.trip == "imu-lost", 5.0, "the imu-lost trip")
            wait_for(lambda: slow.requests == 1, 10.0, "the trip's alert at the slow receiver")
            overruns = svc.loop.overruns
            periods_pass(svc.controller, RATE, 1.0 / RATE)  # a second of periods, the alert held
            assert slow.received == [] and svc.loop.overruns == overruns
            assert not svc.loop.deadman.fired
            slow.release()
            wait_for(lambda: len(slow.received) == 1, 10.0, "the trip's alert taken")
        finally:
            svc.close()
    assert "tripped at about " in slow.messages()[0] and "(imu-lost: " in slow.messages()[0]


@pytest.mark.realtime
def test_alerts_test_says_which_url_took_it(tmp_path, capsys):
    refused = refused_url()
    with Receiver() as rx:
        config = tmp_path / "config.toml"
        config.write_text(f'[alerts]\nurls = ["{rx.url}", "{refused}"]\nname = "table-1"\n', encoding="utf-8")
        assert main(["alerts", "test", "--config", str(config)]) == 1
        out, err = capsys.readouterr()
        assert out.splitlines() == [
            f"1 of 2: {rx.url} ... took it",
            f"2 of 2: {refused} ... did not take it (A Connection error occurred sending JSON notification to "
            "127.0.0.1)",
        ]
        assert err == "1 of 2 URL(s) did not take the test alert\n"
        (test,) = rx.received
        assert test["title"] == "Inversion table 'table-1': test alert"
        config.write_text(f'[alerts]\nurls = ["{rx.url}"]\n', encoding="utf-8")
        assert main(["alerts", "--config", str(config), "test"]) == 0
        assert capsys.readouterr().out.endswith("every URL took the test alert (1)\n")


def test_alerts_test_without_urls_says_so_in_one_line(tmp_path, capsys):
    config = tmp_path / "config.toml"
    config.write_text("[limits]\nmax_angle = 50\n", encoding="utf-8")
    assert main(["alerts", "test", "--config", str(config)]) == 2
    assert capsys.readouterr().err == (f"inversion-table: error: {config}: no [alerts] urls: nothing to test (add "
                                       "[alerts] urls = [\"ntfy://...\"]; README, \"Alerts\")\n")


def test_a_password_in_a_url_never_reaches_the_output(tmp_path, capsys):
    config = tmp_path / "config.toml"
    config.write_text('[alerts]\nurls = ["json://ana:hunter2@127.0.0.1:1/", "mailto://ana:hunter2@"]\n',
                      encoding="utf-8")
    assert main(["alerts", "test", "--config", str(config)]) == 2
    out, err = capsys.readouterr()
    assert "URL #2: Apprise cannot use this mailto:// URL" in err and "hunter2" not in out + err


@pytest.mark.realtime
def test_run_sim_stopped_by_sigterm_head_down_sends_the_alert(tmp_path):
    """The command as systemd runs it: a stop latched head-down, then SIGTERM."""
    from tests.test_service import _env

    with Receiver() as rx:
        config = tmp_path / "config.toml"
        config.write_text(f'[calibration]\nfile = "{tmp_path / "none.json"}"\n[control]\nrate = {RATE}\n'
                          '[table]\nhome_angle = -5\n[motion]\nrest_angle = -5\njog_speed = 4.0\n'
                          f'[alerts]\nurls = ["{rx.url}"]\nname = "table-1"\n', encoding="utf-8")
        proc = subprocess.Popen([sys.executable, "-m", "controller", "run", "--sim", "--config", str(config),
                                 "--press", "down@0.1:2.6", "--press", "stop@2.5"], env=_env(tmp_path), cwd=tmp_path,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
        try:
            reader.start()
            wait_for(lambda: any(line.startswith("button stop press") for line in lines), 60.0, "the stop latched")
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
            reader.join(timeout=10)
            err = proc.stderr.read()
        finally:
            proc.kill()
        assert proc.returncode == 0, err
        assert f"alert stopping sent to {rx.url}\n" in lines, lines
        (message,) = rx.messages()
    assert message.startswith("Table 'table-1' (no user chosen): the controller stopped with the table at "), message
    assert "° head-down" in message


@pytest.mark.realtime
def test_a_service_restarted_with_a_trip_latched_head_down_alerts_at_once(tmp_path, monkeypatch):
    """The loop hung or crashed and systemd restarted the service: the restart file says a trip is
    latched at 30 deg. Nobody was told while the old process was gone, so the new one says so now."""
    monkeypatch.setattr(alerter, "DRAIN_TIMEOUT", 0.5)
    path = tmp_path / restart.FILE_NAME
    restart.save(path, restart.RestartState(30.0, trip=Trip.LOOP_STALL, head_down=40.0))
    with Receiver() as rx:
        config = Config.model_validate({**NEAR_HORIZONTAL, "alerts": {"urls": [rx.url], "name": "table-1"}})
        hw = hardware.build(config, clock=MonotonicClock(), start_angle=30.0)
        svc = Service(config, hw, presets=load_presets(config, "test"), restart_file=path)
        try:
            svc.start()
            wait_for(lambda: len(rx.received) == 1, 10.0, "the restored trip's alert")
            assert svc.controller.state.machine.trip == "loop-stall" and hw.motor.steps == 0
        finally:
            svc.close()
        message, stopping = rx.messages()  # and the service stopping with the incident still open
    assert message.startswith("Table 'table-1' (no user chosen): tripped at "), message
    assert "30° head-down" in message and "(loop-stall: " in message and "Hold RETURN" in message
    assert "the controller stopped with the table at" in stopping
