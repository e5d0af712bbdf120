"""Calibration: the pure checks on synthetic samples, the file, and the procedure on the simulated table."""

from __future__ import annotations

import json
import math
import os

import pytest

from controller.setup import calibration as cal
from controller.shell.calibrate import run as calibrate
from controller.shell.drive import VirtualTime
from controller.setup.config import Config
from controller.errors import CalibrationError
from drivers.imu import ImuSample, Mount
from drivers.physics import STANDARD_GRAVITY
from drivers.sim import hardware
from drivers.sim.person import SimulatedPerson

G = STANDARD_GRAVITY
MOUNT = Mount("+x", "+z")


def sample(angle_deg: float, *, gyro=(0.4, -0.3, 0.2), wobble: float = 0.0, t: float = 0.0) -> ImuSample:
    """What a +x/+z-mounted sensor reads with the bed at ``angle_deg`` (head-down positive)."""
    a = math.radians(angle_deg + wobble)
    return ImuSample(t=t, accel=(-G * math.sin(a), 0.0, G * math.cos(a)), gyro=gyro, raw=b"", temperature=25.0)


def test_level_gives_the_offset_and_the_bias():
    level = cal.measure_level([sample(0.7, wobble=0.01 * (i % 3)) for i in range(50)], MOUNT)
    assert level.zero_offset == pytest.approx(0.71, abs=0.01)
    assert level.gyro_bias == pytest.approx((0.4, -0.3, 0.2))


@pytest.mark.parametrize(
    "samples, message",
    [
        ([sample(0.0)] * 5, "only 5 good IMU samples"),
        ([sample(0.0, wobble=(-1) ** i * 1.0) for i in range(50)], "the table was not still"),
        ([sample(14.0)] * 50, "the level bed reads +14.0°"),
        ([sample(0.0, gyro=(30.0, 0, 0))] * 50, "the gyro reads 30.0°/s at rest"),
        ([ImuSample(0.0, (0.0, 0.0, 2 * G), (0, 0, 0), b"", 25.0)] * 50, "reads 2.00 g at rest"),
        ([ImuSample(0.0, (0.0, G, 0.0), (0, 0, 0), b"", 25.0)] * 50, "gravity lies along the sensor's +y axis"),
    ],
)
def test_level_refuses_what_it_cannot_trust(samples, message):
    with pytest.raises(CalibrationError, match=message.replace("+", r"\+").replace(".", r"\.")):
        cal.measure_level(samples, MOUNT)


def test_tilt_check_passes_a_right_mount_and_names_the_fix_for_a_wrong_one():
    level = cal.measure_level([sample(0.5)] * 50, MOUNT)
    assert cal.check_tilt(level, [sample(10.5)] * 20, commanded=10.0, mount=MOUNT) == pytest.approx(10.0, abs=0.01)
    with pytest.raises(CalibrationError, match=r"set \[imu\] forward = '-x'"):
        cal.check_tilt(level, [sample(-9.5)] * 20, commanded=10.0, mount=MOUNT)  # the sensor sees head-up
    with pytest.raises(CalibrationError, match=r"stepped 10\.0° but the table tilted 8\.0° \(-20%\)"):
        cal.check_tilt(level, [sample(8.5)] * 20, commanded=10.0, mount=MOUNT)
    with pytest.raises(CalibrationError, match="tilted only 2.0°"):
        cal.check_tilt(level, [sample(2.5)] * 20, commanded=2.0, mount=MOUNT)


def _calibration(**changes) -> cal.Calibration:
    fields = dict(forward="+x", normal="+z", zero_offset=0.3, gyro_bias=(0.4, -0.3, 0.2), tilt_checked=10.0,
                  steps_per_degree=200.0, created="2026-11-30T00:00:00+00:00")
    return cal.Calibration(**(fields | changes))


def test_the_file_round_trips_and_is_replaced_atomically(tmp_path):
    path = tmp_path / "calibration.json"
    cal.save(path, _calibration())
    cal.save(path, _calibration(zero_offset=-0.2))
    assert cal.load(path, Config()).zero_offset == -0.2
    assert os.listdir(tmp_path) == ["calibration.json"]  # no temporary file left behind
    assert oct(path.stat().st_mode & 0o777) == "0o644"


def test_a_failed_write_leaves_the_old_file(tmp_path, mocker):
    path = tmp_path / "calibration.json"
    cal.save(path, _calibration())
    mocker.patch("controller.setup.calibration.os.fsync", side_effect=OSError(5, "Input/output error"))
    with pytest.raises(CalibrationError, match="cannot write the calibration: Input/output error"):
        cal.save(path, _calibration(zero_offset=-0.2))
    mocker.stopall()
    assert cal.load(path, Config()).zero_offset == 0.3 and os.listdir(tmp_path) == ["calibration.json"]


@pytest.mark.parametrize(
    "content, config, message",
    [
        (None, Config(), "no calibration yet: run `inversion-table calibrate`"),
        ("{not json", Config(), "not a valid calibration"),
        (json.dumps({"version": 1}), Config(), "not a valid calibration (forward: Field required)"),
        (_calibration().model_dump_json(), Config.model_validate({"imu": {"forward": "-y"}}),
         "calibrated with the sensor's forward '+x' and normal '+z', but [imu] now says '-y' and '+z'"),
        (_calibration().model_dump_json(), Config.model_validate({"table": {"steps_per_degree": 100}}),
         "calibrated with 200 steps per degree, but the config now gives 100"),
    ],
)
def test_loading_says_what_to_do(tmp_path, content, config, message):
    path = tmp_path / "calibration.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(CalibrationError) as info:
        cal.load(path, config)
    assert str(info.value).startswith(f"{path}: ") and message in str(info.value)


# -- the procedure, on the simulated table in real time ------------------------------------------

FAST = {"table": {"home_angle": -12}, "limits": {"max_speed": 8}, "motion": {"jog_speed": 8, "return_speed": 6,
                                                                              "rest_time": 0}}


def _table(config, *, say=lambda line: None, **build):
    """The simulated table for a calibration, on virtual time, its driver and its person."""
    hw = hardware.build(config, **build)
    driver = VirtualTime(hw.clock)
    return hw, driver, SimulatedPerson(hw, sleep=driver.sleep, now=driver.now, say=say)


def _fast_config(tmp_path) -> Config:
    return Config.model_validate(FAST | {"calibration": {"file": str(tmp_path / "calibration.json")}})


def test_a_reversed_sensor_is_named_before_anything_moves(tmp_path):
    config = _fast_config(tmp_path)
    hw, driver, person = _table(config, sensor_mount=Mount("-x", "+z"))
    with pytest.raises(CalibrationError, match=r"set \[imu\] forward = '-x'"):
        calibrate(config, hw, say=lambda line: None, ask=person.ask, driver=driver)
    assert hw.motor.steps == 0 and not os.path.exists(config.calibration.file)


def test_a_sensor_mounted_on_its_side_is_refused(tmp_path):
    config = _fast_config(tmp_path)
    hw, driver, person = _table(config, sensor_mount=Mount("+x", "+y"))
    with pytest.raises(CalibrationError, match="the sensor is mounted otherwise"):
        calibrate(config, hw, say=lambda line: None, ask=lambda prompt: "y", driver=driver)
    assert hw.motor.steps == 0


def test_the_calibrator_never_saves_when_the_table_is_stopped_mid_way(tmp_path):
    config = _fast_config(tmp_path)
    hw, driver, person = _table(config)

    def ask(prompt):
        if "Hold down" in prompt:
            hw.press("stop")  # the worst moment: a stop during the mount check
            hw.release("stop")
            return ""
        return person.ask(prompt)

    with pytest.raises(CalibrationError, match=r"the table (is|was) stopped"):  # by the loop, or by the halt count
        calibrate(config, hw, say=lambda line: None, ask=ask, driver=driver)
    assert not os.path.exists(config.calibration.file)


def test_calibrate_sim_measures_what_the_emulator_got_wrong(tmp_path, capsys):
    """The whole procedure from the command line, the simulated person pressing the buttons."""
    from controller.commands.cli import main

    path = tmp_path / "config.toml"
    path.write_text('[table]\nhome_angle = -12\n[limits]\nmax_speed = 8\n[motion]\njog_speed = 8\nreturn_speed = 6\n'
                    'rest_time = 0\n', encoding="utf-8")
    assert main(["calibrate", "--sim", "--config", str(path), "--calibration", str(tmp_path / "cal.json")]) == 0
    out = capsys.readouterr().out
    assert "the mount and the drive agree" in out and f"Saved {tmp_path / 'cal.json'}." in out
    assert out.rstrip().endswith("Home.")  # brought home before it ended
    result = cal.load(tmp_path / "cal.json", _fast_config(tmp_path))
    assert result.gyro_bias == pytest.approx((0.4, -0.3, 0.2), abs=0.05)  # the emulator's gyro bias
    # the emulator's accelerometer bias, (0.005, -0.004, 0.01) g, tilts "level" by about -0.28°
    assert result.zero_offset == pytest.approx(-math.degrees(math.atan2(0.005, 1.01)), abs=0.1)


def test_an_unwritable_calibration_file_is_refused_before_anything_moves(tmp_path):
    config = Config.model_validate(FAST | {"calibration": {"file": str(tmp_path / "missing" / "cal.json")}})
    hw, driver, person = _table(config)
    asked = []
    with pytest.raises(CalibrationError, match="the folder .* does not exist"):
        calibrate(config, hw, say=lambda line: None, ask=asked.append, driver=driver)
    assert asked == [] and hw.motor.steps == 0


def test_a_stop_and_reset_during_the_tilt_still_refuses(tmp_path):
    """Resetting re-anchors the step count to the sensor; a check counting from the position would
    then agree with itself. The halt in between must void the check."""
    config = _fast_config(tmp_path)
    hw, driver, person = _table(config)

    def ask(prompt):
        if "Hold down" in prompt:
            for button in ("stop", "reset"):
                hw.press(button)
                hw.release(button)
                driver.sleep(0.2)
        return person.ask(prompt)

    with pytest.raises(CalibrationError, match="stopped or tripped during the tilt"):
        calibrate(config, hw, say=lambda line: None, ask=ask, driver=driver)
    assert not os.path.exists(config.calibration.file)


def test_a_motor_turning_the_wrong_way_is_named(tmp_path):
    config = _fast_config(tmp_path)
    hw, driver, person = _table(config, motor_wired_reversed=True)
    with pytest.raises(CalibrationError, match=r"the motor turns the other way. Set \[motor\] reverse = true"):
        calibrate(config, hw, say=lambda line: None, ask=person.ask, driver=driver)
    assert not os.path.exists(config.calibration.file)
    # and with reverse = true in the config, the same table calibrates
    config = Config.model_validate(FAST | {"motor": {"reverse": True}, "calibration": {"file": str(tmp_path / "c.json")}})
    hw, driver, person = _table(config, motor_wired_reversed=True)
    assert calibrate(config, hw, say=lambda line: None, ask=person.ask, driver=driver).tilt_checked > 5


def test_a_failed_calibration_still_brings_the_table_home(tmp_path):
    config = Config.model_validate(FAST | {"calibration": {"file": str(tmp_path / "cal.json")}})
    lines = []
    hw, driver, person = _table(config, say=lines.append)

    def ask(prompt):
        if "Hold down" in prompt:
            answer = person.ask(prompt)
            hw.press("stop")  # stopped head-down, after the tilt
            hw.release("stop")
            return answer
        return person.ask(prompt)

    with pytest.raises(CalibrationError):
        calibrate(config, hw, say=lines.append, ask=ask, driver=driver)
    assert any(line.startswith("Calibration failed:") for line in lines)
    assert any("press reset, then press return" in line for line in lines)
    assert abs(hw.table.angle() - config.table.home_angle) < 1.0  # home again


def test_the_whole_calibration_runs_on_virtual_time(tmp_path):
    """On virtual time no machine is too busy for it (a loaded one used to trip the dead-man)."""
    config = Config.model_validate(FAST | {"calibration": {"file": str(tmp_path / "c.json")}})
    hw, driver, person = _table(config)
    start = hw.clock.now()
    result = calibrate(config, hw, say=lambda line: None, ask=person.ask, driver=driver)
    assert result.tilt_checked > 5 and os.path.exists(config.calibration.file)
    assert abs(hw.table.angle() - config.table.home_angle) < 1.0  # brought home
    assert hw.clock.now() - start > cal.CHECK_TILT / config.motion.jog_speed  # the jog took its (virtual) time
