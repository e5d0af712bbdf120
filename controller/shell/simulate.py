"""`inversion-table simulate`: the real controller on simulated hardware, on a virtual clock."""

from __future__ import annotations

import heapq
import time
from dataclasses import dataclass
from typing import Callable

from controller.core import command, session, supervisor
from controller.core.state import Activity

from controller.setup import schedule
from controller.errors import OutputError
from controller.exits import (  # noqa: F401 - the API
    EXIT_CLOSED_PIPE, EXIT_HOME, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_LATCHED, EXIT_NOT_HOME, EXIT_REJECTED,
)
from controller.core.reasons import REASONS
from controller.setup.schedule import MAX_SCHEDULE_TIME, Fault, Press, parse_press, parse_time  # noqa: F401 - the API
from controller.shell.table import Table, settings_from  # noqa: F401 - settings_from: the API
from controller.records.trace import TraceWriter
from drivers.sim import hardware

# A run with nothing scheduled still waits for the power-on reading of the angle (the loop trips if
# the sensor never answers), as the service does before it says it is ready.
POWER_ON_WAIT = 5.0  # s
# Events that mean something happened in a run (a button, a fault, a session): without any, "nothing ran".
ACTIVITY_EVENTS = frozenset({"button", "fault", "session", "return", "trip", "deadman"})


def parse_fault(text: str) -> Fault:
    """``KIND@T[:DURATION]``, e.g. ``imu-disconnect@40`` or ``stall@12:2``."""
    return schedule.parse_fault(text, hardware.FAULT_KINDS)


@dataclass
class Result:
    exit_code: int
    t: float
    state: str
    angle: float | None  # the controller's estimate; None if the sensor never gave one
    true_angle: float
    why: str
    position: float | None = None  # where the step count puts the table (None before the power-on anchor)
    sensor_stale: bool = False  # a latched trip distrusts the sensor: `angle` is its last one, and stale


class Simulation:
    """One simulated run: scheduled presses and faults, a tick every control period."""

    def __init__(
        self,
        config,
        *,
        program: session.Program | None = None,
        presets: list[session.Preset] | None = None,
        presses: list[Press] = (),
        faults: list[Fault] = (),
        seed: int = 0,
        until: float | None = None,
        trace: TraceWriter | None = None,
        on_tick: Callable[[dict], None] | None = None,
        on_event: Callable[[dict], None] | None = None,
        calibration=None,
        users=(),
    ) -> None:
        self.config = config
        self.active = bool(presses) or bool(faults)  # whether anything ran (see ACTIVITY_EVENTS)
        self.settings = settings_from(config)
        self.hw = hardware.build(config, seed=seed, calibration=calibration)
        self.t0 = self.hw.clock.now()  # the IMU's set-up took virtual time; the run starts after it
        # Faults present from t = 0 are there before start-up (a stop stuck at boot, say).
        for f in faults:
            if f.t <= 0 and f.kind not in hardware.LOOP_FAULTS:
                self.hw.set_fault(f.kind, True)
        self.until = until
        self.trace = trace
        self.on_tick = on_tick
        self.on_event = on_event
        try:
            self.table = Table(config, self.hw, users=users,
                               presets=presets if presets is not None else [session.Preset("profile", program)] if program else [])
        except Exception:
            self.hw.close()
            raise
        self.table.listeners.append(self._event)
        self.table.deadman_inline = True  # virtual time: the dead-man looks after every period
        self.controller = self.table.controller
        self.deadman = self.table.deadman
        lim = self.settings.limits  # the trace says what the limits were, for plots and tools
        self._event({"t": self.t0, "event": "limits", "home_angle": lim.home_angle, "max_angle": lim.max_angle,
                     "max_speed": lim.max_speed, "session_timeout": lim.session_timeout})
        self._actions: list[tuple[float, int, str, Callable[[], None]]] = []
        self._seq = 0
        for p in presses:
            self._schedule(p.t, f"press {p.name}", lambda n=p.name: self.hw.press(n))
            self._schedule(p.t + p.hold, f"release {p.name}", lambda n=p.name: self.hw.release(n))
        for f in faults:
            if f.t > 0 or f.kind in hardware.LOOP_FAULTS:
                self._schedule(f.t, f"fault {f.kind}", lambda k=f.kind: self._fault(k, True))
            else:
                self._event({"t": self.t0, "event": "fault", "kind": f.kind, "active": True})
            if f.duration is not None:
                self._schedule(f.t + f.duration, f"fault {f.kind} ends", lambda k=f.kind: self._fault(k, False))
        programs = [p.program for p in list(presets or []) + [p for user in users for p in user.presets]]
        programs = [p for p in programs + [program] if p is not None]
        # A run still going after this is a bug, never a long input: it follows from the inputs.
        self.max_time = max(schedule.longest_run(settings, programs, presses, faults)
                            for settings in [self.settings] + [user.settings for user in users])
        self.ticks = 0
        self._closed = False

    def _schedule(self, t: float, label: str, action: Callable[[], None]) -> None:
        heapq.heappush(self._actions, (t, self._seq, label, action))
        self._seq += 1

    def _fault(self, kind: str, active: bool) -> None:
        self.table.inject(kind, active)

    @property
    def loop_stalled(self) -> bool:
        return self.table.loop_stalled

    def _event(self, record: dict) -> None:
        record = dict(record, t=record["t"] - self.t0)
        self.active = self.active or record.get("event") in ACTIVITY_EVENTS
        if self.trace is not None:
            self.trace.write(record)
        if self.on_event is not None:
            self.on_event(record)

    def now(self) -> float:
        return self.hw.clock.now() - self.t0

    def run(self, *, pace: Callable[[float], None] | None = None) -> Result:
        """Run to the end; ``pace(t)`` is called before each period (real-time mode sleeps there)."""
        try:
            while True:
                result = self._next(pace=pace, check_end=True)
                if result is not None:
                    return result
        finally:
            self.close()

    def step_until(self, t: float) -> None:
        """Run every action and period up to simulated time ``t``, with no end (interactive use)."""
        while self.ticks * self.settings.period <= t:
            self._next(pace=None, check_end=False)

    def press(self, name: str, pressed: bool = True) -> None:
        """Press (or release) a button now, as a person at the table would."""
        (self.hw.press if pressed else self.hw.release)(name)

    def hold(self, name: str, seconds: float) -> None:
        """Press a button now and release it ``seconds`` of simulated time later."""
        self.hw.press(name)
        self._schedule(self.now() + seconds, f"release {name}", lambda: self.hw.release(name))

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Release the simulated pins and devices. Safe to call twice."""
        if not self._closed:
            self._closed = True
            self.table.close()

    def _next(self, *, pace, check_end: bool) -> Result | None:
        """One scheduled action, or one control period; a Result once the run has ended."""
        period = self.settings.period
        next_tick = self.ticks * period
        if self._actions and self._actions[0][0] <= next_tick:
            t, _, _, action = heapq.heappop(self._actions)
            self.hw.clock.advance_to(self.t0 + max(t, self.now()))
            action()
            return None
        if check_end and self.until is not None and next_tick > self.until:
            return self._result(EXIT_NOT_HOME, "reached --until")
        if pace is not None:
            pace(next_tick)
        self.hw.clock.advance_to(self.t0 + next_tick)
        self.ticks += 1
        record = self.table.period()
        if record is None:  # the loop is stalled; the dead-man still watches
            if check_end and self.deadman.fired and not self._actions:
                return self._result(EXIT_LATCHED, "the control loop stalled; the dead-man halted the motor")
            return None
        record["t"] = next_tick
        record["true_angle"] = self.hw.table.angle()
        if self.trace is not None:
            self.trace.write(record)
            if self.trace.error is not None:
                self._log_failed(next_tick)
        if self.on_tick is not None:
            self.on_tick(record)
        if not check_end:
            return None
        ended = self._ended()
        if ended is not None:
            return ended
        if next_tick > self.max_time:
            raise RuntimeError(f"the simulation ran past {self.max_time:.0f} s, the longest these inputs can take, "
                               "without ending (a bug)")
        return None

    def _log_failed(self, t: float) -> None:
        """The log cannot be written: the run ends here, the motor halted and holding, as a stop would."""
        self.hw.motor.halt()
        self.trace.raise_if_closed_pipe()
        raise OutputError(f"{self.trace.problem} at t={t:.2f} s; the run stopped there, the simulated motor "
                          f"halted and holding at {self.hw.table.angle():.1f}°")

    def _ended(self) -> Result | None:
        if self._actions:
            return None
        c = self.controller.state
        m = c.machine
        if m.latched:
            why = f"{m.state} ({m.trip or 'stop button'}), motor halted and holding"
            if self._sensor_stale() and supervisor.at_home(c.setpoint.position, c.limits):
                why += "; home by the step count (return held), the sensor not trusted"
            return self._result(EXIT_LATCHED, why)
        if not c.anchored:  # the power-on reading has not come yet: nothing is known, nothing can move
            if self.now() < POWER_ON_WAIT:
                return None
            return self._result(EXIT_NOT_HOME, f"no trustworthy angle from the sensor {POWER_ON_WAIT:g} s after power-on")
        if m.activity is not Activity.IDLE:
            return None  # running, returning or jogging: there is more to come (the common case)
        home = supervisor.at_home(c.setpoint.position, c.limits)
        if home:
            if not supervisor.at_home(self.hw.table.angle(), c.limits):  # the simulator knows the truth
                return self._result(EXIT_NOT_HOME, f"the controller believes it is home, but the table is at {self.hw.table.angle():.1f}°")
            if not self.active:
                return self._result(EXIT_HOME, "nothing ran (no profile, no --press or --fault): the table stayed "
                                               "home and idle")
            return self._result(EXIT_HOME, "home and idle")
        head_down = c.estimate is not None and command.head_down(angle=c.estimate.angle, setpoint=c.setpoint.position)
        if not m.motion_requested or not head_down:
            # Not home, and no timeout will come (nobody asked since the last reset, or the table
            # is not head-down): with nothing scheduled, nothing will ever move the table again.
            return self._result(EXIT_NOT_HOME, "idle short of home with nothing further scheduled")
        return None

    def stopped(self, why: str, code: int = EXIT_HOME) -> Result:
        """Where the table is now, for a run ended from outside (Ctrl-C, quitting the interactive one)."""
        return self._result(code, why)

    def _sensor_stale(self) -> bool:
        return sensor_stale(self.controller.state)

    def _result(self, code: int, why: str) -> Result:
        return result_for(self.controller.state, code=code, why=why, t=self.now(), true_angle=self.hw.table.angle())


def sensor_stale(state) -> bool:
    """Whether the estimate is the sensor's last word rather than a current one (a trip distrusting it)."""
    trip = state.machine.trip
    return trip is not None and not REASONS[trip].sensor_trusted


def result_for(state, *, code: int, why: str, t: float, true_angle: float) -> Result:
    """How a simulated run ended, from the table's snapshot: a run cut short (``EXIT_NOT_HOME``)
    with a latch is ``EXIT_LATCHED``, and one idle at home (the simulator knows the truth) ``EXIT_HOME``.
    `simulate` and `run --sim --until` end the same way."""
    angle = state.estimate.angle if state.estimate is not None else None
    m = state.machine
    if code == EXIT_NOT_HOME and m.latched:
        code = EXIT_LATCHED
    elif code == EXIT_NOT_HOME and m.state == "idle" and supervisor.at_home(true_angle, state.limits):
        code = EXIT_HOME
        why += "; the table is home all the same"
    return Result(code, t, m.state, angle, true_angle, why,
                  position=state.setpoint.position if state.anchored else None, sensor_stale=sensor_stale(state))


def real_time_pacer(*, interrupted: Callable[[], bool] = lambda: False) -> Callable[[float], None]:
    """Sleeps so that simulated time keeps step with the wall clock; raises KeyboardInterrupt
    between periods once ``interrupted()`` says so."""
    start = time.monotonic()

    def pace(t: float) -> None:
        if interrupted():
            raise KeyboardInterrupt
        delay = start + t - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    return pace


def between_periods(interrupted: Callable[[], bool]) -> Callable[[float], None]:
    """A pace for a run on virtual time: no sleep, and KeyboardInterrupt between periods once
    ``interrupted()`` says so."""
    def pace(t: float) -> None:
        if interrupted():
            raise KeyboardInterrupt

    return pace
