"""The control loop: one period of sense, estimate, supervise, decide, plan, actuate (the shell)."""

from __future__ import annotations

import logging
import queue
import math
import traceback
from dataclasses import dataclass, replace
from typing import Callable, Protocol, Sequence

from controller import command, estimator, indicate, session, state, supervisor
from controller.errors import ImuError
from controller.planner import Setpoint, halted, step_toward
from controller.reasons import REASONS, Trip, describe
from controller.state import Activity, ButtonEvent, Context, Machine
from controller.users import GUEST

# Sensor trust: an I2C read is retried within the period to ride through a noise blip; the
# supervisor decides when too few reads get through (supervisor.IMU_LOST_AFTER).
IMU_READ_ATTEMPTS = 3
STANDARD_GRAVITY = 9.80665  # m/s²
# At power-on the step count is anchored to the mean tilt, and the gyro's bias to its mean rate,
# over supervisor.ANCHOR_TIME of good samples, at least this many: one sample's noise could put
# home a fraction of a degree off.
ANCHOR_MIN_SAMPLES = 5
# Recovery stops when the sensor reads this close to home (the step count's home may lie beyond).
RECOVERY_HOME_MARGIN = 0.25  # deg

log = logging.getLogger("inversion_table")


class Imu(Protocol):
    def read(self): ...


class Motor(Protocol):
    position: float
    halt_count: int
    steps_per_degree: float

    def move_to(self, degrees: float, duration: float) -> int: ...
    def halt(self) -> None: ...
    def clear_halt(self, token: int) -> bool: ...
    def set_position(self, degrees: float) -> None: ...


@dataclass(frozen=True, slots=True)
class Settings:
    """What the loop needs from the config, as plain numbers."""

    limits: supervisor.Limits
    period: float
    jog_speed: float
    return_speed: float
    rest_angle: float
    rest_time: float
    idle_timeout: float = 120.0
    tracking: supervisor.Tracking = supervisor.Tracking()


@dataclass(frozen=True)
class UserChoice:
    """A user the table can be switched to (a long press of `select`): their presets and limits."""

    name: str | None  # None: nobody in particular (the config's own limits)
    presets: tuple[session.Preset, ...]
    settings: Settings
    acknowledged: bool = True  # the contraindications (only an acknowledged user may start)


class Controller:
    """Runs one control period per ``tick()``; other threads only ``post`` events to it."""

    def __init__(
        self,
        *,
        imu: Imu,
        motor: Motor,
        mount,
        clock,
        settings: Settings,
        presets: Sequence[session.Preset] = (),
        report: Callable[[dict], None] = lambda record: None,
        buttons_pressed: Callable[[], frozenset[str]] | None = None,
        restored=None,
        users: Sequence[UserChoice] = (),
    ) -> None:
        self.imu, self.motor, self.mount, self.clock = imu, motor, mount, clock
        self.settings = settings
        self.limits = settings.limits
        self.presets = tuple(presets)
        self.selected = 0  # index into presets: what `start` runs
        self.selected_at: float | None = None  # when `select` last changed it
        self.users = tuple(users)
        self.user_index = 0
        self.user_selected_at: float | None = None
        if self.users:
            self._take_user(self.users[0])
        self._report = report
        self._buttons_pressed = buttons_pressed
        self._events: queue.SimpleQueue = queue.SimpleQueue()
        self.machine = Machine()
        self.estimate: estimator.Estimate | None = None
        self.setpoint = Setpoint(motor.position)
        self.program: session.Program | None = None
        self.progress = session.Progress()
        self.goal: float | None = None
        self.head_down = 0.0
        self.watch = supervisor.watch_start(clock.now())
        self.reading: supervisor.Reading | None = None
        self.heartbeat = clock.now()  # the dead-man reads this: the time of the last full period
        self._anchor_tilts: list[float] = []
        self._anchor_rates: list[float] = []
        self.step_rate = 0.0  # deg/s the motor stepped at over the last period (the tracking checks)
        self.last_activity = clock.now()  # the last button press or release (idle timeout)
        # After a restart (controller/restart.py): the latches and the session clock carry over, and
        # the last trusted angle lets hold-to-run return count steps home if the IMU never answers.
        self.blind_anchor = False
        if restored is not None:
            self.machine = replace(self.machine, stop_latched=restored.stop_latched, trip=restored.trip)
            self.head_down = restored.head_down
            motor.set_position(restored.angle)
            self.setpoint = Setpoint(restored.angle)
            self.blind_anchor = True
        self.auto_return_in: float | None = None  # s until a timeout return, while one is counting down
        # A session's speed cap (a slow profile's max_speed) holds until the table is home again,
        # so its way home is as gentle as its way down.
        self.session_speed: float | None = None
        self._warned = False
        self._return_budget: float | None = None  # I5's bound for the return under way
        self._reanchor: list[float] | None = None  # still tilts gathered to re-anchor after a tracking trip

    # -- other threads -------------------------------------------------------------------------
    def post(self, event: ButtonEvent) -> None:
        """Thread-safe: queue a button event for the next period."""
        self._events.put(event)

    def post_trip(self, reason: Trip) -> None:
        """Thread-safe: ask the loop to trip (threads other than the loop never act themselves)."""
        self._events.put(reason)

    # -- the one trip path ---------------------------------------------------------------------
    def trip(self, reason: Trip) -> None:
        """Halt the motor first, then latch, log and announce. Runs once per latched trip."""
        reason = Trip(reason)
        if self.machine.trip is not None:
            return
        self.motor.halt()
        self.machine = state.on_trip(self.machine, reason)
        if REASONS[reason].reanchor and self._sensor_trusted_now():
            # The trip just proved the step count wrong (stall, slip, lost steps): from here on the
            # last trusted angle is the sensor's, so a recovery that later loses the sensor counts
            # steps from where the table really was. It is taken from the accelerometer alone once
            # the table stands still (_reanchor_from): a gyro that lies ("or the gyro misreads")
            # has already bent the fused estimate, and must not move the anchor.
            self._reanchor = []
        self.setpoint = halted(self.motor.position)
        self.program = None
        log.warning("TRIP %s", describe(reason))
        self._report({"t": self.clock.now(), "event": "trip", "reason": reason})

    # -- one period ----------------------------------------------------------------------------
    def tick(self) -> dict:
        now = self.clock.now()
        try:
            self._tick(now)
        except Exception as exc:  # any bug in a period ends in the one trip path
            log.error("internal error in the control loop: %s\n%s", exc, traceback.format_exc())
            self.trip(Trip.INTERNAL_ERROR)
        else:
            self.heartbeat = now
        if self.estimate is not None:
            angle = self.estimate.angle
        elif self._anchor_tilts:  # still anchoring: the mean so far
            angle = sum(self._anchor_tilts) / len(self._anchor_tilts)
        else:
            angle = None  # no good sample yet: nothing is known
        return {
            "t": now,
            "angle": angle,
            "target": self.setpoint.position if self.anchored else angle,  # before the anchor: stay where it is
            "goal": self.goal,
            "state": self.machine.state,
        }

    def _tick(self, now: float) -> None:
        dt = self.settings.period
        token = self.motor.halt_count  # read before the events, see Stepper.clear_halt
        self._sense(now)
        self.step_rate = 0.0  # until this period moves the motor
        self.watch, reason = supervisor.supervise(self.watch, self.reading, self.limits, self.settings.tracking)
        if reason is not None:
            self.trip(reason)
        self._handle_events(now, token)
        if self.estimate is None:  # not anchored yet (power-on, or a sensor dead since)
            if self.blind_anchor and self.machine.recovering:
                self._blind_recovery(dt)  # the one motion allowed: hold-to-run home, counting steps
            return
        if self.motor.halted:
            # Nothing can move this period: plan nothing, so the setpoint never runs ahead of a
            # motor that refused the move (the next period would send both periods' steps at once).
            self._hold_still()
            self._session_clock(now, dt)
            return
        self._session_clock(now, dt)
        program_goal = self._program_goal(now)
        cmd = command.choose(
            self.machine,
            limits=self.limits,
            program_goal=program_goal,
            program_speed=session.speed_now(self.program, self.progress) if self.program is not None else 0.0,
            jog_speed=self.settings.jog_speed,
            return_speed=self.return_speed,
            position=self.motor.position,
        )
        if self._reanchor is not None and not self._sensor_trusted_now():
            self._reanchor = None  # the sensor is not to be trusted after all: keep counting steps
        if self.machine.recovering and (self._sensor_says_home(reason) or self._moving_away(reason)
                                        or self._reanchor is not None):  # a recovery waits for its anchor
            cmd = command.HOLD
        if cmd.goal is None:
            self._hold_still()
            return
        self.goal = supervisor.admit_goal(cmd.goal, self.limits)
        self.setpoint = step_toward(self.setpoint, self.goal, max_speed=cmd.speed, max_accel=self.limits.max_accel, dt=dt)
        self._move(dt)
        if self.motor.halted:  # a stop pressed during this period: the move was refused
            self.setpoint = halted(self.motor.position)

    def _move(self, dt: float) -> None:
        steps = self.motor.move_to(self.setpoint.position, dt)
        self.step_rate = steps / self.motor.steps_per_degree / dt

    def _hold_still(self) -> None:
        self.goal = None
        self.setpoint = halted(self.motor.position)

    def _take_user(self, choice: UserChoice) -> None:
        self.presets = choice.presets
        self.settings = choice.settings
        self.limits = choice.settings.limits

    @property
    def user(self) -> str | None:
        return self.users[self.user_index].name if self.users else None

    @property
    def anchored(self) -> bool:
        """Whether the step count knows where the table is: from the sensor, or from a restart."""
        return self.estimate is not None or self.blind_anchor

    def _blind_recovery(self, dt: float) -> None:
        """A restart found the IMU dead: `return` held moves toward home by the step count alone,
        from the last trusted angle, at the recovery speed, and stops at home."""
        cmd = command.choose(self.machine, limits=self.limits, program_goal=None, program_speed=0.0,
                             jog_speed=self.settings.jog_speed, return_speed=self.return_speed,
                             position=self.motor.position)
        if cmd.goal is None or supervisor.at_home(self.motor.position, self.limits):
            self.setpoint = halted(self.motor.position)
            return
        self.goal = supervisor.admit_goal(cmd.goal, self.limits)
        self.setpoint = step_toward(self.setpoint, self.goal, max_speed=cmd.speed, max_accel=self.limits.max_accel, dt=dt)
        self._move(dt)

    def _sense(self, now: float) -> None:
        """Read the IMU (retrying a failed transfer), update the estimate, and build the reading."""
        sample, attempts, failures = None, 0, 0
        for _ in range(IMU_READ_ATTEMPTS):
            attempts += 1
            try:
                sample = self.imu.read()
                break
            except ImuError as exc:
                failures += 1
                log.debug("IMU read failed: %s", exc)
        commanded_rate = self.step_rate  # what the motor really stepped at over the last period
        planned_rate = self.setpoint.velocity
        if sample is None:
            self.reading = supervisor.Reading(t=now, sample_ok=False, attempts=attempts, failures=failures)
            return
        gravity = math.sqrt(sum(a * a for a in sample.accel)) / STANDARD_GRAVITY
        previous_raw = self.watch.last_raw
        trustworthy = supervisor.GRAVITY_MIN <= gravity <= supervisor.GRAVITY_MAX and sample.raw != previous_raw
        tilt, gyro_rate = self.mount.tilt_deg(sample.accel), self.mount.rate_dps(sample.gyro)
        if trustworthy and self.estimate is None:
            self._anchor_tilts.append(tilt)
            self._anchor_rates.append(gyro_rate)
            if len(self._anchor_tilts) >= self._anchor_samples:
                # power-on: anchor the step count to the mean tilt, and the gyro's bias to its mean
                # rate (nothing moves yet), so the tracking checks are exact from the first move
                tilt = sum(self._anchor_tilts) / len(self._anchor_tilts)
                bias = sum(self._anchor_rates) / len(self._anchor_rates)
                self.estimate = estimator.start(tilt=tilt, gyro_rate=gyro_rate, gyro_bias=bias, t=sample.t)
                self.motor.set_position(self.estimate.angle)
                self.setpoint = Setpoint(self.estimate.angle)
        elif trustworthy:  # a doubtful sample is not folded in
            self.estimate = estimator.update(
                self.estimate, tilt=tilt, gyro_rate=gyro_rate, t=sample.t, still=self.setpoint.still
            )
            if self._reanchor is not None and self.setpoint.still:
                self._reanchor_from(tilt)
        e = self.estimate
        self.reading = supervisor.Reading(
            t=now, sample_ok=True, attempts=attempts, failures=failures, raw=sample.raw, gravity=gravity,
            angle=e.angle if e else 0.0, rate=e.rate if e else 0.0, residual=e.residual if e else 0.0,
            position=self.motor.position if e else 0.0, commanded_rate=commanded_rate, planned_rate=planned_rate,  # no angle yet: nothing to track
        )

    def _handle_events(self, now: float, token: int) -> None:
        was_tripped, was_recovering = self.machine.trip, self.machine.recovering
        events = []
        while True:
            try:
                events.append(self._events.get_nowait())
            except queue.Empty:
                break
        for ev in events:
            if isinstance(ev, Trip):
                self.trip(ev)
            else:
                self._button(ev, now)
        if self._buttons_pressed is not None:  # a lost release edge must not keep a hold-to-run going
            levels = self._buttons_pressed()
            for name in sorted(state.HOLD_TO_RUN):  # their release must stop motion even if its edge was lost
                if name in self.machine.held and name not in levels:
                    self._button(ButtonEvent(name, False, now), now)
        if was_tripped is not None and self.machine.trip is None and REASONS[was_tripped].reanchor and self.estimate:
            # The step count was wrong (stall, slip, lost steps): the sensor's angle is the truth.
            self.motor.set_position(self.estimate.angle)
            self.setpoint = Setpoint(self.estimate.angle)
        if (self.machine.recovering and not was_recovering and REASONS[self.machine.trip].reanchor
                and self._sensor_trusted_now() and self.setpoint.still):
            # A held return begins after a trip that proved the step count wrong: the sensor is the
            # truth (a slip may have gone on moving the table since the trip), so steer from it.
            self._reanchor = []
        if self.motor.halted and command.motion_permitted(self.machine) and self.anchored:
            # Every event up to the token has been seen, and none forbids motion. A halt that came
            # later (a stop pressed just now) keeps the latch: its token no longer matches.
            if self.motor.clear_halt(token):
                self.watch = supervisor.watch_start(now)  # judge the motion afresh

    def _button(self, ev: ButtonEvent, now: float) -> None:
        self.last_activity = now
        self._report({"t": ev.t, "event": "button", "name": ev.name, "action": "press" if ev.pressed else "release"})
        ctx = Context(
            profile_selected=bool(self.presets),
            presets=len(self.presets),
            users=max(1, len(self.users)),
            user_acknowledged=self.users[self.user_index].acknowledged if self.users else True,
            at_home=supervisor.at_home(self.setpoint.position, self.limits),
            trip_cause_active=self._trip_cause_active(),
            session_time_up=self._session_time_up(),
        )
        self._apply(state.on_button(self.machine, ev, ctx), now)

    def _apply(self, outcome: state.Outcome, now: float) -> None:
        for notice in outcome.notices:
            log.info("%s", notice)
            self._report({"t": now, "event": "notice", "message": notice})
        previous = self.machine
        self.machine = outcome.machine
        if self.machine.activity is Activity.IDLE and previous.activity is not Activity.IDLE:
            self.program = None
        if outcome.user_next and self.users:
            # Only at home and idle (state.py): every user's limits hold there, so nothing trips.
            self.user_index = (self.user_index + 1) % len(self.users)
            choice = self.users[self.user_index]
            self._take_user(choice)
            self.selected, self.user_selected_at, self.selected_at = 0, now, None
            name = choice.name or GUEST
            log.info("user %d of %d: %s", self.user_index + 1, len(self.users), name)
            self._report({"t": now, "event": "user", "name": name, "number": self.user_index + 1})
        if outcome.select_next:
            self.selected = (self.selected + 1) % len(self.presets)
            self.selected_at = now
            preset = self.presets[self.selected]
            log.info("preset %d of %d selected: %s", self.selected + 1, len(self.presets), preset.name)
            self._report({"t": now, "event": "select", "preset": preset.name, "number": self.selected + 1})
        if outcome.session_started and self.presets:
            preset = self.presets[self.selected]
            self.program = preset.program
            self.session_speed = preset.program.speed
            self.progress = session.start(now)
            self._report({"t": now, "event": "session", "action": "start", "preset": preset.name})
        if outcome.returning_started:
            self._return_budget = self._head_down_budget() if self.estimate is not None else None
            self.program = self._return_program()
            self.progress = session.start(now)
            self._report({"t": now, "event": "return", "reason": self.machine.return_reason})

    def _return_program(self, speed: float | None = None) -> session.Program:
        s = self.settings
        home = self.limits.home_angle
        legs = (session.Leg(home, 0.0),)
        if self.setpoint.position > s.rest_angle + supervisor.HOME_TOLERANCE:
            # Rest near horizontal before going upright: coming up too fast makes people dizzy.
            legs = (session.Leg(s.rest_angle, s.rest_time),) + legs
        speed = min(speed or self.return_speed, self.limits.max_speed)
        return session.Program((session.Block(legs),), speed=speed, accel=self.limits.max_accel)

    def _program_goal(self, now: float) -> float | None:
        m = self.machine
        if m.latched or m.activity not in (Activity.RUNNING, Activity.RETURNING) or self.program is None:
            return None
        self.progress, goal = session.advance(self.program, self.progress, self.setpoint, now)
        if goal is not None:
            return goal
        if m.activity is Activity.RUNNING:
            self._report({"t": now, "event": "session", "action": "complete"})
            self._apply(state.begin_return(m, "profile-done"), now)
        else:
            self.machine = state.arrived_home(m)
            self.program = None
            self.session_speed = None
            self._report({"t": now, "event": "home"})
            return None
        return self._program_goal(now)

    def _session_clock(self, now: float, dt: float) -> None:
        """Session and idle timeouts: bring a head-down table home by itself."""
        home = supervisor.at_home(self.setpoint.position, self.limits)
        idle_home = home and self.machine.activity is Activity.IDLE
        self.head_down = command.head_down_time(
            self.head_down, angle=self.estimate.angle, setpoint=self.setpoint.position, dt=dt, home=idle_home
        )
        m = self.machine
        self.auto_return_in = None
        if m.latched or not m.motion_requested or home:
            self._warned = False
            return  # nothing moves by itself while latched, or after a reset until a person asks
        if m.activity is Activity.RETURNING:
            self._warned = False
            self._hurry_if_late(now)
            return
        left = self._time_left()
        self._count_down(now, left)
        if left <= 0:
            log.warning("session timeout: head-down for %.0f s, bringing the table home", self.head_down)
            self._apply(state.begin_return(m, "session-timeout"), now)
        elif (
            m.activity is Activity.IDLE
            and command.head_down(angle=self.estimate.angle, setpoint=self.setpoint.position)
            and now - self.last_activity >= self.settings.idle_timeout
        ):
            log.warning("idle timeout: head-down with no button pressed for %.0f s, bringing the table home",
                        now - self.last_activity)
            self._apply(state.begin_return(m, "idle-timeout"), now)

    def _time_left(self) -> float:
        """Seconds of head-down time left before the session-timeout return must begin."""
        angle = max(self.estimate.angle, self.setpoint.position)
        return command.seconds_to_timeout(self.head_down, angle=angle, limits=self.limits, return_speed=self.return_speed,
                                          velocity=self.setpoint.velocity, period=self.settings.period)

    def _head_down_budget(self) -> float:
        """I5's bound for this session from here: the timeout plus a return at max_speed."""
        angle = max(self.estimate.angle, self.setpoint.position)
        lim = self.limits
        return lim.session_timeout + command.time_to_come_up(angle, self.setpoint.velocity, speed=lim.max_speed,
                                                             accel=lim.max_accel)

    def _hurry_if_late(self, now: float) -> None:
        """The clock is read during a return too: one whose plan would end past I5's bound (fixed
        when it began) goes on at max_speed instead of the comfort speed."""
        if self.program is None or self.program.speed >= self.limits.max_speed or self._return_budget is None:
            return
        sp, lim = self.setpoint, self.limits
        needed = command.time_to_come_up(sp.position, sp.velocity, speed=self.program.speed, accel=lim.max_accel)
        if self.head_down + needed > self._return_budget + 2 * self.settings.period:  # a period's rounding aside
            log.warning("the return would keep the user head-down past the session timeout: returning at max_speed")
            self._report({"t": now, "event": "notice", "message": "returning faster: the session time is up"})
            self.program = self._return_program(speed=lim.max_speed)
            self.progress = session.start(now)

    @property
    def return_speed(self) -> float:
        """The comfort speed home, lowered by the session's speed cap if one is running."""
        if self.session_speed is None:
            return self.settings.return_speed
        return min(self.settings.return_speed, self.session_speed)

    def patterns(self, now: float):
        """(LED, buzzer) patterns for the table's state right now."""
        since = None if self.selected_at is None else now - self.selected_at
        m = self.machine
        waiting = (not m.motion_requested and m.activity is Activity.IDLE and self.anchored
                   and command.head_down(angle=self.estimate.angle if self.estimate else self.setpoint.position,
                                         setpoint=self.setpoint.position))
        return indicate.patterns(m.state, auto_return_in=self.auto_return_in, selected=self.selected + 1,
                                 since_selected=since, waiting_head_down=waiting, user=self.user_index + 1,
                                 since_user=None if self.user_selected_at is None else now - self.user_selected_at)

    def _count_down(self, now: float, left: float) -> None:
        """How long until a timeout return, while head-down or heading there; warn once when near."""
        heading_down = self.setpoint.velocity > 0 and self.machine.activity is not Activity.IDLE
        if not heading_down and not command.head_down(angle=self.estimate.angle, setpoint=self.setpoint.position):
            self._warned = False
            return
        if heading_down:  # the countdown may run faster than the clock: look ahead
            ahead = command.seconds_until_due(
                self.head_down, angle=max(self.estimate.angle, self.setpoint.position), velocity=self.setpoint.velocity,
                limits=self.limits, return_speed=self.return_speed, period=self.settings.period,
                horizon=command.AUTO_MOVE_WARNING + 2.0) if left <= 100 * command.AUTO_MOVE_WARNING else None
            left = max(left, command.AUTO_MOVE_WARNING + 2.0) if ahead is None else min(left, ahead)
        why = "session timeout"
        if self.machine.activity is Activity.IDLE:
            idle_left = self.settings.idle_timeout - (now - self.last_activity)
            if idle_left < left:
                left, why = max(0.0, idle_left), "idle timeout"
        self.auto_return_in = left
        if left > command.AUTO_MOVE_WARNING:
            self._warned = False
        elif not self._warned and left > 0:
            self._warned = True
            message = f"the table returns home by itself in {left:.0f} s ({why})"
            log.warning("%s", message)
            self._report({"t": now, "event": "notice", "message": message})

    def _sensor_says_home(self, reason: Trip | None) -> bool:
        """Hold-to-run recovery steers by the step count, and stops early if the sensor says home.

        After a stall the step count may be ahead of the table; after a lying gyro the sensor may
        be off. Stopping at whichever says home first keeps the table within its travel in both
        cases. A sensor that is the trip's cause is not asked.
        """
        if reason is Trip.UNDER_ANGLE:
            return True
        trusted = REASONS[self.machine.trip].sensor_trusted and self.reading is not None and self.reading.sample_ok
        return trusted and self.estimate.angle <= self.limits.home_angle + RECOVERY_HOME_MARGIN

    @property
    def _anchor_samples(self) -> int:
        """How many still samples an anchor is the mean of: ANCHOR_TIME's worth, at least a few."""
        return max(ANCHOR_MIN_SAMPLES, math.ceil(supervisor.ANCHOR_TIME / self.settings.period - 1e-9))

    def _reanchor_from(self, tilt: float) -> None:
        """Fold one still sample's accelerometer tilt into a re-anchoring after a tracking trip; once
        there are enough, the step count becomes their mean (the gyro plays no part)."""
        self._reanchor.append(tilt)
        if len(self._reanchor) >= self._anchor_samples:
            angle = sum(self._reanchor) / len(self._reanchor)
            self._reanchor = None
            self.motor.set_position(angle)
            self.setpoint = halted(angle)

    def _moving_away(self, reason: Trip | None) -> bool:
        """Recovery stops while a trusted sensor sees the table go head-down against the motor's
        way home (a drive turning the wrong way, or slipping): holding is safer than pushing on."""
        return (reason in supervisor.TRACKING_TRIPS and self._sensor_trusted_now()
                and self.reading.rate > 0)

    def _sensor_trusted_now(self) -> bool:
        """Whether this period's sample was good and the supervisor doubts nothing about it."""
        r, w = self.reading, self.watch
        return (self.estimate is not None and r is not None and r.sample_ok and w.frozen_since is None
                and w.implausible_since is None and w.disagree_since is None
                and abs(r.residual) <= supervisor.DISAGREE_LIMIT / 4)  # a gyro starting to lie: not yet

    def _session_time_up(self) -> bool:
        if self.estimate is None or supervisor.at_home(self.setpoint.position, self.limits):
            return False
        return self._time_left() <= 0

    def _trip_cause_active(self) -> bool:
        if self.machine.trip is None or self.reading is None:
            return False
        return supervisor.cause_active(self.machine.trip, self.watch, self.reading, self.limits)
