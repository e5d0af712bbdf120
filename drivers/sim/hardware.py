"""Builds the simulated table once: emulated IMU on a fake I2C bus, mock pins, step-counting table."""

from __future__ import annotations

from dataclasses import dataclass, field

from gpiozero.pins.mock import MockFactory, MockPin

from drivers.clock import VirtualClock
from drivers.i2c import BusioI2C
from drivers.imu import Mount, Mpu6050Imu
from drivers.indicators import Indicators
from drivers.mpu6050_regs import WHO_AM_I_ID
from drivers.sim.mpu6050 import Mpu6050Emulator
from drivers.sim.table import SimPulseTrain, SimTable
from drivers.stepper import Stepper

IMU_FAULTS = {
    "imu-disconnect": "disconnect",
    "imu-error": "error",
    "imu-freeze": "freeze",
    "imu-spike": "spike",
    "imu-disagree": "disagree",
}
TABLE_FAULTS = {"stall": "stall", "slip": "slip"}
PANEL_FAULTS = ("stop-stuck",)  # the stop button's contact stuck closed (held pressed)
LOOP_FAULTS = ("loop-stall", "crash")  # the control loop stops running / raises (see simulate.py)
FAULT_KINDS = tuple(IMU_FAULTS) + tuple(TABLE_FAULTS) + PANEL_FAULTS + LOOP_FAULTS


class SimPin(MockPin):
    """A mock pin whose switch contact can stick closed (held to ground), as a worn button does."""

    stuck_low = False

    def drive_high(self) -> None:
        if not self.stuck_low:  # a stuck contact wins over the pull-up and over a release
            super().drive_high()


@dataclass
class SimulatedHardware:
    """Everything below the seams, simulated; the IMU and motor objects are the real driver classes."""

    clock: VirtualClock
    pin_factory: MockFactory
    table: SimTable
    emulator: Mpu6050Emulator
    imu: Mpu6050Imu
    motor: Stepper
    indicators: Indicators
    button_pins: dict[str, int] = field(default_factory=dict)  # the config's [pins], as on the real table
    # The application's calibration, if one was given: the code that wires the table builds the
    # mount the controller reads the sensor through from it and the config.
    calibration: object = None

    def press(self, name: str) -> None:
        if name not in self.button_pins:
            raise ValueError(f"the table has no {name} button ([pins] {name} = false)")
        self.pin_factory.pin(self.button_pins[name]).drive_low()  # buttons pull to ground

    def release(self, name: str) -> None:
        if name not in self.button_pins:
            raise ValueError(f"the table has no {name} button ([pins] {name} = false)")
        self.pin_factory.pin(self.button_pins[name]).drive_high()

    def set_fault(self, kind: str, active: bool) -> None:
        if kind in IMU_FAULTS:
            self.emulator.set_fault(IMU_FAULTS[kind], active)
        elif kind in TABLE_FAULTS:
            self.table.set_fault(TABLE_FAULTS[kind], active)
        elif kind == "stop-stuck":
            pin = self.pin_factory.pin(self.button_pins["stop"])
            pin.stuck_low = active
            (pin.drive_low if active else pin.drive_high)()
        else:
            raise ValueError(f"unknown fault {kind!r} (known: {', '.join(FAULT_KINDS)})")

    def close(self) -> None:
        self.indicators.close()
        self.motor.close()
        self.imu.close()
        self.pin_factory.close()


def build(
    config,
    *,
    seed: int = 0,
    clock: VirtualClock | None = None,
    sensor_mount: Mount | None = None,
    who_am_i: int = WHO_AM_I_ID,
    calibration=None,
    motor_wired_reversed: bool | None = None,
    start_angle: float | None = None,
    imu_required: bool = True,
) -> SimulatedHardware:
    """The simulated table at home, idle, with the IMU set up by the real adafruit driver.

    The chip sits on the bed as ``sensor_mount`` says (by default as the config's [imu] says, so
    tests can mount it wrongly on purpose) and answers WHO_AM_I ``who_am_i`` (a clone, say). The
    controller reads it through the config's mount, corrected by ``calibration`` if given (the
    bundle carries it; the code that wires the table builds that mount).
    """
    clock = clock or VirtualClock()
    if motor_wired_reversed is None:  # the simulated table is wired as the config describes it
        motor_wired_reversed = config.motor.reverse
    factory = MockFactory(pin_class=SimPin)
    spd = config.steps_per_degree
    pins = config.pins
    enable_pin = factory.pin(pins.enable)
    table = SimTable(
        clock=clock,
        steps_per_degree=spd,
        angle=config.table.home_angle if start_angle is None else start_angle,  # a restart may find it elsewhere
        enabled=lambda: enable_pin.state == 0,  # ENABLE is active low
    )
    emulator = Mpu6050Emulator(motion=table.motion, seed=seed,
                               mount=sensor_mount or Mount(config.imu.forward, config.imu.normal),
                               address=config.imu.address, who_am_i=who_am_i)
    imu = Mpu6050Imu(BusioI2C(emulator), clock=clock, address=config.imu.address,
                     accept_ids=(WHO_AM_I_ID, *config.imu.accept_ids))
    motor = Stepper(
        step_pin=pins.step,
        dir_pin=pins.dir,
        enable_pin=pins.enable,
        steps_per_degree=spd,
        max_speed=config.limits.max_speed,
        dir_inverted=config.motor.reverse,
        pulses=lambda step, direction: SimPulseTrain(step, direction, table=table, wired_reversed=motor_wired_reversed),
        pin_factory=factory,
    )
    indicators = Indicators(led_pin=pins.led, buzzer_pin=pins.buzzer, pin_factory=factory)
    return SimulatedHardware(clock, factory, table, emulator, imu, motor, indicators, pins.buttons(), calibration)
