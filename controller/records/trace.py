"""JSON Lines trace of a run: a sample every control period, and event records."""

from __future__ import annotations

import json
from json.encoder import encode_basestring_ascii
from pathlib import Path
from typing import IO

from controller.errors import InputError

# Enough digits for a 0.1 deg invariant and a 1 ms event time, few enough to keep files small.
DIGITS = 4


def _rounded(record: dict) -> dict:
    return {k: round(v, DIGITS) if isinstance(v, float) else v for k, v in record.items()}


def _general(record: dict) -> str:
    """A record's line through the json module (any value it can encode)."""
    return json.dumps(_rounded(record), separators=(",", ":"))


_KEYS: dict[str, str] = {}  # '"angle":' by key: the few keys a trace has, encoded once
# Below this magnitude a float rounded to DIGITS decimals has at most 15 significant digits, so
# its decimal string names exactly one float (DBL_DIG), and no shorter string names the same one:
# json's float.__repr__(round(v, DIGITS)) is then "%.{DIGITS}f" % v with its trailing zeros cut.
# round() itself formats and parses the number again, and costs twice as much.
_PLAIN_FLOAT_BELOW = 1e11
_FIXED = f"%.{DIGITS}f"


def line(record: dict) -> str | None:
    """A record's line as ``_general`` writes it, byte for byte, built directly for the plain values
    a trace holds (str keys; float, str, int, bool and None values); None for anything else.

    A sample is written every control period, and the json module's general encoder (a rounded
    copy of the dict, then the encoder's dispatch) was a tenth of a simulated period's time. A NaN,
    an infinity (which json spells its own way) or a huge float is left to ``_general``.
    """
    parts = []
    for key, value in record.items():
        prefix = _KEYS.get(key)
        if prefix is None:
            if type(key) is not str:
                return None
            prefix = _KEYS[key] = encode_basestring_ascii(key) + ":"
        kind = type(value)
        if kind is float:
            if not -_PLAIN_FLOAT_BELOW < value < _PLAIN_FLOAT_BELOW:  # NaN fails this too
                return None
            text = (_FIXED % value).rstrip("0")
            parts.append(prefix + text + "0" if text[-1] == "." else prefix + text)
        elif kind is str:
            parts.append(prefix + encode_basestring_ascii(value))
        elif value is None:
            parts.append(prefix + "null")
        elif value is True or value is False:
            parts.append(prefix + ("true" if value else "false"))
        elif kind is int:
            parts.append(prefix + int.__repr__(value))
        else:
            return None
    return "{" + ",".join(parts) + "}"


class TraceWriter:
    """Writes one JSON object per line; keys of the trace contract (README) are never renamed.

    A write that fails (a full disk, /dev/full, an I/O error) never raises where the record came
    from, which may be the middle of a control period: the writer keeps the first ``error``, stops
    writing, and whoever runs the simulation ends the run there (``Simulation`` does).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.error: OSError | None = None
        try:
            self._file: IO[str] | None = open(self.path, "w", encoding="utf-8")
        except OSError as exc:
            raise InputError(f"{path}: cannot write the log: {exc.strerror}") from exc

    def write(self, record: dict) -> None:
        if self._file is not None:
            try:
                self._file.write((line(record) or _general(record)) + "\n")
            except OSError as exc:
                self._fail(exc)

    def flush(self) -> bool:
        """Write out what is buffered; False (and ``error`` set) if the file does not take it."""
        if self._file is not None:
            try:
                self._file.flush()
            except OSError as exc:
                self._fail(exc)
        return self.error is None

    def raise_if_closed_pipe(self) -> None:
        """A log into a pipe whose reader went away (`--log /dev/stdout | head`) is no error of
        the run's: the command ends quietly, as Unix tools do (cli.main's handler)."""
        if isinstance(self.error, BrokenPipeError):
            raise BrokenPipeError(self.error.errno, self.error.strerror)

    @property
    def problem(self) -> str:
        """What went wrong, for a message: "out.jsonl: cannot write the log: No space left on device"."""
        reason = (self.error.strerror or str(self.error)) if self.error is not None else "no problem"
        return f"{self.path}: cannot write the log: {reason}"

    def _fail(self, exc: OSError) -> None:
        self.error = self.error or exc
        file, self._file = self._file, None
        try:
            file.close()  # closes even when the flush inside it fails again
        except OSError:
            pass

    def close(self) -> None:
        if self._file is not None:
            file, self._file = self._file, None
            try:
                file.close()
            except OSError as exc:
                self.error = self.error or exc

    def __enter__(self) -> TraceWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def read_trace(path: str | Path) -> list[dict]:
    """All records of a trace file (for tests, plots and tools)."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
