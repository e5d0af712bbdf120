"""The phone remote's tokens: random, shown once, kept only as a hash beside the history file."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import os
import re
import secrets
import shlex
from dataclasses import dataclass
from pathlib import Path

from controller.errors import InputError

TOKENS_FILE = "remote-tokens.json"
TOKEN_BYTES = 24  # 192 random bits (the contract asks for at least 128)
NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")


class TokenError(InputError):
    """A token file that cannot be read or written, or a name that is not allowed: one line."""


def tokens_path(history_file: str) -> Path:
    """Where the tokens live: the state folder, next to the history file."""
    return Path(os.path.abspath(history_file)).parent / TOKENS_FILE


def token_command(action: str, *, config: str | None = None) -> str:
    """The `remote` command to type (``token``, ``pair``), with the --config it needs, as a shell takes it."""
    return shlex.join(["inversion-table", "remote", action] + (["--config", config] if config is not None else []))


def digest(token: str) -> str:
    """The stored form. A token is 192 random bits, so one round of SHA-256 is enough: there is
    nothing to guess a dictionary from, and a Pi Zero checks it in microseconds."""
    return "sha256:" + hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Entry:
    name: str
    hash: str
    created: str


class TokenStore:
    """The token file (JSON, mode 0600). Read again whenever it changed, so `remote revoke`
    takes effect on a running service at its next request."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._stamp: tuple | None = None
        self._entries: tuple[Entry, ...] = ()

    # -- reading -------------------------------------------------------------------------------
    def entries(self) -> tuple[Entry, ...]:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self._stamp, self._entries = None, ()
            return ()
        except OSError as e:
            raise TokenError(f"{self.path}: cannot read the remote's tokens: {e.strerror}") from None
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        if stamp != self._stamp:
            self._entries, self._stamp = self._read(), stamp
        return self._entries

    def _read(self) -> tuple[Entry, ...]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return tuple(Entry(str(e["name"]), str(e["hash"]), str(e.get("created", ""))) for e in data["tokens"])
        except OSError as e:
            raise TokenError(f"{self.path}: cannot read the remote's tokens: {e.strerror}") from None
        except (ValueError, KeyError, TypeError):
            raise TokenError(f"{self.path}: not a token file the remote wrote (remove it and make new tokens)") from None

    def check(self, token: str | None) -> str | None:
        """The name of the token, or None: every stored hash is compared, in constant time."""
        if not token:
            return None
        wanted = digest(token)
        found = None
        for entry in self.entries():
            if hmac.compare_digest(wanted, entry.hash):
                found = entry.name
        return found

    # -- writing -------------------------------------------------------------------------------
    def create(self, name: str) -> str:
        """A new token named ``name`` (replacing one of that name); the token itself, shown once."""
        if not NAME_RE.fullmatch(name):
            raise TokenError(f"token name {name!r}: use 1 to 40 letters, digits, '.', '-' or '_'")
        token = secrets.token_urlsafe(TOKEN_BYTES)
        created = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        kept = [e for e in self.entries() if e.name != name]
        self._write(kept + [Entry(name, digest(token), created)])
        return token

    def revoke(self, name: str) -> None:
        entries = self.entries()
        if not any(e.name == name for e in entries):
            known = ", ".join(e.name for e in entries) or "none yet"
            raise TokenError(f"no remote token named {name!r} (tokens: {known})")
        self._write([e for e in entries if e.name != name])

    def _write(self, entries: list[Entry]) -> None:
        folder = self.path.parent
        if not folder.is_dir():
            raise TokenError(f"{folder}: no such folder for the remote's tokens (the state folder, next to "
                             "the history: systemd/install.sh makes it, or set [history] file)")
        text = json.dumps({"tokens": [e.__dict__ for e in entries]}, indent=2) + "\n"
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            owner = os.stat(folder)
            if os.geteuid() == 0 and owner.st_uid != 0:
                # `sudo inversion-table remote token`: the file is the service user's, who owns the
                # state folder (systemd/install.sh), or the service could not read it.
                os.chown(tmp, owner.st_uid, owner.st_gid)
            os.replace(tmp, self.path)
        except OSError as e:
            raise TokenError(f"{self.path}: cannot write the remote's tokens: {e.strerror}") from None
        self._stamp = None
