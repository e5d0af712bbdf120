"""The shortcuts taken for speed (issue 12) give what the general code gives, value for value."""

from __future__ import annotations

import ast
import inspect
import math
from dataclasses import fields

from hypothesis import given, strategies as st

from controller.core import supervisor
from controller.records import trace

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
    names = {f.name for f in fields(supervisor.Watch)}
    built = [node for function in (supervisor.supervise, supervisor._track)
             for node in ast.walk(ast.parse(inspect.getsource(function)))
             if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Watch"]
    assert len(built) >= 3
    for call in built:
        assert not call.args and {k.arg for k in call.keywords} == names, ast.unparse(call)
