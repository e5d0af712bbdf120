"""MPU-6050 IMU: set-up via the adafruit driver, then coherent 14-byte burst reads in SI units."""

from __future__ import annotations

import errno
import math
import struct
import threading
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Sequence

import adafruit_mpu6050

from drivers import mpu6050_regs as regs
from drivers.clock import Clock
from drivers.errors import ImuError
from drivers.i2c import lock_within
from drivers.physics import STANDARD_GRAVITY

# adafruit_mpu6050.sleep is a module global; one lock so concurrent set-ups don't restore
# each other's clock into it.
_ADAFRUIT_SLEEP_PATCH = threading.Lock()

_AXES = "xyz"


def _axis_vector(spec: str) -> tuple[int, int, int]:
    """'+x' -> (1, 0, 0), '-y' -> (0, -1, 0)."""
    if len(spec) != 2 or spec[0] not in "+-" or spec[1] not in _AXES:
        raise ValueError(f"mount axis {spec!r} must be a sign and an axis letter, e.g. '+x' or '-z'")
    vec = [0, 0, 0]
    vec[_AXES.index(spec[1])] = 1 if spec[0] == "+" else -1
    return (vec[0], vec[1], vec[2])


def _cross(a: Sequence[float], b: Sequence[float]) -> tuple[float, float, float]:
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])


def _dot(a: Sequence[float], b: Sequence[float]) -> float:
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


@dataclass(frozen=True)
class Mount:
    """How the sensor sits on the bed: which sensor axis points toward the head, which is normal."""

    forward: str = "+x"
    normal: str = "+z"
    # From `inversion-table calibrate`: the tilt read with the bed level, and the gyro's rate at rest.
    zero_offset: float = 0.0  # deg
    gyro_bias: tuple[float, float, float] = (0.0, 0.0, 0.0)  # deg/s, sensor frame
    forward_vec: tuple[int, int, int] = field(init=False, repr=False, compare=False)
    normal_vec: tuple[int, int, int] = field(init=False, repr=False, compare=False)
    # normal × forward: the tilt axis; a head-down rotation is positive about it.
    pivot_vec: tuple[int, int, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        fwd, nrm = _axis_vector(self.forward), _axis_vector(self.normal)
        if self.forward[1] == self.normal[1]:
            raise ValueError(f"mount forward {self.forward!r} and normal {self.normal!r} share an axis")
        pivot = tuple(int(c) for c in _cross(nrm, fwd))
        object.__setattr__(self, "forward_vec", fwd)
        object.__setattr__(self, "normal_vec", nrm)
        object.__setattr__(self, "pivot_vec", pivot)

    def raw_tilt_deg(self, accel: Sequence[float]) -> float:
        """Tilt from specific force (any unit) by the axes alone, before the zero offset."""
        # _dot written out (every sample comes through here): the same products, summed in the same order
        a, f, n = accel, self.forward_vec, self.normal_vec
        return math.degrees(math.atan2(-(a[0] * f[0] + a[1] * f[1] + a[2] * f[2]), a[0] * n[0] + a[1] * n[1] + a[2] * n[2]))

    def tilt_deg(self, accel: Sequence[float]) -> float:
        """Table angle from specific force (any unit): head-down positive, 0 when level."""
        return self.raw_tilt_deg(accel) - self.zero_offset

    def rate_dps(self, gyro: Sequence[float]) -> float:
        """Tilt rate in deg/s about the pivot axis, bias removed: positive while the head goes down."""
        b, p = self.gyro_bias, self.pivot_vec
        return (gyro[0] - b[0]) * p[0] + (gyro[1] - b[1]) * p[1] + (gyro[2] - b[2]) * p[2]  # _dot, written out


class ImuSample(NamedTuple):
    """One coherent IMU reading: all six axes from the same sampling instant."""

    t: float
    accel: tuple[float, float, float]  # m/s², sensor frame
    gyro: tuple[float, float, float]  # deg/s, sensor frame
    raw: bytes  # the 14 bytes as read from 0x3B, for logs and freeze detection
    temperature: float  # °C


_BURST = struct.Struct(">7h")
_REGISTER_BYTES = tuple(bytes((register,)) for register in range(256))  # the pointer write of a read


def decode_burst(
    raw: bytes, *, accel_lsb_per_g: float, gyro_lsb_per_dps: float
) -> tuple[tuple[float, float, float], tuple[float, float, float], float]:
    """14 big-endian bytes from 0x3B -> (accel m/s², gyro deg/s, temperature °C)."""
    ax, ay, az, temp, gx, gy, gz = _BURST.unpack(raw)
    k = STANDARD_GRAVITY / accel_lsb_per_g
    accel = (ax * k, ay * k, az * k)
    gyro = (gx / gyro_lsb_per_dps, gy / gyro_lsb_per_dps, gz / gyro_lsb_per_dps)
    return accel, gyro, temp / regs.TEMP_LSB_PER_C + regs.TEMP_OFFSET_C  # datasheet temperature formula


class _AcceptedCloneMpu6050(adafruit_mpu6050.MPU6050):
    """The adafruit driver minus its WHO_AM_I == 0x68 check, for clone ids the user accepted."""

    _device_id = regs.WHO_AM_I_ID  # already checked against accept_ids before we get here


def _bus_error(e: OSError, what: str) -> ImuError:
    """An ImuError keeping the bus error's errno (121 = NACK, 5 = I/O error, ...)."""
    if e.errno is None:
        return ImuError(f"{what}: {e}")
    return ImuError(e.errno, f"{what}: {e.strerror}")


def _check_dlpf_cfg(dlpf_cfg: int) -> None:
    if not 0 <= dlpf_cfg <= 6:
        raise ValueError(f"dlpf_cfg must be 0..6 (7 is reserved), got {dlpf_cfg}")


def _wrong_chip(chip_id: int, where: str) -> ImuError:
    clone = regs.CLONES.get(chip_id)
    if clone is None:
        return ImuError(f"no MPU-6050 at {where}: the device answers WHO_AM_I 0x{chip_id:02X}, not 0x68")
    return ImuError(
        f"no genuine MPU-6050 at {where}: clone chip ({clone.name}) answering WHO_AM_I 0x{chip_id:02X}; "
        "add it to imu accept_ids only if you have checked it behaves as an MPU-6050"
    )


class Mpu6050Imu:
    """An MPU-6050 on a ``drivers.i2c.BusioI2C`` bus: set up by adafruit's driver through the busio
    methods, then read by ``write_then_read`` bursts. The caller owns the bus; close() does not close it."""

    def __init__(
        self,
        i2c: Any,
        *,
        clock: Clock,
        address: int = regs.ADDRESS,
        dlpf_cfg: int = 3,
        accept_ids: Sequence[int] = (regs.WHO_AM_I_ID,),
    ) -> None:
        _check_dlpf_cfg(dlpf_cfg)  # before touching the chip, so a bad option changes nothing
        self._i2c = i2c
        self._clock = clock
        self.address = address
        self._closed = False
        where = f"I2C address 0x{address:02X}"

        try:
            chip_id = self._read_registers(regs.REG_WHO_AM_I, 1)[0]
        except OSError as e:
            raise _bus_error(e, f"no MPU-6050 at {where}: check wiring and that I2C is enabled") from e
        if chip_id not in accept_ids:
            raise _wrong_chip(chip_id, where)

        driver_class = adafruit_mpu6050.MPU6050 if chip_id == regs.WHO_AM_I_ID else _AcceptedCloneMpu6050
        with _ADAFRUIT_SLEEP_PATCH:
            # adafruit's init waits ~0.4 s with its module-level `sleep`; route it through our
            # clock so a VirtualClock skips it while the real clock still waits for the chip.
            real_sleep = adafruit_mpu6050.sleep
            adafruit_mpu6050.sleep = clock.sleep
            try:
                driver_class(i2c, address)  # resets, wakes, sets ranges; reads then use our burst
            except OSError as e:
                raise _bus_error(e, f"MPU-6050 set-up at {where} failed") from e
            except ValueError as e:  # adafruit's probe: the device vanished after WHO_AM_I
                raise ImuError(f"no MPU-6050 at {where}: check wiring and that I2C is enabled") from e
            finally:
                adafruit_mpu6050.sleep = real_sleep

        # adafruit leaves DLPF off (260 Hz); ours is written by hand, not via its
        # filter_bandwidth setter, which writes the wrong bits on some versions.
        self.set_dlpf_cfg(dlpf_cfg)
        try:
            gyro_cfg, accel_cfg = self._read_registers(regs.REG_GYRO_CONFIG, 2)
        except OSError as e:
            raise _bus_error(e, f"MPU-6050 set-up at {where} failed") from e
        # Scales are read back, not assumed, so a driver update that changes ranges can't skew angles.
        self.accel_lsb_per_g = regs.ACCEL_LSB_PER_G[(accel_cfg >> 3) & 0b11]
        self.gyro_lsb_per_dps = regs.GYRO_LSB_PER_DPS[(gyro_cfg >> 3) & 0b11]

    def set_dlpf_cfg(self, dlpf_cfg: int) -> None:
        """Write DLPF_CFG (CONFIG bits 2:0), keeping the other bits, and verify it took."""
        _check_dlpf_cfg(dlpf_cfg)
        try:
            old = self._read_registers(regs.REG_CONFIG, 1)[0]
            new = (old & ~regs.DLPF_MASK & 0xFF) | dlpf_cfg
            self._write_register(regs.REG_CONFIG, new)
            got = self._read_registers(regs.REG_CONFIG, 1)[0]
        except OSError as e:
            raise _bus_error(e, f"MPU-6050 CONFIG write at 0x{self.address:02X} failed") from e
        if got != new:
            raise ImuError(errno.EIO, f"MPU-6050 CONFIG reads back 0x{got:02X} after writing 0x{new:02X}")
        self.dlpf_cfg = dlpf_cfg

    def read(self) -> ImuSample:
        """One 14-byte burst from 0x3B (one sampling instant), converted to SI units."""
        if self._closed:
            raise ImuError(errno.EBADF, "MPU-6050 is closed")
        # Stamp before the transfer: the chip latches the burst when the read begins.
        t = self._clock.now()
        try:
            raw = self._read_registers(regs.REG_ACCEL_OUT, regs.BURST_LEN)
        except OSError as e:
            raise _bus_error(e, f"MPU-6050 read at 0x{self.address:02X} failed") from e
        accel, gyro, temperature = decode_burst(
            raw, accel_lsb_per_g=self.accel_lsb_per_g, gyro_lsb_per_dps=self.gyro_lsb_per_dps
        )
        return ImuSample(t=t, accel=accel, gyro=gyro, raw=raw, temperature=temperature)

    def _lock_bus(self) -> None:
        if not lock_within(self._i2c):
            raise ImuError(errno.EBUSY, "I2C bus stayed locked by another user")

    def _read_registers(self, register: int, count: int) -> bytes:
        bus = self._i2c
        self._lock_bus()
        try:
            return bus.write_then_read(self.address, _REGISTER_BYTES[register], count)  # fresh bytes every call
        finally:
            bus.unlock()

    def _write_register(self, register: int, value: int) -> None:
        self._lock_bus()
        try:
            self._i2c.writeto(self.address, bytes((register, value)))
        finally:
            self._i2c.unlock()

    def close(self) -> None:
        """Stop using the sensor; safe to call twice. The bus stays open (the caller owns it)."""
        self._closed = True

    def __enter__(self) -> Mpu6050Imu:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class UnavailableImu:
    """Stands in for an MPU-6050 that could not be set up: every read fails, so the supervisor trips
    ``imu-lost`` and the service can still come up, show it, and let ``return`` count steps home."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def read(self) -> ImuSample:
        raise ImuError(errno.ENODEV, f"the MPU-6050 was not set up at start-up: {self.error}")

    def close(self) -> None:
        pass
