"""`inversion-table doctor`: each check finds what it should, names it, and says what to do."""

from __future__ import annotations

import pytest

from controller.shell import doctor
from controller.setup.config import Config
from controller.shell.doctor import SimulatedSystem
from drivers import mpu6050_regs
from tests.test_service import _calibrated


def results(config, system, source="cfg.toml"):
    return {c.name: c for c in doctor.checks(config, source, system)}


@pytest.fixture
def calibrated(tmp_path):
    from controller.setup.config import load_config

    path = _calibrated(tmp_path)
    return load_config(path), path


def test_a_well_set_up_simulated_table_passes(calibrated):
    config, path = calibrated
    lines = []
    assert doctor.report(config, path, SimulatedSystem(), out=lambda x: lines.append(x))
    found = results(config, SimulatedSystem())
    assert found["MPU-6050"].ok and "genuine MPU-6050" in found["MPU-6050"].detail
    assert found["buttons"].ok and found["calibration"].ok and found["presets"].detail == "gentle, hold-40, oscillate"


@pytest.mark.parametrize("chip, name", sorted((chip, clone.description) for chip, clone in mpu6050_regs.CLONES.items()))
def test_a_clone_chip_is_named_with_what_to_do(calibrated, chip, name):
    config, _ = calibrated
    check = results(config, SimulatedSystem(who_am_i=chip))["MPU-6050"]
    assert check.ok is False and f"WHO_AM_I 0x{chip:02X}" in check.detail and name in check.detail
    assert f"set [imu] accept_ids = [0x{chip:02X}]" in check.fix
    accepting = config.model_copy(update={"imu": config.imu.model_copy(update={"accept_ids": [chip]})})
    assert results(accepting, SimulatedSystem(who_am_i=chip))["MPU-6050"].ok is None  # a warning, not a failure


def test_a_chip_at_the_other_address_is_pointed_out(calibrated):
    config, _ = calibrated
    check = results(config, SimulatedSystem(address=0x69))["MPU-6050"]
    assert check.ok is False and "nothing answers at 0x68" in check.detail
    assert "set [imu] address = 0x69" in check.fix


def test_a_stuck_stop_button_fails(calibrated):
    config, _ = calibrated
    check = results(config, SimulatedSystem(stuck=("stop",)))["buttons"]
    assert check.ok is False and "stop (GPIO17)" in check.detail


class NoAccess(SimulatedSystem):
    """A Pi where this user may not use the devices and is in neither group."""

    simulated = False

    def devices(self, pattern):
        return {"/dev/gpiochip*": ["/dev/gpiochip0"], "/dev/i2c-1": ["/dev/i2c-1"]}.get(pattern, [])

    def can_use(self, path):
        return False

    def groups(self):
        return {"users"}

    def is_root(self):
        return False


def test_missing_permissions_say_which_group_to_join(calibrated):
    config, _ = calibrated
    found = results(config, NoAccess())
    assert found["GPIO"].ok is False and "sudo adduser $USER gpio" in found["GPIO"].fix
    assert found["I2C"].ok is False and "sudo adduser $USER i2c" in found["I2C"].fix
    assert found["gpio group"].ok is None


def test_a_machine_without_i2c_is_told_how_to_enable_it(calibrated):
    class NoBus(NoAccess):
        def devices(self, pattern):
            return ["/dev/gpiochip0"] if pattern == "/dev/gpiochip*" else []

        def can_use(self, path):
            return True

    found = results(calibrated[0], NoBus())
    assert found["GPIO"].ok and found["I2C"].ok is False and "raspi-config nonint do_i2c 0" in found["I2C"].fix


def test_the_wiring_table_follows_the_config():
    config = Config.model_validate({"pins": {"stop": 4, "led": False}})
    rows = {row[0]: row for row in doctor.wiring(config)}
    assert rows["stop"][1:3] == ("GPIO4", "7") and "led" not in rows
    assert rows["enable"][1:3] == ("GPIO16", "36") and rows["IMU SDA"][2] == "3"
    assert set(doctor.HEADER) >= set(range(4, 28))  # every pin the config accepts has a header position


def test_doctor_from_the_command_line_exit_status(tmp_path, capsys, calibrated):
    from controller.commands.cli import main

    config, path = calibrated
    assert main(["doctor", "--sim", "--config", path, "--calibration", config.calibration.file]) == 0
    assert "all checks passed" in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text("[pins]\nstop = 2\n", encoding="utf-8")
    assert main(["doctor", "--sim", "--config", str(bad), "--calibration", config.calibration.file]) == 1
    out = capsys.readouterr().out
    assert "FAIL config:" in out and "[pins] stop: must be ≥ 4" in out


def test_piped_the_findings_and_fixes_are_not_broken_across_lines(tmp_path, capsys):
    from controller.commands.cli import main

    missing = tmp_path / "a-folder-with-a-rather-long-name" / "and-a-long-calibration-file-name.json"
    assert main(["doctor", "--sim", "--calibration", str(missing)]) == 1
    out = capsys.readouterr().out  # captured: not a terminal
    assert str(missing) in out, out
    assert "inversion-table calibrate --sim" in out


def test_the_simulated_table_does_not_warn_about_the_pin_factory_env_and_names_its_mock_pins(calibrated, monkeypatch):
    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
    found = results(calibrated[0], SimulatedSystem())
    assert "pin factory env" not in found
    assert found["pin factory"].ok and "MockFactory" in found["pin factory"].detail
    assert "simulated" in found["pin factory"].detail


def test_on_the_real_table_the_pin_factory_env_warning_has_a_fix(calibrated, monkeypatch):
    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
    found = results(calibrated[0], NoAccess())
    assert found["pin factory env"].ok is None and "export GPIOZERO_PIN_FACTORY=lgpio" in found["pin factory env"].fix


def test_the_simulated_bus_is_called_simulated(calibrated):
    check = results(calibrated[0], SimulatedSystem())["I2C"]
    assert check.ok and "simulated" in check.detail and "/dev/i2c-1 opens" not in check.detail


def test_the_calibration_finding_and_its_fix_agree_on_the_simulated_table(tmp_path):
    from controller.shell import service

    config, _ = service.config_for_run(None, simulated=True, calibration=str(tmp_path / "none.json"))
    check = results(config, SimulatedSystem())["calibration"]
    assert check.ok is False and "no calibration yet" in check.detail
    assert "calibrate" not in check.detail.replace(check.fix, "")  # the one command is the fix's
    assert check.fix == f"inversion-table calibrate --sim --calibration {tmp_path / 'none.json'}"


def test_piped_doctor_says_on_stderr_why_it_exits_1(tmp_path, capsys):
    from controller.commands.cli import main

    assert main(["doctor", "--sim", "--calibration", str(tmp_path / "none.json")]) == 1
    err = capsys.readouterr().err
    assert "1 problem(s): calibration" in err and "inversion-table calibrate --sim" in err, err


def test_a_bus_that_stays_locked_fails_the_chip_check_instead_of_hanging(calibrated):
    class LockedBus(SimulatedSystem):
        def i2c(self, config):
            bus = super().i2c(config)
            assert bus.try_lock()  # held, and never let go
            return bus

    check = results(calibrated[0], LockedBus())["MPU-6050"]
    assert check.ok is False and "I2C bus stayed locked for 0.05 s" in check.detail and "report it" in check.fix
