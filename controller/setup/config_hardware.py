"""The config's hardware sections: [motor] drive train, [pins], [gpio] pin factory and [imu] (see config.py)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from controller.core.state import BUTTONS
from controller.setup.validation import LimitNote, StrictModel, problem, shown
from drivers import mpu6050_regs as regs

MIN_BCM_PIN = 4                # GPIO0/1 are the HAT ID EEPROM's, GPIO2/3 the IMU's I2C bus
MAX_BCM_PIN = 27               # the 40-pin header ends at GPIO27
CLONE_IDS = tuple(regs.CLONES)  # WHO_AM_I answers of chips sold as MPU-6050s (drivers/mpu6050_regs.py names them)
PIN_FACTORIES = ("lgpio", "rpigpio", "pigpio", "native")  # gpiozero's names; lgpio works on every Pi


class MotorConfig(StrictModel):
    """[motor]: the drive train, an alternative to [table] steps_per_degree."""

    steps_per_rev: Annotated[int, Field(ge=1, le=100_000)] | None = None
    microsteps: Literal[1, 2, 4, 8, 16, 32, 64, 128, 256] | None = None
    gear_ratio: Annotated[float, Field(gt=0, le=100_000)] | None = None

    # DIR high turns the table head-down; true if this motor turns it head-up instead (or swap
    # one coil pair, A1 and A2, and leave this false).
    reverse: bool = False

    @property
    def given(self) -> bool:
        """Whether the drive train (steps, microsteps, gear) is described here."""
        return bool(self.model_fields_set & {"steps_per_rev", "microsteps", "gear_ratio"})

    @property
    def steps_per_degree(self) -> float:
        return self.steps_per_rev * self.microsteps * self.gear_ratio / 360.0


def _pin_or_false(value):
    """`false` means "not fitted"; a pin is a whole number; anything else is refused here, once."""
    if value is False:
        return None
    if value is True or (value is not None and not isinstance(value, int)):
        raise problem(f"must be a BCM pin number, or false for none (got {shown(value)})")
    return value


_Pin = Annotated[int, Field(ge=MIN_BCM_PIN, le=MAX_BCM_PIN),
                 LimitNote(ge="GPIO0-3 belong to the HAT EEPROM and the IMU's I2C bus",
                           le="the 40-pin header ends at GPIO27")]
_OptionalPin = Annotated[_Pin | None, BeforeValidator(_pin_or_false)]


class PinsConfig(StrictModel):
    """[pins]: BCM pin numbers of the buttons, the stepper driver and the status outputs."""

    stop: _Pin = 17
    reset: _Pin = 27
    start: _Pin = 22
    return_: _Pin = Field(default=23, alias="return")
    up: _Pin = 24
    down: _Pin = 25
    select: _OptionalPin = 5
    step: _Pin = 20
    dir: _Pin = 21
    enable: _Pin = 16
    led: _OptionalPin = 26
    buzzer: _OptionalPin = 19

    def by_name(self) -> dict[str, int]:
        """Every fitted pin by its key as the file writes it ("return", not "return_")."""
        return {(f.alias or name): getattr(self, name) for name, f in type(self).model_fields.items()
                if getattr(self, name) is not None}

    def buttons(self) -> dict[str, int]:
        return {k: v for k, v in self.by_name().items() if k in BUTTONS}

    @model_validator(mode="after")
    def _distinct(self) -> PinsConfig:
        seen: dict[int, str] = {}
        lines = []
        for key, pin in self.by_name().items():
            if pin in seen:
                lines.append(f"{key} = {pin}: GPIO{pin} is already {seen[pin]}'s pin; every line needs its own")
            seen.setdefault(pin, key)
        if lines:
            raise problem("\n".join(lines))
        return self


class GpioConfig(StrictModel):
    """[gpio]: which gpiozero pin factory drives the pins."""

    pin_factory: Literal[PIN_FACTORIES] = "lgpio"


def _hex(value: int) -> str:
    """A register value as a datasheet writes it (0x68); a number no register holds, by its size."""
    return f"0x{value:02X}" if 0 <= value <= 0xFFFF else shown(value)


def _imu_address(value: int) -> int:
    if value not in regs.ADDRESSES:
        raise problem(f"must be 0x68, or 0x69 with AD0 pulled high (got {_hex(value)})")
    return value


def _clone_id(value: int) -> int:
    if value not in CLONE_IDS:
        known = ", ".join(f"0x{i:02X}" for i in CLONE_IDS)
        raise problem(f"{_hex(value)} is not a known clone's WHO_AM_I ({known})")
    return value


_Axis = Literal["+x", "-x", "+y", "-y", "+z", "-z"]


class ImuConfig(StrictModel):
    """[imu]: where the MPU-6050 is and how it is mounted on the bed."""

    bus: Annotated[int, Field(ge=0, le=31)] = 1
    address: Annotated[int, AfterValidator(_imu_address)] = regs.ADDRESS
    forward: _Axis = "+x"
    normal: _Axis = "+z"
    accept_ids: list[Annotated[int, AfterValidator(_clone_id)]] = []

    @model_validator(mode="after")
    def _axes_differ(self) -> ImuConfig:
        if self.forward[1] == self.normal[1]:
            raise problem(f"forward = '{self.forward}' and normal = '{self.normal}' are the same sensor axis: "
                          "forward lies along the bed, normal points out of it")
        return self
