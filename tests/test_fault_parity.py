"""Every fault kind gives the same trip, event and exit code on both clocks: `simulate` (virtual
time) and `run --sim --until` (the service, real threads and the real clock).

Real time is the point of the `run --sim` half: the ten services run two at a time as subprocesses
at 20 Hz (the slowest rate the config allows, so a loaded machine keeps it), each ending itself.
"""

from __future__ import annotations

import fcntl
import json
import re
import subprocess
import sys

import pytest

from controller.commands.cli import main
from drivers.sim.hardware import FAULT_KINDS

CONFIG = "[control]\nrate = 20\n"
# The table jogs head-down from 0.1 s, the fault comes at 0.8 s for 0.5 s, the run ends at 2.2 s.
SCHEDULE = ["--press", "down@0.1:1.6", "--until", "2.2"]
AT_ONCE = 2  # services side by side


def _fault(kind: str) -> list[str]:
    return ["--fault", f"{kind}@0.8:0.5"]


@pytest.fixture(scope="session")
def config_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("parity") / "config.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return str(path)


@pytest.fixture(scope="session")
def real_time_runs(config_file, tmp_path_factory):
    """The `run --sim` services, two at a time (one per core: ten real-time loops at once would
    starve each other's control periods past the dead-man's two, even at SCHED_FIFO). Made once
    per test run: the first pytest-xdist worker to need them makes them under a file lock in the
    run's shared temporary folder, and the others read what it wrote."""
    shared = tmp_path_factory.getbasetemp().parent  # the same folder for every worker of one run
    with open(shared / "fault-parity.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        made = shared / "fault-parity.json"
        if made.exists():
            return {kind: tuple(v) for kind, v in json.loads(made.read_text(encoding="utf-8")).items()}
        folder = tmp_path_factory.mktemp("runs")
        results = {}
        for batch in range(0, len(FAULT_KINDS), AT_ONCE):
            procs = {kind: subprocess.Popen(
                [sys.executable, "-m", "controller", "run", "--sim", "--config", config_file, *SCHEDULE,
                 *_fault(kind)], cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                for kind in FAULT_KINDS[batch:batch + AT_ONCE]}
            for kind, proc in procs.items():
                out, _ = proc.communicate(timeout=120)
                results[kind] = (proc.returncode, out)
        made.write_text(json.dumps(results), encoding="utf-8")
        return results


def _virtual(kind: str, config_file: str, tmp_path) -> tuple[int, list[dict]]:
    log = tmp_path / f"{kind}.jsonl"
    code = main(["simulate", "--fast", "--config", config_file, "--log", str(log), *SCHEDULE, *_fault(kind)])
    return code, [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


@pytest.mark.realtime
@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_a_fault_ends_the_same_on_both_clocks(kind, config_file, real_time_runs, tmp_path, capsys):
    code, trace = _virtual(kind, config_file, tmp_path)
    capsys.readouterr()
    trips = [r["reason"] for r in trace if r.get("event") == "trip"]
    deadman = [r["reason"] for r in trace if r.get("event") == "deadman"]
    rt_code, out = real_time_runs[kind]
    rt_trips = re.findall(r"TRIP ([a-z0-9-]+):", out)
    rt_deadman = re.findall(r"deadman ([a-z0-9-]+)", out)
    if kind != "crash":  # an internal error's traceback is logged on purpose: "the log has the details"
        assert "Traceback" not in out, out
    assert (rt_code, rt_trips, rt_deadman) == (code, trips, deadman), out
    assert re.search(rf"ended at t=\S+ s: reached --until; .*; exit {code}$", out.strip()), out
