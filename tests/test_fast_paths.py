"""The shortcuts taken for speed (issue 12) give what the general code gives, value for value."""

from __future__ import annotations

import ast
import inspect
import math
import random

from hypothesis import given, strategies as st

from controller.core import command, supervisor
from controller.records import trace
from drivers.sim import mpu6050

_VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-1e12, max_value=1e12),
    st.floats(min_value=-200, max_value=200).map(lambda x: round(x, 4) + 5e-5),  # ties at the 5th decimal
    st.text(), st.integers(), st.booleans(), st.none(), st.lists(st.integers(), max_size=2),
)


@given(st.dictionaries(st.one_of(st.text(), st.integers()), _VALUES, max_size=7))
def test_a_trace_line_is_what_the_json_module_writes(record):
    fast = trace.line(record)
    assert fast is None or fast == trace._general(record)


def test_a_sample_takes_the_direct_path():
    sample = {"t": 12.34, "angle": 31.912345, "target": -0.00004, "goal": None, "state": "running",
              "true_angle": 99999999999.99}
    assert trace.line(sample) == trace._general(sample)
    assert trace.line({"t": math.nan}) is None and trace.line({"t": 1e11}) is None


def test_every_watch_the_supervisor_builds_names_every_field():
    """supervise() builds each period's Watch whole rather than by replace(): a field added to
    Watch and left out there would silently fall back to its default every period."""
    names = set(supervisor.Watch._fields)
    built = [node for function in (supervisor.supervise, supervisor._track)
             for node in ast.walk(ast.parse(inspect.getsource(function)))
             if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Watch"]
    assert len(built) == 2  # one for a period with no sample, one for every other (the walk found both)
    for call in built:
        assert not call.args and {k.arg for k in call.keywords} == names, ast.unparse(call)


def _walk_until_due(head_down, *, angle, velocity, limits, return_speed, period, horizon):
    """command.seconds_until_due as first written: timeout_due at every instant of the horizon."""
    step, t = max(period, horizon / 40), 0.0
    while t <= horizon + 1e-9:
        ahead = min(limits.max_angle, angle + max(0.0, velocity) * t)
        below_for = 0.0 if angle > command.HEAD_DOWN_ABOVE else (command.HEAD_DOWN_ABOVE - angle) / max(velocity, 1e-9)
        counted = head_down + max(0.0, t - below_for)
        if command.timeout_due(counted, angle=ahead, limits=limits, return_speed=return_speed, velocity=velocity,
                               period=period):
            return t
        t += step
    return None


@given(
    timeout=st.floats(1.0, 3600.0), before=st.floats(-20.0, 400.0), max_angle=st.floats(1.5, 90.0),
    max_speed=st.floats(0.1, 10.0), accel=st.floats(0.1, 10.0), return_speed=st.floats(0.1, 10.0),
    angle=st.floats(-90.0, 90.0), velocity=st.floats(-10.0, 10.0), period=st.sampled_from([0.005, 0.02, 0.05]),
    horizon=st.floats(0.0, 60.0),
)
def test_the_look_ahead_of_the_timeout_is_the_plain_walk(timeout, before, max_angle, max_speed, accel, return_speed,
                                                          angle, velocity, period, horizon):
    """Its shortcuts (no look when nothing can be due, bisection otherwise) give what walking every instant gives."""
    limits = supervisor.Limits(home_angle=-60.0, max_angle=max_angle, max_speed=max_speed, max_accel=accel,
                               session_timeout=timeout)
    kw = dict(angle=angle, velocity=velocity, limits=limits, return_speed=return_speed, period=period, horizon=horizon)
    head_down = max(0.0, timeout - before)
    assert command.seconds_until_due(head_down, **kw) == _walk_until_due(head_down, **kw)


@given(seed=st.integers(0, 2**32), samples=st.integers(1, 5))
def test_the_emulators_noise_is_six_calls_of_random_gauss(seed, samples):
    """The emulator draws its six normal numbers a sample as three pairs written out: the same
    numbers, in the same order, as six calls of random.gauss on the same stream."""
    written_out, library = random.Random(seed), random.Random(seed)
    for _ in range(samples):
        assert mpu6050._normal_pairs(written_out.random) == tuple(library.gauss(0.0, 1.0) for _ in range(6))
