"""The config's hardware sections: pins, pin factory, IMU, drive train, presets and calibration file."""

from __future__ import annotations

import pytest

from controller.setup.config import Config
from controller.setup.config_hardware import CLONE_IDS
from drivers import mpu6050_regs
from tests.test_config import error_of, write


def test_default_pins_are_distinct_and_complete():
    pins = Config().pins
    assert pins.buttons() == {"stop": 17, "reset": 27, "start": 22, "return": 23, "up": 24, "down": 25, "select": 5}
    assert len(set(pins.by_name().values())) == len(pins.by_name()) == 12


def test_return_is_written_as_return(tmp_path):
    c = Config.model_validate({"pins": {"return": 12}})
    assert c.pins.buttons()["return"] == 12


@pytest.mark.parametrize(
    "text, expected",
    [
        ("[pins]\nstop = 2\n", "[pins] stop: must be ≥ 4 (GPIO0-3 belong to the HAT EEPROM and the IMU's I2C bus) (got 2)"),
        ("[pins]\nstep = 28\n", "[pins] step: must be ≤ 27 (the 40-pin header ends at GPIO27) (got 28)"),
        ("[pins]\nled = 'none'\n", "[pins] led: must be a BCM pin number, or false for none (got 'none')"),
        ("[pins]\nbuzzer = true\n", "[pins] buzzer: must be a BCM pin number, or false for none (got True)"),
        ("[pins]\nreturn = 4.5\n", "[pins] return: must be a whole number (got 4.5)"),
        ("[pins]\nretrun = 4\n", "[pins]: unknown key 'retrun' (did you mean 'return'?)"),
        ("[pins]\nup = 25\n", "[pins]: down = 25: GPIO25 is already up's pin; every line needs its own"),
        ("[gpio]\npin_factory = 'RPi.GPIO'\n", "[gpio] pin_factory: must be 'lgpio', 'rpigpio', 'pigpio' or 'native' (got 'RPi.GPIO')"),
        ("[imu]\naddress = 0x70\n", "[imu] address: must be 0x68, or 0x69 with AD0 pulled high (got 0x70)"),
        ("[imu]\naccept_ids = [0x68]\n", "[imu] accept_ids #1: 0x68 is not a known clone's WHO_AM_I (0x70, 0x72, 0x98)"),
        ("[imu]\nforward = 'x'\n", "[imu] forward: must be '+x', '-x', '+y', '-y', '+z' or '-z' (got 'x')"),
        ("[imu]\nnormal = '+x'\n", "[imu]: forward = '+x' and normal = '+x' are the same sensor axis"),
        ("[imu]\nbus = -1\n", "[imu] bus: must be ≥ 0 (got -1)"),
        ("[motor]\nmicrosteps = 3\n", "[motor] microsteps: must be 1, 2, 4, 8, 16, 32, 64, 128 or 256 (got 3)"),
        ("[motor]\nsteps_per_rev = 200\n", "[motor] microsteps, gear_ratio missing: give all of"),
        ("[table]\nsteps_per_degree = 100\n[motor]\nsteps_per_rev = 200\nmicrosteps = 16\ngear_ratio = 10\n",
         "[table] steps_per_degree and [motor] both describe the drive: keep one of them"),
        ("[motor]\nsteps_per_rev = 200\nmicrosteps = 256\ngear_ratio = 1000\n",
         "[motor] gives 142222 steps per degree, outside 10..20000"),
        ("[presets]\navailable = []\n", "[presets] available: must not be empty"),
        ("[presets]\navailable = ['a','b','c','d','e','f','g','h','i','j']\n",
         "[presets] available: must have at most 9 entries"),
        ("[calibration]\nfile = ''\n", "[calibration] file: must not be empty"),
    ],
)
def test_hardware_problems_name_file_key_and_limit(tmp_path, text, expected):
    path = write(tmp_path, text)
    assert error_of(path).startswith(f"{path}: {expected}")


def test_the_drive_train_gives_steps_per_degree(tmp_path):
    from controller.setup.config import load_config

    c = load_config(write(tmp_path, "[motor]\nsteps_per_rev = 200\nmicrosteps = 16\ngear_ratio = 22.5\n"))
    assert c.steps_per_degree == pytest.approx(200 * 16 * 22.5 / 360)
    assert Config().steps_per_degree == 200


def test_a_pin_can_be_left_out_with_false(tmp_path):
    from controller.setup.config import load_config

    c = load_config(write(tmp_path, "[pins]\nled = false\nbuzzer = false\nselect = false\n"))
    assert c.pins.led is None and c.pins.buzzer is None and "select" not in c.pins.buttons()


def test_clone_ids_are_the_drivers():
    assert CLONE_IDS == tuple(mpu6050_regs.CLONES) and CLONE_IDS
