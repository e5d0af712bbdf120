"""How fast the simulator runs: the `simulate` command at three loop rates, and the full-stack property test.

Simulated seconds per wall second: ``inversion-table simulate oscillate --fast --log FILE --config C``
with C setting ``[control] rate`` to 50, 100 or 200 Hz, run in this process through the command's own
``main`` (so the interpreter's start-up and imports are not counted; the config's and the profile's
loading and checking are), writing its JSON Lines trace to a temporary file. The simulated time is
the one the command prints ("ended at t=... s"). The same run's process CPU time gives the figure per
CPU second, which a busy machine changes less.

Scenarios per minute: pytest runs tests/test_properties_configs.py in one process with
INVERSION_TABLE_CONFIG_EXAMPLES=N (hypothesis draws the same N scenarios every time: derandomize) and
``--hypothesis-show-statistics``; the rate is the scenarios it ran divided by hypothesis's own time for
its generate phase, which includes the drawn configs the models refused (and counts them apart).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RATES = (50, 100, 200)
PROPERTY_TEST = "tests/test_properties_configs.py"


@dataclass
class SimSpeed:
    rate: int
    simulated: float  # s of virtual time
    wall: float  # s
    cpu: float  # s of this process's CPU
    exit_code: int


def simulate(rate: int, *, until: float | None = None) -> SimSpeed:
    """One `simulate oscillate --fast --log` run at ``rate`` Hz, timed."""
    from controller.commands import cli

    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        config = Path(tmp, "config.toml")
        config.write_text(f"[control]\nrate = {rate}\n", encoding="utf-8")
        argv = ["simulate", "oscillate", "--fast", "--log", str(Path(tmp, "trace.jsonl")), "--config", str(config)]
        if until is not None:
            argv += ["--until", f"{until:g}"]
        said = io.StringIO()
        wall, cpu = time.perf_counter(), time.process_time()
        with contextlib.redirect_stdout(said):  # the command's summary line is not a figure
            code = cli.main(argv)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    ended = re.search(r"ended at t=([0-9.]+) s", said.getvalue())
    return SimSpeed(rate, float(ended.group(1)) if ended else 0.0, wall, cpu, code)


@dataclass
class Scenarios:
    passing: int = 0
    invalid: int = 0  # drawn configs or profiles the models refused
    seconds: float = 0.0  # hypothesis's generate phase
    exit_code: int = 0
    problem: str = ""


def property_scenarios(examples: int) -> Scenarios:
    """Run the full-stack property test with ``examples`` scenarios and read what hypothesis says it did."""
    env = dict(os.environ, INVERSION_TABLE_CONFIG_EXAMPLES=str(examples))
    command = [sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider",
               "--hypothesis-show-statistics", PROPERTY_TEST]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    out = Scenarios(exit_code=done.returncode)
    phase = re.search(r"during generate phase \(([0-9.]+) seconds\)", done.stdout)
    counts = re.search(r"(\d+) passing, (\d+) failing, and (\d+) invalid", done.stdout)
    if done.returncode != 0 or phase is None or counts is None:
        tail = (done.stdout + done.stderr).strip().splitlines()[-1:] or ["no output"]
        out.problem = f"pytest exited {done.returncode}: {tail[0]}"
        return out
    out.seconds = float(phase.group(1))
    out.passing, out.invalid = int(counts.group(1)), int(counts.group(3))
    return out


def report_speed(out, *, quick: bool, progress) -> bool:
    """sim_speed_*; False if a run did not end as it should (a bug, not a busy machine)."""
    ok, until = True, (20.0 if quick else None)
    for rate in RATES:
        progress(f"sim speed: simulate oscillate --fast --log at {rate} Hz ({'20 s' if quick else 'all of it'})")
        run = simulate(rate, until=until)
        expected = 4 if quick else 0  # --until ends it not yet home; the whole preset ends home
        if run.exit_code != expected or run.simulated <= 0:
            ok = False
            out.comment(f"sim_speed_{rate}hz: the run exited {run.exit_code}, not {expected}")
        out.figure(f"sim_speed_{rate}hz", run.simulated / run.wall if run.wall > 0 else None, "s/s", digits=0)
        out.figure(f"sim_speed_{rate}hz_per_cpu_second", run.simulated / run.cpu if run.cpu > 0 else None, "s/s",
                   digits=0)
        out.figure(f"sim_speed_{rate}hz_simulated", run.simulated, "s", digits=1)
    return ok


def report_properties(out, *, examples: int, progress) -> bool:
    """property_*; a failing property test is `not measured` here (the suite reports the failure)."""
    progress(f"property test: {PROPERTY_TEST} with {examples} scenarios (pytest, one process)")
    found = property_scenarios(examples)
    measured = not found.problem
    per_minute = found.passing / found.seconds * 60 if measured and found.seconds > 0 else None
    out.figure("property_scenarios_per_minute", per_minute, "scenarios/min", why=found.problem or "no time measured")
    out.figure("property_scenarios_run", found.passing if measured else None, "scenarios")
    out.figure("property_draws_refused_by_the_models", found.invalid if measured else None, "draws")
    horizon = float(os.environ.get("INVERSION_TABLE_CONFIG_HORIZON", "150"))
    out.figure("property_scenario_horizon", horizon, "s", digits=0)
    return True
