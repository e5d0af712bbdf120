"""The benchmark's output: one `name: value unit` line per figure, percentiles, progress on stderr.

Every figure line reads `name: value unit`, where value is a number, or `name: not measured` when the
case could not be measured (the reason follows on a `# ` comment line). Lines that start with `# `
are comments: the machine, the commit, and why a figure is missing. tests/test_bench.py checks this.
"""

from __future__ import annotations

import math
import re
import sys
import time

NOT_MEASURED = "not measured"
FIGURE = re.compile(r"^(?P<name>[a-z][a-z0-9_]*): (?:(?P<value>-?[0-9]+(?:\.[0-9]+)?) (?P<unit>\S+)|not measured)$")


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (q = 0.99: the value 99 % of samples are at or below)."""
    if not ordered:
        raise ValueError("no samples")
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def spread(values: list[float]) -> dict[str, float]:
    """p50, p99 and max of the samples."""
    ordered = sorted(values)
    return {"p50": percentile(ordered, 0.50), "p99": percentile(ordered, 0.99), "max": ordered[-1]}


class Report:
    """Collects the figure lines in order and prints each as it comes (a long run shows its figures early)."""

    def __init__(self, out=None) -> None:
        self.lines: list[str] = []
        self._out = out or sys.stdout

    def _emit(self, line: str) -> None:
        self.lines.append(line)
        print(line, file=self._out, flush=True)

    def comment(self, text: str) -> None:
        self._emit(f"# {text}")

    def figure(self, name: str, value: float | int | None, unit: str, *, digits: int = 1, why: str = "") -> None:
        """One figure; ``None`` prints `not measured`, with ``why`` on a comment line."""
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            self._emit(f"{name}: {NOT_MEASURED}")
            if why:
                self.comment(f"{name}: {why}")
            return
        text = str(value) if isinstance(value, int) else f"{value:.{digits}f}"
        line = f"{name}: {text} {unit}"
        assert FIGURE.match(line), line  # a figure's name or unit with a space would break the format
        self._emit(line)

    def spread(self, name: str, values: list[float] | None, unit: str, *, scale: float = 1.0, digits: int = 1,
               stats: tuple[str, ...] = ("p50", "p99", "max"), why: str = "") -> None:
        """``name_p50``, ``name_p99``, ``name_max`` of the samples times ``scale``; `not measured` if none."""
        if not values:
            for stat in stats:
                self.figure(f"{name}_{stat}", None, unit, why=why if stat == stats[0] else "")
            return
        found = spread(values)
        for stat in stats:
            self.figure(f"{name}_{stat}", found[stat] * scale, unit, digits=digits)


class Progress:
    """What a long part is doing, on stderr, so that stdout stays the figures alone."""

    def __init__(self, *, quiet: bool = False) -> None:
        self._quiet = quiet
        self._started = time.monotonic()

    def __call__(self, text: str) -> None:
        if not self._quiet:
            print(f"[bench {time.monotonic() - self._started:6.1f} s] {text}", file=sys.stderr, flush=True)
