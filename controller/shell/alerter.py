"""Alerts to a person through Apprise, from threads of their own: the loop only hands them over.

Two halves, and the control loop never waits on the second:

- ``AlertWatch`` runs on the loop's thread, after each period: it feeds the snapshot to the pure
  rules (controller/core/alerts.py) and puts any alert they ask for into each URL's bounded queue
  without waiting (a full queue drops it, and says so);
- ``Alerter`` has one thread per URL (``alerts-1``, ...), each sending its queue in order with
  Apprise's blocking ``notify()``, retrying a failed one with the rules' back-off, so a receiver that
  is down or slow delays only its own alerts. Every try is one log line, the URL masked.
"""

from __future__ import annotations

import logging
import queue
import socket
import threading
import time
from typing import Callable, Sequence

from controller.core import alerts as rules
from controller.shell import realtime
from controller.setup.config_alerts import apprise_quiet

QUEUE_SIZE = 16  # alerts waiting per URL: an incident sends two, so only a dead receiver fills it
DRAIN_TIMEOUT = 10.0  # s: a stopping service waits this long for its last alerts (systemd allows 90)
# SCHED_FIFO, below the remote's 40 and the loop's 50 (controller/shell/realtime.py): a thread
# holding the GIL while descheduled by a busy machine would keep the loop waiting.
ALERTS_PRIORITY = 30

log = logging.getLogger("inversion_table")


def table_name(config) -> str:
    """What alerts call the table: [alerts] name, else [mqtt] name (the dashboard's), else the host name."""
    return config.alerts.name or (config.mqtt.name if config.mqtt is not None else None) or socket.gethostname()


class _ApprisesLastWords(logging.Handler):
    """Apprise's own warnings (why a send failed), kept per thread for that thread's log line
    (scrubbed of the URL's secrets there) instead of reaching the log as they are."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self._local = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        self._local.last = record.getMessage()

    def take(self) -> str | None:
        last, self._local.last = getattr(self._local, "last", None), None
        return last


class Target:
    """One Apprise URL: its plugin, what a log may show of it, and one try at sending."""

    def __init__(self, url: str, index: int, last_words: _ApprisesLastWords) -> None:
        import apprise

        with apprise_quiet():
            self.plugin = apprise.Apprise.instantiate(url)
        if self.plugin is None:  # the config's validation let it through: never here
            raise ValueError(f"[alerts] urls URL #{index + 1}: Apprise cannot use it")
        private = self.plugin.url(privacy=True)
        self.shown = rules.masked(private)
        self.secrets = rules.secret_words(url, private)
        self.index = index
        self._last_words = last_words

    def send(self, alert: rules.Alert) -> tuple[bool, str | None]:
        """(took it, Apprise's reason if not). Blocking: Apprise waits for the receiver."""
        self._last_words.take()
        try:
            ok = bool(self.plugin.notify(body=alert.body, title=alert.title))
        except Exception as e:  # a plugin's bug must not end this URL's thread
            ok, why = False, f"{type(e).__name__}: {e}"
        else:
            why = None if ok else self._last_words.take()
        return ok, rules.scrub(why, self.secrets) if why else why


def targets(urls: Sequence[str]) -> tuple[list[Target], Callable[[], None]]:
    """A Target for each URL, and what undoes the capture of Apprise's own log lines."""
    import apprise  # noqa: F401 - loaded now, on the main thread: never while the loop runs

    logger = logging.getLogger("apprise")
    last_words = _ApprisesLastWords()
    before = logger.propagate
    logger.addHandler(last_words)
    logger.propagate = False  # its lines may show a URL's token: ours show the URL masked

    def restore() -> None:
        logger.removeHandler(last_words)
        logger.propagate = before

    return [Target(url, i, last_words) for i, url in enumerate(urls)], restore


class Alerter:
    """Sends each alert to every URL, each from a thread of its own; ``submit`` never waits."""

    def __init__(self, urls: Sequence[str]) -> None:
        self.targets, self._restore_logging = targets(urls)
        self._queues = [queue.Queue(maxsize=QUEUE_SIZE) for _ in self.targets]
        self._closing = threading.Event()
        self._deadline = float("inf")  # set by close(): the last tries end then
        self.sent: list[tuple[int, rules.Alert]] = []  # (URL index, alert) taken, in order
        self.dropped = 0
        self._threads = [threading.Thread(target=self._run, args=(t, q), name=f"alerts-{t.index + 1}", daemon=True)
                         for t, q in zip(self.targets, self._queues)]
        for thread in self._threads:
            thread.start()
        self._closed = False

    def submit(self, alert: rules.Alert) -> None:
        """Queue ``alert`` for every URL, at once (the loop's thread calls this)."""
        for target, q in zip(self.targets, self._queues):
            try:
                q.put_nowait(alert)
            except queue.Full:
                self.dropped += 1
                log.warning("alert %s to %s dropped: %d alerts are still waiting for it", alert.kind, target.shown,
                            QUEUE_SIZE)

    def _run(self, target: Target, q: queue.Queue) -> None:
        realtime.request(ALERTS_PRIORITY, f"alerts {target.index + 1}")
        while True:
            try:  # a closing service's queue may have had no room for the end: empty is the end then
                alert = q.get(block=not self._closing.is_set())
            except queue.Empty:
                return
            if alert is None:
                return
            self._deliver(target, alert)

    def _deliver(self, target: Target, alert: rules.Alert) -> None:
        first = time.monotonic()
        failures = 0
        while True:
            if time.monotonic() >= self._deadline:
                log.error("alert %s to %s not sent: the service stopped before it could be", alert.kind, target.shown)
                return
            ok, why = target.send(alert)
            if ok:
                self.sent.append((target.index, alert))
                log.info("alert %s sent to %s", alert.kind, target.shown)
                return
            failures += 1
            delay = rules.retry_delay(failures, time.monotonic() - first)
            because = f": {why.rstrip('.')}" if why else ""
            if delay is None:
                log.error("alert %s to %s not sent after %d tries%s", alert.kind, target.shown, failures, because)
                return
            log.warning("alert %s to %s failed (try %d)%s; next try in %s", alert.kind, target.shown, failures,
                        because, rules.duration_text(min(delay, max(0.0, self._deadline - time.monotonic()))))
            self._wait(time.monotonic() + delay)

    def _wait(self, until: float) -> None:
        """Until ``until``, or a closing service's deadline if that comes first."""
        while not self._closing.wait(until - time.monotonic()):
            if time.monotonic() >= until:
                return
        left = min(until, self._deadline) - time.monotonic()
        if left > 0:
            time.sleep(left)  # the deadline is known now: no more to wait for

    def close(self, drain: float | None = None) -> None:
        """Send what is queued for up to ``drain`` seconds (DRAIN_TIMEOUT), then stop. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._deadline = time.monotonic() + (DRAIN_TIMEOUT if drain is None else drain)
        self._closing.set()
        for q in self._queues:
            try:
                q.put_nowait(None)
            except queue.Full:  # the thread sees the deadline with each alert still to send
                pass
        for thread in self._threads:
            thread.join(timeout=max(0.0, self._deadline - time.monotonic()) + 1.0)
        if not any(thread.is_alive() for thread in self._threads):
            # Not while a send still hangs past the deadline: its Apprise lines would reach the log as they are.
            self._restore_logging()

    def __enter__(self) -> Alerter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class AlertWatch:
    """The rules, fed from the loop's thread after each period: only pure decisions and a queue put."""

    def __init__(self, table, alerter: Alerter, *, stuck_after: float, name: str) -> None:
        self.table, self.alerter = table, alerter
        self.stuck_after, self.name = stuck_after, name
        self._watch = rules.Watch()
        self.broken = False
        table.after_period.append(self._after_period)

    def _after_period(self, record: dict) -> None:
        if self.broken:
            return
        try:
            obs = rules.observe(self.table.state, self.table.now())
            self._watch, alert = rules.watch(self._watch, obs, stuck_after=self.stuck_after, name=self.name)
        except Exception:  # a bug here must not trip the table (the loop trips on an exception) with someone on it
            self.broken = True
            log.exception("alerts: the rules failed (a bug; please report it): no more alerts until a restart")
            return
        if alert is not None:
            self.alerter.submit(alert)

    def service_stopping(self) -> None:
        """The service is stopping: the last alert, if the table is head-down (once)."""
        obs = rules.observe(self.table.state, self.table.now())
        self._watch, alert = rules.service_stopping(self._watch, obs, name=self.name)
        if alert is not None:
            self.alerter.submit(alert)
