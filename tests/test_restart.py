"""A restarted service remembers the latches, the session clock and the last trusted angle."""

from __future__ import annotations

import time

import pytest

from controller.shell import restart
from controller.core.command import RECOVERY_SPEED_SHARE
from controller.setup.config import Config
from controller.core.reasons import Trip
from controller.shell.service import Service, load_presets
from drivers.clock import MonotonicClock
from drivers.sim import hardware
from tests.waiting import periods_pass, wait_for

FAST = {"table": {"home_angle": -12}, "limits": {"max_speed": 8}, "control": {"rate": 20},
        "motion": {"jog_speed": 8, "return_speed": 6, "rest_time": 0}}


def _service(tmp_path, state: restart.RestartState | None, *, angle: float, imu_dead: bool = False):
    config = Config.model_validate(FAST)
    path = tmp_path / restart.FILE_NAME
    if state is not None:
        restart.save(path, state)
    hw = hardware.build(config, clock=MonotonicClock(), start_angle=angle)
    if imu_dead:
        hw.set_fault("imu-disconnect", True)
    svc = Service(config, hw, presets=load_presets(config, "test"), restart_file=path)
    return svc, hw, path


def test_the_state_file_round_trips_and_junk_is_ignored(tmp_path):
    path = tmp_path / restart.FILE_NAME
    state = restart.RestartState(12.5, stop_latched=True, trip=Trip.STALL, head_down=90.0)
    restart.save(path, state)
    assert restart.load(path) == state
    path.write_text("{junk", encoding="utf-8")
    assert restart.load(path) is None
    assert restart.load(None) is None and restart.load(tmp_path / "missing.json") is None


@pytest.mark.realtime
def test_a_restart_keeps_the_stop_latched_until_reset(tmp_path):
    svc, hw, path = _service(tmp_path, restart.RestartState(-12.0, stop_latched=True), angle=-12.0)
    try:
        svc.start()
        assert svc.controller.state.machine.state == "stopped"
        hw.press("start")
        hw.release("start")
        periods_pass(svc.controller, 6, svc.loop.period)  # the loop has seen the press
        assert hw.motor.steps == 0 and svc.controller.state.machine.state == "stopped"  # refused: latched
        hw.press("reset")
        hw.release("reset")
        assert wait_for(lambda: svc.controller.state.machine.state == "idle")
        assert hw.motor.steps == 0  # a reset never moves the table
    finally:
        svc.close()


@pytest.mark.realtime
def test_after_a_restart_with_a_dead_imu_holding_return_counts_steps_home(tmp_path):
    """The IMU died and the service restarted with the user at 20°: the state file's angle is the
    last trusted one, and `return` held brings the table home by steps, at the recovery speed."""
    svc, hw, path = _service(tmp_path, restart.RestartState(20.0, head_down=100.0), angle=20.0, imu_dead=True)
    try:
        svc.start()  # ready: tripped, not anchored by the sensor
        c = svc.controller
        assert wait_for(lambda: c.state.machine.trip is Trip.IMU_LOST) and c.state.estimate is None
        assert svc.hw.indicators.playing()["led"] == "tripped"
        start = hw.table.angle()
        hw.press("return")
        t0 = time.monotonic()
        assert wait_for(lambda: hw.table.angle() < start - 2.0)
        speed = (start - hw.table.angle()) / (time.monotonic() - t0)
        assert speed <= 8 * RECOVERY_SPEED_SHARE * 1.05
        hw.release("return")
        periods_pass(c, 4, svc.loop.period)  # the loop has seen the release
        stopped_at = hw.table.angle()
        periods_pass(c, 6, svc.loop.period)
        assert abs(hw.table.angle() - stopped_at) < 0.05  # hold-to-run: released, it stops
        hw.press("return")
        assert wait_for(lambda: abs(hw.table.angle() - (-12.0)) < 1.0, timeout=20)  # home by the step count
        periods_pass(c, 6, svc.loop.period)
        assert hw.table.angle() >= -12.0 - 1.0  # and never past it (I1)
        hw.release("return")
        saved = restart.load(path)
        assert saved is not None and saved.trip == Trip.IMU_LOST and saved.angle == pytest.approx(-12.0, abs=1.0)
    finally:
        svc.close()


@pytest.mark.realtime
def test_head_down_and_waiting_after_a_restart_chirps(tmp_path):
    svc, hw, path = _service(tmp_path, restart.RestartState(30.0, head_down=100.0), angle=30.0)
    try:
        svc.start()
        assert wait_for(lambda: hw.indicators.playing() == {"led": "waiting", "buzzer": "waiting"})
        assert hw.motor.steps == 0  # rule 6: it waits for a person
        hw.press("return")
        hw.release("return")
        assert wait_for(lambda: hw.indicators.playing()["led"] == "running")
    finally:
        svc.close()


@pytest.mark.realtime
def test_the_service_keeps_the_state_file_up_to_date(tmp_path):
    svc, hw, path = _service(tmp_path, None, angle=-12.0)
    try:
        svc.start()
        assert wait_for(lambda: restart.load(path) is not None)
        hw.press("down")
        assert wait_for(lambda: restart.load(path).angle > -9.0)
        hw.release("down")
        hw.press("stop")
        hw.release("stop")
        assert wait_for(lambda: restart.load(path).stop_latched)
    finally:
        svc.close()
