"""Property test of the pure period step (``controller/core/period.py``, issue 11): Hypothesis drives
``period.initial`` / ``period.step`` / ``period.trip`` directly, with no threads, clocks, pins or
emulator, and judges the safety invariants I1-I8 of the brief on the table state, the actions and a
tiny pure plant, every control period.

The shell (controller/shell/loop.py's ``Controller._tick`` and ``_carry_out``) is mirrored exactly: the
halt token is read first, then the sample (or its failure, after up to three attempts), then the
queued events are drained and the button levels read; the step's actions are carried out in order
(``Move`` -> ``move_to`` and its stepped rate for the next period, ``Halt``, ``SetPosition``,
``ClearHalt`` with its token), and a motor left halted gets ``period.halted_at``. A crash inside a
period (the ``crash`` fault) goes through ``period.trip(INTERNAL_ERROR)`` with the queue not drained,
as ``Controller.tick`` does.

The plant: an ideal stepper with drivers/stepper.py's bookkeeping (whole steps, the 1.05 rate clamp,
a halt that latches, cancels the unsent pulses of the train in flight, counts halts, and refuses
moves until ``clear_halt`` gets the current count), turning the true angle in whole pulses over the
period; a stop press halts it directly at the moment it is pressed (drivers/buttons.py: post, then
halt), and so does the dead-man (post LOOP_STALL, then halt). Plant faults drawn by Hypothesis: a
stall (pulses counted, table still), a slip (the table slides head-down at drivers/sim/table.py's
SLIP_RATE), the IMU lost (no sample), an I2C error storm (each attempt fails with p = 0.5), frozen raw
bytes, a spike (+-3 g per axis), a gyro lie (+5 deg/s), a trip posted by another thread, a crash in
the loop, the loop stalling (no period runs; the dead-man, controller/shell/deadman.py's pure
``heartbeat_stale``, posts LOOP_STALL and halts the motor once the heartbeat is two periods old). The IMU sample is synthesised from the true angle through the mount's axes, with the MPU-6050
emulator's biases and noise (drivers/sim/mpu6050.py: 400 ug/sqrt(Hz) at the 44 Hz filter, 0.02 g of
step vibration while stepping) from a random seeded by the example, the gyro reading the train's rate,
and unique ``raw`` bytes per sample (the values and a sequence number, struct-packed).

Inputs drawn: a valid config (every key within controller/setup/config.py's bounds, a coarse 20-40 Hz loop,
short session and idle timeouts so whole sessions fit in a few simulated minutes, any mount), presets
from profiles/presets prepared by ``prepare_profile`` (with session_timeout at its maximum, so the short
timeouts here cut them short and the timeout return is exercised; the load check's refusal is
test_properties_configs.py's), often a short drawn program too, sometimes a second user with lower
limits, sometimes a restart (``restored``: a latched stop or trip, the session clock, the last trusted
angle), and presses and holds of every button at random times, including a stop pressed in the two
races of loop.py (after the token was read; during the carry-out), and lost release edges of the
hold-to-run buttons (only the levels tell).

Checked every period (the first instance of each is reported, see ``Violation``):

- I1 (command): no Move toward a target beyond the limits in force (max_angle, home_angle) unless it
  goes toward home from beyond; the admitted goal is within them. (truth): the true angle stays within
  [home_angle - 1, max_angle + 1].
- I2: after a stop press at t, the true angle changes by at most 0.1 deg after t + one period while
  the stop stays latched; the step that handles the press latches it, emits no Move and no ClearHalt,
  and leaves the motor halted.
- I3 (stop): no Move and no ClearHalt in a step that ends stopped; the true angle does not change
  between two stopped periods. (trip): a Move while tripped only with `return` physically held (the
  levels), only toward home, at most half max_speed per period (plus one step of rounding); the true
  angle likewise (direction; speed over I6's window).
- I4: after a reset of a latched stop or trip, no Move and no true motion until a motion button is
  pressed again (a held return while a trip is latched, one that came after the reset or that the
  reset did not clear, is I3's recovery).
- I5: the time the true angle is head-down (above +1 deg, the brief's definition, as
  tests/invariants.py counts it: not while latched, nor after a reset until someone asks) stays within
  session_timeout plus a return at max_speed (+2 periods); the step's own session clock is not
  trusted for it.
- I6 (command): no move the stepper had to clamp, |setpoint velocity| <= max_speed. (truth): the
  speed over max(5 periods, 0.1 s) is at most 1.05 x max_speed plus one step of quantisation.
- I7: no Move, and no true motion, before the first press of start, return, up or down; every Move
  comes from a state whose machine says a person asked (``motion_requested``).
- I8: a lost IMU has a trip latched within 0.1 s; frozen bytes, a stall (a whole second of commanded
  motion at >= 0.5 deg/s, as tests/invariants.py judges it) and a slip (unless already latched)
  within 1 s.
- Rule 1 (one trip path): every trip Report is preceded by a Halt in the same actions, there is at
  most one per latch (never while a trip is latched), the latched reason is the reported one, and
  the motor is halted at the end of the period.
- Rule 4, beyond I8 (no deadline in the brief; 1 s used as a sanity bound): an I2C error storm, a
  spike or a gyro lie (begun after the power-on anchor) lasting over 1 s trips within 1 s.
- No trip without a fault: with nothing injected, nothing trips.
- Hold-to-run: a Move while jogging only with up or down physically held.
- Consistency: ``sample_record`` matches the state (state name, target, angle), the machine's latches
  match its state name, a latched table has no program and is idle, recovering means `return` held;
  ``patterns_for`` answers.

Not meaningful without hardware (left to the full-stack tests on the emulator and the real driver):
the dead-man's own timing (rule 2: a thread watching the loop; here it acts exactly two periods
after the last heartbeat, by construction), the I2C retries themselves and their timing (the shell's),
the real pulse train's latency and a halt's wake-up, the stop button's electrical path, a stop stuck
at boot (the panel refuses start-up before the step exists), the estimator's error against a real
chip's bias and filter, and the hardware e-stop and limit switches of rule 8. Acceleration is not
judged (no invariant names it).

CI runs INVERSION_TABLE_PERIOD_EXAMPLES examples (default 2000), derandomized and without a database,
so every run draws the same examples.
"""

from __future__ import annotations

import math
import os
import random
import struct
from dataclasses import dataclass, field, replace
from functools import lru_cache

import pytest
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from controller.core import session
from controller.core.session import Block, Leg, Program  # noqa: F401 - the names a Scenario prints
from controller.setup.config import (
    HARD_MAX_ACCEL, HARD_MAX_ANGLE, HARD_MAX_SPEED, MAX_SESSION_TIMEOUT, MAX_STEP_RATE, MAX_STEPS_PER_DEGREE,
    MIN_SESSION_TIMEOUT, MIN_STEPS_PER_DEGREE, Config,
)
from controller.core import period, supervisor
from controller.shell.deadman import heartbeat_stale
from controller.core.table_state import ClearHalt, Halt, Inputs, Move, PresetsChanged, Report, SetPosition, UserChoice
from controller.errors import ProfileError
from controller.core.planner import move_time
from controller.setup.preflight import prepare_profile
from controller.core.reasons import Trip
from controller.shell.restart import RestartState
from controller.shell.simulate import settings_from
from controller.core.state import BUTTONS, HOLD_TO_RUN, MOTION_BUTTONS, Activity, ButtonEvent
from drivers.imu import STANDARD_GRAVITY, ImuSample, Mount
from drivers.sim.mpu6050 import DISAGREE_DPS, DLPF_BANDWIDTH_HZ, NOISE_BANDWIDTH_FACTOR, SPIKE_G
from drivers.sim.table import FRAME_MAX, FRAME_MIN, SLIP_RATE
from drivers.stepper import STEP_RATE_MARGIN
from tests.invariants import BRIEF_HEAD_DOWN_ABOVE, EPS, I8_TABLE_DEADLINE, SPEED_WINDOW, STALL_VISIBLE_SPEED, WINDOW

EXAMPLES = int(os.environ.get("INVERSION_TABLE_PERIOD_EXAMPLES", "2000"))
MAX_HORIZON = 40.0  # s of simulated time at most per example (most end sooner: see _ended)
AFTER_LAST = 3.0  # s run after the last press, release or fault of an example that is not a whole session
GRACE = 0.5  # s run on after the end condition first holds, in case something moves by itself
PRESET_NAMES = ("build-up", "decompression", "gentle", "hold-40", "oscillate", "slow-entry")
MOUNTS = (("+x", "+z"), ("-y", "+z"), ("+z", "-x"), ("-x", "-y"), ("+y", "+x"))
HOLDS = (0.0, 0.0, 0.1, 0.3, 1.0, 2.0, 2.0, 5.0, 10.0)  # s a button is held (2 s: a long select)
FAULT_DURATIONS = (0.02, 0.1, 0.5, 1.5, 3.0, None)  # None: to the end of the run
SENSOR_FAULTS = ("imu-lost", "imu-errors", "imu-freeze", "imu-spike", "gyro-lie")
FAULT_KINDS = SENSOR_FAULTS + ("stall", "slip", "loop-stall", "posted-thread-crash", "crash")
IMU_LOST_DEADLINE = 0.1  # s (I8)
# Known violations, each pinned by a strict xfail regression test below, and kept out of the property
# test's verdict until fixed (INVERSION_TABLE_PERIOD_KNOWN=fail puts them back in). K2, K3, K4 and K6 were
# fixed in the step (command.choose, core/sensing.py, core/period.py): their regressions below are plain
# tests now, and the property test counts every such excess as a failure:
# K1 (I8, test_slip_at_power_on_trips_within_a_second): a slip under way during the power-on anchor
#   is learned as gyro bias (the anchor takes the mean rate as the bias): from power-on it trips only
#   after ~2.7 s; begun during the anchor, the rest of it can hide inside rate_share at speed. The
#   property test draws slips from POWER_ON_SLIP_FROM on.
# K2 (I5, test_a_late_return_keeps_within_the_session_bound): a return the step itself declares late
#   (its notice HURRY_NOTICE, "returning at max_speed") still goes at the comfort speed (lowered by a
#   slow profile's cap): command.choose caps a RETURNING command at return_speed, so the hurried
#   program's max_speed never takes effect. An I5 excess in an excursion whose return was declared late
#   is reported as K2 (the outcome's ``known``), not as a failure; every other I5 excess fails.
# K3 (I5, test_a_timeout_return_during_a_descent_keeps_within_the_session_bound) was fixed in the step
#   (command.i5_allowance): a return begun while the table still heads down (braking first) kept it
#   head-down up to ~0.6 s past tests/invariants.py's bound (session_timeout + move_time(max_angle) at
#   max_speed, from rest), as the step allowed itself the braking on top of the return. It now allows
#   no more than a return from max_angle at rest, and begins the return early by the rest.
# K4 (return, test_return_pressed_before_the_anchor_goes_home): `return` pressed before the power-on
#   anchor plans from the step count's 0 deg, not from the table: with rest_angle below -1 it first
#   drives the table from home up to the rest angle (toward head-down), rests, then comes back. The
#   property test presses `return` from ANCHORED_BY on.
# K6 (I1, test_a_reset_after_a_gyro_lie_keeps_the_table_within_its_travel): a reset that clears a
#   tracking trip (stall, tracking, unexpected-motion, reversed) sets the step count to the fused
#   estimate, which a lying gyro has bent, before the accelerometer re-anchor is done: the return
#   that follows drives the table past home (-61.5 with home at -60 on the simulated table) until the
#   under-angle trip. An I1 excess after such a reset is reported as K6.
# K7 (I5, test_a_table_held_at_the_head_down_threshold_keeps_within_the_session_bound): a table held
#   at +1 deg (max_angle 1) is a little above the threshold in truth while the step's head-down clock,
#   reading the uncalibrated estimate (~0.25 deg low), counts less of it: the timeout return comes late,
#   and for as long as the table is held there (the clock may never count). Any I5 excess in an
#   excursion never more than K7_NEAR above the threshold is reported as K7.
# K5 (no trip without a fault, test_a_return_home_after_a_profile_on_a_coarse_loop_does_not_trip): on
#   a coarse loop (20-25 Hz) the estimate's noise with step vibration reached the 0.5 deg limit margin
#   now and then as a brisk return arrived home. The estimator averages the accelerometer over as many
#   samples at any rate (estimator.MIN_SAMPLES_AVERAGED), which fixed the case first found
#   (test_a_healthy_table_arriving_home_does_not_trip), but not all: a 20 Hz return at 2 deg/s after a
#   profile still arrives with the estimate 0.55 deg below the truth (found 2026-12-02 by hypothesis
#   6.170's draws). An under-angle trip with nothing injected, the table itself not past home by the
#   margin, is reported as K5; any other trip with nothing injected fails.
STRICT_KNOWN = os.environ.get("INVERSION_TABLE_PERIOD_KNOWN", "") == "fail"
ANCHORED_BY = 0.5  # s: the power-on anchor is done by then at any loop rate drawn here
POWER_ON_SLIP_FROM = 0.0 if STRICT_KNOWN else ANCHORED_BY  # s (K1)
K7_NEAR = 0.5  # deg above the head-down threshold (K7)
IMU_FROZEN_DEADLINE = 1.0  # s (I8)
RULE4_SANITY = 1.0  # s: not the brief's (it gives no deadline for these), a bound for a sanity check
# The emulator's sensor (drivers/sim/mpu6050.py defaults): biases (sensor frame, default mount) and
# noise at DLPF_CFG 3 (44 Hz).
GYRO_BIAS = (0.4, -0.3, 0.2)  # deg/s
ACCEL_BIAS = (0.005, -0.004, 0.01)  # g
_ROOT_BW = math.sqrt(NOISE_BANDWIDTH_FACTOR * DLPF_BANDWIDTH_HZ[3])
ACCEL_SIGMA = 400e-6 * _ROOT_BW  # g
VIBRATION = 0.02  # g while stepping
ACCEL_SIGMA_STEPPING = math.hypot(ACCEL_SIGMA, VIBRATION)
GYRO_SIGMA = 0.005 * _ROOT_BW  # deg/s
ERROR_STORM_P = 0.5
READ_ATTEMPTS = 3  # controller/shell/loop.py IMU_READ_ATTEMPTS
STATE_NAMES = frozenset({"idle", "running", "returning", "jogging", "stopped", "tripped"})
_RAW = struct.Struct(">6fI")


# -- the scenario -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Press:
    t: float
    name: str
    hold: float = 0.0
    lost_release: bool = False  # the release edge never comes (a hold-to-run button: the levels tell)
    race: str = "none"  # a stop pressed "after-token" (the halt makes the token stale) or "in-carry-out"


@dataclass(frozen=True)
class Fault:
    t: float
    kind: str
    duration: float | None = None

    @property
    def end(self) -> float:
        return math.inf if self.duration is None else self.t + self.duration


@dataclass
class Scenario:
    config_doc: dict
    presets: tuple[str, ...] = ()
    program: session.Program | None = None  # a drawn short program, offered as preset "drawn"
    user: dict | None = None  # a second user ([[users]] entry), acknowledged or not
    user_acknowledged: bool = True
    restored: RestartState | None = None
    presses: tuple[Press, ...] = ()
    faults: tuple[Fault, ...] = ()
    presets_changed: tuple[float, ...] = ()  # times a PresetsChanged (the same presets, reversed) is posted
    seed: int = 0
    horizon: float = MAX_HORIZON

    def describe(self) -> str:
        return (f"Scenario(config_doc={self.config_doc!r}, presets={self.presets!r}, program={self.program!r}, "
                f"user={self.user!r}, user_acknowledged={self.user_acknowledged!r}, restored={self.restored!r}, "
                f"presses={self.presses!r}, faults={self.faults!r}, presets_changed={self.presets_changed!r}, "
                f"seed={self.seed!r}, horizon={self.horizon!r})")


@dataclass
class Violation:
    check: str
    t: float
    detail: str
    count: int = 1

    def __str__(self) -> str:
        more = f" ({self.count} instances)" if self.count > 1 else ""
        return f"{self.check} at t={self.t:.3f}: {self.detail}{more}"


# -- the plant: an ideal stepper turning the table, in whole steps ---------------------------------
class Plant:
    """drivers/stepper.py's bookkeeping (position in steps, the rate clamp, the halt latch and its
    count) driving the true angle, one pulse train per Move, spread evenly over its duration."""

    def __init__(self, *, steps_per_degree: float, max_speed: float, angle: float) -> None:
        self.spd = float(steps_per_degree)
        self.max_step_rate = max_speed * STEP_RATE_MARGIN * self.spd
        self.steps = 0
        self.offset = 0.0  # a fresh Stepper knows nothing: position 0 until the anchor sets it
        self.halted = False
        self.halt_count = 0
        self.clamped = 0
        self.angle = angle  # the true angle at self.t
        self.t = 0.0
        self.train: list | None = None  # [start, duration, pulses, sign, sent]
        self.stalled = False
        self.slipping = False

    @property
    def position(self) -> float:
        return self.offset + self.steps / self.spd

    def set_position(self, degrees: float) -> None:
        self.offset = degrees - self.steps / self.spd

    def advance(self, t: float) -> None:
        if t <= self.t:
            return
        tr = self.train
        if tr is not None and tr[4] < tr[2]:
            due = min(tr[2], math.floor(tr[2] * (t - tr[0]) / tr[1] + 1e-6))
            if due > tr[4]:
                if not self.stalled:
                    self.angle += tr[3] * (due - tr[4]) / self.spd
                tr[4] = due
        if self.slipping:
            self.angle += SLIP_RATE * (t - self.t)
        self.angle = min(FRAME_MAX, max(FRAME_MIN, self.angle))
        self.t = t

    def stepping(self, t: float) -> bool:
        tr = self.train
        return tr is not None and tr[2] > 0 and tr[0] <= t <= tr[0] + tr[1] + 1e-6

    def rate(self, t: float) -> float:
        rate = SLIP_RATE if self.slipping else 0.0
        if not self.stalled and self.stepping(t):
            rate += self.train[3] * self.train[2] / self.train[1] / self.spd
        return rate

    def move_to(self, degrees: float, duration: float) -> int:
        if self.halted:
            return 0
        wanted = round((degrees - self.offset) * self.spd) - self.steps
        limit = math.floor(self.max_step_rate * duration) + 1
        if abs(wanted) > limit:
            self.clamped += 1
            wanted = limit if wanted > 0 else -limit
        if wanted == 0:
            return 0
        self.steps += wanted
        tr, total = self.train, wanted
        if tr is not None and tr[4] < tr[2]:  # a late train's unsent pulses go with the next
            total += tr[3] * (tr[2] - tr[4])
        self.train = [self.t, duration, abs(total), 1 if total > 0 else -1, 0] if total else None
        return wanted

    def halt(self) -> None:
        self.halt_count += 1
        self.halted = True
        tr = self.train
        if tr is not None and tr[4] < tr[2]:
            self.steps -= tr[3] * (tr[2] - tr[4])
            tr[1], tr[2] = max(self.t - tr[0], 1e-12), tr[4]

    def clear_halt(self, token: int) -> bool:
        if token != self.halt_count:
            return False
        self.halted = False
        return True


class Sensor:
    """The MPU-6050 as the loop sees it: a sample synthesised from the truth, or its faults."""

    def __init__(self, mount: Mount, seed: int) -> None:
        self.fwd, self.nrm, self.pivot = mount.forward_vec, mount.normal_vec, mount.pivot_vec
        # The emulator's biases as they sit relative to the bed with its default mount (+x forward,
        # +z normal, so +y the pivot), whatever the mount: the same uncalibrated error everywhere.
        self.accel_bias = tuple(ACCEL_BIAS[0] * self.fwd[i] + ACCEL_BIAS[2] * self.nrm[i] + ACCEL_BIAS[1] * self.pivot[i]
                                for i in range(3))
        self.gyro_bias = tuple(GYRO_BIAS[0] * self.fwd[i] + GYRO_BIAS[2] * self.nrm[i] + GYRO_BIAS[1] * self.pivot[i]
                               for i in range(3))
        self.rng = random.Random(seed)
        self.fault_rng = random.Random(f"{seed}:faults")
        self.count = 0
        self.latched: tuple | None = None  # (accel, gyro, raw): what a frozen chip keeps returning

    def _latch(self, angle: float, rate: float, stepping: bool, spike: bool, lie: bool) -> tuple:
        theta = math.radians(angle)
        a_f, a_n = -math.sin(theta), math.cos(theta)
        sigma = ACCEL_SIGMA_STEPPING if stepping else ACCEL_SIGMA
        gauss, fwd, nrm, pivot = self.rng.gauss, self.fwd, self.nrm, self.pivot
        bias = self.accel_bias
        n_f, n_n = gauss(0.0, sigma), gauss(0.0, sigma)  # along the bed and its normal (the pivot axis's
        accel = [(a_f + n_f) * fwd[i] + (a_n + n_n) * nrm[i] + bias[i] for i in range(3)]  # never reaches the tilt)
        if spike:
            accel = [a + self.fault_rng.choice((-SPIKE_G, SPIKE_G)) for a in accel]
        accel = (accel[0] * STANDARD_GRAVITY, accel[1] * STANDARD_GRAVITY, accel[2] * STANDARD_GRAVITY)
        w = rate + (DISAGREE_DPS if lie else 0.0) + gauss(0.0, GYRO_SIGMA)  # noise on the pivot axis only:
        gb = self.gyro_bias  # the others never reach Mount.rate_dps
        gyro = (w * pivot[0] + gb[0], w * pivot[1] + gb[1], w * pivot[2] + gb[2])
        self.count += 1
        return accel, gyro, _RAW.pack(*accel, *gyro, self.count)

    def read(self, t: float, plant: Plant, faults: set[str]):
        """(sample or None, attempts, failures), as Controller._read returns them."""
        if "imu-lost" in faults:
            return None, READ_ATTEMPTS, READ_ATTEMPTS
        failures = 0
        for attempt in range(1, READ_ATTEMPTS + 1):
            if "imu-errors" in faults and self.fault_rng.random() < ERROR_STORM_P:
                failures += 1
                continue
            if "imu-freeze" not in faults or self.latched is None:
                self.latched = self._latch(plant.angle, plant.rate(t), plant.stepping(t),
                                           "imu-spike" in faults, "gyro-lie" in faults)
            accel, gyro, raw = self.latched
            return ImuSample(t=t, accel=accel, gyro=gyro, raw=raw, temperature=25.0), attempt, failures
        return None, READ_ATTEMPTS, failures


# -- the table as a whole: config, presets, users ------------------------------------------------
def build_config(doc: dict) -> Config:
    return Config.model_validate(doc)


@lru_cache(maxsize=4096)
def _prepared(name: str, limits_key: tuple) -> session.Program | None:
    home, max_angle, max_speed, max_accel, rest_angle = limits_key
    roomy = Config.model_validate({
        "table": {"home_angle": home},
        "limits": {"max_angle": max_angle, "max_speed": max_speed, "max_accel": max_accel,
                   "session_timeout": MAX_SESSION_TIMEOUT},
        "motion": {"return_speed": max_speed, "jog_speed": max_speed, "rest_angle": rest_angle},
    })
    try:
        return prepare_profile(name, roomy).program
    except ProfileError:
        return None  # an angle beyond this config's travel: not offered


def presets_for(sc: Scenario, config: Config) -> tuple[session.Preset, ...]:
    lim = config.limits
    key = (config.table.home_angle, lim.max_angle, lim.max_speed, lim.max_accel, config.motion.rest_angle)
    out = []
    for name in sc.presets:
        program = _prepared(name, key)
        if program is not None:
            out.append(session.Preset(name, program, source=name))
    if sc.program is not None:
        out.append(session.Preset("drawn", sc.program))
    return tuple(out)


# -- one run ----------------------------------------------------------------------------------------
class _Found:
    def __init__(self) -> None:
        self.by_check: dict[str, Violation] = {}

    def add(self, check: str, t: float, detail: str) -> None:
        v = self.by_check.get(check)
        if v is None:
            self.by_check[check] = Violation(check, t, detail)
        else:
            v.count += 1


@dataclass
class Watch:
    """An I8 / rule 4 deadline: a trip latched at some period in [start, deadline]."""

    check: str
    start: float
    deadline: float
    met: bool = False
    judged: bool = False


@dataclass
class Outcome:
    violations: list[Violation]
    t: float
    state: str
    true_angle: float
    trips: list[str] = field(default_factory=list)
    steps: int = 0
    final: object = None  # the last TableState
    known: list[Violation] = field(default_factory=list)  # known violations (K1, K2), not failures


def run_scenario(sc: Scenario) -> Outcome:
    """Drive the pure step through the scenario; every invariant it broke."""
    config = build_config(sc.config_doc)
    base = settings_from(config)
    mount = Mount(config.imu.forward, config.imu.normal)
    presets = presets_for(sc, config)
    users: tuple[UserChoice, ...] = ()
    if sc.user is not None:
        users = (UserChoice(None, presets, base),
                 UserChoice(sc.user["name"], presets, settings_from(config.for_user(sc.user["name"])),
                            acknowledged=sc.user_acknowledged))
    dt = base.period
    home0 = config.table.home_angle
    plant = Plant(steps_per_degree=config.steps_per_degree, max_speed=config.limits.max_speed,
                  angle=sc.restored.angle if sc.restored is not None else home0)
    sensor = Sensor(mount, sc.seed)
    step_size = 1.0 / plant.spd
    found = _Found()
    add = found.add

    # The timeline between periods: (t, order, kind, payload).
    timeline: list[tuple] = []
    for i, p in enumerate(sc.presses):
        timeline.append((p.t, 1, i, "press", p))
        # after its own press, even if held for 0 s; a stop pressed in a race is down for a period at least
        hold = max(p.hold, dt) if p.race != "none" else p.hold
        timeline.append((p.t + hold, 2, i, "release", p))
    for i, f in enumerate(sc.faults):
        timeline.append((f.t, 3, i, "fault-on", f))
        if f.duration is not None:
            timeline.append((f.end, 0, i, "fault-off", f))
    for i, t in enumerate(sc.presets_changed):
        timeline.append((t, 4, i, "presets", None))
    timeline.sort(key=lambda x: (x[0], x[1], x[2]))
    last_scheduled = max((x[0] for x in timeline), default=0.0)
    slip_from = min((f.t for f in sc.faults if f.kind == "slip"), default=math.inf)
    any_fault = bool(sc.faults) or (sc.restored is not None and sc.restored.trip is not None)

    watches: list[Watch] = []

    def watch(f: Fault) -> None:
        """A fault begins (its kind was off): the trip it must bring, by when."""
        dur = math.inf if f.duration is None else f.duration
        if f.kind == "imu-lost" and dur > IMU_LOST_DEADLINE:
            watches.append(Watch("I8 imu-lost", f.t, f.t + IMU_LOST_DEADLINE))
        elif f.kind == "imu-freeze" and dur > IMU_FROZEN_DEADLINE:
            watches.append(Watch("I8 imu-freeze", f.t, f.t + IMU_FROZEN_DEADLINE))
        elif f.kind == "imu-errors" and dur > RULE4_SANITY:
            watches.append(Watch("R4 imu-errors", f.t, f.t + RULE4_SANITY))
        elif f.kind in ("imu-spike", "gyro-lie") and dur > RULE4_SANITY and f.t >= ANCHORED_BY:
            # (a gyro lie from power-on is a bias: the anchor learns it, and nothing can tell)
            watches.append(Watch(f"R4 {f.kind}", f.t, f.t + RULE4_SANITY))
        elif f.kind == "slip" and dur > I8_TABLE_DEADLINE:
            watches.append(Watch("I8 slip", f.t, f.t + I8_TABLE_DEADLINE))
    stalls = [f for f in sc.faults if f.kind == "stall" and (f.duration is None or f.duration > I8_TABLE_DEADLINE)]

    held: set[str] = set()
    queue: list = []
    active: set[str] = set()  # sensor faults on now
    crash_pending = False
    stall_until = -math.inf  # the loop does not run before this (a loop-stall fault)
    heartbeat = 0.0  # the time of the last full period (controller/shell/loop.py)
    deadman_fired = False
    trips: list[str] = []  # the reasons reported, in order
    trip_truths: list[float] = []  # the true angle as each was reported (K5)

    state, actions = period.initial(base, mount=mount, position=plant.position, now=0.0, presets=presets,
                                    users=users, restored=sc.restored)
    # -- carrying out a period's actions (loop.py's _carry_out) ----------------------------------
    stepped_rate = 0.0

    def carry_out(new, acts, t, racing: list[Press]):
        nonlocal stepped_rate
        moves = []  # (degrees, position before, steps)
        for i, a in enumerate(acts):
            kind = type(a)
            if racing and kind in (Move, ClearHalt):
                for p in racing:
                    plant.halt()
                racing.clear()
            if kind is Move:
                before = plant.position
                steps = plant.move_to(a.degrees, a.duration)
                stepped_rate = steps / plant.spd / a.duration
                moves.append((a, before, steps, i))
            elif kind is Halt:
                plant.halt()
            elif kind is SetPosition:
                plant.set_position(a.degrees)
            elif kind is ClearHalt:
                plant.clear_halt(a.token)
        for p in racing:
            plant.halt()
        racing.clear()
        if plant.halted:
            new = period.halted_at(new, plant.position)
        return new, moves

    def trip_path(pre, acts, t, resets: bool):
        """Rule 1 on one period's actions: Halt first, once per latch."""
        current = pre.machine.trip if pre is not None else None
        halted_before = False
        reported = []
        for a in acts:
            kind = type(a)
            if kind is Halt:
                halted_before = True
            elif kind is Report:
                rec = a.record
                ev = rec.get("event")
                if ev == "trip":
                    reported.append(rec["reason"])
                    trips.append(str(rec["reason"]))
                    trip_truths.append(plant.angle)
                    if not halted_before:
                        add("R1 halt first", t, f"trip {rec['reason']} reported before any Halt")
                    if current is not None:
                        add("R1 once", t, f"trip {rec['reason']} reported while {current} is latched")
                    current = rec["reason"]
                elif ev == "button" and rec["name"] == "reset" and rec["action"] == "press":
                    current = None  # it may have cleared the latch
        return reported

    # the initial actions
    state, moves0 = carry_out(state, actions, 0.0, [])
    reported = trip_path(None, actions, 0.0, False)
    if moves0:
        add("I7 command", 0.0, "a Move at power-on")
    if reported and not plant.halted:
        add("R1 halted", 0.0, "a trip at power-on left the motor running")

    # -- the checks' memory -------------------------------------------------------------------------
    asked_at: float | None = None  # the first period that handled a motion-button press (I7)
    waiting_reset = False  # a reset cleared a latch; no motion until a motion button (I4)
    stop_watches: list[list] = []  # [press t, reference angle or None] (I2)
    history: list[tuple] = []  # (t, true angle, state name, return held at the period, limits)
    head_down = 0  # periods
    peak = -math.inf  # the excursion's highest true angle (K7)
    known = _Found()  # known violations, reported apart (STRICT_KNOWN makes them fail)
    ended_at: float | None = None
    stall_start: float | None = None
    prev_target: float | None = None
    prev_t = None
    prev_latched = True
    k = 0
    idx = 0
    n_timeline = len(timeline)
    t = 0.0
    while True:
        t = k * dt
        if t > sc.horizon + 1e-9:
            break
        # what happened since the last period, in time order
        racing_now: list[Press] = []  # stops that halt after the token was read
        racing_carry: list[Press] = []
        while idx < n_timeline and timeline[idx][0] <= t + 1e-9:
            te, _, _, what, obj = timeline[idx]
            idx += 1
            plant.advance(te)
            if what == "press":
                if obj.name == "stop" and obj.race != "none" and abs(te - t) <= 1e-9:
                    (racing_now if obj.race == "after-token" else racing_carry).append(obj)
                    continue
                if obj.name in held:
                    continue  # already down: a pin cannot be pressed twice
                held.add(obj.name)
                queue.append(ButtonEvent(obj.name, True, te))
                if obj.name == "stop":
                    plant.halt()  # the panel posts, then halts the motor itself
            elif what == "release":
                if obj.name in held:
                    held.discard(obj.name)
                    if not (obj.lost_release and obj.name in HOLD_TO_RUN):
                        queue.append(ButtonEvent(obj.name, False, te))
            elif what == "fault-on":
                kind = obj.kind
                if not (kind in active or (kind == "slip" and plant.slipping)):
                    watch(obj)
                if kind == "stall":
                    plant.stalled = True
                elif kind == "slip":
                    plant.slipping = True
                elif kind == "loop-stall":
                    stall_until = max(stall_until, obj.end)
                elif kind == "posted-thread-crash":
                    queue.append(Trip.THREAD_CRASH)  # another thread: post only
                elif kind == "crash":
                    crash_pending = True
                else:
                    active.add(kind)
            elif what == "fault-off":
                kind = obj.kind
                if kind == "stall":
                    plant.stalled = any(f.kind == "stall" and f.t <= te < f.end for f in sc.faults if f is not obj)
                elif kind == "slip":
                    plant.slipping = any(f.kind == "slip" and f.t <= te < f.end for f in sc.faults if f is not obj)
                elif kind in SENSOR_FAULTS:
                    if not any(f.kind == kind and f.t <= te < f.end for f in sc.faults if f is not obj):
                        active.discard(kind)
            elif what == "presets":
                queue.append(PresetsChanged(state.user, tuple(reversed(state.presets))))
        plant.advance(t)
        if t < stall_until - 1e-9:
            # The loop does not run; the dead-man watches it (controller/shell/deadman.py): once the heartbeat
            # is two periods old it posts LOOP_STALL, then halts the motor. The loop's deadlines wait for
            # it (a fault during the stall is the dead-man's: it has halted and posted already).
            if heartbeat_stale(heartbeat, t, dt) and not deadman_fired:
                deadman_fired = True
                queue.append(Trip.LOOP_STALL)
                plant.halt()
            for w in watches:
                if not w.judged and w.start <= t + EPS:
                    w.met = w.met or deadman_fired
                    w.deadline += dt
            k += 1
            if stall_until == math.inf and deadman_fired and idx >= n_timeline:
                break  # the loop never runs again: the dead-man holds the motor
            continue
        deadman_fired = False
        angle_before = plant.angle
        pre = state
        token = plant.halt_count
        if crash_pending:  # the read raised inside the period: the one trip path, the queue kept
            crash_pending = False
            events: tuple = ()
            levels = frozenset(held)
            new, actions = period.trip(pre, Trip.INTERNAL_ERROR, now=t, position=plant.position)
        else:
            for p in racing_now:  # pressed after the token was read, before the queue is drained
                if "stop" in held:
                    continue
                held.add("stop")
                queue.append(ButtonEvent("stop", True, t))
                plant.halt()
            sample, attempts, failures = sensor.read(t, plant, active)
            events = tuple(queue)
            queue.clear()
            levels = frozenset(held)
            inputs = Inputs(t=t, sample=sample, attempts=attempts, failures=failures, events=events, levels=levels,
                            position=plant.position, halted=plant.halted, halt_token=token, stepped_rate=stepped_rate)
            stepped_rate = 0.0
            new, actions = period.step(pre, inputs)
            heartbeat = t
        racing_carry = racing_carry[:1] if "stop" not in held else []  # one pin, pressed once
        for p in racing_carry:  # pressed while the actions are carried out: seen next period
            held.add("stop")
            queue.append(ButtonEvent("stop", True, t))
        new, moves = carry_out(new, actions, t, racing_carry)
        state = new
        m = new.machine
        lim = new.settings.limits
        resets = any(type(e) is ButtonEvent and e.name == "reset" and e.pressed for e in events)
        reported = trip_path(pre, actions, t, resets)

        # -- rule 1 -------------------------------------------------------------------------------
        if reported:
            if not plant.halted:
                add("R1 halted", t, f"trip {reported[0]} left the motor running at the end of the period")
            if m.trip is not None and m.trip != reported[-1] and not resets:
                add("R1 reason", t, f"reported {reported[-1]}, latched {m.trip}")
            if m.trip is None and not resets:
                add("R1 latched", t, f"reported {reported[-1]} but nothing is latched")

        # -- consistency ----------------------------------------------------------------------------
        name = m.state
        rec = period.sample_record(new, t)
        if rec["state"] != name or name not in STATE_NAMES:
            add("state record", t, f"sample_record says {rec['state']}, the machine {name}")
        if (name == "stopped") != m.stop_latched or (name == "tripped") != (m.trip is not None and not m.stop_latched):
            add("state latches", t, f"state {name}, stop_latched {m.stop_latched}, trip {m.trip}")
        if m.latched and (m.activity.value != "idle" or new.program is not None):
            add("state latched idle", t, f"{name} with activity {m.activity.value}, program {new.program is not None}")
        if m.recovering and "return" not in m.held:
            add("state recovering", t, "recovering without return held")
        if new.estimate is not None:
            if rec["angle"] != new.estimate.angle or rec["target"] != new.setpoint.position:
                add("state record", t, f"sample_record angle/target {rec['angle']}/{rec['target']} vs the state")
        elif new.anchored:
            if rec["target"] != new.setpoint.position:
                add("state record", t, "sample_record target is not the setpoint (blind anchor)")
        elif rec["target"] != rec["angle"]:
            add("state record", t, "sample_record target moves before the anchor")
        if new.goal is not None and not lim.home_angle - EPS <= new.goal <= lim.max_angle + EPS:
            add("I1 goal", t, f"goal {new.goal:.4f} outside [{lim.home_angle:g}, {lim.max_angle:g}]")
        if name != pre.machine.state or k % 20 == 0:
            period.patterns_for(new, t)  # it answers (the indicators' view of the state)

        # -- what the period handled ----------------------------------------------------------------
        for e in events:
            if type(e) is ButtonEvent and e.pressed:
                if e.name in MOTION_BUTTONS:
                    waiting_reset = False
                    if asked_at is None:
                        asked_at = t
                elif e.name == "reset":
                    if pre.machine.latched or reported or any(
                            type(x) is ButtonEvent and x.name == "stop" and x.pressed for x in events):
                        waiting_reset = True
                elif e.name == "stop":
                    stop_watches.append([e.t, None])
                    if not m.stop_latched and not any(type(x) is ButtonEvent and x.name == "reset" and x.pressed
                                                      and x.t >= e.t for x in events):
                        add("I2 latch", t, f"stop pressed at {e.t:.3f} is not latched after the period")
        handled_stop = any(type(e) is ButtonEvent and e.name == "stop" and e.pressed for e in events)
        if handled_stop and m.stop_latched:
            if any(type(a) in (Move, ClearHalt) for a in actions):
                add("I2 halt", t, "the period handling a stop press sends a Move or a ClearHalt")
            if not plant.halted:
                add("I2 halt", t, "the motor is not halted after the period handling a stop press")

        # -- every Move ---------------------------------------------------------------------------
        for a, before, steps, i in moves:
            deg = a.degrees
            want = round((deg - before) * plant.spd)  # the steps the motor makes of it (drivers/stepper.py)
            if deg > lim.max_angle + EPS and want > 0:
                add("I1 command", t, f"Move to {deg:.4f} beyond max_angle {lim.max_angle:g} from {before:.4f}")
            if deg < lim.home_angle - EPS and want < 0:
                add("I1 command", t, f"Move to {deg:.4f} beyond home_angle {lim.home_angle:g} from {before:.4f}")
            if asked_at is None:
                add("I7 command", t, f"Move to {deg:.4f} before any motion button")
            if not m.motion_requested and not (m.recovering and "return" in levels):
                # (A return held since before a trip goes on as hold-to-run recovery: a trip keeps the
                # buttons held, only a stop forgets them; I3 judges that motion.)
                add("I7 requested", t, f"Move to {deg:.4f} while nobody asked (motion_requested false)")
            if waiting_reset and not (m.trip is not None and "return" in levels):
                # (While a trip is latched, a return held is hold-to-run recovery, and I3 judges it:
                # the trip latched after the reset, or the reset did not clear it.)
                add("I4 command", t, f"Move to {deg:.4f} after a reset, before a motion button")
            if m.stop_latched:
                add("I3 stop command", t, f"Move to {deg:.4f} while the stop is latched")
            elif m.trip is not None:
                if "return" not in levels:
                    add("I3 hold command", t, f"Move to {deg:.4f} while tripped ({m.trip}), return not held")
                if want * (before - lim.home_angle) > 0:
                    add("I3 toward home command", t, f"Move {before:.4f} -> {deg:.4f} away from home while tripped")
                if abs(want) * step_size > lim.max_speed * 0.5 * a.duration + step_size + 1e-6:
                    add("I3 speed command", t, f"Move {before:.4f} -> {deg:.4f} in {a.duration:g} s while tripped, "
                        f"half max_speed {lim.max_speed / 2:g}")
            elif m.activity.value == "jogging" and not ({"up", "down"} & levels):
                add("hold-to-run jog", t, f"Move to {deg:.4f} while jogging with neither up nor down held")
        v = new.setpoint.velocity
        if (m.activity is Activity.RETURNING and not m.latched and v * (new.setpoint.position - lim.home_angle) > EPS
                and not (abs(v) < abs(pre.setpoint.velocity) and v * pre.setpoint.velocity > 0)):  # braking is fine
            add("R return toward home", t, f"returning, the setpoint moves away from home at {v:.3f} deg/s "
                f"(from {pre.setpoint.velocity:.3f}) at {new.setpoint.position:.3f}")
        if m.stop_latched and any(type(a) is ClearHalt for a in actions):
            add("I3 stop command", t, "ClearHalt while the stop is latched")
        if abs(new.setpoint.velocity) > lim.max_speed + 1e-9:
            add("I6 command", t, f"setpoint velocity {new.setpoint.velocity:.4f} above max_speed {lim.max_speed:g}")

        # -- the truth, between this period and the last ---------------------------------------------
        true_angle = angle_before  # the table at this period's instant (what a trace's true_angle says)
        physics = t < slip_from
        if physics:
            if true_angle > lim.max_angle + 1 or true_angle < lim.home_angle - 1:
                add("I1", t, f"true angle {true_angle:.4f} outside [{lim.home_angle - 1:g}, {lim.max_angle + 1:g}]")
        if history and physics:
            pt, pa, pstate, preturn, pwaiting = history[-1]
            moved = abs(true_angle - pa) > EPS
            if moved:
                if asked_at is None or asked_at >= pt + EPS:
                    add("I7", t, f"moved {pa:.4f} -> {true_angle:.4f} before any motion button")
                if pstate == "stopped" and name == "stopped":
                    add("I3 stop", t, f"moved {pa:.4f} -> {true_angle:.4f} while stopped")
                if pstate == "tripped" and name == "tripped":
                    if not preturn:
                        add("I3 hold", t, f"moved {pa:.4f} -> {true_angle:.4f} while tripped, return not held")
                    if not true_angle < pa:
                        add("I3 toward home", t, f"moved {pa:.4f} -> {true_angle:.4f} away from home while tripped")
                if pwaiting and not (pstate == "tripped" and name == "tripped" and preturn):
                    add("I4", t, f"moved {pa:.4f} -> {true_angle:.4f} after a reset, before a motion button")
        for w in stop_watches:
            if t >= w[0] + dt - EPS and physics:
                if name != "stopped":
                    w[0] = math.inf
                elif w[1] is None:
                    w[1] = true_angle
                elif abs(true_angle - w[1]) > 0.1:
                    add("I2", t, f"moved {abs(true_angle - w[1]):.3f} deg after the stop pressed at {w[0]:.3f}")
                    w[0] = math.inf
        if len(stop_watches) > 8:
            stop_watches = [w for w in stop_watches if w[0] != math.inf]
        history.append((t, true_angle, name, "return" in levels, waiting_reset))
        window = max(WINDOW, math.ceil(SPEED_WINDOW / dt - 1e-9))
        if len(history) > window and physics:
            ta, aa, sa, _, _ = history[-1 - window]
            span = t - ta
            if abs(true_angle - aa) > lim.max_speed * 1.05 * span + step_size + 1e-6:
                add("I6", t, f"{abs(true_angle - aa) / span:.3f} deg/s over {ta:.3f}..{t:.3f}, max_speed {lim.max_speed:g}")
            if name == "tripped" and abs(true_angle - aa) > lim.max_speed / 2 * 1.05 * span + step_size + 1e-6 \
                    and all(h[2] == "tripped" for h in history[-1 - window:]):
                add("I3 speed", t, f"{abs(true_angle - aa) / span:.3f} deg/s while tripped, half max_speed "
                    f"{lim.max_speed / 2:g}")
        if len(history) > 4 * window:
            del history[: len(history) - 2 * window]
        # I5: head-down time of this excursion under automatic control (not while latched, nor after a
        # reset or a restart until someone asks: rule 6 forbids moving then, and it takes precedence)
        if physics:
            if abs(true_angle - lim.home_angle) <= 1.0:
                head_down, peak = 0, -math.inf
            elif (true_angle > BRIEF_HEAD_DOWN_ABOVE and name not in ("stopped", "tripped") and not waiting_reset
                  and not (sc.restored is not None and asked_at is None)):
                head_down += 1  # periods, counted whole: a float sum of periods drifts past an exact bound
                peak = max(peak, true_angle)
                bound = _i5_bound(lim, dt)
                if head_down * dt > bound + 1e-9:
                    detail = (f"head-down for {head_down * dt:.2f} s, bound {bound:.2f} s (session_timeout "
                              f"{lim.session_timeout:g} s)")
                    if peak <= BRIEF_HEAD_DOWN_ABOVE + K7_NEAR and not STRICT_KNOWN:
                        known.add("K7 I5 held at the head-down threshold", t, detail)
                    else:
                        add("I5", t, detail)
        # I8 and rule 4: a trip latched by the deadline
        for w in watches:
            if w.judged or t < w.start - EPS:
                continue
            if m.trip is not None:
                w.met = True
            if w.check == "I8 slip" and not w.met and t >= w.start - EPS and prev_t is not None and prev_t < w.start - EPS:
                if pre.machine.latched:  # already latched when the slip began
                    w.met = True
            if t >= w.deadline - EPS:
                w.judged = True
                if not w.met:
                    add(w.check, w.start, f"no trip latched by {w.deadline:.3f} ({w.deadline - w.start:g} s)")
        # I8 stall: a whole second of visible commanded motion during a stall, nothing latched
        if stalls:
            target = new.setpoint.position if new.anchored else None
            stalled = any(f.t <= t < f.end for f in stalls)
            visible = (stalled and not m.latched and not prev_latched and target is not None and prev_target is not None
                       and abs(target - prev_target) / dt >= STALL_VISIBLE_SPEED)
            if not visible:
                stall_start = None
            else:
                if stall_start is None:
                    stall_start = prev_t
                if t - stall_start >= I8_TABLE_DEADLINE - EPS:
                    add("I8 stall", stall_start, f"a second of commanded motion from {stall_start:.3f} with the table "
                        "stalled and no trip")
                    stall_start = None
            prev_target = target
        prev_latched = m.latched
        prev_t = t

        # -- the end ------------------------------------------------------------------------------
        k += 1
        if idx >= n_timeline and not crash_pending and ended_at is None and t >= last_scheduled and t >= stall_until:
            if _ended(new, plant) and all(w.judged or w.deadline < t for w in watches):
                ended_at = t
        if ended_at is not None and t >= ended_at + GRACE:
            break

    if not any_fault and trips:
        detail = f"tripped {trips} with nothing injected (true angle {', '.join(f'{a:.2f}' for a in trip_truths)})"
        if (not STRICT_KNOWN and set(trips) == {"under-angle"}
                and all(a >= home0 - supervisor.ANGLE_LIMIT_MARGIN for a in trip_truths)):
            known.add("K5 under-angle on arrival home, the estimate's error alone", 0.0, detail)
        else:
            add("no trip without a fault", 0.0, detail)
    return Outcome(list(found.by_check.values()), t, state.machine.state, plant.angle, trips, k, state,
                   list(known.by_check.values()))


@lru_cache(maxsize=64)
def _i5_bound(lim, dt: float) -> float:
    """tests/invariants.py's I5 bound: session_timeout, a return from max_angle at max_speed, 2 periods."""
    return lim.session_timeout + move_time(lim.max_angle, max_speed=lim.max_speed, max_accel=lim.max_accel) + 2 * dt


def _ended(s, plant: Plant) -> bool:
    """Nothing scheduled is left, and nothing will move by itself any more (simulate.py's end)."""
    m = s.machine
    if m.latched and not m.recovering:
        return True  # nothing moves until a person acts (a slip is the mechanics' own)
    if plant.slipping or plant.stepping(plant.t + 1e-3):
        return False
    if m.latched:
        return False
    if not s.anchored:
        return plant.t > 5.0
    if m.activity.value != "idle":
        return False
    if not m.motion_requested:
        return True
    lim = s.settings.limits
    at_home = abs(s.setpoint.position - lim.home_angle) <= 1.0
    head_down = s.estimate is not None and (s.estimate.angle > 1.0 or s.setpoint.position > 1.0)
    return at_home or not head_down


# -- drawing ----------------------------------------------------------------------------------------
# The draws lean toward short runs (a table near its home, brisk speeds, a 20 Hz loop, timeouts of
# 10-20 s) so a whole session fits in a few hundred periods; every key still ranges over its whole
# valid span some of the time.
def _pick(draw, choices, lo: float, hi: float, digits: int = 2) -> float:
    """Mostly one of ``choices``, else uniform in [lo, hi], rounded."""
    if draw(st.integers(0, 3)):
        return draw(st.sampled_from(choices))
    return round(draw(st.floats(lo, hi)), digits)


@st.composite
def config_docs(draw) -> dict:
    home = _pick(draw, (-30.0, -20.0, -15.0, -10.0, -5.0), -89.0, -5.0, 1)
    max_angle = _pick(draw, (2.0, 10.0, 20.0, 30.0, 45.0), 1.0, HARD_MAX_ANGLE, 1)
    max_speed = _pick(draw, (2.0, 4.0, 6.0, 10.0), 0.5, HARD_MAX_SPEED, 2)
    max_accel = _pick(draw, (1.0, 4.0, 8.0, HARD_MAX_ACCEL), 0.4, HARD_MAX_ACCEL, 2)
    timeout = _pick(draw, (MIN_SESSION_TIMEOUT, MIN_SESSION_TIMEOUT, 12.0, 15.0), MIN_SESSION_TIMEOUT, 30.0, 1)
    rate = draw(st.sampled_from([20, 20, 20, 25]))  # the coarsest periods the config allows
    slowest = 0.22  # controller.supervisor.slowest_watched_speed at the default tracking, rounded up
    top_spd = min(MAX_STEPS_PER_DEGREE, MAX_STEP_RATE / max_speed)
    comfort_low = 0.5 * max_speed if draw(st.integers(0, 3)) else slowest
    doc = {
        "table": {"home_angle": home,
                  "steps_per_degree": round(math.exp(draw(st.floats(math.log(MIN_STEPS_PER_DEGREE), math.log(top_spd)))), 2)},
        "limits": {"max_angle": max_angle, "max_speed": max_speed, "max_accel": max_accel, "session_timeout": timeout,
                   "idle_timeout": _pick(draw, (10.0, 15.0), 10.0, 30.0, 1)},
        "motion": {"return_speed": min(max_speed, round(draw(st.floats(comfort_low, max_speed)), 2)),
                   "jog_speed": min(max_speed, round(draw(st.floats(slowest, max_speed)), 2)),
                   "rest_angle": round(draw(st.floats(max(home, -10.0), 0.0)), 1),
                   "rest_time": draw(st.sampled_from([0.0, 0.0, 1.0, 3.0]))},
        "control": {"rate": rate},
        "imu": dict(zip(("forward", "normal"), draw(st.sampled_from(MOUNTS)))),
    }
    if draw(st.integers(0, 3)) == 0:
        doc["tracking"] = {"position_tolerance": round(draw(st.floats(2.0, 5.0)), 2),
                           "time": draw(st.sampled_from([0.3, 0.35, 0.4, 0.5]))}
    return doc


@st.composite
def programs(draw, config: Config) -> session.Program:
    """A short profile: holds and oscillations within the travel, a few seconds each."""
    home, top = config.table.home_angle, config.limits.max_angle
    lo = max(home, -10.0)
    blocks = []
    for _ in range(draw(st.integers(1, 2))):
        if draw(st.booleans()):
            leg = session.Leg(round(draw(st.floats(lo, top)), 1), draw(st.sampled_from([0.0, 1.0, 3.0])))
            blocks.append(session.Block((leg,)))
        else:
            low = round(draw(st.floats(lo, top)), 1)
            high = round(draw(st.floats(low, top)), 1)
            legs = (session.Leg(high, draw(st.sampled_from([0.0, 1.0, 3.0]))), session.Leg(low, draw(st.sampled_from([0.0, 1.0]))))
            blocks.append(session.Block(legs, cycles=draw(st.integers(1, 2))))
    speed = round(draw(st.floats(min(0.5, config.limits.max_speed), config.limits.max_speed)), 2)
    return session.Program(tuple(blocks), speed=speed, accel=config.limits.max_accel)


@st.composite
def scenarios(draw) -> Scenario:
    doc = draw(config_docs())
    try:
        config = build_config(doc)
    except ValidationError:
        doc.pop("tracking", None)
        try:
            config = build_config(doc)
        except ValidationError:
            assume(False)
            raise AssertionError("unreachable")  # pragma: no cover
    lim = config.limits
    span = draw(st.sampled_from([1.0, 2.0, 3.0, 5.0, lim.session_timeout + 5.0]))  # when the scheduled things happen
    names = tuple(draw(st.lists(st.sampled_from(PRESET_NAMES), max_size=3, unique=True)))
    program = draw(programs(config)) if draw(st.integers(0, 2)) else None
    user = None
    acknowledged = True
    if draw(st.integers(0, 5)) == 0:
        user = {"name": "ana", "max_angle": round(draw(st.floats(min(1.0, lim.max_angle), lim.max_angle)), 1),
                "max_head_down": round(draw(st.floats(MIN_SESSION_TIMEOUT, lim.session_timeout)), 1),
                "max_speed": round(draw(st.floats(min(0.5, lim.max_speed), lim.max_speed)), 2)}
        acknowledged = draw(st.booleans())
        try:
            config = build_config(doc | {"users": [user]})
            doc = doc | {"users": [user]}
        except ValidationError:
            user = None
    restored = None
    if draw(st.integers(0, 6)) == 0:
        trip = draw(st.sampled_from([None, None, "imu-lost", "stall", "loop-stall", "over-angle"]))  # as restart.json has it
        restored = RestartState(angle=round(draw(st.floats(config.table.home_angle, lim.max_angle)), 2),
                                stop_latched=draw(st.booleans()), trip=trip,
                                head_down=round(draw(st.floats(0.0, lim.session_timeout)), 1))
    mode = draw(st.sampled_from(["session", "presses", "presses", "faults", "faults"]))
    presses: list[Press] = []
    if mode == "session" or draw(st.booleans()):
        presses.append(Press(round(draw(st.floats(0.0, 3.0)), 3), draw(st.sampled_from(["start", "start", "down", "return"])),
                             draw(st.sampled_from([0.0, 0.2, 3.0, 20.0]))))
    if mode != "session":
        for _ in range(draw(st.integers(0, 6))):
            name = draw(st.sampled_from(BUTTONS))
            t = round(draw(st.floats(0.0, span)), 3)
            race = "none"
            if name == "stop" and draw(st.integers(0, 2)) == 0:
                race = draw(st.sampled_from(["after-token", "in-carry-out"]))
                t = round(t / config.period) * config.period  # at a period's instant
            presses.append(Press(t, name, draw(st.sampled_from(HOLDS)),
                                 lost_release=name in HOLD_TO_RUN and draw(st.integers(0, 4)) == 0, race=race))
    faults: list[Fault] = []
    if mode == "faults" or (restored is not None and restored.trip == "imu-lost"):
        if restored is not None and restored.trip == "imu-lost" and draw(st.booleans()):
            faults.append(Fault(0.0, "imu-lost", None))  # the IMU is dead since the restart
        for _ in range(draw(st.integers(1, 3))):
            kind = draw(st.sampled_from(FAULT_KINDS))
            t0 = 0.0 if draw(st.integers(0, 9)) == 0 else round(draw(st.floats(0.05, span)), 3)
            if kind == "slip" and t0 < POWER_ON_SLIP_FROM:
                t0 = POWER_ON_SLIP_FROM  # K1
            faults.append(Fault(t0, kind, draw(st.sampled_from(FAULT_DURATIONS))))
        # the interesting part: someone holds return (or presses stop or reset) right after a fault
        first = faults[0]
        after = round(first.t + draw(st.sampled_from([0.05, 0.5, 3.0])), 3)
        presses.append(Press(after, draw(st.sampled_from(["return", "return", "stop", "reset"])),
                             draw(st.sampled_from([0.0, 2.0, 5.0, 10.0]))))
        if draw(st.booleans()):
            presses.append(Press(round(after + draw(st.floats(0.0, 5.0)), 3), "reset"))
    changed = tuple(round(draw(st.floats(0.0, span)), 3) for _ in range(draw(st.integers(0, 1))))
    horizon = MAX_HORIZON
    if mode != "session":  # the buttons and faults are the point: a few seconds after the last of them
        last = max([p.t + p.hold for p in presses] + [f.t + (f.duration or 0.0) for f in faults] + list(changed), default=0.0)
        horizon = min(MAX_HORIZON, last + AFTER_LAST)
    return Scenario(doc, names, program, user, acknowledged, restored, tuple(sorted(presses, key=lambda p: p.t)),
                    tuple(faults), changed, draw(st.integers(0, 2**16)), horizon)


# Two halves of the examples, each derandomized on its own name (so they draw different examples),
# so that the two pytest-xdist workers share them.
_HALF = settings(max_examples=(EXAMPLES + 1) // 2, deadline=None, derandomize=True, database=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])


def _keeps_the_invariants(sc) -> None:
    note(sc.describe())
    out = run_scenario(sc)
    assert not out.violations, "\n".join(map(str, out.violations)) + f"\nended at t={out.t:.2f} {out.state}"


@_HALF
@given(sc=scenarios())
def test_the_pure_step_keeps_the_invariants(sc):
    _keeps_the_invariants(sc)


@_HALF
@given(sc=scenarios())
def test_the_pure_step_keeps_the_invariants_in_the_second_half(sc):
    _keeps_the_invariants(sc)


# -- regressions --------------------------------------------------------------------------------------
SLIP_AT_POWER_ON = Scenario(config_doc={}, faults=(Fault(0.0, "slip", 3.0),), horizon=6.0)


@pytest.mark.xfail(strict=True, reason="I8: a slip under way at power-on trips only after ~2.7 s (tracking), not "
                   "within 1 s: the power-on anchor takes the gyro's mean rate, the slip's 1.5 deg/s included, as "
                   "its bias, so the rate check sees nothing and only the position check trips, once the angle has "
                   "drifted past position_tolerance")
def test_slip_at_power_on_trips_within_a_second():
    out = run_scenario(SLIP_AT_POWER_ON)
    assert not out.violations, "\n".join(map(str, out.violations)) + f"; trips {out.trips}"


@pytest.mark.xfail(strict=True, reason="the same slip at power-on on the whole simulated table (the emulator, "
                   "simulate --fault slip@0:3): tests/invariants.py finds the same I8 slip")
def test_slip_at_power_on_trips_within_a_second_on_the_simulated_table():
    from controller.shell import simulate as sim
    from tests.conftest import simulate
    from tests.invariants import violations

    config = Config()
    faults = [sim.Fault(0.0, "slip", 3.0)]
    run = simulate(config=config, faults=faults, until=6.0)
    broken = violations(run, config, [], faults, False, head_down_above=BRIEF_HEAD_DOWN_ABOVE, table_faults=True,
                        horizon=6.0, faults_from_trace=True)
    assert not broken, "\n".join(map(str, broken))


def test_a_slip_just_after_power_on_trips_within_a_second():
    """The edge of the known violation: a slip from the second period on is still caught in time."""
    out = run_scenario(Scenario(config_doc={}, faults=(Fault(0.05, "slip", 3.0),), horizon=6.0))
    assert not out.violations, "\n".join(map(str, out.violations))
    assert out.trips, "the slip tripped"


# K2: jog down to ~40 deg, wait, then start a profile whose max_speed (0.5) is below the comfort
# return_speed (3): the start is accepted (the time left is judged at the comfort speed), the
# session-timeout return is due at once, the step declares it late ("returning at max_speed"), and
# the table comes up at 0.5 deg/s: 115 s head-down for a 60 s session_timeout (I5's bound: 76.1 s).
SLOW_PROFILE = session.Program((session.Block((session.Leg(5.0, 5.0),)),), speed=0.5, accel=4.0)  # slow5.toml
LATE_SLOW_START = Scenario(config_doc={"table": {"home_angle": -10.0}, "limits": {"session_timeout": 60.0},
                                       "control": {"rate": 20}},
                           program=SLOW_PROFILE, presses=(Press(1.0, "down", 25.0), Press(45.0, "start")), horizon=200.0)
# K2 without a speed cap: a restart finds the table at 10 deg (the session clock at 0); return is
# pressed; the return the step declares late goes on at the comfort return_speed 0.25: 36 s head-down
# for a 10 s session_timeout (I5's bound: 26.1 s).
LATE_RETURN_AFTER_RESTART = Scenario(config_doc={"table": {"home_angle": -10.0}, "limits": {"session_timeout": 10.0},
                                                 "motion": {"return_speed": 0.25, "jog_speed": 0.25}, "control": {"rate": 20}},
                                     restored=RestartState(angle=10.0), presses=(Press(0.5, "return"),), horizon=80.0)
K2_FIXED = ("I5 (fixed): a return the step declares late (_hurry_if_late: 'returning at max_speed') still goes at the "
             "comfort return_speed, lowered by a slow profile's max_speed: command.choose caps a RETURNING command "
             "at return_speed, so the hurried program's speed never takes effect")


@pytest.mark.parametrize("sc", [LATE_SLOW_START, LATE_RETURN_AFTER_RESTART], ids=["slow-profile", "restart"])
def test_a_late_return_keeps_within_the_session_bound(sc):
    out = run_scenario(replace(sc))
    broken = out.violations + out.known
    assert not broken, "\n".join(map(str, broken))


def test_a_late_slow_start_keeps_within_the_session_bound_on_the_simulated_table(tmp_path):
    from controller.shell import simulate as sim
    from controller.setup.config import load_config
    from tests.conftest import Run
    from tests.invariants import violations

    (tmp_path / "config.toml").write_text('[table]\nhome_angle = -10\n\n[limits]\nsession_timeout = "1m"\n\n'
                                          '[control]\nrate = 20\n', encoding="utf-8")
    (tmp_path / "slow5.toml").write_text('name = "slow5"\ndescription = "5 s at 5 deg, every move at 0.5 deg/s"\n'
                                         'max_speed = 0.5\n\n[[steps]]\nkind = "hold"\nangle = 5\nduration = "5s"\n',
                                         encoding="utf-8")
    config = load_config(tmp_path / "config.toml")
    prepared = prepare_profile(str(tmp_path / "slow5.toml"), config)  # accepted: 20 s head-down
    presses = [sim.Press(1.0, "down", 25.0), sim.Press(45.0, "start")]
    samples, events = [], []
    simulation = sim.Simulation(config, presets=[session.Preset("slow5", prepared.program)], presses=presses,
                                until=200.0, on_tick=samples.append, on_event=events.append)
    run = Run(simulation.run(), samples, events, simulation)
    broken = violations(run, config, presses, [], False, head_down_above=BRIEF_HEAD_DOWN_ABOVE, table_faults=True,
                        horizon=200.0)
    assert not broken, "\n".join(map(str, broken))


# K3 (fixed): a jog down under a 10 s session timeout at a gentle max_accel: the timeout return begins
# while the table still heads down at 2 deg/s and brakes for 2 s. The step allowed itself that braking
# on top of I5's return, and the table was head-down ~0.15 s (perfect sensor) to ~0.6 s (uncalibrated)
# past tests/invariants.py's bound of 22.1 s. It now begins the return early by the braking: 19-21 s.
DESCENT_CONFIG = {"table": {"home_angle": -5.0, "steps_per_degree": 32.84},
                  "limits": {"max_angle": 20.0, "max_speed": 2.0, "max_accel": 1.0, "session_timeout": 10.0,
                             "idle_timeout": 15.0},
                  "motion": {"return_speed": 1.69, "jog_speed": 2.0, "rest_angle": -3.2, "rest_time": 1.0},
                  "control": {"rate": 20}}
TIMEOUT_DURING_A_DESCENT = Scenario(config_doc=DESCENT_CONFIG, presses=(Press(1.0, "down", 30.0),), horizon=60.0)


def test_a_timeout_return_during_a_descent_keeps_within_the_session_bound():
    out = run_scenario(TIMEOUT_DURING_A_DESCENT)
    assert not out.violations + out.known, "\n".join(map(str, out.violations + out.known))


@pytest.mark.parametrize("seed", range(4))
def test_a_timeout_return_during_a_descent_keeps_within_the_session_bound_on_the_simulated_table(seed):
    from controller.shell import simulate as sim
    from tests.conftest import simulate
    from tests.invariants import violations

    config = Config.model_validate(DESCENT_CONFIG)
    presses = [sim.Press(1.0, "down", 30.0)]
    run = simulate(config=config, presses=presses, until=60.0, seed=seed)
    assert [e["reason"] for e in run.events if e["event"] == "return"] == ["session-timeout"]
    broken = violations(run, config, presses, [], False, head_down_above=BRIEF_HEAD_DOWN_ABOVE, table_faults=True,
                        horizon=60.0)
    assert not broken, "\n".join(map(str, broken))


# K4: `return` pressed 0.05 s after power-on, before the anchor, with home at -30 and rest_angle -10:
# the return is planned from the step count's 0 deg, so the table first climbs 20 deg toward head-down
# to the rest angle, rests there, and only then comes home.
RETURN_BEFORE_THE_ANCHOR = Scenario(config_doc={"table": {"home_angle": -30.0}, "motion": {"rest_angle": -10.0},
                                                "control": {"rate": 20}},
                                    presses=(Press(0.05, "return"),), horizon=40.0)
K4_FIXED = ("return (fixed): pressed before the power-on anchor, the return is planned from the step count's 0 deg (the "
             "rest leg is chosen by setpoint 0 > rest_angle + 1), so from home it first climbs to the rest angle")


def test_return_pressed_before_the_anchor_goes_home():
    out = run_scenario(RETURN_BEFORE_THE_ANCHOR)
    assert not out.violations + out.known, "\n".join(map(str, out.violations + out.known))


def test_return_pressed_before_the_anchor_goes_home_on_the_simulated_table():
    from controller.shell import simulate as sim
    from tests.conftest import simulate

    config = Config.model_validate(RETURN_BEFORE_THE_ANCHOR.config_doc | {"control": {"rate": 50}})
    run = simulate(config=config, presses=[sim.Press(0.05, "return")], until=40.0)
    highest = max(s["true_angle"] for s in run.samples)
    assert highest <= config.table.home_angle + 1.0, f"the table climbed to {highest:.2f} deg on a return from home"


# K5 (fixed): a healthy table (no fault) on a 20 Hz loop, jogged a little and returned home at 2 deg/s,
# tripped under-angle on arrival in some seeds: the estimate, 0.5-0.6 deg below the truth, passes the 0.5 deg
# limit margin (with the one-period look-ahead) while the table is still 0.2 deg short of home.
HEALTHY_CONFIG = {"table": {"home_angle": -15.0, "steps_per_degree": 135.73},
                  "limits": {"max_angle": 30.0, "max_speed": 6.0, "max_accel": 10.89, "session_timeout": 15.0,
                             "idle_timeout": 10.0},
                  "motion": {"return_speed": 2.0, "jog_speed": 1.97, "rest_angle": -2.0, "rest_time": 0.0},
                  "control": {"rate": 20}}
HEALTHY_RETURN = Scenario(config_doc=HEALTHY_CONFIG, presses=(Press(2.0, "down", 2.0), Press(5.1, "return", 2.0)),
                          seed=38, horizon=12.0)  # (3 of the first 68 seeds trip; seeds 27 and 35 of 40 on the simulator)
K5_FIXED = ("no trip without a fault (fixed): on a 20 Hz loop the estimate's noise with step vibration reached the 0.5 "
            "deg limit margin as a return arrived home, and a healthy table tripped under-angle")


def test_a_healthy_table_arriving_home_does_not_trip():
    out = run_scenario(HEALTHY_RETURN)
    assert not out.trips and not out.violations + out.known, f"trips {out.trips}; " + "\n".join(
        map(str, out.violations + out.known))


def test_a_healthy_table_arriving_home_does_not_trip_on_the_simulated_table():
    from controller.shell import simulate as sim
    from tests.conftest import simulate

    config = Config.model_validate(HEALTHY_CONFIG)
    for seed in (27, 35):  # the seeds that tripped
        run = simulate(config=config, presses=[sim.Press(2.0, "down", 2.0), sim.Press(5.1, "return", 2.0)],
                       until=12.0, seed=seed)
        assert not [e for e in run.events if e["event"] == "trip"], f"seed {seed}: {run.result}"


# K5, found again: a 20 Hz loop, home at -15 deg, a profile to 0 deg and back (2 cycles), then home at
# 2 deg/s. Arriving, the estimate reads 0.55 deg below the truth (-15.50 with the table at -14.95): the
# one-period look-ahead puts it past the 0.5 deg margin, and a healthy table trips under-angle, at home.
COARSE_RETURN_AFTER_A_PROFILE = Scenario(
    config_doc={"table": {"home_angle": -15.0, "steps_per_degree": 20.09},
                "limits": {"max_angle": 1.0, "max_speed": 4.0, "max_accel": 8.0, "session_timeout": 10.0,
                           "idle_timeout": 10.0},
                "motion": {"return_speed": 2.0, "jog_speed": 1.0, "rest_angle": 0.0, "rest_time": 0.0},
                "control": {"rate": 20}, "imu": {"forward": "+x", "normal": "+z"}},
    program=Program((Block((Leg(0.0, 3.0), Leg(-3.0, 0.0)), cycles=2), Block((Leg(0.0, 3.0),))), speed=4.0, accel=8.0),
    presses=(Press(0.0, "start"),), seed=275, horizon=40.0)
K5_REASON = ("no trip without a fault: a 20 Hz return at 2 deg/s arrives home with the uncalibrated estimate 0.55 deg "
             "below the truth (step vibration noise averaged over 50 samples, and the accelerometer's bias), past the "
             "0.5 deg limit margin: a healthy table trips under-angle at home")


@pytest.mark.xfail(strict=True, reason=K5_REASON)
def test_a_return_home_after_a_profile_on_a_coarse_loop_does_not_trip():
    out = run_scenario(COARSE_RETURN_AFTER_A_PROFILE)
    assert not out.trips and not out.violations + out.known, f"trips {out.trips}; " + "\n".join(
        map(str, out.violations + out.known))


def test_the_coarse_return_is_the_known_violation():
    """K5 is told apart narrowly: under-angle only, nothing injected, the table itself not past home."""
    out = run_scenario(COARSE_RETURN_AFTER_A_PROFILE)
    assert out.trips == ["under-angle"] and not out.violations
    assert [v.check for v in out.known] == ["K5 under-angle on arrival home, the estimate's error alone"]


# K6: stopped; the gyro lies (+5 deg/s) for 0.5 s and trips unexpected-motion; reset (the lie is over);
# return: the step count was set to the bent estimate (~2 deg high), so the return to home drives the
# table ~1 deg (pure) to 1.5 deg (simulated table) past home before the under-angle trip.
RESET_AFTER_A_GYRO_LIE = Scenario(
    config_doc={"table": {"home_angle": -37.0, "steps_per_degree": 20.09},
                "limits": {"max_angle": 1.0, "max_speed": 2.0, "max_accel": 1.0, "session_timeout": 10.0,
                           "idle_timeout": 10.0},
                "motion": {"return_speed": 1.0, "jog_speed": 1.0, "rest_angle": 0.0, "rest_time": 0.0},
                "control": {"rate": 20}},
    presses=(Press(0.0, "stop"), Press(1.0, "reset"), Press(1.5, "return")),
    faults=(Fault(0.5, "gyro-lie", 0.5),), horizon=4.5)
K6_FIXED = ("I1 (fixed): a reset that clears a tracking trip re-anchors the step count to the fused estimate, which the "
             "lying gyro has bent, not to the accelerometer's still tilt (the re-anchor after c134a3b covers a held "
             "return only), so the return drives the table past home")


def test_a_reset_after_a_gyro_lie_keeps_the_table_within_its_travel():
    out = run_scenario(RESET_AFTER_A_GYRO_LIE)
    assert not out.violations + out.known, "\n".join(map(str, out.violations + out.known))


def test_a_reset_after_a_gyro_lie_keeps_the_table_within_its_travel_on_the_simulated_table():
    from controller.shell import simulate as sim
    from tests.conftest import simulate
    from tests.invariants import violations

    config = Config()
    presses = [sim.Press(0.3, "stop"), sim.Press(1.0, "reset"), sim.Press(1.5, "return")]
    faults = [sim.Fault(0.5, "imu-disagree", 0.5)]
    run = simulate(config=config, presses=presses, faults=faults, until=8.0, seed=1)
    broken = violations(run, config, presses, faults, False, head_down_above=BRIEF_HEAD_DOWN_ABOVE, table_faults=True,
                        horizon=8.0, faults_from_trace=True)
    assert not broken, "\n".join(map(str, broken))


# K7: a user whose max_angle is 1 deg holds `down` for 20 s under a 10 s timeout, on a 20 Hz loop.
AT_THE_THRESHOLD = Scenario(
    config_doc={"table": {"home_angle": -15.0, "steps_per_degree": 20.09},
                "limits": {"max_angle": 1.0, "max_speed": 4.0, "max_accel": 1.0, "session_timeout": 10.0,
                           "idle_timeout": 10.0},
                "motion": {"return_speed": 1.0, "jog_speed": 3.0, "rest_angle": 0.0, "rest_time": 0.0},
                "control": {"rate": 20}, "imu": {"forward": "+x", "normal": "+z"},
                "tracking": {"position_tolerance": 2.0, "time": 0.3},
                "users": [{"name": "ana", "max_angle": 1.0, "max_head_down": 10.0, "max_speed": 1.0}]},
    user={"name": "ana", "max_angle": 1.0, "max_head_down": 10.0, "max_speed": 1.0}, user_acknowledged=False,
    presses=(Press(0.0, "down", 20.0),), horizon=40.0)
K7_REASON = ("I5 at the threshold: held at +1 deg, the table is a little above it in truth while the head-down clock "
             "reads the uncalibrated estimate, ~0.25 deg low: the timeout return comes a few periods late (12.15 s and more for 12.10)")


@pytest.mark.xfail(strict=True, reason=K7_REASON)
def test_a_table_held_at_the_head_down_threshold_keeps_within_the_session_bound():
    out = run_scenario(AT_THE_THRESHOLD)
    assert not out.violations + out.known, "\n".join(map(str, out.violations + out.known))


K7_UNDER_REASON = ("I5 just under the threshold: a profile holding 0.999 deg with home at -5 is 1.14 deg in truth (the "
                   "step count anchored to the uncalibrated estimate, ~0.15 deg low there): no time counts, no timeout return")


@pytest.mark.xfail(strict=True, reason=K7_UNDER_REASON)
def test_a_profile_held_just_under_the_threshold_keeps_within_the_session_bound_on_the_simulated_table():
    """K7's wider case (an adversarial tester, 2026-12-04): 600 s head-down in truth against 26 s."""
    from controller.shell import simulate as sim
    from tests.conftest import simulate
    from tests.invariants import violations

    config = Config.model_validate({"table": {"home_angle": -5}, "limits": {"session_timeout": "10s"}})
    program = session.Program((session.Block((session.Leg(0.999, 600.0),)),), speed=config.limits.max_speed,
                              accel=config.limits.max_accel)
    run = simulate(config=config, program=program, until=700.0)
    broken = violations(run, config, [sim.Press(0.0, "start")], [], True, head_down_above=BRIEF_HEAD_DOWN_ABOVE,
                        table_faults=True, horizon=700.0)
    assert not broken, "\n".join(map(str, broken))


def _i5_on_the_table(config, presses: list[str], faults: list[str], *, until: float, seed: int = 0):
    """One run of the whole simulated table, and its I5 violations (tests/invariants.py's oracle)."""
    from controller.shell import simulate as sim
    from tests.conftest import simulate
    from tests.invariants import violations

    presses, faults = [sim.parse_press(p) for p in presses], [sim.parse_fault(f) for f in faults]
    run = simulate(config=config, presses=presses, faults=faults, until=until, seed=seed)
    return run, [v for v in violations(run, config, presses, faults, False, head_down_above=BRIEF_HEAD_DOWN_ABOVE,
                                       table_faults=True, horizon=until) if v.check == "I5"]


@pytest.mark.parametrize("seed", range(3))
def test_steps_lost_unseen_leave_no_head_down_rest_past_the_bound_on_the_simulated_table(seed):
    """An adversarial tester's find (2026-12-04): two stalls of 0.28 s, under [tracking] time, leave
    the table 2 deg further head-down than the step count, so the timeout return's "flat" rest at
    0 deg is 1.14 deg in truth: 65.8 s head-down against I5's 50.8 s. A return is now judged late
    from the higher of the sensor and the plan, and goes home without its rest (core/clocks.py)."""
    config = Config.model_validate({"limits": {"max_speed": 3.0, "session_timeout": "30s"}})
    _, broken = _i5_on_the_table(config, ["down@1:120"], ["stall@62:0.28", "stall@64:0.28"], until=200.0, seed=seed)
    assert not broken, "\n".join(map(str, broken))


# A stall during the timeout return, shorter than [tracking] time, loses 2.4 deg of steps unseen; the
# "flat" rest (0 deg by the step count, 5 minutes) is then 2 deg head-down in truth, and the sensor
# says so (1.6-1.8 deg). The return, already at max_speed, was never hurried: 335 s head-down against
# I5's 35.24 s (an adversarial tester's find, 2026-12-04).
STALL_IN_A_RETURN_CONFIG = {"limits": {"max_angle": 20, "max_speed": 4.0, "max_accel": 20.0, "session_timeout": "30s"},
                            "motion": {"return_speed": 4.0, "jog_speed": 4.0, "rest_time": "5m"},
                            "tracking": {"position_tolerance": 5.0, "time": "0.7s"}}


def test_a_return_still_head_down_goes_home_without_its_rest_on_the_simulated_table():
    run, broken = _i5_on_the_table(Config.model_validate(STALL_IN_A_RETURN_CONFIG), ["down@1:80"], ["stall@47:0.6"],
                                   until=120.0)
    assert any(e["message"] == "returning faster: the session time is up" for e in run.named("notice"))
    assert not broken, "\n".join(map(str, broken))


K8_REASON = ("I5 after a stall the tracking does not see: a 0.68 s stall (under [tracking] time = 0.7s) during a "
             "timeout return already at max_speed costs the table those 0.68 s, and nothing can make them up: 35.32 s "
             "head-down against 35.24 s")


@pytest.mark.xfail(strict=True, reason=K8_REASON)
def test_a_stall_shorter_than_the_tracking_time_costs_no_head_down_time_past_the_bound_on_the_simulated_table():
    """K8 (a reviewer, 2026-12-04): the case above with the stall 0.08 s longer."""
    _, broken = _i5_on_the_table(Config.model_validate(STALL_IN_A_RETURN_CONFIG), ["down@1:80"], ["stall@47:0.68"],
                                 until=120.0)
    assert not broken, "\n".join(map(str, broken))


def test_the_table_at_the_threshold_is_the_known_violation():
    out = run_scenario(AT_THE_THRESHOLD)
    assert not out.violations and [v.check for v in out.known] == ["K7 I5 held at the head-down threshold"]


# An I2C error storm (half the transfers fail) from power-on, `return` pressed before the anchor:
# the share of failed transfers was the average of each period's share, which the periods read at
# the first try pull down to a third, near the 25 % limit: it tripped only after 1 s. Found by the
# second half of the property test; the share is now of transfers (supervisor.Watch.error_share).
STORM_AT_POWER_ON = Scenario(
    config_doc={"table": {"home_angle": -5.0, "steps_per_degree": 20.09},
                "limits": {"max_angle": 1.0, "max_speed": 1.0, "max_accel": 1.0, "session_timeout": 10.0,
                           "idle_timeout": 10.0},
                "motion": {"return_speed": 1.0, "jog_speed": 1.0, "rest_angle": 0.0, "rest_time": 0.0},
                "control": {"rate": 20}, "imu": {"forward": "+x", "normal": "+z"}},
    presses=(Press(0.05, "return"),), faults=(Fault(0.0, "imu-errors", 1.5),), seed=8288, horizon=4.5)


def test_an_error_storm_at_power_on_trips_within_a_second():
    out = run_scenario(STORM_AT_POWER_ON)
    assert out.trips == [Trip.I2C_ERRORS] and not out.violations, "\n".join(map(str, out.violations))


# A restart with the table at 7 deg, and `return` pressed at once, before the power-on anchor: the
# return's I5 bound (core/clocks.py, return_budget) could not be fixed without an angle, and was left
# unset for good, so the return was never hurried: at its 0.25 deg/s comfort speed the table was
# head-down 21.15 s against I5's 21.10 s. Found by an 8000-example run of the second half of the
# property test (INVERSION_TABLE_PERIOD_EXAMPLES=8000, 2026-12-04); the bound is now fixed as soon as
# the angle is known, and the return goes on at max_speed once it would end past it.
RETURN_AT_ONCE_AFTER_A_RESTART = Scenario(
    config_doc={"table": {"home_angle": -5.0, "steps_per_degree": 20.09},
                "limits": {"max_angle": 10.0, "max_speed": 1.0, "max_accel": 1.0, "session_timeout": 10.0,
                           "idle_timeout": 10.0},
                "motion": {"return_speed": 0.25, "jog_speed": 1.0, "rest_angle": 0.0, "rest_time": 0.0},
                "control": {"rate": 20}, "imu": {"forward": "+x", "normal": "+z"}},
    restored=RestartState(angle=7.0, stop_latched=False, trip=None, head_down=0.0),
    presses=(Press(0.0, "return"),), horizon=40.0)


def test_a_return_pressed_before_the_anchor_after_a_restart_keeps_within_the_session_bound():
    out = run_scenario(RETURN_AT_ONCE_AFTER_A_RESTART)
    assert not out.violations + out.known, "\n".join(map(str, out.violations + out.known))
    assert out.state == "idle" and abs(out.true_angle - (-5.0)) <= 1.0, (out.state, out.true_angle)  # home


# Found by a 20000-example run of the property test above (INVERSION_TABLE_PERIOD_EXAMPLES=20000,
# 2026-12-04). A restart with the table at 2 deg (head-down), then `start`, refused (no preset, a user
# who has not acknowledged): a refused start did not count as a person asking for motion, so no
# timeout would ever bring the table home (head-down past I5's 13.10 s, for good).
START_REFUSED_AFTER_A_RESTART = Scenario(
    config_doc={"table": {"home_angle": -5.0, "steps_per_degree": 20.09},
                "limits": {"max_angle": 2.0, "max_speed": 1.0, "max_accel": 1.0, "session_timeout": 10.0,
                           "idle_timeout": 10.0},
                "motion": {"return_speed": 1.0, "jog_speed": 1.0, "rest_angle": 0.0, "rest_time": 0.0},
                "control": {"rate": 20}, "imu": {"forward": "+x", "normal": "+z"},
                "users": [{"name": "ana", "max_angle": 1.0, "max_head_down": 10.0, "max_speed": 1.0}]},
    user={"name": "ana", "max_angle": 1.0, "max_head_down": 10.0, "max_speed": 1.0}, user_acknowledged=False,
    restored=RestartState(angle=2.0, stop_latched=False, trip=None, head_down=0.0),
    presses=(Press(0.0, "start", 20.0),), horizon=40.0)
# And `up` held at home (its release lost), then `down`: the planner, braking at max_accel from its
# way toward home after its goal moved behind it, commanded -77.0024 deg with home at -77 (I1 at the
# command). A setpoint now never goes further beyond a limit than it is (supervisor.within_travel).
JOG_REVERSED_AT_HOME = Scenario(
    config_doc={"table": {"home_angle": -77.0, "steps_per_degree": 12.18},
                "limits": {"max_angle": 1.0, "max_speed": 2.0, "max_accel": 8.0, "session_timeout": 10.0,
                           "idle_timeout": 10.0},
                "motion": {"return_speed": 1.0, "jog_speed": 2.0, "rest_angle": 0.0, "rest_time": 0.0},
                "control": {"rate": 20}, "imu": {"forward": "+x", "normal": "+z"}},
    presses=(Press(0.0, "up", 1.0, lost_release=True), Press(0.562, "down", 0.1, lost_release=True)), horizon=4.0)


@pytest.mark.parametrize("scenario", [START_REFUSED_AFTER_A_RESTART, JOG_REVERSED_AT_HOME], ids=["start-refused", "jog-reversed"])
def test_the_20000_example_finds_keep_the_invariants(scenario):
    out = run_scenario(scenario)
    assert not out.violations + out.known, "\n".join(map(str, out.violations + out.known))


# `return` held and `reset` pressed in the same instant as a loop stall: the queue holds the return,
# the reset (nothing to reset) and then the dead-man's loop-stall trip. The held return then moves
# the table toward home as hold-to-run recovery (I3). The check read it as motion caused by the reset
# (I4) until it learned that a trip latched after the reset is I3's to judge.
RETURN_HELD_THROUGH_A_STALL = Scenario(
    config_doc={"table": {"home_angle": -9.0, "steps_per_degree": 20.09},
                "limits": {"max_angle": 1.0, "max_speed": 1.0, "max_accel": 1.0, "session_timeout": 10.0,
                           "idle_timeout": 10.0},
                "motion": {"return_speed": 1.0, "jog_speed": 1.0, "rest_angle": 0.0, "rest_time": 0.0},
                "control": {"rate": 20}, "imu": {"forward": "+x", "normal": "+z"}},
    user_acknowledged=True,
    presses=(Press(0.0, "return", lost_release=True), Press(10.25, "return", 2.0), Press(10.25, "reset")),
    faults=(Fault(9.75, "imu-lost", 0.02), Fault(10.25, "loop-stall", 0.1), Fault(11.0, "imu-lost", 0.02)),
    horizon=15.25)


def test_a_return_held_through_a_loop_stall_recovers_toward_home():
    out = run_scenario(RETURN_HELD_THROUGH_A_STALL)
    assert out.trips == [Trip.LOOP_STALL] and not out.violations, "\n".join(map(str, out.violations))

