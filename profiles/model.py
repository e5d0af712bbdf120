"""Profile files (TOML): the step models, loading, the built-in presets, and the check against a config."""

from __future__ import annotations

import difflib
import math
import os
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import Field, model_validator

from controller.setup.config import HARD_MAX_ANGLE, MAX_SESSION_TIMEOUT, Config, Speed
from controller.errors import ProfileError
from controller.setup.validation import (
    Duration, LimitNote, StrictModel, fmt_number, item_label, join_problems, load_toml_model, problem, shown,
    validate_toml_text,
)

MAX_NAME_LENGTH = 60
MAX_REPEAT = 100  # a repeat runs its steps at most this many times
MAX_STEPS = 100  # steps in a profile, and in a repeat
MAX_STEPS_RUN = 10_000  # steps once the repeats are unrolled (100 x 100 x 100 would be a million)
MAX_CYCLES = 1000  # an oscillation's cycles: 20 make the usual 20 minutes
MAX_PROFILE_TIME = 24 * 3600.0  # s: all the steps of a profile (mostly head-up: head-down is at most 2h)
# No single time of a step (a hold, a dwell, a pause, an oscillation's duration, a progression's
# hold) may be longer than the longest session timeout: head-down, it could never finish, and
# nobody lies on an inversion table longer than that head-up either.
MAX_STEP_TIME = MAX_SESSION_TIMEOUT
PRESET_PACKAGE = "profiles"
PRESET_DIR = "presets"

Angle = Annotated[float, Field(ge=-HARD_MAX_ANGLE, le=HARD_MAX_ANGLE),
                  LimitNote(le="the hard ceiling", ge="the hard floor")]
"""Degrees from horizontal, positive head-down."""

_StepTime = LimitNote(le="the longest session timeout")
_PositiveDuration = Annotated[Duration, Field(gt=0, le=MAX_STEP_TIME), _StepTime]
_Dwell = Annotated[Duration, Field(le=MAX_STEP_TIME), _StepTime]


class HoldStep(StrictModel):
    """Go to ``angle`` and stay there for ``duration`` (counted from arrival)."""

    kind: Literal["hold"]
    angle: Angle
    duration: _PositiveDuration

    def angles(self) -> dict[str, float]:
        """The step's angle fields by name, for checks against the limits."""
        return {"angle": self.angle}


class OscillateStep(StrictModel):
    """Go between ``high`` and ``low``, dwelling at each, for a ``duration`` or a number of ``cycles``."""

    kind: Literal["oscillate"]
    high: Angle
    low: Angle
    dwell_high: _Dwell
    dwell_low: _Dwell
    duration: _PositiveDuration | None = None
    cycles: Annotated[int, Field(ge=1, le=MAX_CYCLES)] | None = None

    def angles(self) -> dict[str, float]:
        """The step's angle fields by name, for checks against the limits."""
        return {"high": self.high, "low": self.low}

    @model_validator(mode="after")
    def _check(self) -> OscillateStep:
        lines = []
        if self.high <= self.low:
            lines.append(f"high = {fmt_number(self.high)} must be above low = {fmt_number(self.low)}")
        if self.duration is not None and self.cycles is not None:
            lines.append("give either duration or cycles, not both")
        if self.duration is None and self.cycles is None:
            lines.append('needs either duration (e.g. "20m") or cycles (e.g. 20)')
        if lines:
            raise problem("\n".join(lines))
        return self


class RampStep(StrictModel):
    """Move to ``angle`` at no more than ``speed``: a slow, vertigo-friendly tilt. No hold after."""

    kind: Literal["ramp"]
    angle: Angle
    speed: Speed

    def angles(self) -> dict[str, float]:
        return {"angle": self.angle}


class PauseStep(StrictModel):
    """Stay where the table is for ``duration``."""

    kind: Literal["pause"]
    duration: _PositiveDuration

    def angles(self) -> dict[str, float]:
        return {}


SimpleStep = Annotated[Union[HoldStep, OscillateStep, RampStep, PauseStep], Field(discriminator="kind")]


class RepeatStep(StrictModel):
    """Run ``steps`` (hold, oscillate, ramp or pause) ``times`` times in a row."""

    kind: Literal["repeat"]
    times: Annotated[int, Field(ge=1, le=MAX_REPEAT)]
    steps: Annotated[list[SimpleStep], Field(min_length=1, max_length=MAX_STEPS)]

    def angles(self) -> dict[str, float]:
        return {f"steps #{i + 1} ({s.kind}) {k}": v for i, s in enumerate(self.steps) for k, v in s.angles().items()}


Step = Annotated[Union[HoldStep, OscillateStep, RampStep, PauseStep, RepeatStep], Field(discriminator="kind")]


class Point(StrictModel):
    """A hold: an angle and how long."""

    angle: Angle
    time: _PositiveDuration


class Increment(StrictModel):
    """What each completed session adds."""

    angle: Annotated[float, Field(ge=0, le=HARD_MAX_ANGLE)] = 0.0
    time: _Dwell = 0.0


class Progression(StrictModel):
    """A hold that grows a little with each completed session, from ``start`` up to ``target``."""

    start: Point
    target: Point
    step: Increment

    @model_validator(mode="after")
    def _check(self) -> Progression:
        n, lines = fmt_number, []
        for key in ("angle", "time"):
            first, last, inc = getattr(self.start, key), getattr(self.target, key), getattr(self.step, key)
            if last < first:
                lines.append(f"target.{key} = {n(last)} is below start.{key} = {n(first)}")
            elif last > first and inc == 0:
                lines.append(f"step.{key} must be above 0 to get from start.{key} = {n(first)} to target.{key} = {n(last)}")
        if lines:
            raise problem("\n".join(lines))
        return self

    @property
    def final_level(self) -> int:
        """The first level at which the target is reached."""
        levels = [math.ceil((getattr(self.target, k) - getattr(self.start, k)) / getattr(self.step, k) - 1e-9)
                  for k in ("angle", "time") if getattr(self.step, k) > 0]
        return max(levels, default=0)

    def hold(self, level: int) -> tuple[float, float]:
        """(angle, seconds) of the hold at ``level`` (0 is the first session)."""
        level = max(0, min(level, self.final_level))
        return (min(self.target.angle, self.start.angle + level * self.step.angle),
                min(self.target.time, self.start.time + level * self.step.time))


class Profile(StrictModel):
    """A session: steps run in order, and after the last one the table returns home.

    A progressive profile has a ``progression`` instead of steps: one hold, a little longer or
    steeper after each completed session (the history keeps the level).
    """

    name: Annotated[str, Field(min_length=1, max_length=MAX_NAME_LENGTH)]
    description: str = ""
    max_speed: Speed | None = None
    steps: Annotated[list[Step], Field(min_length=1, max_length=MAX_STEPS)] | None = None
    progression: Progression | None = None

    @model_validator(mode="after")
    def _steps_or_progression(self) -> Profile:
        if (self.steps is None) == (self.progression is None):
            raise problem("give either [[steps]] or a [progression], not both" if self.steps is not None
                          else "needs [[steps]] (or a [progression])")
        run = sum(step.times * len(step.steps) if step.kind == "repeat" else 1 for step in self.steps or ())
        if run > MAX_STEPS_RUN:
            raise problem(f"steps: {run} steps once the repeats are unrolled, more than the {MAX_STEPS_RUN} "
                          "a profile may run")
        return self

    def at_level(self, level: int) -> Profile:
        """The profile as run at a progression level; a profile with steps is itself."""
        if self.progression is None:
            return self
        angle, seconds = self.progression.hold(level)
        return self.model_copy(update={"steps": [HoldStep(kind="hold", angle=angle, duration=seconds)]})


def load_profile(path: str | Path) -> Profile:
    """The profile in the TOML file ``path``; bad input raises ProfileError naming file, field and limit."""
    return load_toml_model(path, Profile, error_cls=ProfileError, what="profile")


def _preset_dir():
    return resources.files(PRESET_PACKAGE).joinpath(PRESET_DIR)


def preset_names() -> list[str]:
    """The names of the built-in presets, sorted."""
    return sorted(p.name.removesuffix(".toml") for p in _preset_dir().iterdir() if p.name.endswith(".toml"))


def _is_file(value: str) -> bool:
    try:
        return Path(value).is_file()
    except (OSError, ValueError):
        return False


def resolve_profile(name_or_path: str) -> tuple[Profile, str]:
    """A profile from a path (ends in .toml or names a file) or a preset name, and a label for messages."""
    if os.path.isdir(name_or_path):  # named as one, not as an unknown preset (False for a name no path can be)
        raise ProfileError(f"{name_or_path}: is a directory, not a profile file (name a .toml file in it, or a "
                           "preset: inversion-table profiles lists them)")
    if name_or_path.endswith(".toml") or _is_file(name_or_path):
        return load_profile(name_or_path), name_or_path
    names = preset_names()
    if name_or_path in names:
        label = f"preset '{name_or_path}'"
        text = _preset_dir().joinpath(f"{name_or_path}.toml").read_text(encoding="utf-8")
        return validate_toml_text(text, Profile, error_cls=ProfileError, source=label), label
    close = difflib.get_close_matches(name_or_path, names, n=1, cutoff=0.6)
    hint = f"did you mean '{close[0]}'? " if close else ""
    raise ProfileError(f"no preset or profile file named {shown(name_or_path)} ({hint}presets: {', '.join(names)})")


def check_profile_limits(profile: Profile, config: Config, *, source: str, config_source: str = "the config",
                         names: dict[str, str] | None = None) -> None:
    """Reject a profile that goes past the config's limits: ProfileError with one line per problem.
    ``names`` says what to call a limit that is a user's rather than the config's."""
    n, lim, home = fmt_number, config.limits, config.table.home_angle
    max_angle_name = (names or {}).get("max_angle", "[limits] max_angle")
    if profile.progression is not None:  # the steepest it will get is what must fit
        profile = profile.at_level(profile.progression.final_level)
    lines = []
    for i, step in enumerate(profile.steps):
        for key, angle in step.angles().items():
            field = f"{item_label('steps', i, step.kind)} {key} = {n(angle)}"
            if angle > lim.max_angle:
                lines.append(f"{source}: {field} is above {max_angle_name} = {n(lim.max_angle)} ({config_source})")
            if angle < home:
                lines.append(f"{source}: {field} is below [table] home_angle = {n(home)} ({config_source})")
    if profile.max_speed is not None and profile.max_speed > lim.max_speed:
        lines.append(f"{source}: max_speed = {n(profile.max_speed)} is above [limits] max_speed = "
                     f"{n(lim.max_speed)} ({config_source}); a profile can only lower it")
    if lines:
        raise ProfileError(join_problems(lines))
