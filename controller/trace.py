"""JSON Lines trace of a run: a sample every control period, and event records."""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO

from controller.errors import InputError

# Enough digits for a 0.1 deg invariant and a 1 ms event time, few enough to keep files small.
DIGITS = 4


def _rounded(record: dict) -> dict:
    return {k: round(v, DIGITS) if isinstance(v, float) else v for k, v in record.items()}


class TraceWriter:
    """Writes one JSON object per line; keys of the trace contract (README) are never renamed."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self._file: IO[str] | None = open(self.path, "w", encoding="utf-8")
        except OSError as exc:
            raise InputError(f"{path}: cannot write the log: {exc.strerror}") from exc

    def write(self, record: dict) -> None:
        if self._file is not None:
            self._file.write(json.dumps(_rounded(record), separators=(",", ":")) + "\n")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> TraceWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def read_trace(path: str | Path) -> list[dict]:
    """All records of a trace file (for tests, plots and tools)."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
