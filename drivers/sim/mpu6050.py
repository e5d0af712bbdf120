"""Register-level MPU-6050 emulator presented as an smbus2.SMBus, with physics, noise and faults."""

from __future__ import annotations

import ctypes
import errno
import math
import random
import struct
from typing import Callable, NamedTuple

from smbus2 import i2c_msg
from smbus2.smbus2 import I2C_M_RD

from drivers.imu import Mount
from drivers.mpu6050_regs import (
    ACCEL_LSB_PER_G, ADDRESS, BURST_LEN, DEVICE_RESET, DLPF_MASK, GYRO_LSB_PER_DPS, N_REGISTERS, PWR_MGMT_1_RESET,
    REG_ACCEL_CONFIG, REG_ACCEL_OUT, REG_CONFIG, REG_GYRO_CONFIG, REG_PWR_MGMT_1, REG_SIGNAL_PATH_RESET, REG_WHO_AM_I,
    SLEEP, TEMP_LSB_PER_C, TEMP_OFFSET_C, WHO_AM_I_ID,
)

# DLPF_CFG -> accelerometer bandwidth (Hz) from the datasheet; the gyro's is close enough
# (256/188/98/42/20/10/5) to reuse for noise. 7 is reserved; treat it as filter off.
DLPF_BANDWIDTH_HZ = (260.0, 184.0, 94.0, 44.0, 21.0, 10.0, 5.0, 260.0)
NOISE_BANDWIDTH_FACTOR = 1.57  # brick-wall equivalent of a first-order low-pass

TEMPERATURE_C = 25.0
SPIKE_G = 3.0  # magnitude of the "spike" fault per axis: far outside anything a table does
# The "disagree" fault: the gyro reads this rate on top of the truth (a failing gyro), while the
# accelerometer keeps telling the truth.
DISAGREE_DPS = 5.0

ERROR_STORM_PROBABILITY = 0.5
FAULT_KINDS = ("disconnect", "error", "freeze", "spike", "disagree")

_DATA = struct.Struct(">7h")
_TWO_PI, _sqrt, _log, _cos, _sin = math.tau, math.sqrt, math.log, math.cos, math.sin


class Motion(NamedTuple):
    """The table's true state at one instant."""

    angle_deg: float  # head-down positive
    rate_dps: float  # d(angle)/dt
    stepping: bool  # the motor is stepping now: adds vibration to the accelerometer


def _normal_pairs(random: Callable[[], float]) -> tuple[float, float, float, float, float, float]:
    """Six standard normal numbers from ``random`` (a Random's ``random``): three Box-Muller pairs,
    each the two values ``random.gauss`` gives on two calls (cos first, then sin), written out
    here because the emulator draws six every sample."""
    x, g = random() * _TWO_PI, _sqrt(-2.0 * _log(1.0 - random()))
    y, h = random() * _TWO_PI, _sqrt(-2.0 * _log(1.0 - random()))
    z, k = random() * _TWO_PI, _sqrt(-2.0 * _log(1.0 - random()))
    return _cos(x) * g, _sin(x) * g, _cos(y) * h, _sin(y) * h, _cos(z) * k, _sin(z) * k


def _int16(x: float) -> int:
    return max(-32768, min(32767, round(x)))


_TEMP_RAW = _int16((TEMPERATURE_C - TEMP_OFFSET_C) * TEMP_LSB_PER_C)  # the temperature never changes


class Mpu6050Emulator:
    """An MPU-6050 behind ``i2c_rdwr``: registers, auto-increment, reset, sleep, coherent bursts.

    Data is sampled once per read transaction (the instant the burst starts), so a 14-byte
    burst at 0x3B is coherent while per-axis reads each see a new instant, as on the chip.
    """

    def __init__(
        self,
        *,
        motion: Callable[[], Motion],
        seed: int = 0,
        address: int = ADDRESS,
        who_am_i: int = WHO_AM_I_ID,
        gyro_bias_dps: tuple[float, float, float] = (0.4, -0.3, 0.2),
        accel_bias_g: tuple[float, float, float] = (0.005, -0.004, 0.01),
        accel_noise_density_g: float = 400e-6,
        gyro_noise_density_dps: float = 0.005,
        vibration_g: float = 0.02,
        mount: Mount = Mount(),
    ) -> None:
        self._motion = motion
        self.address = address
        self.who_am_i = who_am_i
        self._gyro_bias = gyro_bias_dps
        self._accel_bias = accel_bias_g
        self._accel_density = accel_noise_density_g
        self._gyro_density = gyro_noise_density_dps
        self._vibration = vibration_g
        self.mount = mount
        self._rng = random.Random(seed)
        # Faults draw from their own stream so turning one on doesn't reshuffle the noise.
        self._fault_rng = random.Random(f"{seed}:faults")
        self._faults: set[str] = set()
        self._sigma_cache: dict[tuple[int, bool], tuple[float, float]] = {}
        self.transactions = 0  # i2c_rdwr calls, including ones that failed
        self._regs = bytearray(N_REGISTERS)
        self._pointer = 0
        self._reset()

    # --- the SMBus face -------------------------------------------------------------

    def i2c_rdwr(self, *msgs: i2c_msg) -> None:
        """Run one combined transaction (repeated starts, one stop), like SMBus.i2c_rdwr."""
        self.transactions += 1
        faults = self._faults
        if faults:  # none, nearly always
            if "disconnect" in faults:
                raise OSError(errno.EREMOTEIO, "Remote I/O error")
            if "error" in faults and self._fault_rng.random() < ERROR_STORM_PROBABILITY:
                raise OSError(errno.EIO, "Input/output error")
        address = self.address
        for msg in msgs:
            if msg.addr != address:
                # Nobody ACKs the address byte; the kernel reports that as EREMOTEIO.
                raise OSError(errno.EREMOTEIO, f"Remote I/O error (no ACK at 0x{msg.addr:02X})")
        sampled = False
        for msg in msgs:
            n = msg.len
            if msg.flags & I2C_M_RD:
                if not sampled:
                    self._sample()  # once per transaction: one instant for the whole burst
                    sampled = True
                out = self._read(n)
                ctypes.memmove(msg.buf, out, n)
            elif n:
                data = msg.buf[:n]  # the bytes written (ctypes.string_at, without its call)
                self._pointer = data[0] & 0x7F
                for value in data[1:]:
                    self._write(self._pointer, value)
                    self._pointer = (self._pointer + 1) % N_REGISTERS
            # A zero-length write is a presence probe: ACK and change nothing.

    def close(self) -> None:
        """Nothing to release; present so it can stand in for smbus2.SMBus."""

    # --- faults and test back doors ---------------------------------------------------

    def set_fault(self, kind: str, active: bool) -> None:
        """Turn an injected fault on or off: disconnect, error (storm), freeze, spike, disagree."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; expected one of {', '.join(FAULT_KINDS)}")
        if active:
            self._faults.add(kind)
        else:
            self._faults.discard(kind)

    def peek(self, register: int) -> int:
        """Register value without a bus transaction (tests only)."""
        return self._regs[register]

    def poke(self, register: int, value: int) -> None:
        """Set a register without a bus transaction or side effects (tests only)."""
        self._regs[register] = value & 0xFF

    # --- registers ------------------------------------------------------------------

    def _reset(self) -> None:
        self._regs[:] = bytes(N_REGISTERS)  # data registers read zero until the chip wakes
        self._regs[REG_PWR_MGMT_1] = PWR_MGMT_1_RESET
        self._regs[REG_WHO_AM_I] = self.who_am_i

    def _write(self, register: int, value: int) -> None:
        if register == REG_PWR_MGMT_1 and value & DEVICE_RESET:
            self._reset()  # DEVICE_RESET self-clears at once; adafruit polls for that
        elif register == REG_SIGNAL_PATH_RESET:
            pass  # self-clearing strobe bits: nothing to store
        elif register == REG_WHO_AM_I or REG_ACCEL_OUT <= register < REG_ACCEL_OUT + BURST_LEN:
            pass  # read-only
        else:
            self._regs[register] = value

    def _read(self, n: int) -> bytes:
        start = self._pointer
        self._pointer = (start + n) % N_REGISTERS
        if start + n <= N_REGISTERS:
            return bytes(self._regs[start : start + n])
        return bytes(self._regs[(start + i) % N_REGISTERS] for i in range(n))

    # --- physics --------------------------------------------------------------------

    def _sigmas(self, stepping: bool) -> tuple[float, float]:
        """(accelerometer, gyro) noise in g and deg/s for the DLPF setting and vibration now; the
        same numbers every sample until CONFIG changes, so each setting's are worked out once."""
        key = (self._regs[REG_CONFIG] & DLPF_MASK, stepping)
        sigmas = self._sigma_cache.get(key)
        if sigmas is None:
            bandwidth = DLPF_BANDWIDTH_HZ[key[0]]
            root_bw = math.sqrt(NOISE_BANDWIDTH_FACTOR * bandwidth)
            accel_sigma = self._accel_density * root_bw
            if stepping:
                accel_sigma = math.hypot(accel_sigma, self._vibration)  # independent noises add in power
            sigmas = self._sigma_cache[key] = (accel_sigma, self._gyro_density * root_bw)
        return sigmas

    def _sample(self) -> None:
        """Latch the data registers for this instant, unless asleep or frozen."""
        if self._regs[REG_PWR_MGMT_1] & SLEEP or "freeze" in self._faults:
            return
        state = self._motion()
        accel_sigma, gyro_sigma = self._sigmas(state.stepping)

        theta = math.radians(state.angle_deg)
        # Specific force is g·up, in g: up·forward = -sinθ, up·normal = cosθ (head-down positive).
        a_forward, a_normal = -math.sin(theta), math.cos(theta)
        mount = self.mount
        (f0, f1, f2), (n0, n1, n2), (p0, p1, p2) = mount.forward_vec, mount.normal_vec, mount.pivot_vec
        (b0, b1, b2), (c0, c1, c2) = self._accel_bias, self._gyro_bias
        # The six normal draws, accelerometer x, y, z then gyro x, y, z: three of random.gauss's
        # pairs, as six calls of it would give them (the stream holds no half pair between samples).
        n_ax, n_ay, n_az, n_gx, n_gy, n_gz = _normal_pairs(self._rng.random)
        # Axis by axis, written out (this runs every control period): the same sums in the same order.
        accel = (
            a_forward * f0 + a_normal * n0 + b0 + n_ax * accel_sigma,
            a_forward * f1 + a_normal * n1 + b1 + n_ay * accel_sigma,
            a_forward * f2 + a_normal * n2 + b2 + n_az * accel_sigma,
        )
        if "spike" in self._faults:
            accel = [a + self._fault_rng.choice((-SPIKE_G, SPIKE_G)) for a in accel]
        rate = state.rate_dps + (DISAGREE_DPS if "disagree" in self._faults else 0.0)
        gx = rate * p0 + c0 + n_gx * gyro_sigma
        gy = rate * p1 + c1 + n_gy * gyro_sigma
        gz = rate * p2 + c2 + n_gz * gyro_sigma

        a_lsb = ACCEL_LSB_PER_G[(self._regs[REG_ACCEL_CONFIG] >> 3) & 0b11]
        g_lsb = GYRO_LSB_PER_DPS[(self._regs[REG_GYRO_CONFIG] >> 3) & 0b11]
        counts = (round(accel[0] * a_lsb), round(accel[1] * a_lsb), round(accel[2] * a_lsb), _TEMP_RAW,
                  round(gx * g_lsb), round(gy * g_lsb), round(gz * g_lsb))
        try:
            _DATA.pack_into(self._regs, REG_ACCEL_OUT, *counts)
        except struct.error:  # beyond int16: the chip saturates at full scale (a spike, say)
            _DATA.pack_into(self._regs, REG_ACCEL_OUT, *(_int16(c) for c in counts))
