"""The MPU-6050's facts, in one place: addresses, registers, WHO_AM_I ids, scales and the known clones."""

from __future__ import annotations

from typing import NamedTuple

ADDRESS = 0x68  # AD0 tied to GND
ADDRESS_AD0_HIGH = 0x69  # AD0 pulled high
ADDRESSES = (ADDRESS, ADDRESS_AD0_HIGH)
WHO_AM_I_ID = 0x68  # what a genuine MPU-6050 answers

REG_SMPLRT_DIV = 0x19
REG_CONFIG = 0x1A  # DLPF_CFG in bits 2:0; EXT_SYNC_SET in bits 5:3 must be preserved
REG_GYRO_CONFIG = 0x1B  # FS_SEL in bits 4:3; ACCEL_CONFIG (0x1C) follows it
REG_ACCEL_CONFIG = 0x1C  # AFS_SEL in bits 4:3
REG_ACCEL_OUT = 0x3B  # first of the 14 data bytes: accel xyz, temperature, gyro xyz (big-endian int16)
BURST_LEN = 14
REG_SIGNAL_PATH_RESET = 0x68
REG_PWR_MGMT_1 = 0x6B
REG_WHO_AM_I = 0x75
N_REGISTERS = 0x80

DLPF_MASK = 0b111  # CONFIG's DLPF_CFG bits
PWR_MGMT_1_RESET = 0x40  # the chip powers up asleep
DEVICE_RESET = 0x80  # PWR_MGMT_1 bit 7
SLEEP = 0x40  # PWR_MGMT_1 bit 6

ACCEL_LSB_PER_G = (16384.0, 8192.0, 4096.0, 2048.0)  # by ACCEL_CONFIG AFS_SEL
GYRO_LSB_PER_DPS = (131.0, 65.5, 32.8, 16.4)  # by GYRO_CONFIG FS_SEL
TEMP_LSB_PER_C = 340.0  # the datasheet's temperature formula: raw / 340 + 36.53 °C
TEMP_OFFSET_C = 36.53


class Clone(NamedTuple):
    """A chip sold as an MPU-6050 that is not one: its short name, and what doctor tells a person it is."""

    name: str
    description: str


# WHO_AM_I answers of chips sold as "MPU-6050" that are not one; they may differ in registers or
# noise, so they are refused unless the user opts in ([imu] accept_ids) after checking.
CLONES = {
    0x70: Clone("MPU-6500", "an MPU-6500 (a different chip with a compatible register map)"),
    0x72: Clone("MPU-6052C?", "an MPU-6050 clone (often sold as 6052C)"),
    0x98: Clone("unknown clone", "an unbranded MPU-6050 clone"),
}
