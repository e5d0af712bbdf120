"""The real table's hardware, built once from the config: pin factory, MPU-6050 on I2C, stepper, LED, buzzer."""

from __future__ import annotations

import errno
import logging
import os
import tempfile
from dataclasses import dataclass, field
from importlib.metadata import entry_points

from gpiozero.exc import GPIOZeroError

from drivers.errors import ConfigError, HardwareError
from drivers.i2c import BusioI2C
from drivers.imu import Mpu6050Imu, UnavailableImu
from drivers.indicators import Indicators
from drivers.mpu6050_regs import WHO_AM_I_ID
from drivers.stepper import Stepper, ThreadedPulseTrain

FACTORY_ENV = "GPIOZERO_PIN_FACTORY"
log = logging.getLogger("inversion_table")
# What each pin factory needs from the system, for the messages that say how to get it.
FACTORY_PACKAGES = {
    "lgpio": "sudo apt install python3-lgpio (Raspberry Pi OS), or pip install lgpio",
    "rpigpio": "sudo apt install python3-rpi.gpio, or pip install RPi.GPIO (not on a Pi 5)",
    "pigpio": "sudo apt install python3-pigpio pigpiod and start pigpiod (not on a Pi 5)",
    "native": "nothing (it is part of gpiozero), but it is experimental",
}


def pin_factory(name: str):
    """gpiozero's pin factory ``name``, built explicitly: if it cannot be had, an error, never a fallback.

    gpiozero, left to itself, tries factory after factory and settles for whichever loads; a
    table must run on the one its owner chose and tested.
    """
    env = os.environ.get(FACTORY_ENV)
    if env and env != name:
        raise ConfigError(
            f"[gpio] pin_factory = '{name}' but the environment says {FACTORY_ENV}={env}: make them agree "
            "(the systemd unit sets the variable)"
        )
    if name == "lgpio" and "LG_WD" not in os.environ:
        # lgpio makes a notification FIFO in $LG_WD, else in the working directory, at import.
        os.environ["LG_WD"] = tempfile.mkdtemp(prefix="inversion-table-lgpio-")
    found = [ep for ep in entry_points(group="gpiozero_pin_factories") if ep.name == name]
    if not found:
        raise ConfigError(f"[gpio] pin_factory = '{name}': gpiozero has no such pin factory")
    try:
        factory_class = found[0].load()
    except ImportError as e:
        raise HardwareError(f"[gpio] pin_factory = '{name}' cannot load ({e}): {FACTORY_PACKAGES[name]}") from None
    try:
        return factory_class()
    except Exception as e:  # each factory fails its own way off a Pi: no /dev/gpiochip, no daemon...
        raise HardwareError(
            f"[gpio] pin_factory = '{name}' could not start: {e}. On a Raspberry Pi, check that the user is "
            "in the gpio group (inversion-table doctor checks it)"
        ) from None


def pins_busy(error: Exception) -> HardwareError:
    """A pin that cannot be claimed: most often, the service has it."""
    return HardwareError(errno.EBUSY, f"cannot claim the pins ({error}): if the service is running, stop it first "
                         "(sudo systemctl stop inversion-table)")


def open_i2c(bus: int) -> BusioI2C:
    """/dev/i2c-<bus>, with a message that says how to fix the usual reasons it is missing."""
    path = f"/dev/i2c-{bus}"
    try:
        return BusioI2C.open(bus)
    except FileNotFoundError:
        raise HardwareError(errno.ENOENT, f"[imu] bus = {bus}: {path} does not exist: enable I2C "
                            "(sudo raspi-config nonint do_i2c 0) and reboot") from None
    except PermissionError:
        raise HardwareError(errno.EACCES, f"[imu] bus = {bus}: no permission to open {path}: add the user "
                            "to the i2c group (sudo adduser $USER i2c) and log in again") from None
    except OSError as e:
        raise HardwareError(e.errno or errno.EIO, f"[imu] bus = {bus}: cannot open {path}: {e.strerror or e}") from None


@dataclass
class PiHardware:
    """The same seams as the simulated table's, on real pins and a real I2C bus."""

    clock: object
    pin_factory: object
    imu: Mpu6050Imu
    motor: Stepper
    indicators: Indicators
    button_pins: dict[str, int] = field(default_factory=dict)
    calibration: object = None  # the application's, if given: the code that wires the table builds the mount from it
    _closers: list = field(default_factory=list, repr=False)

    def close(self) -> None:
        """Motor first (pulses stop, ENABLE released), then the rest. Safe to call twice."""
        while self._closers:
            self._closers.pop()()


def build(config, *, clock, calibration, imu_required: bool = True) -> PiHardware:
    """Every device of the real table, or a HardwareError/ConfigError naming what is wrong.

    ``calibration`` (or None) is carried in the bundle for the code that builds the mount from it.

    With ``imu_required`` False (the service), an IMU that cannot be set up is replaced by one
    whose reads fail: the service comes up tripped instead of restarting in a loop.
    """
    closers: list = []

    def later(close):
        closers.append(close)

    try:
        factory = pin_factory(config.gpio.pin_factory)
        later(factory.close)
        pins = config.pins
        # The pins first: if another process (the service) holds them, stop here, before the
        # IMU's set-up resets a chip that process is reading.
        try:
            indicators = Indicators(led_pin=pins.led, buzzer_pin=pins.buzzer, pin_factory=factory)
            later(indicators.close)
            motor = Stepper(
                step_pin=pins.step, dir_pin=pins.dir, enable_pin=pins.enable,
                steps_per_degree=config.steps_per_degree, max_speed=config.limits.max_speed,
            dir_inverted=config.motor.reverse,
                pulses=lambda step, direction: ThreadedPulseTrain(step, direction), pin_factory=factory,
            )
        except GPIOZeroError as e:
            raise pins_busy(e) from None
        try:
            bus = open_i2c(config.imu.bus)
            later(bus.close)
            imu = Mpu6050Imu(bus, clock=clock, address=config.imu.address,
                             accept_ids=(WHO_AM_I_ID, *config.imu.accept_ids))
        except HardwareError as e:
            if imu_required:
                raise
            log.error("IMU: %s", e)
            imu = UnavailableImu(e)
        later(imu.close)
        later(motor.close)  # closed first: closers run last-in, first-out
    except BaseException:
        while closers:
            closers.pop()()
        raise
    return PiHardware(clock, factory, imu, motor, indicators, pins.buttons(), calibration, closers)
