"""`inversion-table doctor`: checks the Pi, the wiring, the config and the calibration, and says what to fix."""

from __future__ import annotations

import errno
import glob
import grp
import os
from dataclasses import dataclass
from typing import Callable, Iterator

from gpiozero.pins.mock import MockFactory

from controller.setup import calibration as cal
from controller.setup.config import Config
from controller.errors import HardwareError, InputError
from drivers import mpu6050_regs as regs
from drivers.i2c import BUS_LOCK_TIMEOUT_S, BusioI2C, lock_within
from drivers.sim.hardware import SimPin
from drivers.sim.mpu6050 import Motion, Mpu6050Emulator

# The 40-pin header: BCM GPIO number -> physical pin.
HEADER = {2: 3, 3: 5, 4: 7, 17: 11, 27: 13, 22: 15, 10: 19, 9: 21, 11: 23, 0: 27, 5: 29, 6: 31, 13: 33,
          19: 35, 26: 37, 14: 8, 15: 10, 18: 12, 23: 16, 24: 18, 25: 22, 8: 24, 7: 26, 1: 28, 12: 32,
          16: 36, 20: 38, 21: 40}
WIRED_TO = {
    "stop": "stop button to GND (normally open)", "reset": "reset button to GND", "start": "start button to GND",
    "return": "return button to GND", "up": "up button to GND", "down": "down button to GND",
    "select": "select button to GND", "step": "driver STEP", "dir": "driver DIR",
    "enable": "driver ENABLE (active low; 10 kΩ pull-up to 3.3 V)", "led": "LED + 330 Ω to GND",
    "buzzer": "NPN base via 1 kΩ (buzzer on 5 V)",
}


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool | None  # None: a warning, not a failure
    detail: str
    fix: str = ""


class System:
    """What doctor asks of the machine; the simulated table answers the same questions."""

    simulated = False

    def devices(self, pattern: str) -> list[str]:
        return sorted(glob.glob(pattern))

    def can_use(self, path: str) -> bool:
        return os.access(path, os.R_OK | os.W_OK)

    def groups(self) -> set[str]:
        names = set()
        for gid in os.getgroups():
            try:
                names.add(grp.getgrgid(gid).gr_name)
            except KeyError:
                pass
        return names

    def is_root(self) -> bool:
        return os.geteuid() == 0

    def pin_factory(self, config: Config):
        from drivers.pi import pin_factory

        return pin_factory(config.gpio.pin_factory)

    def i2c(self, config: Config):
        from drivers.pi import open_i2c

        return open_i2c(config.imu.bus)


class SimulatedSystem(System):
    """What `doctor --sim` examines: mock pins and the chip emulator (answering ``who_am_i``)."""

    simulated = True

    def __init__(self, *, who_am_i: int = regs.WHO_AM_I_ID, address: int | None = None,
                 stuck: tuple[str, ...] = ()) -> None:
        self.who_am_i, self.address, self.stuck = who_am_i, address, stuck

    def pin_factory(self, config: Config):
        factory = MockFactory(pin_class=SimPin)
        for name in self.stuck:  # buttons whose contact is stuck closed
            factory.pin(config.pins.buttons()[name]).stuck_low = True
            factory.pin(config.pins.buttons()[name]).drive_low()
        return factory

    def i2c(self, config: Config):
        chip = Mpu6050Emulator(motion=lambda: Motion(config.table.home_angle, 0.0, False),
                               address=self.address or config.imu.address, who_am_i=self.who_am_i)
        return BusioI2C(chip)


def who_am_i(bus, address: int) -> int | None:
    """WHO_AM_I at ``address``, or None if nothing answers there; HardwareError if the bus stays locked."""
    buf = bytearray(1)
    if not lock_within(bus, BUS_LOCK_TIMEOUT_S):
        raise HardwareError(errno.EBUSY, f"the I2C bus stayed locked for {BUS_LOCK_TIMEOUT_S:g} s by another user "
                                         "of it, so WHO_AM_I could not be read")
    try:
        bus.writeto_then_readfrom(address, bytes((regs.REG_WHO_AM_I,)), buf)
    except OSError:
        return None
    finally:
        bus.unlock()
    return buf[0]


def checks(config: Config, source: str, system: System) -> Iterator[Check]:
    """Every check, in the order a person would fix things."""
    yield Check("config", True, f"{source} is valid")
    yield from _gpio_checks(config, system)
    yield from _i2c_checks(config, system)
    yield _calibration_check(config, system.simulated)
    yield _presets_check(config, source)


def _gpio_checks(config: Config, system: System) -> Iterator[Check]:
    name = config.gpio.pin_factory
    env = os.environ.get("GPIOZERO_PIN_FACTORY")
    if not system.simulated:
        chips = system.devices("/dev/gpiochip*")
        if not chips:
            yield Check("GPIO", False, "no /dev/gpiochip*", "this is not a Raspberry Pi, or its kernel is too old")
        elif not all(system.can_use(c) for c in chips):
            yield Check("GPIO", False, f"no read/write access to {', '.join(c for c in chips if not system.can_use(c))}",
                        "add the user to the gpio group: sudo adduser $USER gpio, then log in again")
        else:
            yield Check("GPIO", True, f"{', '.join(chips)} usable")
        if not system.is_root() and "gpio" not in system.groups():
            yield Check("gpio group", None, "this user is not in the gpio group (the service's user is)",
                        "sudo adduser $USER gpio, to run doctor and calibrate without sudo")
    if env is None and not system.simulated:  # the simulated table's pins are mock pins, whatever is set
        yield Check("pin factory env", None, "GPIOZERO_PIN_FACTORY is not set here (the systemd unit sets it)",
                    f"nothing needed for inversion-table (it loads [gpio] pin_factory itself); for other gpiozero "
                    f"tools to use the same pins: export GPIOZERO_PIN_FACTORY={name}")
    try:
        factory = system.pin_factory(config)
    except (InputError, OSError) as e:
        yield Check("pin factory", False, str(e))
        return
    try:
        if system.simulated:
            yield Check("pin factory", True, f"the simulated table's pins are gpiozero's {type(factory).__name__} "
                                             f"(the table itself loads [gpio] pin_factory = '{name}')")
        else:
            yield Check("pin factory", True, f"[gpio] pin_factory = '{name}' loads ({type(factory).__name__})")
        yield _stop_released(config, factory)
    finally:
        factory.close()


def _stop_released(config: Config, factory) -> Check:
    from drivers.buttons import button_input

    pressed = []
    for button, pin in config.pins.buttons().items():
        try:
            b = button_input(pin, pin_factory=factory)
        except Exception as e:  # gpiozero's GPIOPinInUse, lgpio's "GPIO busy", ...
            return Check("buttons", None, f"cannot read GPIO{pin} ({button}): {e}",
                         "if the service is running, stop it to check the buttons")
        try:
            if b.is_active:
                pressed.append(f"{button} (GPIO{pin})")
        finally:
            b.close()
    if pressed:
        return Check("buttons", False, f"reads pressed: {', '.join(pressed)}",
                     "release them, or look for a short to GND; the service refuses to start with stop pressed")
    return Check("buttons", True, "all read released")


def _i2c_checks(config: Config, system: System) -> Iterator[Check]:
    imu = config.imu
    path = f"/dev/i2c-{imu.bus}"
    if not system.simulated:
        if not system.devices(path):
            yield Check("I2C", False, f"{path} does not exist",
                        "enable I2C: sudo raspi-config nonint do_i2c 0, then reboot")
            return
        if not system.can_use(path):
            yield Check("I2C", False, f"no read/write access to {path}",
                        "add the user to the i2c group: sudo adduser $USER i2c, then log in again")
            return
    try:
        bus = system.i2c(config)
    except OSError as e:
        yield Check("I2C", False, str(e))
        return
    try:
        yield Check("I2C", True, f"the simulated bus, with an MPU-6050 emulator on it (the table uses {path})"
                    if system.simulated else f"{path} opens")
        found = who_am_i(bus, imu.address)
        other = regs.ADDRESS_AD0_HIGH if imu.address == regs.ADDRESS else regs.ADDRESS
        if found is None:
            elsewhere = who_am_i(bus, other)
            fix = (f"something answers at 0x{other:02X}: set [imu] address = 0x{other:02X}, or tie AD0 "
                   f"{'high' if other == regs.ADDRESS_AD0_HIGH else 'to GND'}") if elsewhere is not None else (
                   "check the wiring: VCC to pin 1 (3.3 V), GND, SDA to pin 3, SCL to pin 5")
            yield Check("MPU-6050", False, f"nothing answers at 0x{imu.address:02X} on {path}", fix)
        elif found == regs.WHO_AM_I_ID:
            yield Check("MPU-6050", True, f"WHO_AM_I 0x68 at 0x{imu.address:02X}: a genuine MPU-6050")
        elif found in regs.CLONES:
            accepted = found in imu.accept_ids
            yield Check(
                "MPU-6050", None if accepted else False,
                f"WHO_AM_I 0x{found:02X} at 0x{imu.address:02X}: {regs.CLONES[found].description}"
                + (" (accepted by [imu] accept_ids)" if accepted else ""),
                "" if accepted else (f"replace it with a genuine MPU-6050; or, if you have checked it reads "
                                     f"angles correctly, set [imu] accept_ids = [0x{found:02X}]"),
            )
        else:
            yield Check("MPU-6050", False, f"WHO_AM_I 0x{found:02X} at 0x{imu.address:02X}: not an MPU-6050",
                        "check which device is at this address (i2cdetect -y 1)")
    except HardwareError as e:  # who_am_i: the bus stayed locked
        yield Check("MPU-6050", False, str(e), "run doctor again; if it says so again, report it (a bug)")
    finally:
        bus.close()


def _calibration_check(config: Config, simulated: bool) -> Check:
    try:
        c = cal.load(config.calibration.file, config, again="")  # what to run is the fix, said once
    except InputError as e:
        if simulated:
            from controller.shell.service import SIM_CALIBRATION

            fix = cal.calibrate_command(config.calibration.file, simulated=True,
                                        default=os.path.abspath(SIM_CALIBRATION))
        else:
            fix = "sudo /opt/inversion-table/venv/bin/inversion-table calibrate (with the service stopped)"
        return Check("calibration", False, str(e), fix)
    return Check("calibration", True, f"{config.calibration.file} ({c.created}): zero {c.zero_offset:+.2f}°, "
                 f"mount {c.forward}/{c.normal} checked by a {c.tilt_checked:g}° tilt")


def _presets_check(config: Config, source: str) -> Check:
    from controller.shell.service import load_presets

    try:
        presets = load_presets(config, source)
    except InputError as e:
        return Check("presets", False, str(e))
    return Check("presets", True, ", ".join(p.name for p in presets))


def wiring(config: Config) -> list[tuple[str, str, str, str]]:
    """(what, BCM, header pin, connect to) for the configured pins and the IMU's bus."""
    rows = [("IMU VCC", "3.3 V", "1", "MPU-6050 VCC"), ("IMU GND", "GND", "9", "MPU-6050 GND (and AD0 for 0x68)")]
    if config.imu.bus == 1:
        rows += [("IMU SDA", "GPIO2", "3", "MPU-6050 SDA"), ("IMU SCL", "GPIO3", "5", "MPU-6050 SCL")]
    for key, pin in config.pins.by_name().items():
        rows.append((key, f"GPIO{pin}", str(HEADER[pin]), WIRED_TO[key]))
    return rows


def report(config: Config, source: str, system: System, *, out: Callable,
           why: Callable[[str], None] = lambda text: None) -> bool:
    """Print the checks and the wiring table; True if nothing failed. ``why`` also hears, if
    something failed, which checks and what to do (the reason for the exit status)."""
    from rich.markup import escape
    from rich.table import Table

    results = list(checks(config, source, system))
    table = Table(title="inversion-table doctor" + (" (simulated table)" if system.simulated else ""),
                  show_lines=False)
    for column in ("", "check", "finding", "what to do"):
        table.add_column(column, overflow="fold")
    for c in results:
        mark = {True: "[green]ok[/]", False: "[red]FAIL[/]", None: "[yellow]warn[/]"}[c.ok]
        table.add_row(mark, escape(c.name), escape(c.detail), escape(c.fix))
    out(table)
    wires = Table(title="wiring (BCM numbers are what the config uses)")
    for column in ("line", "BCM", "header pin", "connect to"):
        wires.add_column(column)
    for row in wiring(config):
        wires.add_row(*map(escape, row))
    out(wires)
    failed = [c for c in results if c.ok is False]
    names = ", ".join(c.name for c in failed)
    out(f"[red]{len(failed)} problem(s): {escape(names)}[/]" if failed else "[green]all checks passed[/]")
    if failed:
        why(f"{len(failed)} problem(s): " + "; ".join(f"{c.name}: {c.fix or c.detail}" for c in failed))
    return not failed
