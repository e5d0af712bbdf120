"""systemd's notify protocol (sd_notify): READY and WATCHDOG datagrams, stdlib only."""

from __future__ import annotations

import os
import socket

# Without $WATCHDOG_USEC (systemd did not ask), ping this often; with it, four times per interval
# (systemd suggests at least twice).
DEFAULT_WATCHDOG_INTERVAL = 0.25  # s
PINGS_PER_WATCHDOG_INTERVAL = 4


class Notifier:
    """Sends datagrams to ``$NOTIFY_SOCKET``; does nothing when systemd did not ask for them."""

    def __init__(self, address: str | None = None) -> None:
        address = address if address is not None else os.environ.get("NOTIFY_SOCKET")
        self._sock: socket.socket | None = None
        self._address: str | bytes | None = None
        if address:
            # An address starting with "@" is in Linux's abstract namespace.
            self._address = "\0" + address[1:] if address.startswith("@") else address
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            # Never block the control loop on systemd: a full queue drops a ping, it does not stall.
            self._sock.setblocking(False)
        try:
            usec = int(os.environ.get("WATCHDOG_USEC", "0"))
        except ValueError:
            usec = 0
        self.watchdog_interval = usec / 1e6 / PINGS_PER_WATCHDOG_INTERVAL if usec > 0 else DEFAULT_WATCHDOG_INTERVAL

    @property
    def enabled(self) -> bool:
        return self._sock is not None

    def send(self, message: str) -> bool:
        if self._sock is None:
            return False
        try:
            self._sock.sendto(message.encode(), self._address)
            return True
        except OSError:
            return False  # queue full, or systemd gone (shutting down): nothing useful to do

    def ready(self, status: str = "") -> bool:
        return self.send("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def status(self, text: str) -> bool:
        """The one-line status `systemctl status` shows."""
        return self.send(f"STATUS={text}")

    def stopping(self) -> bool:
        return self.send("STOPPING=1")

    def close(self) -> None:
        """Safe to call twice."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> Notifier:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
