"""The control loop's shell: read the IMU, drain the events, run the pure period step, apply its actions."""

from __future__ import annotations

import logging
import queue
import traceback
from typing import Callable, Sequence

from controller.core import session
from controller.core import period
from controller.core.table_state import (  # noqa: F401 - Settings and UserChoice: the API
    ClearHalt, Halt, Inputs, Log, Move, PresetsChanged, Report, SetPosition, Settings, TableState, UserChoice,
)
from controller.errors import ImuError
from controller.shell.seams import Imu, Motor
from drivers.clock import Clock
from controller.core.reasons import Trip
from controller.core.state import HOLD_TO_RUN, ButtonEvent

# Sensor trust: an I2C read is retried within the period to ride through a noise blip; the
# supervisor decides when too few reads get through (supervisor.IMU_LOST_AFTER).
IMU_READ_ATTEMPTS = 3
_LEVELS = {"info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}

log = logging.getLogger("inversion_table")


class Controller:
    """Runs one control period per ``tick()``; other threads only ``post`` events to it.

    Every decision is ``controller.core.period.step``'s; this class gathers its inputs and carries
    out its actions. ``state`` is the frozen snapshot readers get.
    """

    def __init__(
        self,
        *,
        imu: Imu,
        motor: Motor,
        mount,
        clock: Clock,
        settings: Settings,
        presets: Sequence[session.Preset] = (),
        report: Callable[[dict], None] = lambda record: None,
        buttons_pressed: Callable[[], frozenset[str]] | None = None,
        restored=None,
        users: Sequence[UserChoice] = (),
    ) -> None:
        self.imu, self.motor, self.clock = imu, motor, clock
        self._report = report
        self._buttons_pressed = buttons_pressed
        self._events: queue.SimpleQueue = queue.SimpleQueue()
        self._taken: tuple | None = ()  # the events this period took from the queue
        self._carried: list = []  # events a period that crashed before taking them left for the next
        self._stepped_rate = 0.0  # deg/s the motor stepped at over the last period (the tracking checks)
        now = clock.now()
        self.heartbeat = now  # the start of the last period that completed (systemd's watchdog)
        # The start of the last period that ran and acted, completed or ended in the trip path
        # (which halted the motor itself): the dead-man reads this. A period that raised is not a
        # stalled loop, and counting it as one fired the dead-man when the next period was a
        # moment late (it left the dead-man exactly at its two periods).
        self.alive = now
        self.state = None
        self._carry_out(*period.initial(settings, mount=mount, position=motor.position, now=now,
                                        presets=presets, users=users, restored=restored))

    # -- other threads -------------------------------------------------------------------------
    def post(self, event: ButtonEvent) -> None:
        """Thread-safe: queue a button event for the next period."""
        self._events.put(event)

    def post_trip(self, reason: Trip) -> None:
        """Thread-safe: ask the loop to trip (threads other than the loop never act themselves)."""
        self._events.put(reason)

    def post_presets(self, user: str | None, presets: Sequence[session.Preset]) -> None:
        """Thread-safe: a user's presets were prepared again; the next period offers them."""
        self._events.put(PresetsChanged(user, tuple(presets)))

    # -- the one trip path ---------------------------------------------------------------------
    def trip(self, reason: Trip) -> None:
        """Halt the motor first, then latch, log and announce (period.trip). Runs once per latched trip."""
        self._carry_out(*period.trip(self.state, reason, now=self.clock.now(), position=self.motor.position))

    # -- one period ----------------------------------------------------------------------------
    def tick(self) -> dict:
        now = self.clock.now()
        self._taken = None  # None until this period takes its events
        try:
            self._tick(now)
        except Exception as exc:  # any bug in a period ends in the one trip path
            log.error("internal error in the control loop: %s\n%s", exc, traceback.format_exc())
            if self._taken is None:
                # It crashed before taking its events (in the IMU read): none was seen, so they
                # are kept, in order, for the next period (a stop press among them still latches).
                self._carried = self._carried + self._drain()
                seen = self._carried
            else:  # they went into the step that crashed: not kept, as one that crashes it would crash every period
                seen = self._taken
            for event in seen:  # a trip posted before this period (the dead-man's) came first:
                if type(event) is Trip:  # it stays the reason given, as the first cause
                    self.trip(event)
            self.trip(Trip.INTERNAL_ERROR)
        else:
            self.heartbeat = now
        self.alive = now  # reached once the period completed or the trip path has halted the motor
        return period.sample_record(self.state, now)

    def _drain(self) -> list:
        """Everything queued for the loop, in order."""
        taken, queued = [], self._events
        while not queued.empty():
            try:
                taken.append(queued.get_nowait())
            except queue.Empty:  # only the loop takes from the queue, but be sure
                break
        return taken

    def _tick(self, now: float) -> None:
        motor = self.motor
        token = motor.halt_count  # read before the events, see Stepper.clear_halt
        sample, attempts, failures = self._read()
        events = ()
        if self._carried or not self._events.empty():  # most periods have none: no exception raised to find that out
            events = tuple(self._carried + self._drain())
            self._carried = []
        self._taken = events
        # The levels guard a hold-to-run against a lost release edge: read the pins only when one
        # is held, or pressed in this period (the step looks at no other level).
        watching = self.state.machine.held & HOLD_TO_RUN or (events and any(
            type(e) is ButtonEvent and e.pressed and e.name in HOLD_TO_RUN for e in events))
        levels = self._buttons_pressed() if self._buttons_pressed is not None and watching else None
        inputs = Inputs(t=now, sample=sample, attempts=attempts, failures=failures, events=events,
                        levels=levels, position=motor.position, halted=motor.halted, halt_token=token,
                        stepped_rate=self._stepped_rate)
        self._stepped_rate = 0.0  # until this period moves the motor
        self._carry_out(*period.step(self.state, inputs))

    def _read(self):
        """The IMU's sample, retrying a failed transfer: (sample or None, attempts, failures)."""
        failures = 0
        for attempt in range(1, IMU_READ_ATTEMPTS + 1):
            try:
                return self.imu.read(), attempt, failures
            except ImuError as exc:
                failures += 1
                log.debug("IMU read failed: %s", exc)
        return None, IMU_READ_ATTEMPTS, failures

    def _carry_out(self, new_state: TableState, actions: list) -> None:
        """Carry out a period's actions: the motor's first, in order (a trip's halt comes first of
        all), then publish the new state, then its reports and log lines, in order."""
        motor = self.motor
        for action in actions:
            kind = type(action)
            if kind is Move:
                steps = motor.move_to(action.degrees, action.duration)
                self._stepped_rate = steps / motor.steps_per_degree / action.duration
            elif kind is Halt:
                motor.halt()
            elif kind is SetPosition:
                motor.set_position(action.degrees)
            elif kind is ClearHalt:
                motor.clear_halt(action.token)  # refused if a stop came since: the move below is then refused too
        if motor.halted:
            new_state = period.halted_at(new_state, motor.position)
        self.state = new_state
        for action in actions:
            kind = type(action)
            if kind is Report:
                self._report(action.record)
            elif kind is Log:
                log.log(_LEVELS[action.level], "%s", action.message)

    def patterns(self, now: float):
        """(LED, buzzer) patterns for the table's state right now."""
        return period.patterns_for(self.state, now)
