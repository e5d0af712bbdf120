"""The table's whole decision state, one period's inputs and the actions a period asks for (values only)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from controller.core import clocks, estimator, session, supervisor
from controller.core.planner import Setpoint
from controller.core.state import Context, Machine


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


GUEST = "guest"  # the user of a session nobody chose a user for


@dataclass(frozen=True)
class UserChoice:
    """A user the table can be switched to (a long press of `select`): their presets and limits."""

    name: str | None  # None: nobody in particular (the config's own limits)
    presets: tuple[session.Preset, ...]
    settings: Settings
    acknowledged: bool = True  # the contraindications (only an acknowledged user may start)



class Derived:
    """What follows from the state's fields: shared by the snapshot and the period's working copy."""

    __slots__ = ()

    @property
    def limits(self) -> supervisor.Limits:
        return self.settings.limits

    @property
    def anchored(self) -> bool:
        """Whether the step count knows where the table is: from the sensor, or from a restart."""
        return self.estimate is not None or self.blind_anchor

    @property
    def return_speed(self) -> float:
        """The comfort speed home, lowered by the session's speed cap if one is running."""
        if self.session_speed is None:
            return self.settings.return_speed
        return min(self.settings.return_speed, self.session_speed)

    def button_context(self) -> Context:
        """What the state machine needs to know to decide what a press means now: the one source
        for the period's presses and for a remote asking whether the table would take one."""
        return Context(
            profile_selected=bool(self.presets),
            presets=len(self.presets),
            users=max(1, len(self.users)),
            user_acknowledged=self.users[self.user_index].acknowledged if self.users else True,
            at_home=supervisor.at_home(self.setpoint.position, self.limits),
            trip_cause_active=self._trip_cause_active(),
            session_time_up=self._session_time_up(),
        )

    def _session_time_up(self) -> bool:
        if self.estimate is None or supervisor.at_home(self.setpoint.position, self.limits):
            return False
        return clocks.time_left(self) <= 0

    def _trip_cause_active(self) -> bool:
        if self.machine.trip is None or self.reading is None:
            return False
        return supervisor.cause_active(self.machine.trip, self.watch, self.reading, self.limits)


@dataclass(frozen=True, slots=True)
class TableState(Derived):
    """Everything the period step decides from, and the snapshot every reader gets (frozen).

    ``mount`` turns a sample's vectors into the table's tilt and rate (pure geometry, from the
    calibration); ``position`` is the step count as the last period knew it.
    """

    settings: Settings
    mount: Any
    position: float = 0.0
    presets: tuple[session.Preset, ...] = ()
    selected: int = 0  # index into presets: what `start` runs
    selected_at: float | None = None  # when `select` last changed it
    users: tuple[UserChoice, ...] = ()
    user_index: int = 0
    user_selected_at: float | None = None
    machine: Machine = Machine()
    estimate: estimator.Estimate | None = None
    setpoint: Setpoint = Setpoint(0.0)
    program: session.Program | None = None
    progress: session.Progress = session.Progress()
    goal: float | None = None
    head_down: float = 0.0  # s of this session's head-down clock
    watch: supervisor.Watch = supervisor.Watch()
    reading: supervisor.Reading | None = None
    anchor_tilts: tuple[float, ...] = ()  # the power-on anchor's still samples so far
    anchor_rates: tuple[float, ...] = ()
    last_activity: float = 0.0  # the last button press or release (idle timeout)
    # After a restart the last trusted angle lets hold-to-run return count steps home if the IMU
    # never answers (controller/shell/restart.py).
    blind_anchor: bool = False
    auto_return_in: float | None = None  # s until a timeout return, while one is counting down
    # A session's speed cap (a slow profile's max_speed) holds until the table is home again,
    # so its way home is as gentle as its way down.
    session_speed: float | None = None
    warned: bool = False  # the "returns home by itself" notice was given for this countdown
    return_budget: float | None = None  # I5's bound for the return under way
    reanchor: tuple[float, ...] | None = None  # still tilts gathered to re-anchor after a tracking trip

    @property
    def user(self) -> str | None:
        return self.users[self.user_index].name if self.users else None

    @property
    def preset(self) -> session.Preset | None:
        return self.presets[self.selected] if self.presets else None


# -- one period's inputs ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PresetsChanged:
    """A user's presets were prepared again (a progression level changed): the table offers these."""

    user: str | None
    presets: tuple[session.Preset, ...]


class Inputs(NamedTuple):
    """What the shell gathered for one period: the time, the sample (None when every read of the
    period failed), the queued events in order, the buttons' levels, and the motor's counters.

    The records built every period (this, the IMU's sample, the estimate, the supervisor's reading
    and watch) are named tuples: as immutable as a frozen dataclass, and several times cheaper to
    build, since a frozen dataclass sets each field through object.__setattr__."""

    t: float
    sample: Any = None  # an ImuSample: t, accel (m/s²), gyro (deg/s), raw bytes
    attempts: int = 1
    failures: int = 0
    events: tuple = ()  # ButtonEvent, Trip or PresetsChanged, as posted
    levels: frozenset[str] | None = None  # the buttons pressed now (None: not read)
    position: float = 0.0  # the step count, deg
    halted: bool = False
    halt_token: int = 0  # the motor's halt count, read before the events were drained
    stepped_rate: float = 0.0  # deg/s the motor really stepped at over the last period


# -- what a period asks the shell to do, in order ---------------------------------------------------
@dataclass(frozen=True, slots=True)
class Halt:
    """Stop pulses at once and latch (the trip path's first act)."""


@dataclass(frozen=True, slots=True)
class SetPosition:
    degrees: float


@dataclass(frozen=True, slots=True)
class ClearHalt:
    token: int


@dataclass(frozen=True, slots=True)
class Move:
    degrees: float
    duration: float


@dataclass(frozen=True, slots=True)
class Report:
    """An event record for the trace, the session log and the journal."""

    record: dict = field(hash=False)


@dataclass(frozen=True, slots=True)
class Log:
    level: str  # "info", "warning" or "error", as the logging module names them
    message: str
