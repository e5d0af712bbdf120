"""MQTT against a real mosquitto broker (tests/mosquitto.py): `run --sim` publishing Home Assistant's
discovery and the live state, obeying a stop, refusing a start without allow_motion (and a retained
command always); a broker that is down at start-up, paused, killed and restarted mid-session, with
the table's motion compared to a run without MQTT on the same seed; a password that never reaches
the log.

Real broker, real threads and the real clock (marked ``realtime``): every wait is for a condition,
with a deadline (tests/waiting.py).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager

import pytest

from controller.core import mqtt as rules
from controller.setup.config import Config
from controller.setup.config_mqtt import MqttConnection
from controller.shell import simulate as sim
from controller.shell.mqtt_client import MqttClient
from controller.shell.service import load_presets
from tests.mosquitto import Broker, Listener, hear_the_log, require_mosquitto
from tests.waiting import end, wait_for

require_mosquitto()

PROG = [sys.executable, "-m", "controller"]
NAME = "t1"
TOPICS = rules.Topics(NAME)
PRESETS = ["gentle", "hold-40", "oscillate"]


@pytest.fixture
def broker(tmp_path):
    b = Broker(tmp_path).start()
    yield b
    b.close()


@pytest.fixture
def listener(broker):
    listening = Listener(broker.port, (f"{TOPICS.base}/#", "homeassistant/#"))
    yield listening
    listening.close()


@contextmanager
def service(tmp_path, port: int, mqtt: str = "", remote: str = "", args=()):
    """`run --sim` with [mqtt] on the broker, its output lines kept; SIGTERM at the end (exit 0)."""
    config = tmp_path / "config.toml"
    config.write_text(f'[calibration]\nfile = "{tmp_path / "none.json"}"\n[control]\nrate = 20\n'
                      f'[remote]\n{remote}\n[mqtt]\nhost = "127.0.0.1"\nport = {port}\nname = "{NAME}"\n{mqtt}\n',
                      encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("GPIOZERO_PIN_FACTORY", "NOTIFY_SOCKET")}
    proc = subprocess.Popen(PROG + ["run", "--sim", "--config", str(config), *args], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(line.rstrip("\n") for line in proc.stdout), daemon=True)
    reader.start()
    try:
        yield proc, lines
    finally:
        end(proc)
        reader.join(10)
    assert not any("Traceback" in line for line in lines), "\n".join(lines)


def _discovered(listener: Listener, allow_motion: bool, *, retained: bool = False) -> None:
    """Every discovery message the table should publish, as published; ``retained``: as a client
    that subscribes later finds them (a removal, the empty message, leaves nothing there)."""
    from controller.shell.mqtt_client import _version

    removed = []
    for topic, payload in rules.discovery(TOPICS, presets=PRESETS, allow_motion=allow_motion, sw_version=_version()):
        if payload is None and retained:
            removed.append(topic)
            continue
        got = listener.wait(topic, timeout=20.0)
        assert got == (payload if payload is not None else ""), topic
    assert not [topic for topic in removed if listener.on(topic)]


def _command(listener: Listener, command, *, timeout: float = 20.0) -> dict:
    """Send a command; its answer on the result topic."""
    text = command if isinstance(command, str) else json.dumps(command)
    before = len(listener.on(TOPICS.result))
    listener.publish(TOPICS.command, text)
    wait_for(lambda: len(listener.on(TOPICS.result)) > before, timeout, f"the answer to {text}")
    return listener.json_on(TOPICS.result)[before]


@pytest.mark.realtime
def test_run_sim_publishes_discovery_and_the_live_state_and_obeys_a_stop(tmp_path, broker, listener):
    with service(tmp_path, broker.port, args=["--press", "start@1.5"]) as (proc, lines):
        assert listener.wait(TOPICS.availability, lambda p: p == "online") == "online"
        _discovered(listener, allow_motion=False)
        refused = _command(listener, {"button": "start"})
        assert refused == {"command": {"button": "start"}, "accepted": False,
                           "reason": "start from MQTT needs [mqtt] allow_motion = true; return, reset, select and "
                                     "stop always work"}
        assert _command(listener, "not json")["accepted"] is False
        assert _command(listener, {"button": "up"})["reason"].startswith("unknown button 'up'")
        wait_for(lambda: any("mqtt: command ignored: not JSON" in line for line in lines), 10.0, "the log line")
        # The table's own start button (1.5 s after start-up): the state goes out at 1 Hz while it moves.
        def paced() -> list[tuple[dict, dict]]:  # running states one after the other with no change of state
            running = [s for s in listener.json_on(TOPICS.state) if s["state"] == "running"]
            return [(a, b) for a, b in zip(running, running[1:]) if rules.discrete(a) == rules.discrete(b)]
        wait_for(lambda: len(paced()) >= 2, 20.0, "the state twice at the live pace")
        assert all(b["t"] - a["t"] >= rules.LIVE_EVERY - 0.06 for a, b in paced()), paced()  # never faster
        running = [s for s in listener.json_on(TOPICS.state) if s["state"] == "running"]
        assert not [s for s in listener.json_on(TOPICS.state) if s["state"] != "idle" and s["state"] != "running"]
        assert running[-1]["angle"] > running[0]["angle"] + 1.0  # head-down-ward, live
        assert set(running[-1]) >= {"t", "state", "angle", "target", "goal", "head_down", "session_timeout",
                                    "auto_return_in", "trip", "preset", "presets", "user", "held", "allow_motion"}
        assert _command(listener, {"button": "stop"}) == {"command": {"button": "stop"}, "accepted": True,
                                                           "reason": "stop latched"}
        stopped = listener.wait(TOPICS.state, lambda s: s["state"] == "stopped", what="the stopped state")
        assert stopped["stop_latched"] is True
        assert listener.wait(TOPICS.event, lambda e: e.get("event") == "button" and e["name"] == "stop")
        assert listener.wait(TOPICS.event, lambda e: e.get("event") == "session")["action"] == "start"
        assert any("mqtt: connected to the broker at 127.0.0.1:" in line for line in lines)
        assert not [line for line in lines if "deadman" in line or "TRIP" in line], "\n".join(lines)
        assert listener.on(TOPICS.availability)[-1] == "online"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    assert listener.on(TOPICS.availability)[-1] == "offline"
    later = Listener(broker.port, (f"{TOPICS.base}/#", "homeassistant/#"))  # what a dashboard starting now gets
    try:
        assert later.wait(TOPICS.availability) == "offline"
        assert later.wait(TOPICS.state)["state"] == "stopped"
        _discovered(later, allow_motion=False, retained=True)
        assert all(retained for topic, _, retained in later.messages)
    finally:
        later.close()


@pytest.mark.realtime
def test_start_and_a_preset_over_mqtt_with_allow_motion_and_home_assistant_coming_back(tmp_path, broker, listener):
    listener.publish(TOPICS.command, '{"button": "start"}', retain=True)  # left on the broker from before
    with service(tmp_path, broker.port, "allow_motion = true", 'start_warning = "1s"') as (proc, lines):
        listener.wait(TOPICS.availability, lambda p: p == "online")
        _discovered(listener, allow_motion=True)
        wait_for(lambda: any("mqtt: a retained command on inversion-table/t1/command ignored" in line
                             for line in lines), 10.0, "the retained command to be ignored")
        listener.publish(TOPICS.command, "", retain=True)  # cleared, as the log line says
        assert not listener.on(TOPICS.result) and listener.json_on(TOPICS.state)[-1]["state"] == "idle"
        assert _command(listener, {"preset": "hold-40"}) == {"command": {"preset": "hold-40"}, "accepted": True,
                                                             "reason": "hold-40 is selected"}
        assert listener.wait(TOPICS.state, lambda s: s["preset"] == "hold-40")["state"] == "idle"
        nope = _command(listener, {"preset": "nope"})
        assert not nope["accepted"] and nope["reason"].startswith("no preset 'nope' on the table")
        assert _command(listener, {"button": "start"})["accepted"] is True  # after its 1 s warning
        assert listener.wait(TOPICS.state, lambda s: s["state"] == "running")["preset"] == "hold-40"
        assert listener.wait(TOPICS.event, lambda e: e.get("event") == "session")["preset"] == "hold-40"
        # Home Assistant restarts: its birth message asks for the discovery (and the state) again.
        topics = [topic for topic, _ in rules.discovery(TOPICS, presets=PRESETS, allow_motion=True, sw_version="")]
        assert {len(listener.on(topic)) for topic in topics} == {1}
        states = len(listener.on(TOPICS.state))
        listener.publish(TOPICS.ha_status, "online")
        wait_for(lambda: all(len(listener.on(topic)) == 2 for topic in topics), 10.0, "the whole discovery again")
        wait_for(lambda: len(listener.on(TOPICS.state)) > states, 10.0, "the state again")
        assert _command(listener, {"button": "stop"})["accepted"] is True


def _parity_config() -> Config:
    return Config.model_validate({"control": {"rate": 20}})


def _simulation(seed: int, **kwargs) -> tuple[sim.Simulation, list[dict], list[dict]]:
    config = _parity_config()
    samples: list[dict] = []
    events: list[dict] = []
    s = sim.Simulation(config, presets=load_presets(config, "test"), presses=[sim.parse_press("start@0.5")],
                       seed=seed, until=4.0, on_tick=samples.append, on_event=events.append, **kwargs)
    return s, samples, events


MOTION = ("t", "angle", "true_angle", "target", "state")


@pytest.mark.realtime
def test_a_broker_down_paused_killed_and_restarted_changes_nothing_in_the_motion(tmp_path):
    seed = 11
    reference, ref_samples, ref_events = _simulation(seed)
    reference.run()  # without MQTT, on virtual time as fast as it goes

    broker = Broker(tmp_path)  # not started: down at start-up
    s, samples, events = _simulation(seed)
    conn = MqttConnection(host="127.0.0.1", port=broker.port, name=NAME, discovery_prefix="homeassistant",
                          allow_motion=False)
    client = MqttClient(s.table, conn, start_warning=3.0, hold_lapse=0.5, reconnect_delay=(0.2, 1.0))
    began = time.monotonic()
    client.start()
    assert time.monotonic() - began < 0.5  # start-up never waits for the broker
    listener: list[Listener] = []
    restarted_at: list[float] = []
    # What happens to the broker, by simulated time; the session runs from 0.5 s to the end at 4 s.
    plan = [(0.7, "start"), (1.1, "pause"), (1.7, "resume"), (2.2, "kill"), (2.9, "restart")]
    pace = sim.real_time_pacer()

    def paced(t: float) -> None:
        while plan and t >= plan[0][0]:
            _, step = plan.pop(0)
            if step in ("start", "restart"):
                broker.start()
                if step == "start":
                    listener.append(Listener(broker.port, (f"{TOPICS.base}/#",)))
                else:
                    restarted_at.append(s.table.now())
            elif step in ("pause", "resume"):
                wait_for(lambda: client.connected, 10.0, "the client to connect")
                broker.pause(step == "pause")
            else:
                broker.kill()
        pace(t)

    try:
        result = s.run(pace=paced)
        assert result.why == "reached --until" and result.state == "running"
        # The state is published again after the broker came back (it lost every retained message).
        wait_for(lambda: client.connected, 10.0, "the client to reconnect")
        after = Listener(broker.port, (f"{TOPICS.base}/#", "homeassistant/#"))
        try:
            assert after.wait(TOPICS.availability) == "online"
            assert after.wait(TOPICS.state)["t"] >= restarted_at[0]
            assert after.wait(TOPICS.discovery("sensor", "angle"))["unique_id"]
        finally:
            after.close()
        heard = listener[0].json_on(TOPICS.state)
        assert [m for m in heard if m["state"] == "running"], "the state was live before the broker went"
    finally:
        client.close()
        client.close()  # safe twice
        for each in listener:
            each.close()
        broker.close()
    assert [tuple(r[k] for k in MOTION) for r in samples] == [tuple(r[k] for k in MOTION) for r in ref_samples]
    assert events == ref_events
    assert len(samples) >= 80  # 4 s at 20 Hz


def _table():
    config = _parity_config()
    return sim.Simulation(config, presets=load_presets(config, "test"))


@pytest.mark.realtime
def test_a_password_logs_in_and_never_reaches_the_log_nor_does_a_refusal(tmp_path, caplog):
    hear_the_log(caplog)
    broker = Broker(tmp_path, users={"table": "s3cret-pw"}).start()
    s = _table()
    try:
        for password, connects in (("s3cret-pw", True), ("wrong-s3cret", False)):
            conn = MqttConnection(host="127.0.0.1", port=broker.port, name=NAME, discovery_prefix="homeassistant",
                                  allow_motion=False, username="table", password=password)
            with MqttClient(s.table, conn, start_warning=3.0, hold_lapse=0.5) as client:
                client.start()
                if connects:
                    wait_for(lambda: client.connected, 10.0, "the client to log in")
                else:
                    wait_for(lambda: "refused the connection" in caplog.text, 10.0, "the refusal in the log")
                    assert not client.connected
            assert password not in caplog.text and "s3cret" not in caplog.text
        assert "mqtt: connected to the broker at 127.0.0.1:" in caplog.text
        assert "refused the connection (Not authorized)" in caplog.text
    finally:
        s.close()
        broker.close()


@pytest.mark.realtime
def test_an_unreachable_broker_is_one_clear_line_and_no_traceback(tmp_path, caplog):
    hear_the_log(caplog)
    port = Broker(tmp_path).port  # nobody listens there
    s = _table()
    conn = MqttConnection(host="127.0.0.1", port=port, name=NAME, discovery_prefix="homeassistant", allow_motion=False)
    try:
        with MqttClient(s.table, conn, start_warning=3.0, hold_lapse=0.5, reconnect_delay=(0.1, 0.2)) as client:
            client.start()
            wait_for(lambda: "cannot reach the broker" in caplog.text, 10.0, "the line in the log")
            wait_for(lambda: client.failed_attempts >= 4, 10.0, "more attempts")  # still the one line
        said = [r.getMessage() for r in caplog.records if "cannot reach" in r.getMessage()]
        assert said == [f"mqtt: cannot reach the broker at 127.0.0.1:{port} (Connection refused); retrying with "
                        "back-off, at most every 0.2 s (the table runs on without it)"]
        assert "Traceback" not in caplog.text and not [r for r in caplog.records if r.exc_info]
    finally:
        s.close()


@pytest.mark.realtime
def test_tls_checks_the_broker_against_its_ca_file_and_refuses_an_unknown_one(tmp_path, caplog):
    from tests.mosquitto import TLS

    hear_the_log(caplog)
    broker = Broker(tmp_path, tls=True).start()
    s = _table()
    try:
        for ca_file, connects in ((str(TLS / "ca.pem"), True), (None, False)):  # None: the system's authorities
            conn = MqttConnection(host="127.0.0.1", port=broker.port, name=NAME, discovery_prefix="homeassistant",
                                  allow_motion=False, tls=True, ca_file=ca_file)
            with MqttClient(s.table, conn, start_warning=3.0, hold_lapse=0.5, reconnect_delay=(0.1, 0.2)) as client:
                client.start()
                if connects:
                    wait_for(lambda: client.connected, 10.0, "the client to connect over TLS")
                else:
                    wait_for(lambda: client.failed_attempts >= 2, 10.0, "the attempts to fail")
                    assert not client.connected  # a broker it cannot check is no broker
        assert "mqtt: connected to the broker at 127.0.0.1:" in caplog.text
        assert "(its TLS certificate: " in caplog.text  # what the check found, in its words
        assert "Traceback" not in caplog.text
    finally:
        s.close()
        broker.close()


@pytest.mark.realtime
def test_closing_with_a_broker_that_reads_nothing_takes_seconds_not_its_keepalive(tmp_path):
    from controller.shell.mqtt_client import CLOSE_WAIT, STOP_WAIT

    broker = Broker(tmp_path).start()
    s = _table()
    conn = MqttConnection(host="127.0.0.1", port=broker.port, name=NAME, discovery_prefix="homeassistant",
                          allow_motion=False)
    try:
        client = MqttClient(s.table, conn, start_warning=3.0, hold_lapse=0.5)
        client.start()
        wait_for(lambda: client.connected, 10.0, "the client to connect")
        broker.pause(True)  # its "offline" will never be acknowledged
        began = time.monotonic()
        client.close()
        assert time.monotonic() - began < CLOSE_WAIT + STOP_WAIT + 1.0
    finally:
        s.close()
        broker.close()
