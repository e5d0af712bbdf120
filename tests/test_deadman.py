"""The dead-man and the crash hook, with a real thread where a thread is the point."""

from __future__ import annotations

import threading

import pytest

from controller.shell.deadman import DeadMan, heartbeat_stale, install_crash_hook
from controller.core.reasons import Trip


def test_staleness_is_two_periods():
    assert not heartbeat_stale(1.0, 1.039, 0.02)
    assert heartbeat_stale(1.0, 1.04, 0.02)


def test_the_dead_man_posts_then_halts_once_per_stall_and_rearms():
    calls = []
    clock = [0.0]
    beat = [0.0]
    dm = DeadMan(heartbeat=lambda: beat[0], halt=lambda: calls.append("halt"),
                 post_trip=lambda r: calls.append(r), now=lambda: clock[0], period=0.02)
    clock[0] = 0.03
    assert not dm.check() and calls == []
    clock[0] = 0.05
    assert dm.check() and calls == [Trip.LOOP_STALL, "halt"]  # posted before halting
    clock[0] = 0.10
    assert not dm.check() and len(calls) == 2  # once per stall
    beat[0] = 0.10
    assert not dm.check()
    clock[0] = 0.20
    assert dm.check() and len(calls) == 4  # a later stall fires again


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_thread_dying_of_an_exception_halts_and_trips():
    calls = []
    uninstall = install_crash_hook(halt=lambda: calls.append("halt"), post_trip=calls.append)
    try:
        t = threading.Thread(target=lambda: 1 / 0, name="doomed")
        t.start()
        t.join()
    finally:
        uninstall()
    assert calls == [Trip.THREAD_CRASH, "halt"]
    assert threading.excepthook is not None


def test_a_period_that_raised_is_run_for_the_dead_man_and_failed_for_the_watchdog():
    """The trip path has halted the motor: the loop is running, not stalled. Counted as a stall, it
    left the dead-man exactly at its two periods until the next period completed, and a next period
    a moment late fired it beside internal-error (seen in the fault-parity test's `crash`)."""
    from controller.setup.config import Config
    from controller.shell.table import Table
    from drivers.clock import VirtualClock
    from drivers.sim import hardware

    config = Config.model_validate({"control": {"rate": 20}})
    clock = VirtualClock()
    with Table(config, hardware.build(config, clock=clock)) as table:
        period = table.settings.period
        for _ in range(10):
            clock.advance_to(clock.now() + period)
            table.period()
        table.inject("crash", True)
        clock.advance_to(clock.now() + period)
        table.period()
        assert table.state.machine.trip == Trip.INTERNAL_ERROR
        clock.advance_to(clock.now() + period)  # the next period is due, and has not run yet
        assert not table.deadman.check()
        assert heartbeat_stale(table.controller.heartbeat, clock.now(), period)  # the watchdog is not fed
