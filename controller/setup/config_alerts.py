"""[alerts]: tell a person (through Apprise) when someone may be stuck on the table; off without `urls`."""

from __future__ import annotations

import logging
import re
from contextlib import contextmanager
from typing import Annotated

from pydantic import Field, field_validator

from controller.setup.validation import Duration, LimitNote, StrictModel, problem

# A stop or trip held head-down this long sends the alert. Not sooner than 10 s: a person who
# pressed stop on purpose has time to press reset; not later than 10 min: eye pressure doubles
# within minutes head-down (docs/SAFETY.md).
MIN_STUCK_AFTER, MAX_STUCK_AFTER = 10.0, 600.0  # s
MAX_URLS = 10


@contextmanager
def apprise_quiet():
    """Apprise logs the URLs it cannot parse, credentials half shown: nothing of it reaches a log here."""
    logger = logging.getLogger("apprise")
    before = logger.disabled
    logger.disabled = True
    try:
        yield
    finally:
        logger.disabled = before


def url_problem(url: str) -> str | None:
    """Why Apprise cannot use ``url`` (naming only its scheme, never the rest), or None."""
    import apprise  # here, not at the top: every command reads the config, few send alerts

    with apprise_quiet():
        if apprise.Apprise.instantiate(url) is not None:
            return None
    scheme = url.split("://", 1)[0] if "://" in url else None
    if scheme is None or not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]{0,19}", scheme):  # else it could be a secret
        return "not an Apprise URL (SCHEME://..., such as ntfy://TOPIC or mailto://USER:PASSWORD@HOST)"
    if not _known_scheme(scheme):
        return f"Apprise knows no service '{scheme}://' (see Apprise's list of services)"
    return f"Apprise cannot use this {scheme}:// URL: a part is missing or malformed (see its page for {scheme}://)"


def _known_scheme(scheme: str) -> bool:
    import apprise

    with apprise_quiet():
        services = apprise.Apprise().details()["schemas"]
    return any(scheme.lower() in (*(s.get("protocols") or ()), *(s.get("secure_protocols") or ())) for s in services)


class AlertsConfig(StrictModel):
    """[alerts]: Apprise URLs to alert when someone may be stuck (absent or empty `urls`: no alerts)."""

    urls: Annotated[list[str], Field(max_length=MAX_URLS)] = []
    stuck_after: Annotated[Duration, Field(ge=MIN_STUCK_AFTER, le=MAX_STUCK_AFTER),
                           LimitNote(ge="time to press reset after a stop on purpose",
                                     le="eye pressure doubles within minutes head-down")] = 60.0
    # What the alerts call the table (default: this machine's host name).
    name: Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._-]*$")] | None = None

    @field_validator("urls")
    @classmethod
    def _urls(cls, urls: list[str]) -> list[str]:
        # One line per URL, each naming it by its place: a URL may hold a password or a token.
        lines = [f"URL #{i + 1}: {why}" for i, url in enumerate(urls) if (why := url_problem(url)) is not None]
        if lines:
            raise problem("\n".join(lines))
        return urls
