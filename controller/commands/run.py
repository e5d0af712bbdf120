"""`inversion-table run`: the service, on the table's hardware or the simulated table, in real time."""

from __future__ import annotations

import logging
import os
import sys
import time

from controller.commands.options import add_table_options, open_history
from controller.commands.simulate import where_left
from controller.errors import InputError
from controller.shell import simulate as sim



def add_parser(sub) -> None:
    r = sub.add_parser("run", help="the service: run the table from its buttons (systemd starts it)", description=(
        "Run the table: its buttons start, stop and jog it; the status LED and buzzer show its state. "
        "Logs one line per event to stdout (the journal, under systemd). Exit: 0 stopped by a signal, "
        "1 internal or hardware error, 2 config rejected, 3 start-up refused (stop button pressed); "
        "with --sim --until, as simulate."))
    add_table_options(r, sim_help="run on the simulated table (mock pins, emulated IMU), in real time")
    r.add_argument("--press", action="append", default=[], metavar="NAME@T[:HOLD]",
                   help="with --sim: press a button T seconds after start-up, e.g. start@2 or down@5:3")
    r.add_argument("--fault", action="append", default=[], metavar="KIND@T[:DURATION]",
                   help="with --sim: inject a fault T seconds after start-up, as simulate does")
    r.add_argument("--until", metavar="T",
                   help="with --sim: stop T seconds after start-up and exit as simulate does (0 home, 3 stop or "
                        "trip latched, 4 not home)")
    r.add_argument("--user", metavar="NAME", help="the table's user (the config's [[users]]): their limits apply")
    r.add_argument("--remote", metavar="HOST:PORT",
                   help="serve the phone remote here, e.g. 127.0.0.1:8270 (default: the config's [remote] listen; "
                        "README, \"Phone remote\")")
    r.add_argument("--history", metavar="FILE",
                   help="history file (default: the config's [history] file; with --sim, none unless given)")
    r.set_defaults(main=main)


class _JournalFormatter(logging.Formatter):
    """One line per record; under systemd, with the <N> syslog priority journald understands."""

    PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}

    def __init__(self) -> None:
        super().__init__("%(message)s")
        self.journal = bool(os.environ.get("JOURNAL_STREAM"))

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record).replace("\n", " | ")  # one event, one journal entry
        if self.journal:
            return f"<{self.PRIORITY.get(record.levelno, 6)}>{text}"
        return text if record.levelno < logging.WARNING else f"{record.levelname.lower()}: {text}"


class _JournalHandler(logging.StreamHandler):
    """The log to stdout. If its reader goes away (`run --sim | head`), stdout goes to /dev/null
    from then on, and ``on_closed`` hears it once (no "Logging error" for every line after)."""

    def __init__(self, on_closed) -> None:
        super().__init__(sys.stdout)
        self.on_closed = on_closed
        self.pipe_closed = False

    def handleError(self, record: logging.LogRecord) -> None:
        if not isinstance(sys.exc_info()[1], BrokenPipeError):
            super().handleError(record)
            return
        if not self.pipe_closed:
            self.pipe_closed = True
            try:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
                os.close(devnull)
            except (AttributeError, OSError, ValueError):
                pass
            self.on_closed()


def main(args) -> int:
    import signal
    import threading

    from controller.shell import service

    stop = threading.Event()
    # A closed pipe ends `run --sim` as it would any command (quietly, 141). The real table goes on
    # serving its buttons: a log nobody reads is no reason to stop the table under someone.
    handler = _JournalHandler(on_closed=stop.set if args.sim else (lambda: None))
    handler.setFormatter(_JournalFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    for option, given, why in (("--press", args.press, "press its buttons"),
                               ("--fault", args.fault, "faults are not injected into real hardware"),
                               ("--until", args.until, "stop the service with SIGTERM or Ctrl-C")):
        if given and not args.sim:
            raise InputError(f"{option} needs --sim: on the real table, {why}")
    config, source = service.config_for_run(args.config, simulated=args.sim, calibration=args.calibration)
    presses = [sim.parse_press(p, config.pins.buttons()) for p in args.press]
    faults = [sim.parse_fault(f) for f in args.fault]
    until = sim.parse_time(args.until, "--until") if args.until is not None else None
    from controller.setup.config_remote import listen_option, parse_listen

    remote = listen_option(args.remote) if args.remote is not None else (
        parse_listen(config.remote.listen) if config.remote.listen is not None else None)
    from controller.setup.config_mqtt import connection as mqtt_connection

    mqtt = mqtt_connection(config, source)  # its password and CA files read now: a mistake is exit 2
    started_at = [0.0]  # the clock at start-up: presses, faults and --until count from it
    if args.calibration is not None and not os.path.exists(args.calibration):
        from controller.errors import CalibrationError

        raise CalibrationError(f"{args.calibration}: no such calibration file (--calibration); `inversion-table "
                               f"calibrate{' --sim' if args.sim else ''} --calibration {args.calibration}` makes one")
    calibration = service.calibration_for_run(config, simulated=args.sim)
    history = None
    if args.user is not None:
        config.user(args.user)  # an unknown user is refused before anything else
        if args.sim and args.history is None:
            raise InputError("--user needs --history FILE: a user's acknowledgement of the contraindications "
                             "and progress are kept there")
    if args.history is not None or not args.sim:  # the real table always keeps its history
        from controller.setup.users import require_acknowledged

        history = open_history(args.history or config.history.file)
        if args.user is not None:
            require_acknowledged(history, args.user, config=args.config, history_path=args.history)
    users = service.user_choices(config, source, first=args.user, history=history)
    presets = users[0].presets
    if args.sim:
        from drivers.sim.hardware import build
    else:
        from drivers.pi import build
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())

    def started(svc) -> None:
        started_at[0] = svc.hw.clock.now()

        def finger(press) -> None:  # one thread per press: the release always comes after its press
            svc.hw.press(press.name)
            if press.hold > 0:
                time.sleep(press.hold)
            svc.hw.release(press.name)

        def later(t: float, action, *args) -> None:
            timer = threading.Timer(t, action, args)
            timer.daemon = True
            timer.start()

        for p in presses:  # the simulated fingers: each press on a timer thread, as gpiozero's would be
            later(p.t, finger, p)
        for f in faults:  # faults as simulate injects them, on the real clock
            if f.t > 0 or f.kind in sim.hardware.LOOP_FAULTS:
                later(f.t, svc.table.inject, f.kind, True)
            if f.duration is not None:
                later(f.t + f.duration, svc.table.inject, f.kind, False)
        if until is not None:
            later(until, end_at_until)

    def end_at_until() -> None:
        reached_until.set()  # first: `finished` says why the run ended
        stop.set()

    reached_until = threading.Event()

    def finished(svc) -> int:
        """`run --sim --until`: the end line and the exit code of simulate; otherwise 0 (a signal)."""
        if until is None:
            return 0
        result = sim.result_for(svc.table.state, code=sim.EXIT_NOT_HOME, t=svc.hw.clock.now() - started_at[0],
                                why="reached --until" if reached_until.is_set() else "stopped by a signal",
                                true_angle=svc.hw.table.angle())
        
        print(f"ended at t={result.t:.2f} s: {result.why}; {where_left(result)}; exit {result.exit_code}", flush=True)
        return result.exit_code

    logging.getLogger("inversion_table").info(
        "starting on the %s table: config %s, %d preset(s)", "simulated" if args.sim else "real", source, len(presets))
    try:
        # The hardware is built for the config's limits (every user's are lower); the users' own
        # limits are the controller's, and switch with them.
        code = service.run(config, build=build, calibration=calibration, users=users, stop=stop,
                           started=started, finished=finished, history=history, config_source=source,
                           remote=remote, mqtt=mqtt,
                           history_file=(args.history or config.history.file) if history else None,
                           boot_faults=[f.kind for f in faults if f.t <= 0 and f.kind not in sim.hardware.LOOP_FAULTS])
        return sim.EXIT_CLOSED_PIPE if handler.pipe_closed and args.sim else code
    finally:
        if history is not None:
            history.close()
