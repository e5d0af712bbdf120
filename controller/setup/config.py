"""The config file (TOML): table geometry, limits, motion, loop rate, and the whole model (hardware: config_hardware.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, model_validator

from controller.setup.config_hardware import GpioConfig, ImuConfig, MotorConfig, PinsConfig
from controller.setup.config_alerts import AlertsConfig
from controller.setup.config_mqtt import MqttConfig
from controller.setup.config_remote import RemoteConfig
from controller.errors import ConfigError
from controller.setup.validation import (
    Duration, LimitNote, StrictModel, fmt_number, format_duration, load_toml_model, problem, shown,
)

# Hard limits: no config file can go past these.
HARD_MAX_ANGLE = 90.0          # deg head-down: fully inverted, the hard ceiling
HARD_MAX_SPEED = 10.0          # deg/s
HARD_MAX_ACCEL = 20.0          # deg/s²
# The slowest any move may go (a config's, a user's or a profile's speed, a ramp's) and the gentlest
# acceleration: at these a move across the whole range, home at -89 to 90, takes about an hour, and
# every time the checks and the simulator compute stays finite (1e-320 deg/s made it infinite).
MIN_SPEED = 0.05               # deg/s
MIN_ACCEL = 0.05               # deg/s²
MIN_HOME_ANGLE = -89.0         # deg: the loading position is head-up...
MAX_HOME_ANGLE = -5.0          # ...and clearly so
MIN_STEPS_PER_DEGREE = 10.0   # 0.1 deg a step: coarser cannot hold an angle to a fraction of a degree
MAX_STEPS_PER_DEGREE = 20000.0
MIN_SESSION_TIMEOUT = 10.0     # s
MAX_SESSION_TIMEOUT = 7200.0   # s (2 h)
MAX_REST_TIME = 300.0          # s (5 m)
# The pulse thread (drivers/stepper.py) toggles STEP from Python: about 2 kHz is what it can keep
# up with on a Pi with lgpio. A drive that needs more at max_speed would fall behind, and the
# backlog would delay a halt.
MAX_STEP_RATE = 2000           # steps/s at [limits] max_speed
MIN_RATE = 20                  # Hz
MAX_RATE = 200                 # Hz
MIN_TRACKING_PERIODS = 6       # a mismatch must last this many periods: noise does not, that long
MIN_RATE_TOLERANCE = 0.1       # deg/s: twice the gyro's noise
TRACKING_FLOORS = {"rate_tolerance": MIN_RATE_TOLERANCE, "rate_share": 0.0}  # the lowest each may be set
STALL_TRIP_WITHIN = 1.0        # s: a stall or slip trips within this (invariant I8)
MAX_PRESETS = 9                # the buzzer counts the selected preset out in beeps
DEFAULT_CONFIG_PATH = "/etc/inversion-table/config.toml"
DEFAULT_CALIBRATION_PATH = "/var/lib/inversion-table/calibration.json"
DEFAULT_HISTORY_PATH = "/var/lib/inversion-table/history.sqlite"

DEFAULT_CONFIG_TOML = """\
# inversion-table config. Every key is optional; these are the defaults.
# Angles are degrees from horizontal, positive head-down (90 = fully inverted).

[table]
home_angle = -60          # deg; loading position; must be -89 <= x <= -5 (negative: head-up)
steps_per_degree = 200.0  # motor (micro)steps per degree of table tilt; 10 <= x <= 20000
                          # (or leave it out and describe the drive in [motor] instead)

[motor]
reverse = false           # true if DIR high turns the table head-up (calibrate tells you)
# The drive, as an alternative to [table] steps_per_degree:
# steps_per_rev = 200     # full steps per motor revolution (1.8° motors: 200)
# microsteps = 16         # the driver's microstepping (MS1..MS3 jumpers): 1, 2, 4, ... 256
# gear_ratio = 22.5       # motor revolutions per revolution of the table's pivot

[limits]
max_angle = 60            # deg head-down; 0 < x <= 90 (the hard ceiling)
max_speed = 4.0           # deg/s; 0.05 <= x <= 10
max_accel = 4.0           # deg/s²; 0.05 <= x <= 20 (and enough to reach a watched speed quickly:
                          # see [tracking])
session_timeout = "20m"   # time spent head-down (above +1°) in one session before the table
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
position_tolerance = 2.0  # deg between the sensor's angle and the step count; 2 <= x <= 5
rate_tolerance = 0.1      # deg/s between the gyro and the commanded speed ...; 0.1 <= x <= 2
rate_share = 0.05         # ... plus this share of the commanded speed; 0 <= x <= 0.5
                          # A stall is seen within `time` only at speeds of at least
                          # 2 x rate_tolerance / (1 - rate_share) (0.21 deg/s here): every speed
                          # (motion, users, profiles) must be at least that, and
                          # 2 x (rate_tolerance + rate_share x max_speed) at most 1.5 deg/s (a slip)
time = "0.3s"             # how long a mismatch may last before it trips; 0.05s <= x <= 0.7s,
                          # and at least 6 control periods

[presets]                 # what `start` runs on the table; `select` steps through them
available = ["gentle", "hold-40", "oscillate"]  # preset names or .toml paths (relative to
                          # this file's folder); the first is selected at power-on; at most 9

[pins]                    # BCM numbers (GPIO17 is 17), not header pin numbers; 4 <= x <= 27
stop = 17                 # buttons: normally open, to ground (the Pi's pull-ups are used)
reset = 27
start = 22
return = 23
up = 24
down = 25
select = 5                # steps through [presets] available; false if the table has none
step = 20                 # stepper driver STEP
dir = 21                  # stepper driver DIR
enable = 16               # stepper driver ENABLE, active low: pull it up to 3.3 V in hardware
led = 26                  # status LED (through a resistor to ground); false for none
buzzer = 19               # active buzzer (through a transistor); false for none

[gpio]
pin_factory = "lgpio"     # gpiozero pin factory: lgpio (every Pi, and the only one on a Pi 5),
                          # rpigpio, pigpio or native; never a silent fallback

[imu]                     # the MPU-6050
bus = 1                   # /dev/i2c-1: header pins 3 (SDA) and 5 (SCL)
address = 0x68            # 0x68, or 0x69 with AD0 pulled high
forward = "+x"            # the sensor axis that points along the bed toward the head
normal = "+z"             # the sensor axis that points up out of the bed when it is level
accept_ids = []           # clone chips' WHO_AM_I values to accept, e.g. [0x70]: only after
                          # `inversion-table doctor` named the chip and you checked it

[calibration]
file = "/var/lib/inversion-table/calibration.json"  # written by `inversion-table calibrate`

[history]
file = "/var/lib/inversion-table/history.sqlite"  # sessions, progress, acknowledgements

[remote]                  # the phone remote: a web page and its API (README, "Phone remote")
# listen = "0.0.0.0:8270" # absent: no remote. 0.0.0.0 is every network the Pi is on: anyone on
                          # them can open the page and press its STOP (no token needed), and a
                          # token's holder can do the rest. Use it only on a network you trust;
                          # 127.0.0.1:8270 serves this Pi alone. Tokens: `inversion-table remote token`
allow_motion = false      # start, up and down from the remote (stop, reset, return, select: always)
start_warning = "3s"      # a remote start sounds the buzzer this long first; 1s <= x <= 30s
hold_lapse = "0.5s"       # a remote hold ends this long after its last renewal; 0.3s <= x <= 1s

[alerts]                  # tell a person when someone may be stuck (README, "Alerts")
urls = []                 # Apprise URLs, e.g. ["ntfy://my-topic", "mailto://user:pass@example.com"];
                          # empty: no alerts. Try them with `inversion-table alerts test`
stuck_after = "1m"        # a stop or trip held head-down this long alerts; 10s <= x <= 10m
# name = "table-1"        # what alerts call this table (default: [mqtt] name, else the host name)

# [mqtt]                  # Home Assistant and fleets (README, "Home Assistant and fleets"); absent: no MQTT
# host = "localhost"      # the broker
# port = 1883
# name = "table-1"        # this table's node id, unique on the broker: letters, digits, - and _
# discovery_prefix = "homeassistant"
# allow_motion = false    # start over MQTT (stop, reset, return and a preset: always)
# username = "table-1"    # optional, and with it password_file: the password alone on its first
# password_file = "mqtt-password"  # line (relative: next to this file); readable by the service alone
# tls = false             # true: TLS, checked against the system's CAs; or a CA certificate (PEM) file

# [[users]]               # people with their own limits, each only lower than the config's;
# name = "ana"            # letters, digits, - and _; chosen with --user or on the table
# max_angle = 40          # deg
# max_head_down = "5m"    # her surgeon's limit
# max_speed = 1.0         # deg/s, for vertigo
"""

Speed = Annotated[float, Field(ge=MIN_SPEED, le=HARD_MAX_SPEED),
                  LimitNote(le="the hard speed limit", ge="the slowest a move may go")]


class TableConfig(StrictModel):
    """[table]: the machine itself."""

    home_angle: Annotated[float, Field(ge=MIN_HOME_ANGLE, le=MAX_HOME_ANGLE),
                          LimitNote(le="home must be head-up, so negative")] = -60.0
    steps_per_degree: Annotated[float, Field(ge=MIN_STEPS_PER_DEGREE, le=MAX_STEPS_PER_DEGREE)] = 200.0


class LimitsConfig(StrictModel):
    """[limits]: the envelope every motion stays inside; profiles can only lower these."""

    max_angle: Annotated[float, Field(gt=0, le=HARD_MAX_ANGLE), LimitNote(le="the hard ceiling")] = 60.0
    max_speed: Speed = 4.0
    max_accel: Annotated[float, Field(ge=MIN_ACCEL, le=HARD_MAX_ACCEL),
                         LimitNote(le="the hard acceleration limit", ge="the gentlest acceleration")] = 4.0
    session_timeout: Annotated[Duration, Field(ge=MIN_SESSION_TIMEOUT, le=MAX_SESSION_TIMEOUT)] = 1200.0
    idle_timeout: Annotated[Duration, Field(ge=10.0, le=1800.0)] = 120.0


class MotionConfig(StrictModel):
    """[motion]: comfort settings for returning home and jogging."""

    return_speed: Speed = 3.0
    jog_speed: Speed = 2.0
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

    # At least 2 deg: the uncalibrated estimate may differ from the step count by up to about 1.4 deg
    # on a healthy table at speed (tests/test_properties_configs.py found it), and must never trip.
    position_tolerance: Annotated[float, Field(ge=2.0, le=5.0), LimitNote(ge="what a healthy, uncalibrated table may differ by")] = 2.0
    rate_tolerance: Annotated[float, Field(ge=MIN_RATE_TOLERANCE, le=2.0), LimitNote(ge="twice the gyro's noise")] = 0.1
    rate_share: Annotated[float, Field(ge=0.0, le=0.5)] = 0.05
    time: Annotated[Duration, Field(ge=0.05, le=0.7), LimitNote(le="so a stall trips within 1 s, counting the power-on anchor")] = 0.3


class PresetsConfig(StrictModel):
    """[presets]: the profiles the table's start button can run, in select order."""

    available: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1, max_length=MAX_PRESETS),
                         LimitNote(le="the buzzer counts the selected preset out in beeps")] = ["gentle", "hold-40", "oscillate"]


class CalibrationConfig(StrictModel):
    """[calibration]: where `inversion-table calibrate` keeps its results."""

    file: Annotated[str, Field(min_length=1)] = DEFAULT_CALIBRATION_PATH


class UserConfig(StrictModel):
    """[[users]]: a person's own limits; each can only lower the config's."""

    name: Annotated[str, Field(min_length=1, max_length=30, pattern=r"^[A-Za-z0-9_-]+$")]
    max_angle: Annotated[float, Field(gt=0, le=HARD_MAX_ANGLE)] | None = None
    max_head_down: Annotated[Duration, Field(ge=MIN_SESSION_TIMEOUT, le=MAX_SESSION_TIMEOUT)] | None = None
    max_speed: Speed | None = None


# A user's limits: (the [[users]] key, the [limits] key it can only lower, how a value is shown).
USER_LIMITS = (("max_angle", "max_angle", fmt_number), ("max_head_down", "session_timeout", format_duration),
               ("max_speed", "max_speed", fmt_number))


class HistoryConfig(StrictModel):
    """[history]: where sessions, progress and acknowledgements are kept."""

    file: Annotated[str, Field(min_length=1)] = DEFAULT_HISTORY_PATH


class Config(StrictModel):
    """The whole config file; ``Config()`` is the shipped defaults (``DEFAULT_CONFIG_TOML``)."""

    table: TableConfig = Field(default_factory=TableConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    motion: MotionConfig = Field(default_factory=MotionConfig)
    control: ControlConfig = Field(default_factory=ControlConfig)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    motor: MotorConfig = Field(default_factory=MotorConfig)
    presets: PresetsConfig = Field(default_factory=PresetsConfig)
    pins: PinsConfig = Field(default_factory=PinsConfig)
    gpio: GpioConfig = Field(default_factory=GpioConfig)
    imu: ImuConfig = Field(default_factory=ImuConfig)
    calibration: CalibrationConfig = Field(default_factory=CalibrationConfig)
    history: HistoryConfig = Field(default_factory=HistoryConfig)
    remote: RemoteConfig = Field(default_factory=RemoteConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    mqtt: MqttConfig | None = None  # absent: no MQTT
    users: list[UserConfig] = []

    @property
    def steps_per_degree(self) -> float:
        """Motor steps per degree of tilt: from [motor] when it is given, else [table] steps_per_degree."""
        return self.motor.steps_per_degree if self.motor.given else self.table.steps_per_degree

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
        drive_problems = len(lines)
        if self.motor.given:
            missing = [k for k in ("steps_per_rev", "microsteps", "gear_ratio") if getattr(self.motor, k) is None]
            if missing:
                lines.append(f"[motor] {', '.join(missing)} missing: give all of steps_per_rev, microsteps and "
                             "gear_ratio, or none of them and [table] steps_per_degree")
            elif "steps_per_degree" in tab.model_fields_set:
                lines.append("[table] steps_per_degree and [motor] both describe the drive: keep one of them")
            elif not MIN_STEPS_PER_DEGREE <= self.motor.steps_per_degree <= MAX_STEPS_PER_DEGREE:
                lines.append(f"[motor] gives {n(round(self.motor.steps_per_degree, 3))} steps per degree, outside "
                             f"{n(MIN_STEPS_PER_DEGREE)}..{n(MAX_STEPS_PER_DEGREE)}")
        rate = self.steps_per_degree * lim.max_speed if len(lines) == drive_problems else 0.0
        if rate > MAX_STEP_RATE:
            source = "[motor]" if self.motor.given else "[table] steps_per_degree"
            lines.append(f"{source} gives {n(round(self.steps_per_degree, 3))} steps per degree: at [limits] max_speed = "
                         f"{n(lim.max_speed)} that is {rate:.0f} steps/s, above the {MAX_STEP_RATE} the step pulses can "
                         "reach: lower the microstepping or max_speed")
        lines += self._tracking_problems()
        names = [u.name for u in self.users]
        for i, user in enumerate(self.users):
            label = f"users #{i + 1} ({user.name})"
            if names.index(user.name) != i:
                lines.append(f"{label}: the name is already users #{names.index(user.name) + 1}'s")
            for key, limit_key, show in USER_LIMITS:
                value, limit = getattr(user, key), getattr(lim, limit_key)
                if value is not None and value > limit:
                    lines.append(f"{label} {key} = {show(value)} is above [limits] {limit_key} = {show(limit)}: a "
                                 "user's limits can only lower the config's")
        if lines:
            raise problem("\n".join(lines))
        return self

    def _tracking_problems(self) -> list[str]:
        """What makes the stall and slip checks blind within 1 s (I8), one line each."""
        from controller.core.supervisor import (
            ANCHOR_TIME, SLIP_VISIBLE_RATE, Tracking, slip_allowance, slowest_watched_speed, too_slow_advice,
        )

        n, lim, mot, trk = fmt_number, self.limits, self.motion, self.tracking
        tracking = Tracking(**trk.model_dump())
        slowest = slowest_watched_speed(tracking)
        why = (f"the slowest speed whose stall [tracking] rate_tolerance = {n(trk.rate_tolerance)} and rate_share = "
               f"{n(trk.rate_share)} can see within 1 s, {slowest:.3g} deg/s")
        lines = []
        speeds = [("[motion] return_speed", mot.return_speed), ("[motion] jog_speed", mot.jog_speed),
                  ("the hold-to-run return while tripped (half [limits] max_speed, at most [motion] return_speed)",
                   min(mot.return_speed, lim.max_speed * 0.5))]
        speeds += [(f"users #{i + 1} ({u.name}) max_speed", u.max_speed) for i, u in enumerate(self.users)
                   if u.max_speed is not None]
        for name, speed in speeds:
            if speed < slowest - 1e-9:
                lines.append(f"{name} = {n(speed)} is below {why}: {too_slow_advice(tracking, speed, floors=TRACKING_FLOORS)}")
        # A stall that starts with a move is seen once the move is fast enough to watch: the time to
        # accelerate to that speed, the mismatch's `time` and two periods of latency fit in 1 s (I8).
        latency = max(slowest / lim.max_accel, ANCHOR_TIME) + trk.time + 2 * self.period
        if latency > STALL_TRIP_WITHIN + 1e-9:
            lines.append(f"[limits] max_accel = {n(lim.max_accel)} is too low to catch a stall within "
                         f"{n(STALL_TRIP_WITHIN)} s: a move takes {slowest / lim.max_accel:.2g} s to reach {slowest:.3g} deg/s "
                         f"(the slowest speed [tracking] rate_tolerance can watch), then [tracking] time = "
                         f"{format_duration(trk.time)} and two periods at [control] rate = {self.control.rate}: "
                         f"{latency:.2f} s; raise max_accel or lower [tracking] time")
        if trk.time < MIN_TRACKING_PERIODS * self.period - 1e-9:
            lines.append(f"[tracking] time = {format_duration(trk.time)} is less than {MIN_TRACKING_PERIODS} control periods at "
                         f"[control] rate = {self.control.rate} ({format_duration(round(MIN_TRACKING_PERIODS * self.period, 3))}): "
                         "the gyro's noise alone would trip; raise time or the rate")
        allowance = slip_allowance(tracking, lim.max_speed)
        if allowance > SLIP_VISIBLE_RATE + 1e-9:
            lines.append(f"[tracking] rate_tolerance = {n(trk.rate_tolerance)} + rate_share = {n(trk.rate_share)} x "
                         f"[limits] max_speed = {n(lim.max_speed)} tolerates {allowance / 2:.3g} deg/s of mismatch: a "
                         f"slip of {n(SLIP_VISIBLE_RATE)} deg/s must stand out by twice that (at most "
                         f"{n(SLIP_VISIBLE_RATE / 2)}): lower rate_tolerance or rate_share")
        return lines

    def for_user(self, name: str | None) -> Config:
        """The config with a user's limits applied (every one the lower of the two); the config
        itself for no user. Comfort speeds above the user's speed cap come down to it."""
        if name is None:
            return self
        user = self.user(name)
        lim, mot = self.limits, self.motion
        limits = lim.model_copy(update={
            limit_key: min(getattr(lim, limit_key), getattr(user, key)) for key, limit_key, _ in USER_LIMITS
            if getattr(user, key) is not None})
        speed = limits.max_speed
        motion = mot.model_copy(update={"return_speed": min(mot.return_speed, speed),
                                        "jog_speed": min(mot.jog_speed, speed)})
        return self.model_copy(update={"limits": limits, "motion": motion})

    def user(self, name: str) -> UserConfig:
        for user in self.users:
            if user.name == name:
                return user
        known = ", ".join(u.name for u in self.users) or "none in the config's [[users]]"
        raise ConfigError(f"no user named {shown(name)} (users: {known})")


def load_config(path: str | Path | None) -> Config:
    """The config in ``path``, or the defaults when ``path`` is None; bad input raises ConfigError."""
    if path is None:
        return Config()
    return load_toml_model(path, Config, error_cls=ConfigError, what="config")
