"""The `inversion-table` command: simulate, and list or check profiles."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback

from controller import exits, schedule
from controller.config import DEFAULT_CONFIG_PATH, load_config
from controller.errors import HardwareError, InputError, OutputError, StartupRefused
from controller.preflight import prepare_profile
from controller.session import Preset
from controller.validation import format_duration, shown

# The simulator (controller.simulate, with the simulated hardware) and the console (rich) are
# imported where a run needs them: a rejected file or option is told in well under a second.

PROG = "inversion-table"
PEOPLE_CONFIG_HELP = f"config file (default: {DEFAULT_CONFIG_PATH} if present, else the shipped defaults)"
CALIBRATION_HELP = ("calibration file (default: the config's [calibration] file; with --sim, "
                    "sim-calibration.json in the current directory)")


class _Parser(argparse.ArgumentParser):
    """argparse that exits 2 with one line, like every other rejected input."""

    def error(self, message: str) -> None:  # pragma: no cover - exercised through main()
        raise InputError(f"{message} (see '{self.prog} --help')")


def _whole_number(text: str) -> int:
    """argparse's int, with a long value cut short in the message."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {shown(text)}") from None


def _number(text: str) -> float:
    """argparse's float, with a long value cut short in the message (nan and inf: checked where used)."""
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid float value: {shown(text)}") from None


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description="Controller for a motorized inversion table, and its simulator.")
    p.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)

    s = sub.add_parser("simulate", help="run the controller on a simulated table", description=(
        "Run the real controller on simulated hardware. The table starts home and idle; a PROFILE "
        "is started at t = 0 as if start were pressed. Exit: 0 home, 3 stop or trip latched, "
        "2 input rejected, 4 not home when the run ended, 1 internal error, 130 interrupted (Ctrl-C), "
        f"{exits.EXIT_CLOSED_PIPE} the output's reader went away (a closed pipe)."))
    s.add_argument("profile", nargs="?", metavar="PROFILE", help="a preset name or a .toml file")
    s.add_argument("--config", metavar="FILE", help="config file (default: the shipped defaults)")
    s.add_argument("--fast", action="store_true", help="run on virtual time as fast as possible")
    s.add_argument("--seed", type=_whole_number, default=0, metavar="N", help="seed of the sensor noise (default 0)")
    s.add_argument("--log", metavar="FILE", help="write a JSON Lines trace to FILE")
    s.add_argument("--press", action="append", default=[], metavar="NAME@T[:HOLD]",
                   help="press a button at T (held for HOLD), e.g. stop@35.5 or return@60:20")
    s.add_argument("--fault", action="append", default=[], metavar="KIND@T[:DURATION]",
                   help="inject a fault at T, e.g. imu-disconnect@40 or stall@12:2")
    s.add_argument("--until", metavar="T", help="end the run at T seconds")
    s.add_argument("--user", metavar="NAME", help="run as this user (the config's [[users]]): their limits apply")
    s.add_argument("--interactive", action="store_true",
                   help="a terminal UI: keys are the table's buttons (s stop, r reset, g start, h return, u up, "
                        "d down, p select, P next user, space lets go, q quits); PROFILE, or the config's presets")
    s.add_argument("--speed", type=_number, default=1.0, metavar="X",
                   help="with --interactive: simulated seconds per real second (default 1)")
    s.add_argument("--history", metavar="FILE",
                   help="record the session in this history file (SQLite); progressive profiles take their level from it")

    pl = sub.add_parser("plot", help="draw a trace (simulate --log) as a picture: angle, target, limits, events",
                        description=(
        "Draw a trace written by simulate --log: the true and estimated angle, the target, the limits, the "
        "button presses, the stretches a stop or trip was latched, and trips and automatic returns. The "
        "format follows FILE's extension (.png without one); a folder gets TRACE.png inside it. Needs "
        "matplotlib (pip install -e '.[plot]'). Exit: 0 drawn, 2 input rejected."))
    pl.add_argument("trace", metavar="TRACE.jsonl")
    pl.add_argument("-o", "--output", metavar="FILE", required=True, help="the picture to write (.png, .svg, .pdf)")
    pl.add_argument("--title", help="a title (default: the trace's file name)")

    u = sub.add_parser("users", help="list the users, or record a user's acknowledgement of the contraindications",
                       description=(
        "List the config's [[users]] with their limits and whether each has acknowledged the "
        "contraindications, or (ack NAME) show them to a user and record their yes, once per user, in the "
        "history file."))
    u_sub = u.add_subparsers(dest="action", parser_class=_Parser)
    u_list = u_sub.add_parser("list", help="list the users and their limits (the default)")
    ack = u_sub.add_parser("ack", help="show the contraindications and record the user's yes (once per user)")
    ack.add_argument("name", metavar="NAME")
    _options_anywhere(u, (u_list, ack), lambda parser, **default: (
        parser.add_argument("--config", metavar="FILE", help=PEOPLE_CONFIG_HELP, **default),
        parser.add_argument("--history", metavar="FILE", help="history file (default: the config's [history] file)",
                            **default)))

    h = sub.add_parser("history", help="list and summarise the recorded sessions", description=(
        "List the sessions recorded in the history file (user, profile, level, start, time head-down, highest "
        "angle, how it ended) and sum them up per user; --plot draws them."))
    h.add_argument("--config", metavar="FILE", help=PEOPLE_CONFIG_HELP)
    h.add_argument("--history", metavar="FILE", help="history file (default: the config's [history] file)")
    h.add_argument("--user", metavar="NAME", help="only this user's sessions")
    h.add_argument("--plot", metavar="FILE", help="also draw each session's angle and time head-down to FILE")

    r = sub.add_parser("run", help="the service: run the table from its buttons (systemd starts it)", description=(
        "Run the table: its buttons start, stop and jog it; the status LED and buzzer show its state. "
        "Logs one line per event to stdout (the journal, under systemd). Exit: 0 stopped by a signal, "
        "1 internal or hardware error, 2 config rejected, 3 start-up refused (stop button pressed); "
        "with --sim --until, as simulate."))
    r.add_argument("--config", metavar="FILE", help=f"config file (default: {DEFAULT_CONFIG_PATH})")
    r.add_argument("--calibration", metavar="FILE", help=CALIBRATION_HELP)
    r.add_argument("--sim", action="store_true",
                   help="run on the simulated table (mock pins, emulated IMU), in real time")
    r.add_argument("--press", action="append", default=[], metavar="NAME@T[:HOLD]",
                   help="with --sim: press a button T seconds after start-up, e.g. start@2 or down@5:3")
    r.add_argument("--fault", action="append", default=[], metavar="KIND@T[:DURATION]",
                   help="with --sim: inject a fault T seconds after start-up, as simulate does")
    r.add_argument("--until", metavar="T",
                   help="with --sim: stop T seconds after start-up and exit as simulate does (0 home, 3 stop or "
                        "trip latched, 4 not home)")
    r.add_argument("--user", metavar="NAME", help="the table's user (the config's [[users]]): their limits apply")
    r.add_argument("--history", metavar="FILE",
                   help="history file (default: the config's [history] file; with --sim, none unless given)")

    c = sub.add_parser("calibrate", help="measure the level offset and gyro bias; check the mount and drive",
                       description=(
        "With a person at the table (and nobody on it): checks the sensor's mounting, records the "
        "tilt it reads with the bed level and the gyro's bias, checks the mount and the drive by a "
        "head-down jog, and writes the result atomically to [calibration] file. Stop the service "
        "first (sudo systemctl stop inversion-table). Exit: 0 saved, 1 a check failed (nothing "
        "saved), 2 config rejected, 3 start-up refused."))
    c.add_argument("--config", metavar="FILE", help=f"config file (default: {DEFAULT_CONFIG_PATH})")
    c.add_argument("--calibration", metavar="FILE", help=CALIBRATION_HELP)
    c.add_argument("--sim", action="store_true",
                   help="calibrate the simulated table, with a simulated person pressing its buttons")

    d = sub.add_parser("doctor", help="check the Pi, the IMU, the pins, the config and the calibration",
                       description=("Checks GPIO and I2C access, the pin factory, the MPU-6050 (naming clone "
                                    "chips), the buttons, the config, the calibration and the presets, and "
                                    "prints the wiring table for the configured pins. Exit: 0 all is well, "
                                    "1 something needs fixing."))
    d.add_argument("--config", metavar="FILE", help=f"config file (default: {DEFAULT_CONFIG_PATH})")
    d.add_argument("--calibration", metavar="FILE", help=CALIBRATION_HELP)
    d.add_argument("--sim", action="store_true", help="examine the simulated table instead")

    pr = sub.add_parser("profiles", help="list the presets, or check a profile file", description=(
        "List the shipped presets and those the config's table offers, or check a profile (a .toml file or a "
        "preset) against the config's limits and session timeout, as simulate and run do before anything "
        "moves. Exit: 0 listed or the profile is fine, 2 rejected (every problem is listed)."))
    pr_sub = pr.add_subparsers(dest="action", parser_class=_Parser)
    pr_list = pr_sub.add_parser("list", help="list the presets (the default)")
    chk = pr_sub.add_parser("check", help="validate a profile file against the config")
    chk.add_argument("file", metavar="FILE")
    _options_anywhere(pr, (pr_list, chk), lambda parser, **default: parser.add_argument(
        "--config", metavar="FILE", help="config file (default: the shipped defaults)", **default))
    return p


def _options_anywhere(parent, children, add) -> None:
    """Options a command takes before or after its action (`profiles --config X check F`, or after F).

    argparse lets an action's defaults overwrite what was given before it, so there they default to
    nothing at all (SUPPRESS) and only the command sets the default."""
    add(parent)
    for child in children:
        add(child, default=argparse.SUPPRESS)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("inversion-table")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    try:
        code = _command(argv)
        sys.stdout.flush()  # buffered output meets a closed pipe here, at the latest
        return code
    except BrokenPipeError:
        return _closed_pipe()


def _closed_pipe() -> int:
    """The reader of our output went away: send what is still buffered nowhere, say nothing, exit 141."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, sys.stdout.fileno())  # the interpreter's last flush then goes nowhere
        finally:
            os.close(devnull)
    except (AttributeError, OSError, ValueError):  # stdout is not a real file (a test's capture)
        pass
    return exits.EXIT_CLOSED_PIPE


def _command(argv: list[str] | None) -> int:
    try:
        parser = _parser()
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help(sys.stderr)
            return exits.EXIT_REJECTED
        if args.command == "simulate":
            return _simulate(args)
        if args.command == "plot":
            from controller.plot import plot_trace

            drawn = plot_trace(args.trace, args.output, title=args.title)
            for note in drawn.notes:
                print(f"{PROG}: warning: {note}", file=sys.stderr)
            print(f"{drawn.path}: {drawn.count} samples drawn")
            return 0
        if args.command in ("users", "history"):
            from controller import cli_people

            return getattr(cli_people, args.command)(args)
        if args.command in ("run", "calibrate", "doctor"):
            from controller import cli_table

            return getattr(cli_table, args.command)(args)
        return _profiles(args)
    except InputError as exc:
        lines = str(exc).splitlines() or [""]
        if len(lines) > 1 and argv_command(argv) == "simulate":
            # simulate says one thing; `profiles check` lists every problem
            lines = [lines[0] + " (inversion-table profiles check FILE lists them all)"]
        print("\n".join(f"{PROG}: error: {line}" for line in lines), file=sys.stderr)
        return exits.EXIT_REJECTED
    except StartupRefused as exc:
        print(f"{PROG}: start-up refused: {exc}", file=sys.stderr)
        return exits.EXIT_LATCHED
    except OutputError as exc:  # a log that cannot be written mid-run (a full disk): not a bug, but no result
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return exits.EXIT_INTERNAL
    except HardwareError as exc:
        print(f"{PROG}: hardware error: {exc}", file=sys.stderr)
        return exits.EXIT_INTERNAL
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        raise  # not a bug: main() ends quietly
    except Exception:  # a bug: say so plainly, with the details a report needs
        print(f"{PROG}: internal error (please report it):\n{traceback.format_exc()}", file=sys.stderr)
        return exits.EXIT_INTERNAL


def argv_command(argv: list[str] | None) -> str | None:
    args = sys.argv[1:] if argv is None else argv
    return next((a for a in args if not a.startswith("-")), None)


def _config(path: str | None):
    return load_config(path), (path or "the default config")


def _profiles(args) -> int:
    from profiles import preset_names, resolve_profile

    config, config_source = _config(getattr(args, "config", None))
    if args.action == "check":
        prepared = prepare_profile(args.file, config, config_source=config_source)
        print(
            f"{args.file}: ok: '{prepared.profile.name}', {len(prepared.profile.steps)} step(s), about "
            f"{format_duration(round(prepared.duration))} of steps, head-down at most "
            f"{format_duration(round(prepared.head_down))} (session timeout "
            f"{format_duration(config.limits.session_timeout)})"
        )
        return 0
    names = preset_names()
    width = max(map(len, names)) + 1
    for name in names:
        profile, _ = resolve_profile(name)
        print(f"{name:{width}} {profile.description}")
    print(f"\non the table ({config_source}, [presets] available): {', '.join(config.presets.available)}")
    return 0


def _simulate(args) -> int:
    config, config_source = _config(args.config)
    presses = [schedule.parse_press(p, config.pins.buttons()) for p in args.press]
    faults = _faults(args.fault)
    until = schedule.parse_time(args.until, "--until") if args.until is not None else None
    history = log = None
    if args.user is not None:
        config.user(args.user)  # an unknown user is refused before anything else
        if args.history is None:
            raise InputError("--user needs --history FILE: a user's acknowledgement of the contraindications "
                             "and progress are kept there")
    if args.history is not None:
        from controller.cli_people import open_history
        from controller.users import require_acknowledged

        history = open_history(args.history)
        if args.user is not None:
            require_acknowledged(history, args.user, config=args.config, history_path=args.history)
    if args.interactive:  # the acknowledgement was checked above; the interactive table records nothing
        try:  # a PROFILE given runs at the user's level, as it would without --interactive
            level = _level(history, args.user, args.profile) if args.profile else 0
        finally:
            if history is not None:
                history.close()
        return _interactive(args, config, config_source, level)
    if args.speed != 1.0:
        raise InputError("--speed works with --interactive only (use --fast for the fastest run)")
    prepared = None
    if args.profile:
        level = _level(history, args.user, args.profile)
        prepared = prepare_profile(args.profile, config, config_source=config_source, user=args.user, level=level)
        for note in prepared.notes:
            print(f"note: {note}", file=sys.stderr)
        presses.append(schedule.Press(0.0, "start"))
    config = config.for_user(args.user)
    from controller import simulate as sim
    from controller.status import Console
    from controller.trace import TraceWriter

    trace = TraceWriter(args.log) if args.log else None
    console = Console(live=not args.fast, expected=prepared.duration if prepared else None, until=until)
    root, ours = logging.getLogger(), logging.getLogger("inversion_table")
    handlers, level = list(root.handlers), ours.level
    # The console prints each trip, notice and timeout return once, from its event; the loop's log
    # lines say the same, so only its errors (with their details) are let through.
    ours.setLevel(logging.ERROR)
    if console.tty:
        for handler in handlers:
            root.removeHandler(handler)
        root.addHandler(console.log_handler())
    try:
        run = sim.Simulation(
            config,
            presets=[Preset(prepared.profile.name, prepared.program)] if prepared else [],
            presses=presses,
            faults=faults,
            seed=args.seed,
            until=until,
            trace=trace,
            on_tick=console.tick,
            on_event=console.event,
        )
        if trace is not None and not trace.flush():  # /dev/full, say: refused before anything runs
            run.close()
            trace.raise_if_closed_pipe()
            raise InputError(trace.problem)
        if history is not None:
            log = _session_log(history, args.user, prepared, head_down=lambda: run.controller.state.head_down)
            run.on_tick = _both(console.tick, log.tick)
            run.on_event = _both(console.event, log.event)
        try:
            with console:
                result = run.run(pace=None if args.fast else sim.real_time_pacer())
        except KeyboardInterrupt:  # say where the table was left, as at any other end
            result = run.stopped("interrupted (Ctrl-C)", sim.EXIT_INTERRUPTED)
            print(f"{PROG}: interrupted (Ctrl-C) at t={result.t:.2f} s; {where_left(result)}; exit {result.exit_code}",
                  file=sys.stderr)
            return result.exit_code
    finally:
        ours.setLevel(level)
        if console.tty:
            root.handlers[:] = handlers
        if trace is not None:
            trace.close()
        if history is not None:
            history.close()
    if trace is not None and trace.error is not None:  # the last records, written at close, were lost
        trace.raise_if_closed_pipe()
        raise OutputError(f"{trace.problem}: its end is lost; the run itself ended at t={result.t:.2f} s: "
                          f"{result.why} (exit {result.exit_code})")
    print(f"ended at t={result.t:.2f} s: {result.why}; {where_left(result)}; exit {result.exit_code}")
    return result.exit_code


def where_left(result) -> str:
    """The state and angle a run left the table in, saying which angle is known and how."""
    true = f"true {result.true_angle:.1f}°"
    if result.sensor_stale and result.position is not None:
        last = (f"the sensor's last angle, {result.angle:.1f}°, is stale" if result.angle is not None
                else "no angle from the sensor")
        return f"state {result.state}, angle by the step count {result.position:.1f}° ({true}; {last})"
    if result.angle is None:
        return f"state {result.state}, angle unknown: no reading from the sensor ({true})"
    return f"state {result.state}, angle {result.angle:.1f}° ({true})"


def _faults(texts: list[str]) -> list:
    """The --fault options, parsed; the simulator's fault kinds are imported only if there are any."""
    if not texts:
        return []
    from controller import simulate as sim

    return [sim.parse_fault(f) for f in texts]


def _interactive(args, config, config_source: str, level: int = 0) -> int:
    if args.press or args.fault or args.log or args.until or args.fast:
        raise InputError("--interactive takes PROFILE, --config, --user, --history, --seed and --speed only: the keys "
                         "are the buttons")
    if not 0.1 <= args.speed <= 100:
        raise InputError(f"--speed {args.speed:g}: must be between 0.1 and 100")
    users, notes = (), []
    if args.profile:
        prepared = prepare_profile(args.profile, config, config_source=config_source, user=args.user, level=level)
        presets, expected, notes = [Preset(prepared.profile.name, prepared.program)], prepared.duration, prepared.notes
    else:  # the config's presets, and its users (P): as on the table
        from controller.cli_people import open_history
        from controller.service import user_choices

        history = open_history(args.history) if args.history else None
        try:
            users = user_choices(config, config_source, first=args.user, history=history, say=notes.append)
        finally:
            if history is not None:
                history.close()
        presets, expected = list(users[0].presets), None
    from controller import simulate as sim
    for note in notes:  # here, and in the app's list of events
        print(f"note: {note}", file=sys.stderr)
    from controller.tui import SimulatorApp

    run = sim.Simulation(config.for_user(args.user) if args.profile else config, presets=presets, seed=args.seed,
                         users=users,
                         presses=[sim.Press(0.0, "start")] if args.profile else [])  # as simulate: started at t = 0
    app = SimulatorApp(run, speed=args.speed, expected=expected)
    app.events.extend({"t": 0.0, "event": "notice", "message": note} for note in notes)
    app.run()
    result = run.stopped("quit")
    print(f"left the simulated table at t={result.t:.2f} s: {where_left(result)}")
    return 0


def _level(history, user: str | None, name: str) -> int:
    """A progressive profile's level for this user, from the history (0 without one)."""
    from controller.users import GUEST
    from profiles import resolve_profile

    profile, _ = resolve_profile(name)
    if history is None or profile.progression is None:
        return 0
    return history.level(user or GUEST, profile.name)


def _session_log(history, user, prepared, *, head_down):
    from controller.sessionlog import SessionLog

    levels, finals = {}, {}
    if prepared is not None and prepared.final_level is not None:
        levels[prepared.profile.name] = prepared.level
        finals[prepared.profile.name] = prepared.final_level  # for a user, the last level that fits
    return SessionLog(history, user=user, levels=levels, final_levels=finals, head_down=head_down)


def _both(first, second):
    def call(record):
        first(record)
        second(record)
    return call


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
