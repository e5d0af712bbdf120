"""Benchmarks of the controller, its drivers and the simulator; prints one `name: value unit` per line.

    python bench/run.py                   # everything, a few minutes; run it on a quiet machine
    python bench/run.py --quick           # a short version of every part (seconds)
    python bench/run.py --only stop --only pulses --hogs 0

Parts (``--only``): tick (CPU per control tick, the emulated I2C transaction apart, and the angle
estimate's error), speed (simulated seconds per wall second at 50, 100, 200 Hz), properties (scenarios
per minute of the full-stack property test), pulses (step-pulse timing of the real pulse thread), stop
(stop latency over --presses presses). pulses and stop run again with --hogs busy processes (figures
ending in _hogs). Lines starting with `# ` are comments: the machine, the commit, why a figure is not
measured. Figures a busy machine cannot give read `not measured`; the exit code is then still 0.
Exit 1: a part went wrong in a way load does not explain (a run that ended wrongly, a stop that never
halted, an error); 2: bad options; 130: interrupted.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
import traceback
from datetime import datetime, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [ROOT, HERE]

import figures  # noqa: E402
import hogs  # noqa: E402
import pulse_timing  # noqa: E402
import sim_speed  # noqa: E402
import stop_latency  # noqa: E402
import tick_cpu  # noqa: E402

PARTS = ("tick", "speed", "properties", "pulses", "stop")
DEFAULTS = {  # (full run, --quick)
    "presses": (1000, 50),
    "examples": (30, 2),  # 30: what CI runs (tests/test_properties_configs.py)
    "pulse_seconds": (5.0, 0.5),
}


def _positive(kind):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {'whole ' if kind is int else ''}number") from None
        if value < 0 or (value == 0 and kind is not int):
            raise argparse.ArgumentTypeError(f"{text} must be {'0 or more' if kind is int else 'positive'}")
        return value
    return parse


def _parts(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in PARTS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown part {', '.join(unknown) or repr(text)}: "
                                         f"the parts are {', '.join(PARTS)}")
    return names


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/run.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a short version of every part")
    parser.add_argument("--only", action="append", type=_parts, metavar="PART[,PART]",
                        help="run only these parts (repeatable)")
    full, quick = DEFAULTS["presses"]
    parser.add_argument("--presses", type=_positive(int), metavar="N",
                        help=f"stop presses per case (default {full}, quick {quick})")
    parser.add_argument("--hogs", type=_positive(int), default=2, metavar="N",
                        help="busy processes for the _hogs cases (default 2; 0 leaves those cases out)")
    full, quick = DEFAULTS["examples"]
    parser.add_argument("--examples", type=_positive(int), metavar="N",
                        help=f"property-test scenarios (default {full}, quick {quick})")
    parser.add_argument("--pulse-seconds", type=_positive(float), metavar="S",
                        help=f"seconds of step pulses per case (default {DEFAULTS['pulse_seconds'][0]:g}, "
                             f"quick {DEFAULTS['pulse_seconds'][1]:g})")
    args = parser.parse_args(argv)
    for name, (full, quick) in DEFAULTS.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    if args.presses == 0 or args.examples == 0:
        parser.error("--presses and --examples must be at least 1")
    args.only = [part for group in args.only for part in group] if args.only else list(PARTS)
    return args


def _commit() -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return f"{sha}{' with uncommitted changes' if dirty else ''}"


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def header(out: figures.Report, argv: list[str]) -> None:
    out.comment(f"inversion-table benchmarks: python bench/run.py {' '.join(argv)}".rstrip())
    out.comment(f"commit {_commit()}, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC")
    out.comment(f"machine: {platform.platform()}, {platform.machine()}, {os.cpu_count()} CPUs, "
                f"{platform.python_implementation()} {platform.python_version()}")
    out.comment(f"load average (1, 5, 15 min) at start: {_load()}")


def _real_time(out, args, progress, *, hog_count: int) -> bool:
    """pulses and stop, on a quiet machine (hog_count 0) or with hogs: figures end in _hogs then."""
    suffix, label = ("_hogs", f" with {hog_count} hogs") if hog_count else ("", "")
    ok = True
    if "pulses" in args.only:
        progress(f"step pulses{label}: {args.pulse_seconds:g} s at the highest step rate")
        pulse_timing.report(out, pulse_timing.measure(seconds=args.pulse_seconds), suffix=suffix)
    if "stop" in args.only:
        progress(f"stop latency{label}: {args.presses} presses")
        measured = stop_latency.measure(presses=args.presses, progress=progress)
        if suffix == "":
            out.figure("stop_step_rate", measured.step_rate, "steps/s", digits=0)
        stop_latency.report(out, measured, suffix=suffix)
        ok = measured.missing_halts == 0
    return ok


def _not_run_with_hogs(out, args) -> None:
    why = "--hogs 0: the loaded case was left out"
    if "pulses" in args.only:
        pulse_timing.report(out, None, suffix="_hogs", why=why)
    if "stop" in args.only:
        stop_latency.report(out, None, suffix="_hogs", why=why)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    out, progress = figures.Report(), figures.Progress()
    started = time.monotonic()
    header(out, argv)
    parts = [
        ("tick", lambda: tick_cpu.report(out, quick=args.quick, progress=progress)),
        ("speed", lambda: sim_speed.report_speed(out, quick=args.quick, progress=progress)),
        ("properties", lambda: sim_speed.report_properties(out, examples=args.examples, progress=progress)),
        ("real time", lambda: _real_time(out, args, progress, hog_count=0)),
        ("real time with hogs", lambda: _with_hogs(out, args, progress)),
    ]
    failed = []
    for name, part in parts:
        if name in ("tick", "speed", "properties") and name not in args.only:
            continue
        try:
            if not part():
                failed.append(name)
        except KeyboardInterrupt:
            print("bench/run.py: interrupted", file=sys.stderr)
            return 130
        except Exception as e:  # one part's error must not hide the others' figures
            failed.append(name)
            out.comment(f"{name}: failed with {type(e).__name__}: {e}")
            traceback.print_exc()
    out.figure("bench_wall_time", time.monotonic() - started, "s", digits=0)
    out.comment(f"load average (1, 5, 15 min) at end: {_load()}")
    if failed:
        print(f"bench/run.py: went wrong in: {', '.join(failed)} (see the comments above)", file=sys.stderr)
        return 1
    return 0


def _with_hogs(out, args, progress) -> bool:
    if not {"pulses", "stop"} & set(args.only):
        return True
    if args.hogs == 0:
        _not_run_with_hogs(out, args)
        return True
    progress(f"starting {args.hogs} CPU hogs")
    with hogs.running(args.hogs) as run:
        ok = _real_time(out, args, progress, hog_count=args.hogs)
    out.figure("hogs_running", args.hogs, "processes")
    out.figure("hogs_cpu_busy", 100 * run.busy if run.busy is not None else None, "%", digits=0,
               why="the hogs' CPU time could not be read")
    return ok


if __name__ == "__main__":
    sys.exit(main())
