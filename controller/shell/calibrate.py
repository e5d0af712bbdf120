"""`inversion-table calibrate`: level offset, gyro bias, mount and drive checks, with a person at the table."""

from __future__ import annotations

import collections
import datetime
import logging
import threading
from typing import Callable

from controller.setup import calibration as cal
from controller.setup.config import Config
from controller.errors import CalibrationError, HardwareError
from controller.shell.table import Table
from controller.core.supervisor import at_home
from drivers.physics import STANDARD_GRAVITY

LEVEL_TIME = 2.0        # s of samples with the bed level and still
TILTED_TIME = 1.0       # s of samples after the head-down jog
SETTLE_TIME = 0.5       # s after the last motion before samples count
RETURN_NOTICED_WITHIN = 0.5  # s
STILL_WINDOW = 0.5           # s of still readings averaged (noise about 0.03°)
REVERSED_EVIDENCE = 0.1      # deg against the steps, from still readings (an angle check may trip by 0.2°)
TRAVEL_MARGIN = 15.0    # deg: a reading this far outside the table's travel means the axes are wrong
MAX_PIVOT_SHARE = 0.26  # of 1 g along the tilt axis (15°): more, and [imu] names the wrong axes
READY_TIMEOUT = 5.0  # s for the power-on anchor (or a latched trip) once the loop runs

log = logging.getLogger("inversion_table")


class _Recorder:
    """The IMU as the control loop sees it, keeping the latest samples for the calibration."""

    def __init__(self, imu, keep: int = 1000) -> None:
        self._imu = imu
        self._lock = threading.Lock()
        self._samples: collections.deque = collections.deque(maxlen=keep)

    def read(self):
        sample = self._imu.read()
        with self._lock:
            self._samples.append(sample)
        return sample

    def close(self) -> None:
        self._imu.close()

    def since(self, t: float) -> list:
        with self._lock:
            return [s for s in self._samples if s.t >= t]


class Calibrator:
    """The procedure, one step per method; ``say`` and ``ask`` talk to the person at the table."""

    def __init__(self, config: Config, hardware, *, say: Callable[[str], None], ask: Callable[[str], str],
                 driver) -> None:
        """``driver`` (controller/shell/drive.py) runs the table on real or virtual time; every wait
        here is its ``sleep``, every time its ``now``."""
        self.config, self.hw, self.say, self.ask = config, hardware, say, ask
        self.mount = cal.mount_for(config, hardware.calibration)  # as the controller reads the sensor
        self.time = driver
        self.recorder = _Recorder(hardware.imu)
        hardware.imu = self.recorder
        self.table: Table | None = None

    # -- step 1: before anything can move ------------------------------------------------------
    def check_at_rest(self) -> None:
        """Gravity in the plane [imu] names, and a reading within the travel that the person confirms."""
        samples = [self.recorder.read() for _ in range(20)]
        accel = [sum(s.accel[i] for s in samples) / len(samples) for i in range(3)]
        mount = self.mount
        pivot_share = abs(sum(a * p for a, p in zip(accel, mount.pivot_vec))) / STANDARD_GRAVITY
        if pivot_share > MAX_PIVOT_SHARE:
            raise CalibrationError(
                f"{pivot_share:.0%} of gravity lies along the sensor's tilt axis, which [imu] forward = "
                f"'{mount.forward}' and normal = '{mount.normal}' say is level: the sensor is mounted otherwise. "
                "Set [imu] normal to the sensor axis pointing up out of the bed, forward to the one toward the head"
            )
        angle = mount.raw_tilt_deg(accel)
        limits = self.config.limits
        home = self.config.table.home_angle
        if not home - TRAVEL_MARGIN <= angle <= limits.max_angle + TRAVEL_MARGIN:
            raise CalibrationError(
                f"the sensor reads the table at {angle:+.0f}°, outside its travel ({home:g}° to "
                f"{limits.max_angle:g}°): [imu] forward = '{mount.forward}' is probably reversed; try "
                f"'{_flip(mount.forward)}'"
            )
        way = "head-down" if angle > 0 else "head-up"
        answer = self.ask(f"The sensor reads the table at {angle:+.0f}° ({way}); positive is head-down, and home "
                          f"is {home:g}°. Is that about right? [y/n] ")
        if not answer.strip().lower().startswith("y"):
            raise CalibrationError(
                f"the sensor reads the tilt the wrong way: set [imu] forward = '{_flip(mount.forward)}' (the sensor "
                "axis along the bed toward the head) and run calibrate again"
            )

    # -- step 2: level --------------------------------------------------------------------------
    def start_controller(self) -> None:
        self.table = Table(self.config, self.hw, presets=[])
        self.time.drive(self.table)
        waited = 0.0
        while not (self.table.state.anchored or self.table.state.machine.trip is not None):
            if waited >= READY_TIMEOUT:
                raise HardwareError(f"no trustworthy IMU reading within {READY_TIMEOUT:g} s of start-up")
            self.time.sleep(0.05)
            waited += 0.05

    def measure_level(self) -> cal.Level:
        before = (self._tilt_now(), self.hw.motor.steps)
        self.ask("Jog the table level with up and down (check with a spirit level on the bed), make sure "
                 "nobody is on it, then press Enter. ")
        self.settle(before=before)
        self.say(f"Measuring for {LEVEL_TIME:g} s; keep the table still...")
        samples = self._collect(LEVEL_TIME)
        level = cal.measure_level(samples, self.mount)
        self.say(f"Level: the sensor reads {level.zero_offset:+.2f}° (now the zero), gyro bias "
                 + ", ".join(f"{b:+.2f}" for b in level.gyro_bias) + " °/s.")
        return level

    # -- step 3: tilt ---------------------------------------------------------------------------
    def check_tilt(self, level: cal.Level) -> float:
        motor = self.hw.motor
        # Counted in steps, not in the motor's position: resetting a trip re-anchors the position to
        # the sensor, which would make the two agree by construction.
        steps, halts = motor.steps, motor.halt_count
        before = self._tilt_now()
        self.ask(f"Hold down on the table until it has tilted about {cal.CHECK_TILT:g}° head-down, release it, "
                 "then press Enter. ")
        self.settle(before=(before, steps))
        if motor.halt_count != halts:
            raise CalibrationError("the table was stopped or tripped during the tilt; nothing saved: start again")
        commanded = (motor.steps - steps) / motor.steps_per_degree
        measured = cal.check_tilt(level, self._collect(TILTED_TIME), commanded=commanded, mount=self.mount)
        self.say(f"Tilt: the motor stepped {commanded:.2f}°, the sensor saw {measured:.2f}°; the mount and the "
                 "drive agree.")
        return measured

    def _tilt_now(self) -> float:
        samples = self.recorder.since(self.time.now() - STILL_WINDOW) or [self.recorder.read()]
        return sum(self.mount.raw_tilt_deg(s.accel) for s in samples) / len(samples)

    def _diagnose_direction(self, before: tuple[float, int]) -> None:
        """After a jog that tripped: if the sensor (its direction confirmed in step 1) saw the table
        turn against the steps the motor was sent, the motor turns the other way."""
        tilt, steps = before
        moved, stepped = self._tilt_now() - tilt, self.hw.motor.steps - steps
        reversed_ = self.table.state.machine.trip == "reversed"  # the supervisor saw the sign
        against = abs(moved) > REVERSED_EVIDENCE and (moved > 0) != (stepped > 0)
        if stepped and (reversed_ or against):
            raise CalibrationError(
                f"the motor was stepped {'head-down' if stepped > 0 else 'head-up'} and the table went "
                f"{'head-up' if moved < 0 else 'head-down'} ({moved:+.1f}°), so it tripped: the motor turns the "
                "other way. Set [motor] reverse = true (or swap one coil pair, A1 and A2), then calibrate again"
            )

    def result(self, level: cal.Level, measured: float) -> cal.Calibration:
        mount = self.mount
        return cal.Calibration(
            forward=mount.forward, normal=mount.normal, zero_offset=level.zero_offset,
            gyro_bias=level.gyro_bias, tilt_checked=round(measured, 2),
            steps_per_degree=self.config.steps_per_degree,
            created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        )

    def bring_home(self) -> None:
        """Ends once the table is home, or when nobody is bringing it there (it says so)."""
        c = self.table
        if at_home(c.state.setpoint.position, c.state.limits):
            return
        if c.state.machine.stop_latched:
            self.ask("Release stop, press reset, then press return to bring the table home; then press Enter. ")
        elif c.state.machine.trip is not None:
            self.ask("Hold return on the table until it is home (it moves only while held), then press Enter. ")
        else:
            self.ask("Press return on the table to bring it home, then press Enter. ")
        noticed_by = self.time.now() + RETURN_NOTICED_WITHIN  # the press reaches the loop within a period or two
        while c.state.machine.activity.value == "returning" or (
            self.time.now() < noticed_by and not at_home(c.state.setpoint.position, c.state.limits)
        ):
            self.time.sleep(0.05)
        if at_home(c.state.setpoint.position, c.state.limits) and not c.state.machine.latched:
            self.say("Home.")
        else:
            self.say("The table is not home: bring it home with return before anyone uses it.")

    # -- helpers ---------------------------------------------------------------------------------
    def settle(self, before: tuple[float, int] | None = None) -> None:
        """Wait until the table has not been commanded to move for SETTLE_TIME; refuse if latched."""
        c = self.table
        quiet_since = self.time.now()
        while self.time.now() - quiet_since < SETTLE_TIME:
            if c.state.machine.latched:
                if before is not None and c.state.machine.trip is not None:
                    self._diagnose_direction(before)
                why = c.state.machine.trip or "the stop button"
                raise CalibrationError(f"the table is {c.state.machine.state} ({why}): {_advice(why)}")
            if c.state.machine.activity.value != "idle":
                quiet_since = self.time.now()
            self.time.sleep(0.02)

    def _collect(self, seconds: float) -> list:
        begin = self.time.now()
        self.time.sleep(seconds)
        c = self.table
        if c.state.machine.latched or c.state.machine.activity.value != "idle":
            raise CalibrationError("the table moved or was stopped while measuring; start again")
        return self.recorder.since(begin)

    def close(self) -> None:
        self.time.stop()
        if self.table is not None:
            self.table.close()  # halts, releases the pins and the bus
            self.table = None
        else:
            self.hw.close()


def _flip(axis: str) -> str:
    return ("-" if axis[0] == "+" else "+") + axis[1]


def _advice(why: str) -> str:
    if why in ("tracking", "stall", "unexpected-motion", "reversed"):
        return ("the sensor did not see the motion the motor made: check that the motor turns (power, wiring, "
                "current limit), [imu] forward and normal, and that the sensor is fixed to the bed frame")
    return "release stop, press reset, and start again" if why == "the stop button" else "see docs/SAFETY.md"


def run(config: Config, hardware, *, say: Callable[[str], None], ask: Callable[[str], str],
        driver) -> cal.Calibration:
    """The whole procedure; writes the file only if every check passed. ``driver``: see Calibrator."""
    calibrator = Calibrator(config, hardware, say=say, ask=ask, driver=driver)
    try:
        cal.check_writable(config.calibration.file)
        calibrator.check_at_rest()
        calibrator.start_controller()
        level = calibrator.measure_level()
        measured = calibrator.check_tilt(level)
        result = calibrator.result(level, measured)
        calibrator.settle()  # nothing latched now either, or nothing is saved
        cal.save(config.calibration.file, result)
        say(f"Saved {config.calibration.file}.")
        calibrator.bring_home()
        return result
    except CalibrationError as failure:
        if calibrator.table is not None:  # the table may be off home: never leave it there silently
            say(f"Calibration failed: {failure}")
            calibrator.bring_home()
        raise
    finally:
        calibrator.close()
