"""busio.I2C-style adapter over smbus2, so adafruit drivers run without Blinka's board detection."""

from __future__ import annotations

import errno
import threading
import time
from typing import Any

import smbus2
from smbus2 import i2c_msg

# Waiting for another thread's transfer to finish; a stuck bus must become an error, not a hang.
BUS_LOCK_TIMEOUT_S = 0.05
# Writes this short (a register address, before a repeated-start read) keep one message each.
REUSED_WRITE_MAX = 2  # bytes


def lock_within(bus: Any, timeout: float = BUS_LOCK_TIMEOUT_S) -> bool:
    """Take a busio-style bus's lock (``try_lock``), waiting at most ``timeout`` s: False if it stayed locked."""
    if bus.try_lock():  # the bus is free nearly always: no clock read for the deadline then
        return True
    # Wall-time bound on purpose: it guards against a stuck bus, not a motion decision.
    deadline = time.monotonic() + timeout
    while not bus.try_lock():
        if time.monotonic() > deadline:
            return False
        time.sleep(0)  # yield to the holder; not a timing wait
    return True


def _reused(made: dict, key: tuple, make) -> i2c_msg:
    """The message ``make(*key)``, made the first time and the same one after."""
    msg = made.get(key)
    if msg is None:
        msg = made[key] = make(*key)
    return msg


class BusioI2C:
    """The busio.I2C methods adafruit_bus_device uses, on an smbus2.SMBus-like object.

    ``bus`` needs ``i2c_rdwr(*msgs)`` taking ``smbus2.i2c_msg`` and ``close()``: a real
    ``smbus2.SMBus`` on the Pi, or the register-level emulator in the simulator.
    Bus OSErrors propagate unchanged so callers can tell a NACK (121) from an I/O error (5).
    """

    def __init__(self, bus: Any) -> None:
        self._bus = bus
        self._lock = threading.Lock()
        self._writes: dict[tuple[int, bytes], i2c_msg] = {}
        self._reads: dict[tuple[int, int], i2c_msg] = {}
        self._closed = False

    @classmethod
    def open(cls, bus_number: int) -> BusioI2C:
        """Open /dev/i2c-<bus_number> (1 on a Raspberry Pi's header pins)."""
        return cls(smbus2.SMBus(bus_number))

    def try_lock(self) -> bool:
        """Take the bus without blocking; adafruit's I2CDevice spins on this."""
        return self._lock.acquire(blocking=False)

    def unlock(self) -> None:
        self._lock.release()

    def writeto(self, address: int, buffer: Any, *, start: int = 0, end: int | None = None) -> None:
        """Write buffer[start:end] then stop. A zero-length write is adafruit's presence probe."""
        self._transfer(i2c_msg.write(address, bytes(memoryview(buffer)[start:end])))

    def readfrom_into(self, address: int, buffer: Any, *, start: int = 0, end: int | None = None) -> None:
        """Read len(buffer[start:end]) bytes into that slice, then stop."""
        view = memoryview(buffer)[start:end]
        msg = i2c_msg.read(address, len(view))
        self._transfer(msg)
        view[:] = msg.buf[:msg.len]

    def writeto_then_readfrom(
        self,
        address: int,
        buffer_out: Any,
        buffer_in: Any,
        *,
        out_start: int = 0,
        out_end: int | None = None,
        in_start: int = 0,
        in_end: int | None = None,
    ) -> None:
        """Write, repeated start, read: ONE i2c_rdwr, so no other master can get in between.

        adafruit_register passes the same buffer as out and in; the out bytes are copied into
        the write message before anything is read, so that is safe.
        """
        if out_start == 0 and out_end is None and type(buffer_out) is bytes:
            data = buffer_out  # all of an immutable buffer: no copy needed (the IMU's register reads)
        else:
            data = bytes(memoryview(buffer_out)[out_start:out_end])
        view = memoryview(buffer_in)[in_start:in_end]
        view[:] = self.write_then_read(address, data, len(view))

    def write_then_read(self, address: int, data: bytes, length: int) -> bytes:
        """``writeto_then_readfrom`` for a register read: write ``data`` (the register's address),
        repeated start, read ``length`` bytes, in ONE i2c_rdwr, and return them. The caller holds
        the lock, as for every busio transfer; no buffer of the caller's is filled and copied."""
        msg_in = self._read_message(address, length)
        self._transfer(self._write_message(address, data), msg_in)
        return msg_in.buf[:length]  # the bytes read (as bytes(msg_in), without ctypes.string_at's call)

    def _write_message(self, address: int, data: bytes) -> i2c_msg:
        """The write half of a register read: the same one or two bytes (a register's address)
        every time, so their message is made once. A write message is only ever read, by the
        kernel or the emulator, so sharing it is safe."""
        if len(data) > REUSED_WRITE_MAX:
            return i2c_msg.write(address, data)
        return _reused(self._writes, (address, data), i2c_msg.write)

    def _read_message(self, address: int, length: int) -> i2c_msg:
        """The read half: while the bus is locked (busio's contract: only the holder transfers) one
        message per address and length is reused, and what it read is copied out before the lock
        is let go; a caller outside the contract gets a message of its own."""
        if not self._lock.locked():
            return i2c_msg.read(address, length)
        return _reused(self._reads, (address, length), i2c_msg.read)

    def _transfer(self, *msgs: i2c_msg) -> None:
        if self._closed:
            # What a closed file descriptor would give; an OSError so IMU code maps it like any bus fault.
            raise OSError(errno.EBADF, "I2C bus is closed")
        self._bus.i2c_rdwr(*msgs)

    def close(self) -> None:
        """Close the underlying bus; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._bus.close()

    def deinit(self) -> None:
        """busio's name for close()."""
        self.close()

    def __enter__(self) -> BusioI2C:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
