"""Real-time scheduling of the service's threads: asked for, lowered below the loop, and said when refused."""

from __future__ import annotations

import os

from controller.shell import realtime
from controller.shell.alerter import ALERTS_PRIORITY
from controller.shell.mqtt_client import MQTT_PRIORITY
from controller.shell.remote_server import REMOTE_PRIORITY
from controller.shell.service import HISTORY_PRIORITY


def _said(mock) -> str:
    return mock.call_args.args[0] % mock.call_args.args[1:]


def test_a_refused_request_says_so_and_runs_on(mocker):
    mocker.patch.object(os, "sched_getscheduler", return_value=os.SCHED_OTHER)
    mocker.patch.object(os, "sched_getparam", return_value=os.sched_param(0))
    mocker.patch.object(os, "sched_setscheduler", side_effect=PermissionError(1, "Operation not permitted"))
    warning = mocker.patch.object(realtime.log, "warning")
    assert realtime.request(realtime.LOOP_PRIORITY, "control loop") is False
    assert "control loop: real-time scheduling refused (Operation not permitted)" in _said(warning)
    assert "CPUSchedulingPolicy=fifo" in _said(warning)  # what to do about it
    assert "delay a period past the dead-man's two" in _said(warning)
    assert realtime.request(HISTORY_PRIORITY, "history") is False  # a thread below the loop: its own risk, not the loop's
    assert _said(warning) == ("history: real-time scheduling refused (Operation not permitted): it runs at normal "
                              "priority, and on a busy machine the loop may wait for it while it holds Python's lock "
                              "(the systemd unit sets CPUSchedulingPolicy=fifo)")


def test_the_units_priority_is_kept_when_a_higher_one_is_refused(mocker):
    """Under the unit every thread starts at SCHED_FIFO 50; the dead-man's 51 is refused by the sandbox."""
    mocker.patch.object(os, "sched_getscheduler", return_value=os.SCHED_FIFO)
    mocker.patch.object(os, "sched_getparam", return_value=os.sched_param(realtime.LOOP_PRIORITY))
    mocker.patch.object(os, "sched_setscheduler", side_effect=PermissionError(1, "Operation not permitted"))
    info = mocker.patch.object(realtime.log, "info")
    assert realtime.request(realtime.DEADMAN_PRIORITY, "dead-man") is True
    assert _said(info) == "dead-man: real-time scheduling (SCHED_FIFO priority 50; 51 refused)"


def test_under_the_unit_a_thread_below_the_loop_lowers_itself(mocker):
    """The unit starts every thread at SCHED_FIFO 50, and its RestrictRealtime= refuses any
    sched_setscheduler to a real-time policy: the remote's thread lowers itself to 40 all the same,
    with sched_setparam, so a flood of requests does not run at the loop's own priority."""
    calls = []
    mocker.patch.object(os, "sched_getscheduler", return_value=os.SCHED_FIFO)
    mocker.patch.object(os, "sched_getparam", return_value=os.sched_param(realtime.LOOP_PRIORITY))
    mocker.patch.object(os, "sched_setscheduler", side_effect=PermissionError(1, "Operation not permitted"))
    mocker.patch.object(os, "sched_setparam", side_effect=lambda pid, param: calls.append((pid, param.sched_priority)))
    info = mocker.patch.object(realtime.log, "info")
    assert realtime.request(REMOTE_PRIORITY, "remote") is True
    assert calls == [(0, REMOTE_PRIORITY)]
    assert _said(info) == "remote: real-time scheduling (SCHED_FIFO priority 40)"


def test_every_other_thread_runs_below_the_loop():
    assert HISTORY_PRIORITY < ALERTS_PRIORITY < MQTT_PRIORITY < REMOTE_PRIORITY < realtime.LOOP_PRIORITY < realtime.DEADMAN_PRIORITY


def test_granted_it_is_fifo_at_the_priority_asked(mocker):
    calls = []
    mocker.patch.object(os, "sched_getscheduler", return_value=os.SCHED_OTHER)
    mocker.patch.object(os, "sched_getparam", return_value=os.sched_param(0))
    mocker.patch.object(os, "sched_setscheduler", side_effect=lambda pid, policy, param: calls.append(
        (pid, policy, param.sched_priority)))
    info = mocker.patch.object(realtime.log, "info")
    assert realtime.request(realtime.LOOP_PRIORITY, "control loop") is True
    assert calls == [(0, os.SCHED_FIFO, realtime.LOOP_PRIORITY)]  # 0: the calling thread
    assert _said(info) == "control loop: real-time scheduling (SCHED_FIFO priority 50)"
    assert realtime.DEADMAN_PRIORITY > realtime.LOOP_PRIORITY  # a spinning loop cannot starve its dead-man


def test_the_calling_thread_really_gets_it_when_permitted():
    """For real (no mock): as root (CI) the thread becomes SCHED_FIFO, and only that thread."""
    import threading

    got = []
    thread = threading.Thread(target=lambda: got.append((realtime.request(10, "test"), os.sched_getscheduler(0))))
    thread.start()
    thread.join()
    permitted = os.geteuid() == 0
    assert got == [(True, os.SCHED_FIFO)] if permitted else got[0][0] is False
    assert os.sched_getscheduler(0) != os.SCHED_FIFO


def test_a_thread_started_at_the_loops_priority_really_drops_below_it():
    """For real (no mock), as root (CI): a thread at SCHED_FIFO 50, as the unit starts every thread,
    asks for the remote's 40 and gets it."""
    import threading

    if os.geteuid() != 0:  # only root can start a thread at 50 here; CI runs as root
        assert realtime.request(REMOTE_PRIORITY, "test") is False
        return
    got = []

    def run() -> None:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(realtime.LOOP_PRIORITY))
        got.append((realtime.request(REMOTE_PRIORITY, "test"), os.sched_getscheduler(0),
                    os.sched_getparam(0).sched_priority))

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert got == [(True, os.SCHED_FIFO, REMOTE_PRIORITY)]
