"""`inversion-table simulate`: the real controller on the simulated table, on virtual time or real time."""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading

from controller import exits
from controller.commands.options import PROG, config_from, number, open_history, whole_number
from controller.core.session import Preset
from controller.errors import InputError, OutputError
from controller.setup import schedule
from controller.setup.preflight import prepare_profile



def add_parser(sub) -> None:
    s = sub.add_parser("simulate", help="run the controller on a simulated table", description=(
        "Run the real controller on simulated hardware. The table starts home and idle; a PROFILE "
        "is started at t = 0 as if start were pressed. Exit: 0 home, 3 stop or trip latched, "
        "2 input rejected, 4 not home when the run ended, 1 internal error, 130 interrupted (Ctrl-C), "
        f"{exits.EXIT_CLOSED_PIPE} the output's reader went away (a closed pipe)."))
    s.add_argument("profile", nargs="?", metavar="PROFILE", help="a preset name or a .toml file")
    s.add_argument("--config", metavar="FILE", help="config file (default: the shipped defaults)")
    s.add_argument("--fast", action="store_true", help="run on virtual time as fast as possible")
    s.add_argument("--seed", type=whole_number, default=0, metavar="N", help="seed of the sensor noise (default 0)")
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
    s.add_argument("--speed", type=number, default=1.0, metavar="X",
                   help="with --interactive: simulated seconds per real second (default 1)")
    s.add_argument("--history", metavar="FILE",
                   help="record the session in this history file (SQLite); progressive profiles take their level from it")
    s.set_defaults(main=main)


def main(args) -> int:
    config, config_source = config_from(args.config)
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
        from controller.setup.users import require_acknowledged

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
    from controller.shell import simulate as sim
    from controller.shell.status import Console
    from controller.records.trace import TraceWriter

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
            with console, _interrupt_between_periods() as interrupted:
                result = run.run(pace=sim.between_periods(interrupted) if args.fast
                                 else sim.real_time_pacer(interrupted=interrupted))
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


@contextlib.contextmanager
def _interrupt_between_periods():
    """Ctrl-C only sets a flag, which the run reads between periods: a KeyboardInterrupt raised
    anywhere else (inside a lock held by the logging module, say) could leave the run hung at close
    with no word of where the table was left."""
    if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
        yield lambda: False
        return
    flag = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: flag.set())
    try:
        yield flag.is_set
    finally:
        signal.signal(signal.SIGINT, previous)


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
    from controller.shell import simulate as sim

    return [sim.parse_fault(f) for f in texts]


def _interactive(args, config, config_source: str, level: int = 0) -> int:
    if args.press or args.fault or args.log or args.until or args.fast:
        raise InputError("--interactive takes PROFILE, --config, --user, --history, --seed and --speed only: the keys "
                         "are the buttons")
    if not 0.1 <= args.speed <= 100:
        raise InputError(f"--speed {args.speed:g}: must be between 0.1 and 100")
    if not _has_terminal():  # without one the app would pour escape codes into a pipe and wait for keys forever
        raise InputError("--interactive needs a terminal: its keys are the buttons (to script them, use "
                         "--press NAME@T, with --fast for no waiting)")
    users, notes = (), []
    if args.profile:
        prepared = prepare_profile(args.profile, config, config_source=config_source, user=args.user, level=level)
        presets, expected, notes = [Preset(prepared.profile.name, prepared.program)], prepared.duration, prepared.notes
    else:  # the config's presets, and its users (P): as on the table
        from controller.shell.service import user_choices

        history = open_history(args.history) if args.history else None
        try:
            users = user_choices(config, config_source, first=args.user, history=history, say=notes.append)
        finally:
            if history is not None:
                history.close()
        presets, expected = list(users[0].presets), None
    from controller.shell import simulate as sim
    for note in notes:  # here, and in the app's list of events
        print(f"note: {note}", file=sys.stderr)
    from controller.shell.tui import SimulatorApp

    run = sim.Simulation(config.for_user(args.user) if args.profile else config, presets=presets, seed=args.seed,
                         users=users,
                         presses=[sim.Press(0.0, "start")] if args.profile else [])  # as simulate: started at t = 0
    app = SimulatorApp(run, speed=args.speed, expected=expected)
    app.events.extend({"t": 0.0, "event": "notice", "message": note} for note in notes)
    app.run()
    result = run.stopped("quit")
    print(f"left the simulated table at t={result.t:.2f} s: {where_left(result)}")
    return 0


def _has_terminal() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def _level(history, user: str | None, name: str) -> int:
    """A progressive profile's level for this user, from the history (0 without one)."""
    from controller.setup.users import GUEST
    from profiles import resolve_profile

    profile, _ = resolve_profile(name)
    if history is None or profile.progression is None:
        return 0
    return history.level(user or GUEST, profile.name)


def _session_log(history, user, prepared, *, head_down):
    from controller.records.sessionlog import SessionLog

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
