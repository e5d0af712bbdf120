"""One control period as a pure function: (table state, inputs) → (new table state, actions)."""

from __future__ import annotations

from dataclasses import fields, replace
from operator import attrgetter

from controller.core import command, indicate, session, state, supervisor
from controller.core import clocks, sensing
from controller.core.table_state import (
    GUEST, ClearHalt, Derived, Halt, Inputs, Log, Move, PresetsChanged, Report, SetPosition, Settings, TableState,
    UserChoice,
)
from controller.core.planner import Setpoint, halted, step_toward
from controller.core.reasons import REASONS, Trip, describe
from controller.core.state import Activity, ButtonEvent

# Recovery stops when the sensor reads this close to home (the step count's home may lie beyond).
RECOVERY_HOME_MARGIN = 0.25  # deg

_FIELDS = tuple(f.name for f in fields(TableState))
# Every field of a state at once, in _FIELDS' order: the working copy is made and turned back into
# a state every period, so one C-level call rather than a getattr and a setattr per field.
_ALL_FIELDS = attrgetter(*_FIELDS)


def initial(settings: Settings, *, mount, position: float, now: float, presets=(), users=(),
            restored=None) -> tuple[TableState, list]:
    """The state at power-on (or after a restart: ``restored`` carries the latches, the session
    clock and the last trusted angle, and a restored trip goes through the one trip path)."""
    users = tuple(users)
    s = TableState(settings=settings, mount=mount, position=position, presets=tuple(presets), users=users,
                   setpoint=Setpoint(position), watch=supervisor.watch_start(now), last_activity=now)
    if users:
        s = replace(s, presets=users[0].presets, settings=users[0].settings)
    actions: list = []
    if restored is None:
        return s, actions
    s = replace(s, machine=replace(s.machine, stop_latched=restored.stop_latched), head_down=restored.head_down,
                position=restored.angle, setpoint=Setpoint(restored.angle), blind_anchor=True)
    actions.append(SetPosition(restored.angle))
    if restored.stop_latched:
        actions.append(Halt())  # the motor of a new process is not halted: the latch says it must be
    if restored.trip is not None:
        s, more = trip(s, Trip(restored.trip), now=now)
        actions += more
    return s, actions


def trip(s: TableState, reason: Trip, *, now: float, position: float | None = None) -> tuple[TableState, list]:
    """The one trip path as a decision: halt first, then latch, log and announce (once per latch).
    ``position`` is the step count now (default: as the last period knew it)."""
    p = _Period(s, Inputs(t=now, position=s.position if position is None else position))
    p.trip(Trip(reason))
    return p.result()


def halted_at(s: TableState, position: float) -> TableState:
    """The motor is halted (a trip, or a stop pressed meanwhile that refused this period's move):
    the plan starts from where it stands, never ahead of it."""
    if s.setpoint.position == position and s.setpoint.velocity == 0.0 and s.position == position:
        return s
    return replace(s, setpoint=halted(position), position=position)


def step(s: TableState, inputs: Inputs) -> tuple[TableState, list]:
    """One period: sense, supervise, handle the events, run the clocks, plan and move."""
    p = _Period(s, inputs)
    p.run()
    return p.result()


def patterns_for(s: TableState, now: float):
    """(LED, buzzer) patterns for the table's state right now."""
    since = None if s.selected_at is None else now - s.selected_at
    m = s.machine
    waiting = (not m.motion_requested and m.activity is Activity.IDLE and s.anchored
               and command.head_down(angle=s.estimate.angle if s.estimate else s.setpoint.position,
                                     setpoint=s.setpoint.position))
    return indicate.patterns(m.state, auto_return_in=s.auto_return_in, selected=s.selected + 1,
                             since_selected=since, waiting_head_down=waiting, user=s.user_index + 1,
                             since_user=None if s.user_selected_at is None else now - s.user_selected_at)


def sample_record(s: TableState, t: float) -> dict:
    """The trace's sample for the period that just ran."""
    if s.estimate is not None:
        angle = s.estimate.angle
    elif s.anchor_tilts:  # still anchoring: the mean so far
        angle = sum(s.anchor_tilts) / len(s.anchor_tilts)
    else:
        angle = None  # no good sample yet: nothing is known
    return {
        "t": t,
        "angle": angle,
        "target": s.setpoint.position if s.anchored else angle,  # before the anchor: stay where it is
        "goal": s.goal,
        "state": s.machine.state,
    }


class _Period(Derived):
    """The working copy of one period's decisions: it starts as the state, gathers actions, and
    ends as a new state. Nothing outside the step ever sees it."""

    def __init__(self, s: TableState, inputs: Inputs) -> None:
        self.__dict__.update(zip(_FIELDS, _ALL_FIELDS(s)))
        self.inputs = inputs
        self.now = inputs.t
        self.position = inputs.position
        self.halted = inputs.halted
        self.tripped_here = False  # a halt of this period makes the token stale
        self.actions: list = []

    def result(self) -> tuple[TableState, list]:
        self.reanchor = tuple(self.reanchor) if self.reanchor is not None else None
        return TableState(*_ALL_FIELDS(self)), self.actions  # positional: _FIELDS is TableState's field order

    # -- actions -------------------------------------------------------------------------------
    def report(self, record: dict) -> None:
        self.actions.append(Report(record))

    def log(self, level: str, message: str) -> None:
        self.actions.append(Log(level, message))

    def set_position(self, degrees: float) -> None:
        self.position = degrees
        self.actions.append(SetPosition(degrees))

    def move(self) -> None:
        self.actions.append(Move(self.setpoint.position, self.settings.period))

    # -- the one trip path ---------------------------------------------------------------------
    def trip(self, reason: Trip) -> None:
        """Halt the motor first, then latch, log and announce. Runs once per latched trip."""
        if self.machine.trip is not None:
            return
        self.actions.append(Halt())
        self.halted, self.tripped_here = True, True
        self.machine = state.on_trip(self.machine, reason)
        if REASONS[reason].reanchor and self._sensor_trusted_now():
            # The trip just proved the step count wrong (stall, slip, lost steps): from here on the
            # last trusted angle is the sensor's, so a recovery that later loses the sensor counts
            # steps from where the table really was. It is taken from the accelerometer alone once
            # the table stands still (_reanchor_from): a gyro that lies ("or the gyro misreads")
            # has already bent the fused estimate, and must not move the anchor.
            self.reanchor = []
        self.setpoint = halted(self.position)
        self.program = None
        self.log("warning", f"TRIP {describe(reason)}")
        self.report({"t": self.now, "event": "trip", "reason": reason})

    # -- one period ----------------------------------------------------------------------------
    def run(self) -> None:
        dt = self.settings.period
        sensing.sense(self)
        # A trip another thread posted (the dead-man's loop-stall, after it halted the motor) came
        # before this period's reading, and may explain it (a halted motor does not follow its last
        # command): it latches first, so the first cause is the reason given.
        for ev in self.inputs.events:
            if isinstance(ev, Trip):
                self.trip(ev)
        self.watch, reason = supervisor.supervise(self.watch, self.reading, self.limits, self.settings.tracking)
        if reason is not None:
            self.trip(reason)
        self._handle_events()
        if self.estimate is None:  # not anchored yet (power-on, or a sensor dead since)
            clocks.head_down_before_the_anchor(self, dt)
            if self.blind_anchor and self.machine.recovering:
                self._blind_recovery(dt)  # the one motion allowed: hold-to-run home, counting steps
            return
        if self.halted:
            # Nothing can move this period: plan nothing, so the setpoint never runs ahead of a
            # motor that refused the move (the next period would send both periods' steps at once).
            self._hold_still()
            clocks.session_clock(self, dt)
            return
        clocks.session_clock(self, dt)
        program_goal = self._program_goal()
        cmd = command.choose(
            self.machine,
            limits=self.limits,
            program_goal=program_goal,
            program_speed=session.speed_now(self.program, self.progress) if self.program is not None else 0.0,
            jog_speed=self.settings.jog_speed,
            return_speed=self.return_speed,
            position=self.position,
        )
        if self.reanchor is not None and self.machine.trip is not None and not self._sensor_trusted_now():
            # A recovery's sensor is not to be trusted after all: keep counting steps. (After a
            # reset the anchor is waited for: nothing moves on a step count a lying gyro bent.)
            self.reanchor = None
        if self.reanchor is not None or (self.machine.recovering and (
                self._sensor_says_home(reason) or self._moving_away(reason))):  # motion waits for the anchor
            cmd = command.HOLD
        if cmd.goal is None:
            self._hold_still()
            return
        self._pursue(cmd, dt)

    def _pursue(self, cmd: command.Command, dt: float) -> None:
        """Plan this period's setpoint toward the command's goal, within the travel, and move there."""
        lim = self.limits
        self.goal = supervisor.admit_goal(cmd.goal, lim)
        sp = step_toward(self.setpoint, self.goal, max_speed=cmd.speed, max_accel=lim.max_accel, dt=dt)
        position = supervisor.within_travel(self.setpoint.position, sp.position, lim)
        self.setpoint = sp if position == sp.position else Setpoint(position, 0.0)
        self.move()

    def _hold_still(self) -> None:
        self.goal = None
        self.setpoint = halted(self.position)

    def _blind_recovery(self, dt: float) -> None:
        """A restart found the IMU dead: `return` held moves toward home by the step count alone,
        from the last trusted angle, at the recovery speed, and stops at home."""
        cmd = command.choose(self.machine, limits=self.limits, program_goal=None, program_speed=0.0,
                             jog_speed=self.settings.jog_speed, return_speed=self.return_speed,
                             position=self.position)
        if self.halted or cmd.goal is None or supervisor.at_home(self.position, self.limits):
            self.setpoint = halted(self.position)
            return
        self._pursue(cmd, dt)

    def _handle_events(self) -> None:
        now = self.now
        was_tripped, was_recovering = self.machine.trip, self.machine.recovering
        for ev in self.inputs.events:
            if isinstance(ev, Trip):
                continue  # latched before the reading was judged (run)
            if isinstance(ev, PresetsChanged):
                self._presets_changed(ev)
            else:
                self._button(ev)
        levels = self.inputs.levels
        if levels is not None:  # a lost release edge must not keep a hold-to-run going
            for name in sorted(state.HOLD_TO_RUN):  # their release must stop motion even if its edge was lost
                if name in self.machine.held and name not in levels:
                    self._button(ButtonEvent(name, False, now))
        if was_tripped is not None and self.machine.trip is None and REASONS[was_tripped].reanchor and self.estimate:
            # The step count was wrong (stall, slip, lost steps): the sensor's angle is the truth,
            # and the accelerometer's still tilt has the last word before anything moves (a gyro
            # that lied has bent the fused estimate: a property-test find, I1 past home).
            self.set_position(self.estimate.angle)
            self.setpoint = Setpoint(self.estimate.angle)
            if self.reanchor is None:
                self.reanchor = []
        if (self.machine.recovering and not was_recovering and REASONS[self.machine.trip].reanchor
                and self._sensor_trusted_now() and self.setpoint.still):
            # A held return begins after a trip that proved the step count wrong: the sensor is the
            # truth (a slip may have gone on moving the table since the trip), so steer from it.
            self.reanchor = []
        if self.halted and command.motion_permitted(self.machine) and self.anchored and not self.tripped_here:
            # Every event up to the token has been seen, and none forbids motion. A halt that came
            # later (a stop pressed just now) keeps the latch: its token no longer matches, and the
            # motor refuses the move (the shell then calls halted_at).
            self.actions.append(ClearHalt(self.inputs.halt_token))
            self.halted = False
            self.watch = supervisor.watch_start(now)  # judge the motion afresh

    def _presets_changed(self, ev: PresetsChanged) -> None:
        """A user's presets prepared again: the choice keeps its place, the table offers the new ones."""
        users = tuple(replace(u, presets=ev.presets) if u.name == ev.user else u for u in self.users)
        self.users = users
        if not users or users[self.user_index].name == ev.user:
            self.presets = ev.presets

    def _button(self, ev: ButtonEvent) -> None:
        self.last_activity = self.now
        self.report({"t": ev.t, "event": "button", "name": ev.name, "action": "press" if ev.pressed else "release"})
        self.apply(state.on_button(self.machine, ev, self.button_context()))

    def apply(self, outcome: state.Outcome) -> None:
        now = self.now
        for notice in outcome.notices:
            self.log("info", notice)
            self.report({"t": now, "event": "notice", "message": notice})
        previous = self.machine
        self.machine = outcome.machine
        if self.machine.activity is Activity.IDLE and previous.activity is not Activity.IDLE:
            self.program = None
        if outcome.user_next and self.users:
            # Only at home and idle (state.py): every user's limits hold there, so nothing trips.
            self.user_index = (self.user_index + 1) % len(self.users)
            choice: UserChoice = self.users[self.user_index]
            self.presets, self.settings = choice.presets, choice.settings
            self.selected, self.user_selected_at, self.selected_at = 0, now, None
            name = choice.name or GUEST
            self.log("info", f"user {self.user_index + 1} of {len(self.users)}: {name}")
            self.report({"t": now, "event": "user", "name": name, "number": self.user_index + 1})
        if outcome.select_next:
            self.selected = (self.selected + 1) % len(self.presets)
            self.selected_at = now
            preset = self.presets[self.selected]
            self.log("info", f"preset {self.selected + 1} of {len(self.presets)} selected: {preset.name}")
            self.report({"t": now, "event": "select", "preset": preset.name, "number": self.selected + 1})
        if outcome.session_started and self.presets:
            preset = self.presets[self.selected]
            self.program = preset.program
            self.session_speed = preset.program.speed
            self.progress = session.start(now)
            self.report({"t": now, "event": "session", "action": "start", "preset": preset.name})
        if outcome.returning_started:
            self.return_budget = clocks.head_down_budget(self) if self.estimate is not None else None
            self.program = self.return_program()
            self.progress = session.start(now)
            self.report({"t": now, "event": "return", "reason": self.machine.return_reason})

    def return_program(self, speed: float | None = None) -> session.Program:
        s = self.settings
        home = self.limits.home_angle
        legs = (session.Leg(home, 0.0),)
        if self.setpoint.position > s.rest_angle + supervisor.HOME_TOLERANCE:
            # Rest near horizontal before going upright: coming up too fast makes people dizzy.
            legs = (session.Leg(s.rest_angle, s.rest_time),) + legs
        speed = min(speed or self.return_speed, self.limits.max_speed)
        return session.Program((session.Block(legs),), speed=speed, accel=self.limits.max_accel)

    def _program_goal(self) -> float | None:
        """Advance the program; a finished profile begins the return, a finished return ends at home."""
        now = self.now
        while True:
            m = self.machine
            if m.latched or m.activity not in (Activity.RUNNING, Activity.RETURNING) or self.program is None:
                return None
            self.progress, goal = session.advance(self.program, self.progress, self.setpoint, now)
            if goal is not None:
                return goal
            if m.activity is not Activity.RUNNING:
                self.machine = state.arrived_home(m)
                self.program = None
                self.session_speed = None
                self.report({"t": now, "event": "home"})
                return None
            self.report({"t": now, "event": "session", "action": "complete"})
            self.apply(state.begin_return(m, "profile-done"))

    def _sensor_says_home(self, reason: Trip | None) -> bool:
        """Hold-to-run recovery steers by the step count, and stops early if the sensor says home.

        After a tracking trip the step count was re-anchored to the sensor (trip()); after a lying
        gyro the sensor may be off. A sensor that is the trip's cause is not asked.
        """
        if reason is Trip.UNDER_ANGLE:
            return True
        trusted = REASONS[self.machine.trip].sensor_trusted and self.reading is not None and self.reading.sample_ok
        return trusted and self.estimate.angle <= self.limits.home_angle + RECOVERY_HOME_MARGIN

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

