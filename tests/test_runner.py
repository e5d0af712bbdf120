"""The real-time shell on simulated hardware: real threads and clock, gpiozero mock pins, sd_notify.

Real time is their point (marked ``realtime``; README, Development, lists every test file on the
real clock): they wait for conditions with deadlines (tests/waiting.py), never for fixed delays.
"""

from __future__ import annotations

import os
import socket

import pytest

from controller.setup.config import Config
from controller.shell.notify import Notifier
from controller.core.reasons import Trip
from controller.shell.runner import RealTimeLoop
from controller.core.session import Preset
from controller.shell.table import Table
from drivers.clock import MonotonicClock
from drivers.sim import hardware
from tests.waiting import periods_pass, wait_for


@pytest.fixture
def notify_socket(tmp_path):
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(2.0)
    yield path, sock
    sock.close()


@pytest.fixture
def table(notify_socket):
    # 20 Hz, the slowest rate the config allows: the dead-man's two periods (100 ms) then survive
    # a busy test machine; the logic is the same at any rate.
    config = Config.model_validate({"control": {"rate": 20}})
    clock = MonotonicClock()
    hw = hardware.build(config, clock=clock)
    from controller.setup.preflight import prepare_profile

    table = Table(config, hw, presets=[Preset("hold-40", prepare_profile("hold-40", config).program)])
    notifier = Notifier(notify_socket[0])
    loop = RealTimeLoop(table, notifier=notifier)
    loop.start()
    notifier.ready("idle")
    yield hw, table.controller, loop, notify_socket[1]
    loop.close()
    loop.close()
    table.close()
    table.close()
    notifier.close()


@pytest.mark.realtime
def test_buttons_drive_the_real_time_loop_and_stop_halts(table):
    hw, controller, loop, _ = table
    start = hw.table.angle()
    hw.press("start")
    hw.release("start")
    assert wait_for(lambda: hw.table.angle() > start + 1.0)  # it moves
    hw.press("stop")
    stopped_at = hw.table.angle()
    assert wait_for(lambda: controller.state.machine.state == "stopped")
    periods_pass(controller, 2, loop.period)  # watch the loop run after the stop: no motion
    assert abs(hw.table.angle() - stopped_at) <= 0.1
    assert hw.motor.enabled  # holding torque


@pytest.mark.realtime
def test_the_loop_settles_the_heap_as_it_starts(table):
    """Whatever process runs a loop, what existed at its start stays out of later collections: in a
    test worker a full collection over the heap took 200-650 ms, the GIL held throughout, and the
    dead-man tripped the loop that waited for it (seen in CI)."""
    import gc

    assert gc.get_freeze_count() > 0
    assert len(gc.get_objects()) < gc.get_freeze_count()


@pytest.mark.realtime
def test_ready_and_watchdog_pings_arrive_and_stop_when_the_loop_stalls(table):
    hw, controller, loop, sock = table
    messages = [sock.recv(256).decode() for _ in range(5)]
    assert any(m.startswith("READY=1") for m in messages)
    assert messages.count("WATCHDOG=1") >= 3
    loop.stall(True)
    assert wait_for(lambda: loop.deadman.fired, timeout=2.0)  # the dead-man saw it
    sock.settimeout(0.2)
    drained = 0
    with pytest.raises(socket.timeout):
        while True:  # whatever was sent before the stall, then silence
            sock.recv(256)
            drained += 1
            assert drained < 20
    loop.stall(False)
    assert wait_for(lambda: controller.state.machine.trip is Trip.LOOP_STALL)
    assert hw.motor.halted


@pytest.mark.realtime
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_thread_that_dies_trips_the_table(table):
    import threading

    hw, controller, loop, _ = table
    doomed = threading.Thread(target=lambda: 1 / 0, name="doomed")
    doomed.start()
    doomed.join()
    assert wait_for(lambda: controller.state.machine.trip is Trip.THREAD_CRASH)
    assert hw.motor.halted


def test_no_notify_socket_means_no_notifications(monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    with Notifier() as n:
        assert not n.enabled and not n.ready() and not n.watchdog()
    assert os.environ.get("NOTIFY_SOCKET") is None


def test_a_full_notify_queue_drops_pings_instead_of_blocking_the_loop(notify_socket):
    path, _ = notify_socket  # nobody reads it
    with Notifier(path) as n:
        results = [n.watchdog() for _ in range(5000)]
    assert results[0] and not all(results)  # it got through, then the queue filled, and we went on


def _silent_for(sock, seconds: float) -> bool:
    """True if no WATCHDOG=1 arrives within ``seconds`` (after what was already queued)."""
    sock.settimeout(0.05)
    try:
        while True:
            sock.recv(256)  # drain what was sent before
    except socket.timeout:
        pass
    sock.settimeout(seconds)
    try:
        while True:
            if sock.recv(256).decode() == "WATCHDOG=1":
                return False
    except socket.timeout:
        return True


@pytest.mark.realtime
def test_a_period_that_fails_every_time_starves_the_watchdog(table):
    hw, controller, loop, sock = table
    assert sock.recv(256)  # it was being fed

    def broken(now):
        raise RuntimeError("a bug in every period")

    controller._tick = broken
    assert wait_for(lambda: controller.state.machine.trip is Trip.INTERNAL_ERROR)
    assert _silent_for(sock, 0.6)  # the heartbeat no longer advances, so no pings
    assert hw.motor.halted


@pytest.mark.realtime
def test_a_failure_after_the_period_trips_through_the_one_path(table):
    hw, controller, loop, sock = table

    def broken(record):
        raise RuntimeError("the LED driver failed")

    loop.table.after_period.append(broken)
    assert wait_for(lambda: controller.state.machine.trip is Trip.INTERNAL_ERROR)
    assert hw.motor.halted


@pytest.mark.realtime
def test_without_its_dead_man_the_loop_stops_feeding_the_watchdog(table):
    hw, controller, loop, sock = table
    assert sock.recv(256)
    loop.deadman.close()  # as if the watcher thread had died
    assert _silent_for(sock, 0.6)


@pytest.mark.realtime
def test_the_real_time_driver_runs_periods_on_the_loop_thread_until_stopped():
    """controller/shell/drive.py's RealTime: what `calibrate` uses on the real table."""
    from controller.shell.drive import RealTime

    config = Config.model_validate({"control": {"rate": 20}})
    hw = hardware.build(config, clock=MonotonicClock())
    table = Table(config, hw)
    driver = RealTime(hw.clock)
    try:
        driver.drive(table)
        assert wait_for(lambda: table.state.anchored)  # periods ran on their own
        assert driver.loop._thread.name == "control-loop"
    finally:
        driver.stop()
        driver.stop()  # safe twice
        table.close()
    assert hw.motor.halted
