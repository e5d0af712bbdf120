"""Golden traces: a few fixed-seed runs of `simulate`, stored, must come out byte for byte the same.

They guard changes that must not change behaviour (issue 12, speed): the same decisions give the
same trace, the same stdout and stderr and the same exit code. A change that is meant to change
what the table does regenerates them on purpose, and the diff of the traces is then part of its
review:

    .venv/bin/python tests/test_golden.py --write
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import sys
from pathlib import Path

import pytest

from controller.commands.cli import main

GOLDEN = Path(__file__).parent / "golden"
RATE20, RATE200 = str(GOLDEN / "rate20.toml"), str(GOLDEN / "rate200.toml")

# name -> the `simulate` arguments (--fast and --log are added). Each covers something the others
# do not: presses of stop, reset and return, the tracking and sensor-trust trips, hold-to-run
# recovery on a dead IMU, jogging, the slowest and fastest loop rates, seeds other than 0.
SCENARIOS: dict[str, list[str]] = {
    "stop-reset-return": ["hold-40", "--seed", "7", "--press", "stop@35.5", "--press", "reset@40",
                          "--press", "return@45", "--fault", "imu-error@80:0.3", "--until", "200"],
    "stall": ["gentle", "--seed", "3", "--fault", "stall@20:1", "--press", "reset@25", "--press", "return@26"],
    "imu-lost-20hz": ["hold-40", "--config", RATE20, "--seed", "11", "--fault", "imu-disconnect@30",
                      "--press", "return@32:40", "--until", "120"],
    "spike-200hz": ["slow-entry", "--config", RATE200, "--seed", "5", "--fault", "imu-spike@20:0.5",
                    "--press", "reset@25", "--press", "return@30", "--until", "90"],
    "jog-slip-freeze": ["--seed", "2", "--press", "down@1:10", "--press", "up@15:3", "--fault", "slip@18:2",
                        "--press", "reset@25", "--press", "return@26", "--fault", "imu-freeze@40:2",
                        "--press", "reset@45", "--press", "return@46", "--until", "150"],
}


def run(name: str, log: Path) -> dict:
    """Run one scenario in-process: its exit code, stdout and stderr (the trace goes to ``log``)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["simulate", *SCENARIOS[name], "--fast", "--log", str(log)])
    return {"exit": code, "stdout": out.getvalue(), "stderr": err.getvalue()}


def _stored(name: str) -> tuple[dict, bytes]:
    result = json.loads((GOLDEN / f"{name}.json").read_text(encoding="utf-8"))
    with gzip.open(GOLDEN / f"{name}.jsonl.gz", "rb") as f:
        return result, f.read()


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_trace_stdout_and_exit_are_as_stored(name, tmp_path):
    log = tmp_path / "trace.jsonl"
    got = run(name, log)
    expected, trace = _stored(name)
    assert got == expected
    actual = log.read_bytes()
    if actual != trace:  # say where, not only that: the first line that differs
        for number, (a, b) in enumerate(zip(actual.splitlines(), trace.splitlines()), start=1):
            assert a == b, f"{name}: trace line {number} differs"
        assert len(actual) == len(trace), f"{name}: the trace is {len(actual)} bytes, stored {len(trace)}"


def test_every_scenario_is_stored():
    stored = {p.name.removesuffix(".jsonl.gz") for p in GOLDEN.glob("*.jsonl.gz")}
    assert stored == set(SCENARIOS)


def _write() -> None:
    """Regenerate every stored file from the code as it is now."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        for name in sorted(SCENARIOS):
            log = Path(tmp) / f"{name}.jsonl"
            result = run(name, log)
            (GOLDEN / f"{name}.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
            # mtime=0: the same trace gives the same file, so an unchanged trace leaves no diff
            with open(GOLDEN / f"{name}.jsonl.gz", "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as f:
                f.write(log.read_bytes())
            print(f"{name}: exit {result['exit']}, {log.stat().st_size} bytes of trace")


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit(f"usage: {sys.argv[0]} --write")
    _write()
