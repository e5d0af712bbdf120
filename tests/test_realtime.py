"""Real-time scheduling of the control loop and the dead-man: asked for, and said when refused."""

from __future__ import annotations

import os

from controller.shell import realtime


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


def test_the_units_priority_is_kept_when_a_higher_one_is_refused(mocker):
    """Under the unit every thread starts at SCHED_FIFO 50; the dead-man's 51 is refused by the sandbox."""
    mocker.patch.object(os, "sched_getscheduler", return_value=os.SCHED_FIFO)
    mocker.patch.object(os, "sched_getparam", return_value=os.sched_param(realtime.LOOP_PRIORITY))
    mocker.patch.object(os, "sched_setscheduler", side_effect=PermissionError(1, "Operation not permitted"))
    info = mocker.patch.object(realtime.log, "info")
    assert realtime.request(realtime.DEADMAN_PRIORITY, "dead-man") is True
    assert _said(info) == "dead-man: real-time scheduling (SCHED_FIFO priority 50; 51 refused)"


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
