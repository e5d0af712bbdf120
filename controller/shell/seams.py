"""The seams the shell drives, as typed protocols: the IMU, the motor, the indicators, and the
hardware bundle a factory builds (drivers.pi.build on the table, drivers.sim.hardware.build in the
simulator). Both factories' bundles satisfy ``Hardware``; nothing above the seam knows which."""

from __future__ import annotations

from typing import Any, Protocol

from drivers.clock import Clock
from drivers.imu import ImuSample


class Imu(Protocol):
    def read(self) -> ImuSample:
        """One coherent sample; raises ImuError when the transfer fails."""

    def close(self) -> None: ...


class Motor(Protocol):
    position: float  # deg, the step count
    halt_count: int  # changes with every halt: the token for clear_halt
    halted: bool
    steps_per_degree: float

    def move_to(self, degrees: float, duration: float) -> int: ...
    def halt(self) -> None: ...
    def clear_halt(self, token: int) -> bool: ...
    def set_position(self, degrees: float) -> None: ...
    def close(self) -> None: ...


class Indicators(Protocol):
    def show(self, led: Any, buzzer: Any, now: float) -> None: ...
    def close(self) -> None: ...


class Hardware(Protocol):
    """What a factory hands the table: its devices, their clock and pins, and the calibration."""

    clock: Clock
    pin_factory: Any  # a gpiozero pin factory (lgpio on the Pi, MockFactory in the simulator)
    imu: Imu
    motor: Motor
    indicators: Indicators
    button_pins: dict[str, Any]  # the config's [pins] buttons
    calibration: Any  # controller.setup.calibration.Calibration, or None (uncalibrated)

    def close(self) -> None: ...
