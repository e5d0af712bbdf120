"""The MQTT client's own bookkeeping, with paho's connection stood in for: a broker that reads
nothing gets a bounded backlog (the oldest events dropped, the state only its newest), a bad
command is one log line and an answer, and nothing a message carries can end paho's thread."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest

from controller.core import mqtt as rules
from controller.setup.config import Config
from controller.setup.config_mqtt import MqttConnection
from controller.shell import mqtt_client
from controller.shell import simulate as sim
from controller.shell.mqtt_client import MAX_UNSENT, MqttClient
from controller.shell.remote_link import EVENTS_KEPT
from controller.shell.service import load_presets
from tests.mosquitto import hear_the_log


class Unread:
    """paho's publish, to a broker that reads nothing: every message stays unsent until ``read()``."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, bool]] = []
        self.infos: list[SimpleNamespace] = []

    def publish(self, topic, payload, qos=0, retain=False):
        self.sent.append((topic, payload, retain))
        info = SimpleNamespace(rc=0, published=False)
        info.is_published = lambda: info.published
        info.wait_for_publish = lambda timeout: None
        self.infos.append(info)
        return info

    def disconnect(self) -> None:
        pass

    def loop_stop(self) -> None:
        pass

    def read(self) -> None:
        for info in self.infos:
            info.published = True


@pytest.fixture
def client():
    config = Config()
    s = sim.Simulation(config, presets=load_presets(config, "test"), presses=[sim.parse_press("start@0.5")])
    conn = MqttConnection(host="127.0.0.1", port=1, name="t1", discovery_prefix="homeassistant", allow_motion=False)
    c = MqttClient(s.table, conn, start_warning=3.0, hold_lapse=0.5)
    c._client.loop_stop()  # never started: nothing to stop, but close() calls it
    c._client = Unread()
    c._connected, c._connections = True, 1  # as on_connect leaves it
    c.simulation = s
    yield c
    c.close()
    c.close()  # safe twice, and without start()
    s.close()


def test_a_broker_that_reads_nothing_gets_a_bounded_backlog_and_then_the_newest(client, caplog):
    s, fake = client.simulation, client._client
    s.step_until(1.0)
    client._publish_due()
    first = len(fake.sent)
    assert {t for t, _, _ in fake.sent} >= {client.topics.availability, client.topics.state}
    for i in range(EVENTS_KEPT + 500):  # far more events than the link keeps, while nothing is read
        s.table._event({"t": s.table.now(), "event": "notice", "message": f"n{i}"})  # as the loop reports one
    hear_the_log(caplog)
    with caplog.at_level(logging.WARNING, logger="inversion_table"):
        for t in range(2, 40):  # the session runs on, the state changes, and the backlog stays full
            s.step_until(float(t))
            client._publish_due()
    assert len(fake.sent) <= max(first, MAX_UNSENT) + MAX_UNSENT  # bounded: nothing piles up behind the broker
    assert "events not published (the broker read too slowly)" in caplog.text  # the oldest went first
    fake.read()
    before = len(fake.sent)
    client._publish_due()
    new = fake.sent[before:]
    states = [p for t, p, _ in new if t == client.topics.state]
    assert len(states) == 1 and f'"t": {client.link.status()["t"]}' in states[0]  # the newest only
    events = [p for t, p, _ in new if t == client.topics.event]
    assert 0 < len(events) <= MAX_UNSENT and '"n0"' not in "".join(events)  # the oldest were dropped


def test_a_bad_command_is_one_line_and_an_answer_never_motion(client, caplog):
    for payload in (b"{not json", b"\xff\xfe", b'{"button": "start", "x": 1}', b"x" * 5000):
        client._receive(payload)
    hear_the_log(caplog)
    with caplog.at_level(logging.INFO, logger="inversion_table"):
        while not client._commands.empty():
            client._obey(*client._commands.get_nowait())
    lines = [r.getMessage() for r in caplog.records if r.name == "inversion_table"]
    assert len(lines) == 4 and all(line.startswith("mqtt: command ignored: ") for line in lines), lines
    answers = [p for t, p, _ in client._client.sent if t == client.topics.result]
    assert len(answers) == 4 and all('"accepted": false' in a for a in answers)
    assert client.simulation.controller.state.machine.state == "idle"


def test_nothing_a_message_carries_ends_pahos_thread(client, caplog):
    broken = SimpleNamespace(topic=client.topics.command, payload=12345, retain=False)  # not bytes at all
    hear_the_log(caplog)
    with caplog.at_level(logging.ERROR, logger="inversion_table"):
        client._on_message(None, None, broken)
        client._on_message(None, None, broken)
    assert [r.getMessage() for r in caplog.records].count(
        "mqtt: internal error in a message on inversion-table/t1/command: TypeError: object of type 'int' "
        "has no len()") == 1  # each distinct error said once
    client._on_message(None, None, SimpleNamespace(topic=client.topics.ha_status, payload=b"online"))
    assert client._rediscover


def test_the_loop_side_gets_only_the_links_hooks(client):
    """The client adds no hook of its own to a period: the link's appends and reads are all."""
    table = client.simulation.table
    link = client.link
    assert link._on_event in table.listeners and link._after_period in table.after_period
    owners = {getattr(h, "__self__", None) for h in table.listeners + table.after_period + table.extra_levels
              + table.indicate_overrides}
    assert client not in owners


def test_the_version_in_the_device_block_is_the_package_s():
    assert mqtt_client._version() not in ("", None)
    assert rules.TOPIC_ROOT == "inversion-table"


def test_a_retained_command_is_never_obeyed(client, caplog):
    """A command the broker kept from before would press the button at every start-up (no surprise
    motion: nothing moves until a person asks); only a command as it is sent counts."""
    hear_the_log(caplog)
    with caplog.at_level(logging.WARNING, logger="inversion_table"):
        client._on_message(None, None, SimpleNamespace(topic=client.topics.command, payload=b'{"button": "start"}',
                                                       retain=True))
    assert client._commands.empty()
    assert "mqtt: a retained command on inversion-table/t1/command ignored" in caplog.text
    client._on_message(None, None, SimpleNamespace(topic=client.topics.command, payload=b'{"button": "stop"}',
                                                   retain=False))
    assert client._commands.get_nowait() == ({"button": "stop"}, rules.Command(button="stop"))
