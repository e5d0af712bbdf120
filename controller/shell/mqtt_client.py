"""MQTT beside the loop: availability, the state, events and Home Assistant's discovery out,
commands in (paho-mqtt), on threads of its own. The broker is never in the safety path.

Three threads, and the control loop waits for none of them:

- the control loop's thread only appends each event to the RemoteLink's deque (a bounded one:
  the oldest go first) and counts periods there; the MQTT client adds nothing else to a period;
- the ``mqtt`` thread (real-time below the remote's) reads the table's frozen snapshot every
  ``TICK``, publishes what core/mqtt.py says is due, obeys commands through the RemoteLink (the
  remote's rules and the stop button's path), and pumps the link;
- paho's network thread (started from the ``mqtt`` thread, so it inherits its scheduling)
  connects, reconnects with back-off, and moves the bytes. Its callbacks only set flags and
  queue commands.

Nothing is queued while the broker is away: on every (re)connection the availability, the
discovery and the state are published again, and events resume from then. A broker that reads
slowly is given at most ``MAX_UNSENT`` messages at a time; the rest wait (the state: only its
newest) or are dropped (the oldest events first), and the log says how many.
"""

from __future__ import annotations

import json
import logging
import queue
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Callable

import paho.mqtt.client as paho

from controller.core import mqtt as rules
from controller.core import remote as remote_rules
from controller.errors import ConfigError
from controller.setup.config_mqtt import MqttConnection
from controller.shell import realtime
from controller.shell.remote_link import RemoteLink

log = logging.getLogger("inversion_table")

TICK = 0.05  # s between looks at the table: the 1 Hz state and a change within a tick
MQTT_PRIORITY = 39  # SCHED_FIFO, below the remote's 40 and the loop's 50 (controller/shell/realtime.py)
KEEPALIVE = 15  # s: a broker gone without a word (a cut cable) is noticed within 1.5 times this
CONNECT_TIMEOUT = 3.0  # s for one connection attempt (and so the longest close() can wait on one)
RECONNECT_DELAY = (1.0, 30.0)  # s: paho's back-off doubles from the first to the second
MAX_UNSENT = 50  # messages handed to paho and not yet written to the socket
COMMANDS_KEPT = 20  # commands waiting for the mqtt thread; more are refused, logged
ANSWER_WITHIN = 3.0  # s: a command the table has not taken by then is answered "not taken"
CLOSE_WAIT = 1.0  # s to see "offline" out before disconnecting
STOP_WAIT = 2.0  # s for paho's thread to end once disconnected


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("inversion-table")
    except PackageNotFoundError:
        return "unknown"


def _why(e: BaseException | None) -> str:
    """A failed connection attempt in a few words: "Connection refused", the certificate's fault."""
    if isinstance(e, ssl.SSLCertVerificationError):
        return f"its TLS certificate: {e.verify_message}"
    if isinstance(e, ssl.SSLError):
        return f"TLS: {e.reason or e}"
    if isinstance(e, OSError):
        return e.strerror or str(e) or type(e).__name__
    return "no answer"


class _Client(paho.Client):
    """paho's client, keeping why the last connection attempt failed (paho itself only retries)."""

    last_error: OSError | None = None

    def reconnect(self):
        try:
            return super().reconnect()
        except OSError as e:
            self.last_error = e
            raise


@dataclass
class _Pending:
    """A command posted to the table, answered on the result topic once ``answer()`` says how."""

    command: object
    answer: Callable[[], tuple[bool, str | None] | None]
    deadline: float


class MqttClient:
    """The table on an MQTT broker, from ``start()`` until ``close()`` (safe to call twice)."""

    def __init__(self, table, connection: MqttConnection, *, start_warning: float, hold_lapse: float,
                 reconnect_delay: tuple[float, float] = RECONNECT_DELAY) -> None:
        self.table, self.connection = table, connection
        self.topics = rules.Topics(connection.name, connection.discovery_prefix)
        self.sw_version = _version()
        self.reconnect_delay = reconnect_delay
        # The remote's rules for every command; its hooks are the only ones on the loop's side.
        self.link = RemoteLink(table, allow_motion=connection.allow_motion, start_warning=start_warning,
                               hold_lapse=hold_lapse)
        self._commands: queue.Queue = queue.Queue(maxsize=COMMANDS_KEPT)
        self._pending: list[_Pending] = []
        self._unsent: list = []  # paho's MQTTMessageInfo of each message not yet written
        self._connected = False  # set and cleared by paho's callbacks
        self._connections = 0  # counted by on_connect: a new one means publish everything again
        self._published_for = 0  # the connection everything was last published on
        self._rediscover = False  # Home Assistant came back online
        self._discovered: list[str] | None = None  # the presets the select offers, as last published
        self._last_state: dict | None = None
        self._last_state_at: float | None = None
        self._event_seq = 0
        self._said: str | None = None  # the last connection trouble logged: each is said once
        self.failed_attempts = 0  # connection attempts that failed since the last success
        self._errors_said: set[str] = set()
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False

        c = _Client(paho.CallbackAPIVersion.VERSION2, client_id=f"{rules.TOPIC_ROOT}-{connection.name}",
                        reconnect_on_failure=True)
        c.connect_timeout = CONNECT_TIMEOUT
        c.reconnect_delay_set(min_delay=reconnect_delay[0], max_delay=reconnect_delay[1])
        c.will_set(self.topics.availability, rules.OFFLINE, qos=1, retain=True)
        if connection.username is not None:
            c.username_pw_set(connection.username, connection.password)
        if connection.tls:
            try:
                c.tls_set(ca_certs=connection.ca_file)
            except (OSError, ValueError) as e:  # ssl.SSLError is an OSError: a file that is no CA certificate
                raise ConfigError(f"[mqtt] tls {connection.ca_file or 'true'}: cannot use it ({e})") from None
        c.on_connect, c.on_disconnect, c.on_connect_fail = self._on_connect, self._on_disconnect, self._on_connect_fail
        c.on_message = self._on_message
        self._client = c

    # -- the main thread ---------------------------------------------------------------------------
    def start(self) -> None:
        """Start the threads; the first connection is tried on them, so start-up never waits for it."""
        self._thread = threading.Thread(target=self._run, name="mqtt", daemon=True)
        self._thread.start()
        log.info("mqtt: connecting to the broker at %s as %s (Home Assistant discovery under %s/)",
                 self.connection.address, self.topics.base, self.connection.discovery_prefix)

    def close(self) -> None:
        """Say "offline" (retained) if connected, disconnect, stop both threads. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._closing.set()
        if self._thread is not None:
            self._thread.join(CONNECT_TIMEOUT + 2.0)
        if self._connected:
            info = self._client.publish(self.topics.availability, rules.OFFLINE, qos=1, retain=True)
            try:
                info.wait_for_publish(CLOSE_WAIT)
            except (RuntimeError, ValueError):  # the connection went meanwhile: the will says it
                pass
        self._client.disconnect()
        # paho's loop_stop() joins its thread without a deadline, and that thread stays while a
        # broker that reads nothing holds unsent bytes (until the keepalive gives up): bounded here.
        stopper = threading.Thread(target=self._client.loop_stop, name="mqtt-close", daemon=True)
        stopper.start()
        stopper.join(STOP_WAIT)
        if stopper.is_alive():
            log.warning("mqtt: the broker at %s did not let go within %g s; its connection ends with the process",
                        self.connection.address, STOP_WAIT)

    def __enter__(self) -> MqttClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def connected(self) -> bool:
        return self._connected

    # -- paho's network thread: flags and the command queue only -------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._say(f"the broker at {self.connection.address} refused the connection ({reason_code}); "
                      "retrying with back-off")
            return
        client.subscribe([(self.topics.command, 1), (self.topics.ha_status, 1)])
        self.failed_attempts = 0
        self._said = None
        self._connections += 1
        self._connected = True
        log.info("mqtt: connected to the broker at %s; publishing %s/", self.connection.address, self.topics.base)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        was = self._connected
        self._connected = False
        if was and not self._closing.is_set():
            log.warning("mqtt: lost the broker at %s (%s); reconnecting with back-off (the table runs on as it was)",
                        self.connection.address, reason_code)

    def _on_connect_fail(self, client, userdata) -> None:
        self.failed_attempts += 1
        self._say(f"cannot reach the broker at {self.connection.address} ({_why(client.last_error)}); retrying "
                  "with back-off, at most every "
                  f"{self.reconnect_delay[1]:g} s (the table runs on without it)")

    def _say(self, line: str) -> None:
        if line != self._said:  # once until it changes or a connection succeeds
            self._said = line
            log.warning("mqtt: %s", line)

    def _on_message(self, client, userdata, message) -> None:
        try:
            if message.topic == self.topics.ha_status:
                if message.payload.strip() == rules.ONLINE.encode():
                    self._rediscover = True
                return
            if message.topic == self.topics.command:
                if not message.payload:  # the empty message that clears a retained one: nothing was sent
                    return
                if message.retain:  # kept by the broker from before: replayed, it would press at start-up
                    log.warning("mqtt: a retained command on %s ignored: commands are obeyed only as they are "
                                "sent (clear it: publish an empty retained message there)", message.topic)
                    return
                self._receive(message.payload)
        except Exception as e:  # never the network thread's end (its crash would trip the table)
            self._error(f"a message on {message.topic}", e)

    def _receive(self, payload: bytes) -> None:
        data: object = None
        try:
            if len(payload) > rules.MAX_COMMAND_BYTES:
                raise rules.BadCommand(f"over {rules.MAX_COMMAND_BYTES} bytes")
            try:
                data = json.loads(payload.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                raise rules.BadCommand(f"not JSON: {rules.COMMAND_FORM}") from None
            item: rules.Command | rules.BadCommand = rules.parse_command(data)
        except rules.BadCommand as e:
            item = e
        try:
            self._commands.put_nowait((data, item))
        except queue.Full:
            log.warning("mqtt: command ignored: %d already waiting", COMMANDS_KEPT)

    # -- the mqtt thread ---------------------------------------------------------------------------
    def _run(self) -> None:
        realtime.request(MQTT_PRIORITY, "mqtt")
        c = self._client
        c.connect_async(self.connection.host, self.connection.port, keepalive=KEEPALIVE)
        c.loop_start()  # paho's thread, created here: it inherits this thread's scheduling
        while not self._closing.is_set():
            try:
                data, item = self._commands.get(timeout=TICK)
            except queue.Empty:
                data, item = None, None
            try:
                if item is not None:
                    self._obey(data, item)
                self.link.pump()
                self._answer_pending()
                if self._connected:
                    self._publish_due()
            except Exception as e:  # a bug here must not end the thread, nor reach the table
                self._error("the mqtt thread", e)

    def _error(self, where: str, e: Exception) -> None:
        line = f"{type(e).__name__}: {e}"
        if line not in self._errors_said:  # each distinct error once
            self._errors_said.add(line)
            log.error("mqtt: internal error in %s: %s", where, line)

    def _obey(self, data: object, item) -> None:
        """A command, under the remote's rules: refused with one line, or posted and answered later."""
        if isinstance(item, rules.BadCommand):
            log.warning("mqtt: command ignored: %s", item)
            self._answer(data, False, str(item))
            return
        verdict = rules.command_verdict(item, allow_motion=self.link.allow_motion, table=self.table.state,
                                        t=self.link.now())
        if isinstance(verdict, remote_rules.Verdict):
            log.warning("mqtt: command %s refused: %s", json.dumps(data), verdict.reason)
            self._answer(data, False, verdict.reason)
            return
        now = time.monotonic()  # the answer (one log line, and the result topic) comes once the table took it
        if item.button == "stop":  # the stop button's path: the motor halts at once
            self.link.stop()
            self._pending.append(_Pending(data, lambda: (True, "stop latched") if self.table.state.machine.stop_latched
                                          else None, now + ANSWER_WITHIN))
        elif item.preset is not None:
            if verdict == 0:
                self._answer(data, True, f"{item.preset} is selected")
                return
            ticket = self.link.select(verdict)

            def selected() -> tuple[bool, str | None] | None:
                if not ticket.done:
                    return None
                accepted, reason = remote_rules.outcome(ticket.records)
                preset = self.table.state.preset
                if accepted and preset is not None and preset.name == item.preset:
                    return True, f"{item.preset} is selected"
                return False, reason or "the table did not select it"
            self._pending.append(_Pending(data, selected, now + ANSWER_WITHIN))
        else:
            ticket = self.link.press(item.button)

            def taken() -> tuple[bool, str | None] | None:
                if not ticket.done:
                    return None
                if ticket.cancelled:
                    return False, ticket.cancelled
                return remote_rules.outcome(ticket.records)
            wait = ANSWER_WITHIN + (self.link.start_warning if item.button == "start" else 0.0)
            self._pending.append(_Pending(data, taken, now + wait))

    def _answer_pending(self) -> None:
        now, waiting = time.monotonic(), []
        for p in self._pending:
            answer = p.answer()
            if answer is None and now > p.deadline:
                answer = (False, "the table did not take the command in time (is its control loop running?)")
            if answer is None:
                waiting.append(p)
                continue
            accepted, reason = answer
            log.log(logging.INFO if accepted else logging.WARNING, "mqtt: command %s %s%s", json.dumps(p.command),
                    "taken" if accepted else "refused", f": {reason}" if reason else "")
            self._answer(p.command, accepted, reason)
        self._pending = waiting

    def _answer(self, command: object, accepted: bool, reason: str | None) -> None:
        if self._connected:
            self._publish(self.topics.result, rules.result(command, accepted, reason))

    def _publish(self, topic: str, payload: dict | str | None, *, retain: bool = False, qos: int = 0) -> None:
        text = payload if isinstance(payload, str) else "" if payload is None else json.dumps(payload, default=str)
        self._unsent.append(self._client.publish(topic, text, qos=qos, retain=retain))

    def _backlog(self) -> int:
        self._unsent = [info for info in self._unsent if not info.is_published() and info.rc == 0]
        return len(self._unsent)

    def _publish_due(self) -> None:
        """What the table's snapshot and events say is due, on this connection."""
        fresh = self._connections != self._published_for
        presets = [p.name for p in self.table.state.presets]  # another user's presets: a new select
        if fresh or self._rediscover or presets != self._discovered:
            if fresh:  # a new connection: nothing before it is owed, events resume from now
                self._published_for = self._connections
                self._event_seq = self.link.last_seq()
                self._unsent = []
                self._publish(self.topics.availability, rules.ONLINE, retain=True, qos=1)
            self._rediscover, self._discovered = False, presets
            for topic, payload in rules.discovery(self.topics, presets=presets,
                                                  allow_motion=self.connection.allow_motion, sw_version=self.sw_version):
                self._publish(topic, payload, retain=True, qos=1)
            self._last_state = None  # and the state again
        if self._backlog() >= MAX_UNSENT:
            return  # a slow broker: the events wait in the link's bounded deque, the state is taken anew
        events = self.link.events_after(self._event_seq)
        if events and events[0][0] > self._event_seq + 1:
            log.warning("mqtt: %d events not published (the broker read too slowly)", events[0][0] - self._event_seq - 1)
        for seq, record in events[:MAX_UNSENT]:
            self._event_seq = seq
            self._publish(self.topics.event, record)
        status = self.link.status()
        now = status["t"]
        if rules.state_due(self._last_state, self._last_state_at, status, now):
            self._publish(self.topics.state, status, retain=True)
            self._last_state, self._last_state_at = status, now
