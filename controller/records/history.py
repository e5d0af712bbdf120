"""Session history in SQLite (WAL): who did what, how far, how long, and how it ended."""

from __future__ import annotations

import datetime
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from controller.errors import InputError

SCHEMA_VERSION = 1
# A session still open in the file when it is opened again ended with the process (power cut, kill).
IN_PROGRESS = "in-progress"
OUTCOMES = ("completed", "stopped", "returned", "timeout", "service stopped", IN_PROGRESS)  # or "trip: <reason>"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY,
    user TEXT NOT NULL,
    profile TEXT NOT NULL,
    level INTEGER,                      -- a progressive profile's level, else NULL
    started TEXT NOT NULL,              -- ISO 8601, UTC (for people; nothing decides by it)
    ended TEXT,
    head_down REAL NOT NULL DEFAULT 0,  -- s
    max_angle REAL,                     -- deg
    outcome TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS acknowledgements (
    user TEXT PRIMARY KEY,
    text_version INTEGER NOT NULL,
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS progress (
    user TEXT NOT NULL,
    profile TEXT NOT NULL,
    level INTEGER NOT NULL,
    PRIMARY KEY (user, profile)
);
"""


class HistoryError(InputError):
    """The history file cannot be opened or is not ours."""


@dataclass(frozen=True)
class Session:
    id: int
    user: str
    profile: str
    level: int | None
    started: str
    ended: str | None
    head_down: float
    max_angle: float | None
    outcome: str


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


class History:
    """One SQLite file. Every write is its own transaction, synced to disk before it returns
    (WAL, synchronous=FULL): a power cut loses at most the session in progress, never the file."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA busy_timeout=2000")
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, SCHEMA_VERSION):
                raise HistoryError(f"{path}: history file version {version}, this program reads {SCHEMA_VERSION}")
            with self._db:
                self._db.executescript(_SCHEMA)
                self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except sqlite3.DatabaseError as e:
            raise HistoryError(f"{path}: not a history file ({e})") from None
        self._lock = threading.Lock()

    # -- sessions --------------------------------------------------------------------------------
    def begin(self, *, user: str, profile: str, level: int | None = None) -> int:
        with self._lock, self._db:
            cur = self._db.execute(
                "INSERT INTO sessions (user, profile, level, started, outcome) VALUES (?, ?, ?, ?, ?)",
                (user, profile, level, _now(), IN_PROGRESS))
            return cur.lastrowid

    def end(self, session_id: int, *, outcome: str, head_down: float, max_angle: float | None) -> None:
        with self._lock, self._db:
            self._db.execute("UPDATE sessions SET ended = ?, outcome = ?, head_down = ?, max_angle = ? WHERE id = ?",
                             (_now(), outcome, round(head_down, 2), max_angle, session_id))

    def sessions(self, user: str | None = None) -> list[Session]:
        query = "SELECT id, user, profile, level, started, ended, head_down, max_angle, outcome FROM sessions"
        args: tuple = ()
        if user is not None:
            query, args = query + " WHERE user = ?", (user,)
        with self._lock:
            return [Session(*row) for row in self._db.execute(query + " ORDER BY id", args)]

    # -- progression -----------------------------------------------------------------------------
    def level(self, user: str, profile: str) -> int:
        with self._lock:
            row = self._db.execute("SELECT level FROM progress WHERE user = ? AND profile = ?", (user, profile)).fetchone()
        return row[0] if row else 0

    def set_level(self, user: str, profile: str, level: int) -> None:
        with self._lock, self._db:
            self._db.execute("INSERT INTO progress (user, profile, level) VALUES (?, ?, ?) "
                             "ON CONFLICT (user, profile) DO UPDATE SET level = excluded.level", (user, profile, level))

    # -- the contraindications, acknowledged once per user ---------------------------------------
    def acknowledged(self, user: str, text_version: int) -> bool:
        with self._lock:
            row = self._db.execute("SELECT text_version FROM acknowledgements WHERE user = ?", (user,)).fetchone()
        return row is not None and row[0] >= text_version

    def acknowledge(self, user: str, text_version: int) -> None:
        with self._lock, self._db:
            self._db.execute("INSERT INTO acknowledgements (user, text_version, at) VALUES (?, ?, ?) "
                             "ON CONFLICT (user) DO UPDATE SET text_version = excluded.text_version, at = excluded.at",
                             (user, text_version, _now()))

    def close(self) -> None:
        """Safe to call twice."""
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
