"""The config file (TOML): table geometry, hard-bounded limits, motion comfort settings, loop rate."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, model_validator

from controller.errors import ConfigError
from controller.validation import Duration, LimitNote, StrictModel, fmt_number, load_toml_model, problem

# Hard limits: no config file can go past these.
HARD_MAX_ANGLE = 90.0          # deg head-down: fully inverted, the hard ceiling
HARD_MAX_SPEED = 10.0          # deg/s
HARD_MAX_ACCEL = 20.0          # deg/s²
MIN_HOME_ANGLE = -89.0         # deg: the loading position is head-up...
MAX_HOME_ANGLE = -5.0          # ...and clearly so
MIN_STEPS_PER_DEGREE = 1.0
MAX_STEPS_PER_DEGREE = 20000.0
MIN_SESSION_TIMEOUT = 10.0     # s
MAX_SESSION_TIMEOUT = 7200.0   # s (2 h)
MAX_REST_TIME = 300.0          # s (5 m)
MIN_RATE = 20                  # Hz
MAX_RATE = 200                 # Hz

DEFAULT_CONFIG_TOML = """\
# inversion-table config. Every key is optional; these are the defaults.
# Angles are degrees from horizontal, positive head-down (90 = fully inverted).

[table]
home_angle = -60          # deg; loading position; must be -89 <= x <= -5 (negative: head-up)
steps_per_degree = 200.0  # motor (micro)steps per degree of table tilt; 1 <= x <= 20000

[limits]
max_angle = 60            # deg head-down; 0 < x <= 90 (the hard ceiling)
max_speed = 4.0           # deg/s; 0 < x <= 10
max_accel = 4.0           # deg/s²; 0 < x <= 20
session_timeout = "20m"   # time spent head-down (angle > 0) in one session before the table
                          # brings the user home; 10s <= x <= 2h
idle_timeout = "2m"       # a table left head-down after a jog, with no button pressed for this
                          # long, comes home; 10s <= x <= 30m

[motion]
return_speed = 3.0        # deg/s comfort speed going home; must be <= [limits] max_speed
jog_speed = 2.0           # deg/s for the up/down buttons; must be <= [limits] max_speed
rest_angle = 0.0          # where a return pauses before going upright; near horizontal,
                          # never head-down: must be within [table] home_angle .. 0
rest_time = "15s"         # how long that pause lasts; 0 <= x <= 5m

[control]
rate = 50                 # control loop rate in Hz; 20 <= x <= 200

[tracking]                # the measured motion must follow the commanded one (stall, slip)
position_tolerance = 2.0  # deg between the sensor's angle and the step count; 0.5 <= x <= 5
rate_tolerance = 0.3      # deg/s between the gyro and the commanded speed ...; 0.1 <= x <= 2
rate_share = 0.1          # ... plus this share of the commanded speed; 0 <= x <= 1
time = "0.3s"             # how long a mismatch may last before it trips; 0.05s <= x <= 0.8s
"""

_Speed = Annotated[float, Field(gt=0, le=HARD_MAX_SPEED), LimitNote(le="the hard speed limit")]


class TableConfig(StrictModel):
    """[table]: the machine itself."""

    home_angle: Annotated[float, Field(ge=MIN_HOME_ANGLE, le=MAX_HOME_ANGLE),
                          LimitNote(le="home must be head-up, so negative")] = -60.0
    steps_per_degree: Annotated[float, Field(ge=MIN_STEPS_PER_DEGREE, le=MAX_STEPS_PER_DEGREE)] = 200.0


class LimitsConfig(StrictModel):
    """[limits]: the envelope every motion stays inside; profiles can only lower these."""

    max_angle: Annotated[float, Field(gt=0, le=HARD_MAX_ANGLE), LimitNote(le="the hard ceiling")] = 60.0
    max_speed: _Speed = 4.0
    max_accel: Annotated[float, Field(gt=0, le=HARD_MAX_ACCEL), LimitNote(le="the hard acceleration limit")] = 4.0
    session_timeout: Annotated[Duration, Field(ge=MIN_SESSION_TIMEOUT, le=MAX_SESSION_TIMEOUT)] = 1200.0
    idle_timeout: Annotated[Duration, Field(ge=10.0, le=1800.0)] = 120.0


class MotionConfig(StrictModel):
    """[motion]: comfort settings for returning home and jogging."""

    return_speed: _Speed = 3.0
    jog_speed: _Speed = 2.0
    # The rest is not head-down, so it never adds to the time the session timeout bounds (I5).
    rest_angle: Annotated[float, Field(ge=-HARD_MAX_ANGLE, le=0.0), LimitNote(le="a rest is never head-down")] = 0.0
    rest_time: Annotated[Duration, Field(ge=0, le=MAX_REST_TIME)] = 15.0


class ControlConfig(StrictModel):
    """[control]: the control loop."""

    rate: Annotated[int, Field(ge=MIN_RATE, le=MAX_RATE)] = 50


class TrackingConfig(StrictModel):
    """[tracking]: how closely the table must follow the motor, bounded like Klipper's verify_heater.

    The time is capped so that a stall or a slip always trips within 1 s (invariant I8, docs/SAFETY.md).
    """

    position_tolerance: Annotated[float, Field(ge=0.5, le=5.0)] = 2.0
    rate_tolerance: Annotated[float, Field(ge=0.1, le=2.0)] = 0.3
    rate_share: Annotated[float, Field(ge=0.0, le=1.0)] = 0.1
    time: Annotated[Duration, Field(ge=0.05, le=0.8), LimitNote(le="so a stall trips within 1 s")] = 0.3


class Config(StrictModel):
    """The whole config file; ``Config()`` is the shipped defaults (``DEFAULT_CONFIG_TOML``)."""

    table: TableConfig = Field(default_factory=TableConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    motion: MotionConfig = Field(default_factory=MotionConfig)
    control: ControlConfig = Field(default_factory=ControlConfig)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)

    @property
    def period(self) -> float:
        """The control period in seconds: 1 / [control] rate."""
        return 1.0 / self.control.rate

    @model_validator(mode="after")
    def _check_across_sections(self) -> Config:
        lim, mot, tab = self.limits, self.motion, self.table
        n = fmt_number
        lines = [
            f"[motion] {key} = {n(value)}{'' if key in mot.model_fields_set else ' (the default)'} is above "
            f"[limits] max_speed = {n(lim.max_speed)}"
            for key, value in (("return_speed", mot.return_speed), ("jog_speed", mot.jog_speed))
            if value > lim.max_speed
        ]
        if mot.rest_angle < tab.home_angle:
            lines.append(f"[motion] rest_angle = {n(mot.rest_angle)} is below [table] home_angle = {n(tab.home_angle)}")
        if lines:
            raise problem("\n".join(lines))
        return self


def load_config(path: str | Path | None) -> Config:
    """The config in ``path``, or the defaults when ``path`` is None; bad input raises ConfigError."""
    if path is None:
        return Config()
    return load_toml_model(path, Config, error_cls=ConfigError, what="config")
