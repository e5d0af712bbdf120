"""`inversion-table run`: the service. The table's hardware, the real-time loop, journald lines, systemd."""

from __future__ import annotations

import logging
import os
import threading

from pathlib import Path
from typing import Callable, Sequence

from gpiozero.exc import GPIOZeroError

from controller.setup import calibration as cal
from controller.shell import realtime, restart
from drivers.clock import MonotonicClock
from controller.setup.config import DEFAULT_CONFIG_PATH, CalibrationConfig, Config, load_config
from controller.setup.config_mqtt import MqttConnection
from controller.errors import ConfigError, HardwareError, InputError
from controller.shell.loop import UserChoice
from controller.shell.notify import Notifier
from controller.setup.preflight import prepare_profile
from controller.shell.runner import RealTimeLoop
from controller.core.session import Preset
from controller.setup.users import GUEST
from controller.shell.table import Table, settings_from
from drivers.pi import pins_busy

# Where a simulated table keeps its calibration (in the working directory): never the real table's file.
SIM_CALIBRATION = "sim-calibration.json"
# READY=1 waits for the power-on anchor (0.5 s of good samples) or a latched trip, at most this long.
READY_TIMEOUT = 5.0  # s
# SCHED_FIFO of the history writer, the lowest of the service's threads (realtime.py): under the
# unit it would otherwise keep the loop's 50, and still above a busy machine's other work, since a
# thread descheduled while it holds the GIL keeps the loop waiting.
HISTORY_PRIORITY = 20
# Events the journal gets a line for here. Trips, notices, selections and timeouts are logged by
# the control loop itself; the LED and buzzer follow the state and are left out.
LOGGED_EVENTS = ("button", "return", "session", "home", "deadman")

log = logging.getLogger("inversion_table")


def user_choices(config: Config, config_source: str, *, first: str | None, history,
                 say: Callable[[str], None] = log.info) -> list[UserChoice]:
    """Everyone a long press of `select` steps through: ``first``, then nobody in particular, then
    each of the config's [[users]], each with the presets that fit their limits and their levels.

    The config's own presets must all fit the config (ConfigError otherwise). A user is offered
    those that fit their limits, and ``say`` hears one line for each left out; starting as a user
    (``first``) none of them fits is refused (ConfigError, one line)."""
    from controller.setup.users import CONTRAINDICATIONS_VERSION

    available = _available(config, config_source)  # each resolved once, for everyone
    names = [first] + [n for n in [None, *(u.name for u in config.users)] if n != first]
    choices = []
    for name in names:
        levels = {} if history is None else {profile.name: history.level(name or GUEST, profile.name)
                                             for _, profile, _ in available if profile and profile.progression}
        lines: list[str] = []
        left_out: list[str] = []
        presets = load_presets(config, config_source, user=name, levels=levels, lenient=name is not None,
                               say=lines.append, available=available, left_out=left_out)
        if name is not None and name == first and not presets:  # the one line says it all
            raise ConfigError(f"{config_source}: [presets] available: none fits user '{name}' ({'; '.join(left_out)})")
        for line in lines:
            say(line)
        acknowledged = name is None or (history is not None and history.acknowledged(name, CONTRAINDICATIONS_VERSION))
        choices.append(UserChoice(name, tuple(presets), settings_from(config.for_user(name)), acknowledged))
    return choices


def _available(config: Config, config_source: str) -> list[tuple[str, object, str]]:
    """[presets] available as (path or name, profile, label), each resolved; (name, None, why) for
    one that cannot be. A relative path is taken from the config file's folder (systemd runs the
    service from /)."""
    from profiles import resolve_profile

    folder = os.path.dirname(os.path.abspath(config_source)) if os.path.isfile(config_source) else None
    available = []
    for name in config.presets.available:
        if folder is not None and not os.path.isabs(name) and (
                name.endswith(".toml") or os.path.exists(os.path.join(folder, name))):
            name = os.path.join(folder, name)  # next to the config, wherever the command runs from
        try:
            profile, label = resolve_profile(name)
        except InputError as e:
            available.append((name, None, str(e)))
        else:
            available.append((name, profile, label))
    return available


def load_presets(config: Config, config_source: str, *, user: str | None = None,
                 levels: dict[str, int] | None = None, lenient: bool = False,
                 say: Callable[[str], None] = log.info, available: list | None = None,
                 left_out: list[str] | None = None) -> list[Preset]:
    """[presets] available, each checked against the config (and the user's limits) now, before
    anything moves. ``levels`` are progressive profiles' levels by profile name. ``lenient``: one
    that does not fit is left out, saying why in one line (also added to ``left_out``), instead of
    refused. ``available`` is ``_available(config, config_source)``, if already done."""
    presets = []
    for name, profile, label in available if available is not None else _available(config, config_source):
        if profile is None:  # not a profile at all: the config's mistake, whoever the user
            raise ConfigError(f"{config_source}: [presets] available: {label}")
        try:
            presets.append(prepare_preset(name, config, config_source, user=user, levels=levels or {},
                                          resolved=(profile, label), say=say))
        except InputError as e:
            if not lenient:
                raise ConfigError(f"{config_source}: [presets] available: {e}") from None
            why = str(e).splitlines()[0]  # one line: the first problem, saying how many more there are
            say(f"not offered to user '{user}': {why}")  # another user's table: skip what does not fit
            if left_out is not None:
                left_out.append(why)
    return presets


def prepare_preset(name: str, config: Config, config_source: str, *, user: str | None,
                   levels: dict[str, int], resolved: tuple | None = None,
                   say: Callable[[str], None] = log.info) -> Preset:
    from profiles import resolve_profile

    profile, label = resolved or resolve_profile(name)
    prepared = prepare_profile(name, config, config_source=config_source, user=user,
                               level=levels.get(profile.name, 0), resolved=(profile, label))
    for note in prepared.notes:
        say(note)
    return Preset(prepared.profile.name, prepared.program, name, prepared.final_level, prepared.level)


def event_line(record: dict) -> str:
    """One journal line for an event: ``button stop press``, ``session start hold-40``, ``return button``."""
    detail = " ".join(str(v) for k, v in record.items() if k not in ("t", "event"))
    return f"{record['event']} {detail}".rstrip()


class Service:
    """The controller on the table: buttons in, motor, LED and buzzer out, in real time.

    ``hardware`` is built by a factory (``drivers.pi.build`` or ``drivers.sim.hardware.build``);
    nothing here knows which.
    """

    def __init__(self, config: Config, hardware, *, presets: list[Preset], notifier: Notifier | None = None,
                 restart_file: Path | None = None, users: list[UserChoice] = ()) -> None:
        self.config, self.hw = config, hardware
        self.notifier = notifier or Notifier()
        self._status = ""
        restored = restart.load(restart_file)
        if restored is not None:
            log.warning("restarted: the table was at %.1f°%s", restored.angle,
                        " with the stop latched" if restored.stop_latched else
                        f", tripped ({restored.trip})" if restored.trip else "")
        self._keeper = restart.Keeper(restart_file) if restart_file is not None else None
        try:  # refuses start-up (StartupRefused) if the stop button reads pressed
            self.table = Table(config, hardware, presets=presets, users=users, restored=restored)
        except GPIOZeroError as e:
            raise pins_busy(e) from None
        self.controller = self.table.controller
        self.table.listeners.append(self._event)
        self.table.after_period.append(self._after_period)
        self.loop = RealTimeLoop(self.table, notifier=self.notifier)
        self._ready = threading.Event()
        self.alerter = self.alerts = None
        if config.alerts.urls:  # built now, before the loop runs: Apprise's imports would hold the GIL
            from controller.core.alerts import duration_text
            from controller.shell.alerter import Alerter, AlertWatch, table_name

            self.alerter = Alerter(config.alerts.urls)
            self.alerts = AlertWatch(self.table, self.alerter, stuck_after=config.alerts.stuck_after,
                                     name=table_name(config))
            log.info("alerts as table '%s' to %s; stuck after %s", self.alerts.name,
                     ", ".join(t.shown for t in self.alerter.targets), duration_text(config.alerts.stuck_after))

    # -- the loop's thread ---------------------------------------------------------------------
    session_log = None  # a controller.sessionlog.SessionLog, when sessions are recorded
    remote = None  # a controller.shell.remote_server.RemoteServer, when the remote is on
    mqtt = None  # a controller.shell.mqtt_client.MqttClient, when [mqtt] is on

    def _event(self, record: dict) -> None:
        if self.session_log is not None:
            self.session_log.event(record)
        if record.get("event") in LOGGED_EVENTS:
            level = logging.WARNING if record["event"] == "deadman" else logging.INFO
            log.log(level, "%s", event_line(record))

    def _after_period(self, record: dict) -> None:
        now = self.hw.clock.now()
        if self.session_log is not None:
            self.session_log.tick(record)
        if self._keeper is not None:
            self._keeper.update(self.controller, now)
        c = self.controller.state
        if c.estimate is not None or c.machine.trip is not None:
            self._ready.set()
        status = self.status()
        if status != self._status:
            self._status = status
            self.notifier.status(status)

    def status(self) -> str:
        """``idle, preset hold-40 (1 of 3), 23.4°`` — what `systemctl status` shows."""
        c = self.controller.state
        m = c.machine
        text = m.state + (f" ({m.trip})" if m.trip else "")
        if c.user is not None:
            text += f", user {c.user}"
        if c.presets:
            text += f", preset {c.presets[c.selected].name} ({c.selected + 1} of {len(c.presets)})"
        if c.estimate is not None:
            text += f", {round(c.estimate.angle):d}°"
        return text

    # -- the main thread -----------------------------------------------------------------------
    def start(self) -> None:
        """Run the loop; READY=1 once the table's angle is known (or a trip is latched and shown)."""
        self.loop.start()
        if not self._ready.wait(READY_TIMEOUT):
            raise HardwareError(f"no trustworthy IMU reading within {READY_TIMEOUT:g} s of start-up")
        log.info("ready: %s", self.status())
        self.notifier.ready(self.status())

    def close(self) -> None:
        """Halt, then release everything. Safe to call twice."""
        c = self.controller.state
        if c.estimate is not None and c.estimate.angle > 0:
            log.warning("stopping with the table %.0f° head-down: only the drive's self-locking holds it now",
                        c.estimate.angle)
        self.notifier.stopping()
        self.loop.close()
        if self.alerts is not None:  # the loop has stopped: nobody else feeds the rules now
            self.alerts.service_stopping()
        self.table.close()
        self.notifier.close()
        if self.alerter is not None:  # the motor is halted and released: the last alerts may take a while
            self.alerter.close()

    def __enter__(self) -> Service:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def config_for_run(path: str | None, *, simulated: bool, calibration: str | None = None) -> tuple[Config, str]:
    """The config `run`, `calibrate` and `doctor` use: --config, else /etc/inversion-table/config.toml.

    A simulated table may fall back to the shipped defaults (a real one may not: its pins must be
    written down), and keeps its calibration apart from the real table's (``SIM_CALIBRATION`` in
    the working directory), so trying `--sim` on the Pi never replaces the table's calibration.
    ``calibration`` (--calibration) overrides [calibration] file.
    """
    if path is not None:
        config, source = load_config(path), path
    elif simulated and not Path(DEFAULT_CONFIG_PATH).exists():
        log.info("no %s: the simulated table uses the shipped defaults", DEFAULT_CONFIG_PATH)
        config, source = Config(), "the default config"
    elif not Path(DEFAULT_CONFIG_PATH).exists():
        raise ConfigError(f"{DEFAULT_CONFIG_PATH}: no config yet: install one with systemd/install.sh (it copies "
                          "systemd/config.example.toml there), pass --config FILE, or try the simulated table with --sim")
    else:
        config, source = load_config(DEFAULT_CONFIG_PATH), DEFAULT_CONFIG_PATH
    if calibration is None and simulated:
        calibration = SIM_CALIBRATION
    # Absolute from here on: lgpio changes the working directory when it loads.
    calibration = os.path.abspath(calibration or config.calibration.file)
    config = config.model_copy(update={"calibration": CalibrationConfig(file=calibration)})
    return config, source


def calibration_for_run(config: Config, *, simulated: bool) -> cal.Calibration | None:
    """A real table needs its calibration (its zero is otherwise off by the sensor's mounting);
    a simulated one runs without, or with one if the file is there."""
    if simulated and not os.path.exists(config.calibration.file):
        log.info("simulated table: no calibration at %s; running uncalibrated", config.calibration.file)
        return None
    path = config.calibration.file
    made_by = cal.calibrate_command(path, simulated=simulated,
                                    default=os.path.abspath(SIM_CALIBRATION) if simulated else None)
    calibration = cal.load(path, config, again=f"run `{made_by}`")
    log.info("calibration %s (%s): zero %+.2f°", config.calibration.file, calibration.created, calibration.zero_offset)
    return calibration


def run(
    config: Config,
    *,
    build: Callable,
    calibration: cal.Calibration | None,
    users: list[UserChoice],
    stop: threading.Event,
    started: Callable[[Service], None] = lambda service: None,
    finished: Callable[[Service], int] = lambda service: 0,
    history=None,
    config_source: str = "the config",
    boot_faults: Sequence[str] = (),
    remote: tuple[str, int] | None = None,
    history_file: str | None = None,
    mqtt: MqttConnection | None = None,
) -> int:
    """Build the hardware, serve until ``stop`` is set (SIGTERM), and shut down with the motor halted.
    ``users`` are the people the table can be switched between; the first is the table's to start.
    ``finished`` gives the exit code once stopped (0: a service stopped by a signal). Simulated
    hardware can be given ``boot_faults`` present before start-up (a stop stuck at boot, say).
    ``remote`` (host, port) serves the phone remote beside the loop (controller/shell/remote_server.py).
    ``mqtt`` ([mqtt], its files read) publishes the table to a broker beside
    the loop (controller/shell/mqtt_client.py); start-up never waits for the broker."""
    hardware = build(config, clock=MonotonicClock(), calibration=calibration, imu_required=False)
    for kind in boot_faults:
        hardware.set_fault(kind, True)
    try:
        service = Service(config, hardware, presets=list(users[0].presets), users=users,
                          restart_file=restart.path_from_environment())
    except BaseException:
        hardware.close()
        raise
    writer = None
    if history is not None:
        from controller.records.sessionlog import BackgroundWriter, SessionLog

        writer = BackgroundWriter(on_start=lambda: realtime.request(HISTORY_PRIORITY, "history"))

        def progressive(choice: UserChoice) -> dict[str, Preset]:
            return {p.name: p for p in choice.presets if p.final_level is not None}

        def choice_of(user: str) -> UserChoice:  # a user as the history names them
            return next(u for u in service.controller.users if (u.name or GUEST) == user)

        def on_level(name: str, level: int) -> None:  # the loop's thread: compiling is pure and quick
            c = service.controller.state
            choice = c.users[c.user_index]
            again = prepare_preset(progressive(choice)[name].source, config, config_source, user=choice.name,
                                   levels={name: level})
            service.controller.post_presets(choice.name, [again if p.name == name else p for p in choice.presets])

        service.session_log = SessionLog(
            history, user=users[0].name,
            levels={p.name: p.level for p in progressive(users[0]).values()},
            final_levels={p.name: p.final_level for p in progressive(users[0]).values()},
            head_down=lambda: service.controller.state.head_down, submit=writer, on_level=on_level,
            levels_of=lambda user: {p.name: p.level for p in progressive(choice_of(user)).values()},
            final_levels_of=lambda user: {p.name: p.final_level for p in progressive(choice_of(user)).values()},
        )
    try:
        with service:
            try:
                if remote is not None:  # before the loop runs: its imports and start-up would hold the GIL
                    from controller.shell.remote_server import serve

                    service.remote = serve(service, listen=remote, config=config, config_source=config_source,
                                           history_file=history_file)
                if mqtt is not None:  # before the loop runs too; its first connection is on its own thread
                    from controller.shell.mqtt_client import MqttClient

                    service.mqtt = MqttClient(service.table, mqtt, start_warning=config.remote.start_warning,
                                              hold_lapse=config.remote.hold_lapse)
                    service.mqtt.start()
                service.start()
                started(service)
                stop.wait()
                log.info("stopping: %s", service.status())
                if service.session_log is not None:
                    service.session_log.interrupt()
                return finished(service)
            finally:
                if service.remote is not None:
                    service.remote.close()
    finally:
        if service.mqtt is not None:  # after the table halted: a broker that reads nothing cannot delay that
            service.mqtt.close()
        if writer is not None:
            writer.close()
