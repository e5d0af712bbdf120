"""Shared fixtures: run the whole simulated table and keep its trace in memory."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

import pytest

from controller.shell import simulate as sim
from controller.setup.config import Config
from controller.setup.preflight import prepare_profile


def pytest_xdist_auto_num_workers(config) -> int:
    """`-n auto` (pyproject's addopts): one worker per CPU, and one more. About 90 s of the suite is
    real-time tests waiting on the real clock (the services, the remote, the restart), and the
    extra worker keeps the CPUs busy meanwhile: 150 s wall became 120 s here (2 cores)."""
    return (os.cpu_count() or 1) + 1


@pytest.fixture(autouse=True)
def _root_log_as_found():
    """The root logger as the test found it: `run`, called in-process, makes the log its own (every
    handler replaced by one on the test's captured stdout, level INFO), as its process should. Left
    to the next tests, their records went to that closed file ("Logging error ... I/O operation on
    closed file", from a control loop thread announcing its priority)."""
    root = logging.getLogger()
    before, level = [h for h in root.handlers if _not_pytests(h)], root.level
    yield
    for handler in [h for h in root.handlers if _not_pytests(h) and h not in before]:
        root.removeHandler(handler)
    root.setLevel(level)


def _not_pytests(handler: logging.Handler) -> bool:
    """pytest's own capture handlers come and go with each phase of a test: they are left to it."""
    return not type(handler).__module__.startswith("_pytest")


@dataclass
class Run:
    result: sim.Result
    samples: list[dict] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    simulation: sim.Simulation | None = None

    def at(self, t: float) -> dict:
        """The sample at (or just after) time t."""
        return next(s for s in self.samples if s["t"] >= t - 1e-9)

    def between(self, t0: float, t1: float) -> list[dict]:
        return [s for s in self.samples if t0 - 1e-9 <= s["t"] <= t1 + 1e-9]

    def named(self, event: str) -> list[dict]:
        return [e for e in self.events if e["event"] == event]


def simulate(profile: str | None = None, *, config: Config | None = None, presses=(), faults=(), until=None, seed=0, program=None) -> Run:
    config = config or Config()
    presses = [sim.parse_press(p) if isinstance(p, str) else p for p in presses]
    faults = [sim.parse_fault(f) if isinstance(f, str) else f for f in faults]
    if profile is not None:
        program = prepare_profile(profile, config).program
    if program is not None:
        presses.append(sim.Press(0.0, "start"))
    samples: list[dict] = []
    events: list[dict] = []
    s = sim.Simulation(
        config, program=program, presses=presses, faults=faults, seed=seed, until=until,
        on_tick=samples.append, on_event=events.append,
    )
    result = s.run()
    return Run(result, samples, events, s)


def check_lines(msg: str, source: str) -> None:
    """The first line stands alone (names the file, counts the rest); every line names the file."""
    lines = msg.splitlines()
    assert lines and all(line.startswith(f"{source}: ") for line in lines), msg
    more = len(lines) - 1
    if more:
        assert lines[0].endswith(f"(and {more} more problem{'s' * (more != 1)})"), msg
    else:
        assert "more problem" not in lines[0]

