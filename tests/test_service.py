"""`inversion-table run`: the service on the simulated table, in real time, with systemd's notify socket.

Real threads and the real clock (marked ``realtime``), so these wait for conditions with deadlines
(tests/waiting.py), never for fixed delays.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from controller.setup import calibration as cal
from controller.setup.config import Config
from controller.errors import StartupRefused
from controller.shell.notify import Notifier
from controller.shell.service import Service, load_presets
from drivers.sim import hardware
from tests.test_runner import notify_socket  # noqa: F401 - a fixture
from tests.waiting import wait_for

PROG = [sys.executable, "-m", "controller"]


@pytest.fixture
def notify(notify_socket):
    """systemd's notify socket (tests/test_runner.py), with more patience for a whole service."""
    notify_socket[1].settimeout(5.0)
    return notify_socket


def receive_until(sock, predicate, limit=400, timeout=60.0):
    """Datagrams until one satisfies ``predicate`` (which is included), as text.

    The deadline is for the whole wait, not for each datagram: a service started as a process on a
    loaded machine may take many seconds to import and say READY (it then pings every 0.2 s).
    """
    got = []
    deadline = time.monotonic() + timeout
    before = sock.gettimeout()
    try:
        for _ in range(limit):
            sock.settimeout(max(0.001, deadline - time.monotonic()))
            try:
                got.append(sock.recv(4096).decode())
            except socket.timeout:
                break
            if predicate(got[-1]):
                return got
    finally:
        sock.settimeout(before)
    raise AssertionError(f"not received within {timeout:g} s or {limit} datagrams; got {got[-10:]}")


@pytest.fixture
def service(notify):
    config = Config.model_validate({"control": {"rate": 20}})  # 20 Hz: the dead-man's 100 ms survive a busy machine
    from drivers.clock import MonotonicClock

    hw = hardware.build(config, clock=MonotonicClock())
    svc = Service(config, hw, presets=load_presets(config, "test"), notifier=Notifier(notify[0]))
    yield svc, hw, notify[1]
    svc.close()
    svc.close()


@pytest.mark.realtime
def test_the_service_says_ready_then_its_buttons_drive_the_table(service):
    svc, hw, sock = service
    svc.start()
    got = receive_until(sock, lambda m: m.startswith("READY=1"))
    assert svc.controller.state.estimate is not None  # ready means the angle is known
    assert "STATUS=idle, preset gentle (1 of 3), -60°" in got[-1]
    hw.press("select")
    hw.release("select")
    assert wait_for(lambda: svc.controller.state.selected == 1)
    receive_until(sock, lambda m: m.startswith("STATUS=idle, preset hold-40 (2 of 3)"))
    start = hw.table.angle()
    hw.press("start")
    hw.release("start")
    assert wait_for(lambda: hw.table.angle() > start + 0.5)
    assert wait_for(lambda: hw.indicators.playing()["led"] == "running")
    hw.press("stop")
    hw.release("stop")
    stopped_at = hw.table.angle()
    assert wait_for(lambda: svc.controller.state.machine.state == "stopped")
    receive_until(sock, lambda m: m.startswith("STATUS=stopped"))
    assert abs(hw.table.angle() - stopped_at) <= 0.1 and hw.motor.enabled  # halted, holding torque
    assert wait_for(lambda: hw.indicators.playing() == {"led": "stopped", "buzzer": "stopped"})


@pytest.mark.realtime
def test_the_watchdog_is_fed_from_the_loop_and_starves_when_it_stalls(service):
    svc, hw, sock = service
    svc.start()
    receive_until(sock, lambda m: m.startswith("READY=1"))
    pings = [sock.recv(64).decode() for _ in range(4)]
    assert pings.count("WATCHDOG=1") >= 3
    svc.loop.stall(True)
    assert wait_for(lambda: svc.loop.deadman.fired)
    sock.settimeout(1.0)
    late = []
    with pytest.raises(socket.timeout):
        while True:
            late.append(sock.recv(64).decode())
            assert len(late) < 20
    assert hw.motor.halted


def test_a_stop_button_held_at_boot_refuses_the_service():
    config = Config()
    hw = hardware.build(config)
    hw.set_fault("stop-stuck", True)
    try:
        with pytest.raises(StartupRefused, match="stop button is pressed at start-up"):
            Service(config, hw, presets=load_presets(config, "test"))
    finally:
        hw.close()


def test_a_bad_preset_in_the_config_names_the_config_key(tmp_path):
    from controller.errors import ConfigError

    config = Config.model_validate({"presets": {"available": ["gentle", "hold-4O"]}})
    with pytest.raises(ConfigError, match=r"^cfg.toml: \[presets\] available: .*hold-4O"):
        load_presets(config, "cfg.toml")


# -- the command, as systemd runs it --------------------------------------------------------------

def _env(tmp_path, **extra):
    env = {k: v for k, v in os.environ.items() if k != "GPIOZERO_PIN_FACTORY"}
    return dict(env, NOTIFY_SOCKET=extra.pop("notify", ""), WATCHDOG_USEC="400000", **extra)


@pytest.mark.realtime
def test_run_sim_end_to_end_under_a_notify_socket(tmp_path, notify):
    path, sock = notify
    config = tmp_path / "config.toml"
    config.write_text(f'[calibration]\nfile = "{tmp_path / "none.json"}"\n[control]\nrate = 20\n', encoding="utf-8")
    proc = subprocess.Popen(
        PROG + ["run", "--sim", "--config", str(config), "--press", "start@0.2", "--press", "stop@1.5"],
        env=_env(tmp_path, notify=path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        cwd=tmp_path,  # no sim-calibration.json here: uncalibrated
    )
    try:
        receive_until(sock, lambda m: m.startswith("READY=1"))
        got = receive_until(sock, lambda m: m.startswith("STATUS=stopped"))
        assert got.count("WATCHDOG=1") >= 3 and any(m.startswith("STATUS=running") for m in got)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert receive_until(sock, lambda m: m == "STOPPING=1")
    lines = out.splitlines()
    for expected in ("button start press", "session start gentle", "button stop press", "stopping: stopped"):
        assert any(line.startswith(expected) for line in lines), (expected, lines)
    assert err == ""


@pytest.mark.realtime
def test_run_sim_as_a_user_offers_the_presets_that_fit_her_and_says_which_not(tmp_path, notify):
    from controller.records.history import History
    from controller.setup.users import CONTRAINDICATIONS_VERSION

    path, sock = notify
    config = tmp_path / "ana.toml"  # the README's ana; [presets] available: gentle, hold-40, oscillate
    config.write_text(f'[calibration]\nfile = "{tmp_path / "none.json"}"\n[control]\nrate = 20\n[[users]]\n'
                      'name = "ana"\nmax_angle = 40\nmax_head_down = "5m"\nmax_speed = 1.0\n[[users]]\nname = "bo"\n'
                      'max_angle = 10\n', encoding="utf-8")
    history = tmp_path / "h.sqlite"
    with History(history) as h:
        h.acknowledge("ana", CONTRAINDICATIONS_VERSION)
        h.acknowledge("bo", CONTRAINDICATIONS_VERSION)
    command = PROG + ["run", "--sim", "--config", str(config), "--history", str(history), "--user"]
    proc = subprocess.Popen(command + ["ana"], env=_env(tmp_path, notify=path), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        receive_until(sock, lambda m: m.startswith("READY=1"))
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    lines = out.splitlines()
    assert [line.split(": ", 2)[1] for line in lines if line.startswith("not offered to user 'ana': ")] == [
        "preset 'hold-40'", "preset 'oscillate'"], out
    assert "ready: idle, user ana, preset gentle (1 of 1), -60°" in lines, out
    # bo: not one preset fits her 10°: refused, in one line
    done = subprocess.run(command + ["bo"], env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, cwd=tmp_path, timeout=60)
    assert done.returncode == 2, done
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"inversion-table: error: {config}: [presets] available: none fits user 'bo' (preset "
                           "'gentle': steps #1 (hold) angle = 20 is above user 'bo' max_angle = 10"), line


@pytest.mark.parametrize(
    "args, config_text, code, message",
    [
        (["--press", "start@1"], "", 2, "--press needs --sim: on the real table, press its buttons"),
        (["--until", "5"], "", 2, "--until needs --sim: on the real table, stop the service with SIGTERM or Ctrl-C"),
        (["--fault", "stall@1"], "", 2, "--fault needs --sim: on the real table, faults are not injected"),
        (["--sim"], "[limits]\nmax_angel = 3\n", 2, "[limits]: unknown key 'max_angel' (did you mean 'max_angle'?)"),
        ([], "", 2, "no calibration yet: run `inversion-table calibrate`"),
        (["--sim"], '[presets]\navailable = ["nope"]\n', 2, "[presets] available:"),
    ],
)
def test_run_rejects_bad_input_with_one_clear_message(tmp_path, args, config_text, code, message):
    config = tmp_path / "config.toml"
    config.write_text(config_text + f'\n[calibration]\nfile = "{tmp_path / "none.json"}"\n'
                      if "[calibration]" not in config_text else config_text, encoding="utf-8")
    done = subprocess.run(PROG + ["run", "--config", str(config)] + args, env=_env(tmp_path), cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == code, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr + done.stdout


def _calibrated(tmp_path, extra: str = "") -> str:
    config = tmp_path / "config.toml"
    cal_path = tmp_path / "calibration.json"
    config.write_text(f'[calibration]\nfile = "{cal_path}"\n[history]\nfile = "{tmp_path / "history.sqlite"}"\n' + extra,
                      encoding="utf-8")
    cfg = Config.model_validate({"calibration": {"file": str(cal_path)}})
    cal.save(cal_path, cal.Calibration(forward="+x", normal="+z", zero_offset=0.1, gyro_bias=(0.4, -0.3, 0.2),
                                       tilt_checked=10.0, steps_per_degree=cfg.steps_per_degree, created="now"))
    return str(config)


def test_run_on_a_machine_without_lgpio_says_what_to_install(tmp_path):
    pytest.importorskip("gpiozero")
    try:
        import lgpio  # noqa: F401
        pytest.skip("lgpio is installed here")
    except ImportError:
        pass
    done = subprocess.run(PROG + ["run", "--config", _calibrated(tmp_path)], env=_env(tmp_path),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "hardware error: [gpio] pin_factory = 'lgpio' cannot load" in done.stderr
    assert "apt install python3-lgpio" in done.stderr and "Traceback" not in done.stderr


def test_the_pin_factory_never_falls_back_to_another(tmp_path):
    done = subprocess.run(PROG + ["run", "--config", _calibrated(tmp_path)],
                          env=_env(tmp_path, GPIOZERO_PIN_FACTORY="rpigpio"), capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "[gpio] pin_factory = 'lgpio' but the environment says GPIOZERO_PIN_FACTORY=rpigpio" in done.stderr


@pytest.mark.realtime
def test_the_real_hardware_factory_wires_the_configured_pins(mocker):
    """drivers.pi.build with its two system seams replaced: mock pins for /dev/gpiochip, the chip
    emulator for /dev/i2c-1. Everything above them is the real code the Pi runs."""
    from gpiozero.pins.mock import MockFactory

    from drivers.clock import MonotonicClock
    from drivers import pi
    from drivers.i2c import BusioI2C
    from drivers.sim.mpu6050 import Motion, Mpu6050Emulator

    config = Config.model_validate({"pins": {"step": 12, "dir": 13, "enable": 6, "led": False}, "imu": {"address": 0x69}})
    factory = MockFactory()
    emulator = Mpu6050Emulator(motion=lambda: Motion(-60.0, 0.0, False), address=0x69)
    mocker.patch.object(pi, "pin_factory", return_value=factory)
    mocker.patch.object(pi, "open_i2c", return_value=BusioI2C(emulator))
    hw = pi.build(config, clock=MonotonicClock(), calibration=None)
    try:
        assert hw.button_pins["stop"] == 17 and hw.imu.address == 0x69
        assert hw.indicators.levels() == {"buzzer": False}  # no LED fitted
        hw.motor.move_to(hw.motor.position + 0.1, 0.05)
        assert factory.pin(6).state == 0  # ENABLE (active low) on
        assert wait_for(lambda: hw.motor.steps == 20 and factory.pin(13).state == 1)  # DIR head-down
    finally:
        hw.close()
        hw.close()
    assert factory.pin(6).function == "input"  # released: the hardware pull-up now disables the driver


def test_a_simulated_table_never_uses_the_real_tables_calibration(tmp_path):
    from controller.shell.service import SIM_CALIBRATION, config_for_run

    path = _calibrated(tmp_path)  # a config naming a real calibration file
    real, _ = config_for_run(path, simulated=False)
    simulated, _ = config_for_run(path, simulated=True)
    assert real.calibration.file == str(tmp_path / "calibration.json")
    assert simulated.calibration.file == os.path.abspath(SIM_CALIBRATION)  # absolute: lgpio may chdir
    chosen, _ = config_for_run(path, simulated=True, calibration="elsewhere.json")
    assert chosen.calibration.file == os.path.abspath("elsewhere.json")


def test_a_preset_file_next_to_the_config_is_found_from_anywhere(tmp_path, monkeypatch):
    folder = tmp_path / "etc"
    folder.mkdir()
    (folder / "mine.toml").write_text('name = "mine"\n[[steps]]\nkind = "hold"\nangle = 10\nduration = 5\n',
                                      encoding="utf-8")
    config_path = folder / "config.toml"
    config_path.write_text('[presets]\navailable = ["mine.toml", "gentle"]\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # not the config's folder
    from controller.setup.config import load_config

    presets = load_presets(load_config(config_path), str(config_path))
    assert [p.name for p in presets] == ["mine", "gentle"]


def test_a_folder_in_the_presets_is_named_as_one(tmp_path, monkeypatch):
    from controller.setup.config import load_config
    from controller.errors import ConfigError

    (tmp_path / "etc" / "presets").mkdir(parents=True)
    config_path = tmp_path / "etc" / "config.toml"
    config_path.write_text('[presets]\navailable = ["gentle", "presets"]\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # not the config's folder: the folder is found next to the config
    with pytest.raises(ConfigError) as info:
        load_presets(load_config(config_path), str(config_path))
    assert str(info.value).startswith(f"{config_path}: [presets] available: {tmp_path / 'etc' / 'presets'}: is a "
                                      "directory, not a profile file"), info.value


def _shape(line: str) -> str:
    import re

    return re.sub(r"-?\d+(\.\d+)?", "#", line)


@pytest.mark.realtime
def test_the_readme_journal_sample_is_in_the_order_the_service_logs(tmp_path, notify):
    """The README's `run` sample, replayed (faster) on the simulated table: the same lines, in order."""
    from pathlib import Path

    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    sample = readme.split("It logs one line per event", 1)[1].split("```\n", 2)[1].splitlines()
    kinds = ("starting on", "ready:", "button ", "preset ", "session ", "stopping:")
    path, sock = notify
    config = tmp_path / "config.toml"
    expected = [_shape(line.replace("config the default config", f"config {config}")) for line in sample
                if line.startswith(kinds)]
    assert len(expected) >= 10, sample
    config.write_text(f'[calibration]\nfile = "{tmp_path / "none.json"}"\n[control]\nrate = 20\n', encoding="utf-8")
    proc = subprocess.Popen(
        PROG + ["run", "--sim", "--config", str(config), "--press", "select@0.3", "--press", "start@0.6",
                "--press", "stop@1.5"],
        env=_env(tmp_path, notify=path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        receive_until(sock, lambda m: m.startswith("STATUS=stopped"))
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    got = [_shape(line) for line in out.splitlines() if line.startswith(kinds)]
    assert got == expected, out


@pytest.mark.realtime
def test_run_sim_into_a_closed_pipe_stops_quietly_with_141(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(f'[calibration]\nfile = "{tmp_path / "none.json"}"\n[control]\nrate = 20\n', encoding="utf-8")
    read, write = os.pipe()
    os.close(read)  # `run --sim | head -1`, once head has gone
    try:
        done = subprocess.run(PROG + ["run", "--sim", "--config", str(config)], env=_env(tmp_path), cwd=tmp_path,
                              stdout=write, stderr=subprocess.PIPE, text=True, timeout=60)
    finally:
        os.close(write)
    assert done.returncode == 141 and "Logging error" not in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_settling_the_heap_keeps_what_exists_out_of_later_collections():
    """The loop settles the heap just before it starts: a full collection later looks only
    at what was made since, not at the imports' tens of thousands of objects (it held the GIL 28 ms)."""
    import gc

    from controller.shell import realtime

    alive = len(gc.get_objects())
    try:
        realtime.settle_heap()
        assert gc.get_freeze_count() >= alive // 2  # most of it lives on (only garbage went)
        assert len(gc.get_objects()) < alive // 10  # a collection now has next to nothing to look at
    finally:
        gc.unfreeze()
