"""[remote]: the phone remote (the web page and its API), off unless `listen` is set."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated

from pydantic import Field, field_validator

from controller.errors import ConfigError
from controller.setup.validation import Duration, LimitNote, StrictModel, problem

DEFAULT_PORT = 8270
# A hold lapses this long after its last renewal. The page renews every 0.1 s (the contract asks
# for 0.2 s at most), so below 0.3 s a healthy link would lapse; above 1 s a lost link would keep
# a jog going longer than the half second cableless controls are held to (IEC 62745).
MIN_HOLD_LAPSE, MAX_HOLD_LAPSE = 0.3, 1.0  # s
# The "about to move" warning before a remote start: long enough to be heard, short enough not
# to be mistaken for something else.
MIN_START_WARNING, MAX_START_WARNING = 1.0, 30.0  # s


def is_host(host: str) -> bool:
    """An IP address, or a host name of dot-separated labels (letters, digits, inner hyphens)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*",
                            host) is not None
    return True


def parse_listen(text: str, *, what: str = "listen", any_port: bool = False) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:8270`` for IPv6) as (host, port); ValueError naming ``what``.
    ``any_port``: port 0 is allowed (a free one, which the log names: for tests)."""
    if not isinstance(text, str) or ":" not in text:
        raise ValueError(f"{what} {text!r} must be HOST:PORT, such as 127.0.0.1:{DEFAULT_PORT} or 0.0.0.0:{DEFAULT_PORT}")
    host, _, port_text = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host:
        raise ValueError(f"{what} {text!r}: the host is missing (HOST:PORT, such as 0.0.0.0:{DEFAULT_PORT})")
    if not is_host(host):
        raise ValueError(f"{what} {text!r}: {host!r} is not an address or a host name")
    if not port_text.isdigit() or not (0 if any_port else 1) <= int(port_text) <= 65535:
        raise ValueError(f"{what} {text!r}: the port must be a number from 1 to 65535")
    return host, int(port_text)


def listen_option(text: str) -> tuple[str, int]:
    """--remote HOST:PORT, as (host, port); a clear ConfigError otherwise."""
    try:
        return parse_listen(text, what="--remote", any_port=True)
    except ValueError as e:
        raise ConfigError(str(e)) from None


class RemoteConfig(StrictModel):
    """[remote]: serve the phone remote on the local network (absent `listen`: no remote)."""

    listen: str | None = None
    allow_motion: bool = False
    start_warning: Annotated[Duration, Field(ge=MIN_START_WARNING, le=MAX_START_WARNING),
                             LimitNote(ge="long enough for the warning to be heard")] = 3.0
    hold_lapse: Annotated[Duration, Field(ge=MIN_HOLD_LAPSE, le=MAX_HOLD_LAPSE),
                          LimitNote(ge="above the page's renewal interval",
                                    le="a lost link must end a hold within about half a second")] = 0.5

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_listen(value)
            except ValueError as e:
                raise problem(str(e)) from None
        return value
