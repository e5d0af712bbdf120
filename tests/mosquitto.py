"""A real mosquitto broker for the MQTT tests, on a free loopback port, and a client that keeps
every message it hears. Everything waits for conditions with deadlines (tests/waiting.py)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import threading
from pathlib import Path

import pytest

from tests.waiting import wait_for

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
PASSWD = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
TLS = Path(__file__).with_name("tls")  # the test CA and the broker's certificate (tests/tls/README.md)


def require_mosquitto() -> None:
    """A missing broker fails in CI (.ci/run installs it: a skipped test is not a test); on a
    developer's machine without it, the tests say what to install."""
    if not os.path.exists(MOSQUITTO) and not os.environ.get("CI"):
        pytest.skip("needs Debian's mosquitto (apt-get install mosquitto)", allow_module_level=True)


def hear_the_log(caplog, level: int = logging.DEBUG):
    """``caplog`` hearing the service's logger at ``level``, whatever a test before did to it in this
    worker (import-linter's logging set-up, run in-process by tests/test_layers.py, disables every
    logger that exists then, and a command's own set-up may leave its level at ERROR)."""
    logging.getLogger("inversion_table").disabled = False
    caplog.set_level(level, logger="inversion_table")
    return caplog


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    """``mosquitto`` on 127.0.0.1:``port``; started, killed, paused and started again on the same port."""

    def __init__(self, folder: Path, *, users: dict[str, str] | None = None, tls: bool = False) -> None:
        self.folder, self.port = folder, free_port()
        lines = [f"listener {self.port} 127.0.0.1", "persistence false", "log_dest stderr"]
        if tls:
            lines += [f"cafile {TLS / 'ca.pem'}", f"certfile {TLS / 'broker.pem'}", f"keyfile {TLS / 'broker.key'}"]
        if users:
            passwords = folder / "passwords"
            passwords.touch(mode=0o600)
            for user, password in users.items():
                subprocess.run([PASSWD, "-b", str(passwords), user, password], check=True, capture_output=True)
            lines += ["allow_anonymous false", f"password_file {passwords}"]
        else:
            lines.append("allow_anonymous true")
        if os.geteuid() == 0:  # as root it would become user mosquitto, who cannot read the test's folder
            lines.append("user root")
        self.config = folder / "mosquitto.conf"
        self.config.write_text("\n".join(lines) + "\n", encoding="utf-8")
        self.proc: subprocess.Popen | None = None

    def start(self) -> Broker:
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.config)], stdout=subprocess.DEVNULL,
                                     stderr=open(self.folder / "mosquitto.log", "ab"))
        wait_for(self._accepting, 10.0, f"mosquitto to accept on port {self.port}")
        return self

    def _accepting(self) -> bool:
        assert self.proc.poll() is None, (self.folder / "mosquitto.log").read_text(errors="replace")
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
        except OSError:
            return False
        return True

    def kill(self) -> None:
        """Gone at once, without a word (SIGKILL): every connection reset, retained messages lost."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def pause(self, paused: bool) -> None:
        """A broker that reads nothing (SIGSTOP) until resumed (SIGCONT): the slowest one."""
        self.proc.send_signal(signal.SIGSTOP if paused else signal.SIGCONT)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
        self.kill()


class Listener:
    """A client subscribed to ``topics`` that keeps (topic, payload, retained) of every message,
    subscribing again after each reconnection."""

    def __init__(self, port: int, topics: tuple[str, ...] = ("#",)) -> None:
        import paho.mqtt.client as paho

        self.messages: list[tuple[str, str, bool]] = []
        self._lock = threading.Lock()
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2)
        self.client.reconnect_delay_set(0.1, 0.5)
        self.subscribed = threading.Event()
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe([(t, 1) for t in topics])
        self.client.on_subscribe = lambda *a: self.subscribed.set()
        self.client.on_message = self._message
        self.client.connect_async("127.0.0.1", port)
        self.client.loop_start()
        wait_for(self.subscribed.is_set, 10.0, "the listener to subscribe")

    def _message(self, client, userdata, message) -> None:
        with self._lock:
            self.messages.append((message.topic, message.payload.decode("utf-8", "replace"), bool(message.retain)))

    def on(self, topic: str) -> list[str]:
        with self._lock:
            return [payload for t, payload, _ in self.messages if t == topic]

    def json_on(self, topic: str) -> list:
        return [json.loads(p) for p in self.on(topic) if p]

    def wait(self, topic: str, predicate=lambda payload: True, timeout: float = 20.0, what: str | None = None):
        """The first payload on ``topic`` (decoded JSON where it is) that satisfies ``predicate``."""
        found = []

        def seen() -> bool:
            for payload in self.on(topic):
                try:
                    value = json.loads(payload)
                except ValueError:
                    value = payload
                if predicate(value):
                    found.append(value)
                    return True
            return False
        wait_for(seen, timeout, what or f"a message on {topic}")
        return found[0]

    def publish(self, topic: str, payload: str, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5.0)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
