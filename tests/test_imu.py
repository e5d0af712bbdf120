"""IMU stack: BusioI2C adapter, MPU-6050 emulator, the adafruit driver on it, and Mpu6050Imu."""

from __future__ import annotations

import ctypes
import errno
import math
import statistics
import time

import adafruit_mpu6050
import pytest
from smbus2 import i2c_msg

from controller.errors import ImuError
from drivers import i2c as i2c_module
from drivers.clock import VirtualClock
from drivers.i2c import BusioI2C
from drivers.imu import Mount, Mpu6050Imu, decode_burst
from drivers.physics import STANDARD_GRAVITY
from drivers.sim.mpu6050 import Motion, Mpu6050Emulator

G = STANDARD_GRAVITY
NO_BIAS = {"accel_bias_g": (0.0, 0.0, 0.0), "gyro_bias_dps": (0.0, 0.0, 0.0)}


class Table:
    """The true table state the emulator samples; counts samples to show when instants are taken."""

    def __init__(self) -> None:
        self.angle, self.rate, self.stepping, self.calls = 0.0, 0.0, False, 0

    def __call__(self) -> Motion:
        self.calls += 1
        return Motion(self.angle, self.rate, self.stepping)


class RecordingBus:
    """An SMBus stand-in that records transactions and answers reads with 1, 2, 3, ..."""

    def __init__(self, error: OSError | None = None) -> None:
        self.transactions: list[list[bytes | int]] = []  # bytes written, or length of a read
        self.error, self.closed = error, 0

    def i2c_rdwr(self, *msgs: i2c_msg) -> None:
        if self.error:
            raise self.error
        self.transactions.append([m.len if m.flags & 1 else bytes(m) for m in msgs])
        for m in msgs:
            if m.flags & 1:
                ctypes.memmove(m.buf, bytes(range(1, m.len + 1)), m.len)

    def close(self) -> None:
        self.closed += 1


@pytest.fixture
def table() -> Table:
    return Table()


def rig(table: Table, *, dlpf_cfg: int = 3, **emulator_options):
    clock = VirtualClock()
    emu = Mpu6050Emulator(motion=table, **emulator_options)
    imu = Mpu6050Imu(BusioI2C(emu), clock=clock, dlpf_cfg=dlpf_cfg)
    return emu, imu, clock


def mean_reading(imu: Mpu6050Imu, n: int = 16, mount: Mount = Mount()) -> tuple[float, float]:
    samples = [imu.read() for _ in range(n)]
    return (
        statistics.fmean(mount.tilt_deg(s.accel) for s in samples),
        statistics.fmean(mount.rate_dps(s.gyro) for s in samples),
    )


def test_write_then_read_is_one_repeated_start_transaction_on_a_shared_buffer():
    bus = RecordingBus()
    i2c = BusioI2C(bus)
    buf = bytearray([0x75, 0, 0, 0])  # adafruit_register style: one buffer for out and in
    i2c.writeto_then_readfrom(0x68, buf, buf, out_end=1, in_start=1, in_end=3)
    assert bus.transactions == [[b"\x75", 2]]
    assert buf == bytearray([0x75, 1, 2, 0])


def test_writes_reads_and_the_zero_length_probe():
    bus = RecordingBus()
    i2c = BusioI2C(bus)
    i2c.writeto(0x68, b"")  # adafruit's I2CDevice presence probe
    i2c.writeto(0x68, bytearray(b"\x10\x11\x12\x13"), start=1, end=3)
    buf = bytearray(4)
    i2c.readfrom_into(0x68, buf, start=2)
    assert bus.transactions == [[b""], [b"\x11\x12"], [2]]
    assert buf == bytearray([0, 0, 1, 2])


def test_bus_errors_propagate_unchanged_and_lock_is_non_blocking():
    error = OSError(errno.EREMOTEIO, "Remote I/O error")
    i2c = BusioI2C(RecordingBus(error))
    with pytest.raises(OSError) as caught:
        i2c.writeto(0x68, b"\x00")
    assert caught.value is error and caught.value.errno == 121
    assert (i2c.try_lock(), i2c.try_lock()) == (True, False)  # held: a second taker must not block
    i2c.unlock()
    assert i2c.try_lock() is True


def test_close_is_idempotent_then_refuses_transfers(monkeypatch):
    bus = RecordingBus()
    monkeypatch.setattr(i2c_module.smbus2, "SMBus", lambda n: bus if n == 1 else None)
    with BusioI2C.open(1) as i2c:
        i2c.writeto(0x68, b"\x6b\x00")
    i2c.close()
    assert bus.closed == 1
    with pytest.raises(OSError) as caught:
        i2c.writeto(0x68, b"\x6b\x00")
    assert caught.value.errno == errno.EBADF


def test_emulator_starts_asleep_and_reset_restores_defaults(table):
    emu = Mpu6050Emulator(motion=table)
    i2c = BusioI2C(emu)
    data = bytearray(14)
    assert emu.peek(0x6B) == 0x40 and emu.peek(0x75) == 0x68
    i2c.writeto_then_readfrom(0x68, b"\x3b", data)
    assert data == bytes(14) and table.calls == 0  # asleep: registers don't update
    i2c.writeto(0x68, bytes([0x1A, 0x05, 0x08, 0x10]))  # auto-increment: CONFIG, GYRO, ACCEL
    i2c.writeto(0x68, b"\x6b\x00")
    i2c.writeto_then_readfrom(0x68, b"\x3b", data)
    assert data != bytes(14) and (emu.peek(0x1A), emu.peek(0x1B), emu.peek(0x1C)) == (5, 8, 0x10)
    i2c.writeto(0x68, b"\x6b\x80")  # DEVICE_RESET
    assert emu.peek(0x6B) == 0x40  # reset bit already clear, asleep again
    assert (emu.peek(0x1A), emu.peek(0x1B), emu.peek(0x1C), emu.peek(0x75)) == (0, 0, 0, 0x68)
    i2c.writeto_then_readfrom(0x68, b"\x3b", data)
    assert data == bytes(14)


def test_real_adafruit_driver_runs_on_the_emulator(table, monkeypatch):
    clock = VirtualClock()
    monkeypatch.setattr(adafruit_mpu6050, "sleep", clock.sleep)  # its init would sleep 0.4 s
    emu = Mpu6050Emulator(motion=table, **NO_BIAS)
    mpu = adafruit_mpu6050.MPU6050(BusioI2C(emu))
    assert emu.peek(0x6B) == 0x01  # reset polled clear, woken, clock = gyro X PLL
    assert mpu.acceleration[2] == pytest.approx(G, abs=0.3)
    calls = table.calls
    mpu.acceleration
    assert table.calls == calls + 3  # adafruit reads each axis at its own instant
    table.angle, table.rate = 40.0, 10.0
    tilts = [Mount().tilt_deg(mpu.acceleration) for _ in range(20)]
    assert statistics.fmean(tilts) == pytest.approx(40.0, abs=0.5)
    assert statistics.fmean(mpu.gyro[1] for _ in range(20)) == pytest.approx(math.radians(10.0), abs=0.01)


def test_set_up_takes_virtual_time_not_real_time(table):
    started = time.perf_counter()
    emu, imu, clock = rig(table)
    assert clock.now() >= 0.3
    assert time.perf_counter() - started < 0.2
    assert adafruit_mpu6050.sleep is time.sleep  # the patch was undone
    assert emu.peek(0x6B) & 0x40 == 0
    with imu:
        imu.read()
    imu.close()  # a second close is harmless; reading after it is not allowed
    with pytest.raises(ImuError):
        imu.read()


def test_burst_read_is_one_transaction_at_one_instant_and_decodes(table):
    emu, imu, clock = rig(table, **NO_BIAS)
    table.angle = 30.0
    transactions, calls = emu.transactions, table.calls
    clock.advance(1.5)
    sample = imu.read()
    assert (emu.transactions, table.calls) == (transactions + 1, calls + 1)
    assert sample.t == clock.now() and len(sample.raw) == 14
    accel, gyro, temperature = decode_burst(sample.raw, accel_lsb_per_g=16384, gyro_lsb_per_dps=65.5)
    assert (accel, gyro) == (sample.accel, sample.gyro)
    assert accel == pytest.approx((-G * 0.5, 0.0, G * math.cos(math.radians(30))), abs=0.25)
    assert temperature == pytest.approx(25.0, abs=0.1)


@pytest.mark.parametrize("angle", [-60.0, -35.0, -10.0, 0.0, 15.0, 45.0, 60.0])
def test_tilt_and_rate_track_the_true_state(table, angle):
    emu, imu, clock = rig(table)
    table.angle, table.rate, table.stepping = angle, 7.5, True
    tilt, rate = mean_reading(imu, n=32)
    # Default biases (≤ 0.01 g, 0.3 dps on the tilt axis) alone shift tilt by up to 0.65°.
    assert tilt == pytest.approx(angle, abs=1.0)
    assert rate == pytest.approx(7.5, abs=0.5)


def test_dlpf_cfg_is_written_to_config_bits_2_0_keeping_the_rest(table):
    emu, imu, clock = rig(table, dlpf_cfg=4)
    assert emu.peek(0x1A) & 0b111 == 4
    emu.poke(0x1A, 0b0010_1100)  # EXT_SYNC_SET = 5 in bits 5:3
    imu.set_dlpf_cfg(1)
    assert emu.peek(0x1A) == 0b0010_1001
    for bad_option in (lambda: imu.set_dlpf_cfg(7), lambda: rig(table, dlpf_cfg=-1)):
        with pytest.raises(ValueError):
            bad_option()


def test_noise_falls_with_a_lower_bandwidth(table):
    def accel_z_stdev(cfg: int) -> float:
        emu, imu, clock = rig(table, dlpf_cfg=cfg)
        return statistics.stdev(imu.read().accel[2] for _ in range(400))

    wide, narrow = accel_z_stdev(0), accel_z_stdev(6)
    assert wide == pytest.approx(400e-6 * math.sqrt(1.57 * 260) * G, rel=0.25)
    assert narrow < wide / 4  # expected ratio sqrt(260/5) ≈ 7.2


def test_a_clone_who_am_i_is_refused_by_name_unless_accepted(table, monkeypatch):
    emu = Mpu6050Emulator(motion=table, who_am_i=0x70)
    with pytest.raises(ImuError, match=r"0x70.*accept_ids"):
        Mpu6050Imu(BusioI2C(emu), clock=VirtualClock())
    assert emu.peek(0x6B) == 0x40  # refused before anything was written
    monkeypatch.setattr(adafruit_mpu6050, "sleep", VirtualClock().sleep)
    with pytest.raises(RuntimeError):  # adafruit alone refuses it too
        adafruit_mpu6050.MPU6050(BusioI2C(emu))
    imu = Mpu6050Imu(BusioI2C(emu), clock=VirtualClock(), accept_ids=(0x68, 0x70))
    assert Mount().tilt_deg(imu.read().accel) == pytest.approx(0.0, abs=2.0)


def test_nothing_at_the_address(table):
    emu = Mpu6050Emulator(motion=table, address=0x69)
    with pytest.raises(ImuError, match="no MPU-6050 at I2C address 0x68: check wiring") as caught:
        Mpu6050Imu(BusioI2C(emu), clock=VirtualClock())
    assert caught.value.errno == errno.EREMOTEIO


def test_disconnect_fault_raises_imu_error_121(table):
    emu, imu, clock = rig(table)
    emu.set_fault("disconnect", True)
    with pytest.raises(ImuError) as caught:
        imu.read()
    assert caught.value.errno == 121 and isinstance(caught.value, OSError)
    emu.set_fault("disconnect", False)
    imu.read()


def test_a_bus_held_by_another_user_is_an_error_not_a_hang(table):
    emu, imu, clock = rig(table)
    assert imu._i2c.try_lock()  # another user takes the bus and never lets go
    with pytest.raises(ImuError, match="stayed locked") as caught:
        imu.read()
    assert caught.value.errno == errno.EBUSY
    imu._i2c.unlock()
    assert imu.read().raw  # once it is let go, reads go through again


def test_freeze_fault_repeats_identical_bytes(table):
    emu, imu, clock = rig(table)
    emu.set_fault("freeze", True)
    frozen = set()
    for angle in (0.0, 20.0, 40.0):
        table.angle = angle
        frozen.add(imu.read().raw)
    assert len(frozen) == 1
    emu.set_fault("freeze", False)
    assert imu.read().raw not in frozen


def test_error_storm_fails_some_reads(table):
    emu, imu, clock = rig(table)
    emu.set_fault("error", True)
    failures = 0
    for _ in range(60):
        try:
            imu.read()
        except ImuError as e:
            assert e.errno == errno.EIO
            failures += 1
    assert 10 < failures < 50  # a storm, not a disconnect: about half get through


def test_spike_fault_gives_implausible_gravity(table):
    emu, imu, clock = rig(table)
    emu.set_fault("spike", True)
    for _ in range(10):
        sample = imu.read()
        assert math.hypot(*sample.accel) > 2 * G
        assert Mount().rate_dps(sample.gyro) == pytest.approx(0.0, abs=1.0)  # gyro unaffected
    with pytest.raises(ValueError):
        emu.set_fault("smoke", True)


def test_mount_math_on_hand_computed_vectors():
    m = Mount()
    assert m.tilt_deg((0.0, 0.0, G)) == pytest.approx(0.0)
    assert m.tilt_deg((-math.sin(0.7), 0.0, math.cos(0.7))) == pytest.approx(math.degrees(0.7))
    assert m.tilt_deg((-G, 0.0, 0.0)) == pytest.approx(90.0)
    assert m.tilt_deg((1.0, 0.0, 1.0)) == pytest.approx(-45.0)
    assert (m.rate_dps((0.0, 5.0, 0.0)), m.rate_dps((5.0, 0.0, 3.0))) == (5.0, 0.0)
    side = Mount(forward="-y", normal="+z")  # normal × forward = z × -y = +x
    assert side.tilt_deg((0.0, 4.9, 4.9 * math.sqrt(3))) == pytest.approx(30.0)
    assert side.rate_dps((3.0, 1.0, 1.0)) == 3.0
    for bad in [("+x", "-x"), ("x", "+z"), ("+x", "+w")]:
        with pytest.raises(ValueError):
            Mount(*bad)


def test_a_non_default_mount_round_trips_with_the_emulator(table):
    mount = Mount(forward="-y", normal="+z")
    emu, imu, clock = rig(table, mount=mount, **NO_BIAS)
    table.angle, table.rate = 35.0, 6.0
    tilt, rate = mean_reading(imu, mount=mount)
    assert tilt == pytest.approx(35.0, abs=0.5) and rate == pytest.approx(6.0, abs=0.2)
    wrong_tilt, wrong_rate = mean_reading(imu)  # read as if default-mounted: not the table
    assert abs(wrong_tilt - 35.0) > 20 and abs(wrong_rate) < 0.2
