"""Property tests: random profiles, button scripts and faults on the whole simulated table, judged
against the invariants I1-I8 of docs/SAFETY.md on the simulator's ground truth (tests/invariants.py).

CI runs a modest number of examples; set INVERSION_TABLE_PROPERTY_EXAMPLES for a larger search.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controller.core import session
from controller.shell import simulate as sim
from controller.setup.config import Config
from controller.core.state import BUTTONS
from tests.conftest import simulate
from tests.invariants import check_invariants

EXAMPLES = int(os.environ.get("INVERSION_TABLE_PROPERTY_EXAMPLES", "25"))
HORIZON = 180.0  # s of simulated time per example
FAULT_KINDS = ("imu-disconnect", "imu-error", "imu-freeze", "imu-spike", "imu-disagree", "stall", "slip", "crash", "loop-stall")


@st.composite
def configs(draw):
    max_speed = draw(st.sampled_from([2.0, 4.0]))
    return Config.model_validate({
        "limits": {
            "max_angle": draw(st.sampled_from([30, 45, 60])),
            "max_speed": max_speed,
            "session_timeout": draw(st.sampled_from([40, 90, 600])),
        },
        # a comfort return faster than half max_speed, so hold-to-run recovery must cap it
        "motion": {"return_speed": 0.75 * max_speed, "jog_speed": 2.0},
    })


@st.composite
def programs(draw, config):
    top = config.limits.max_angle
    blocks = []
    for _ in range(draw(st.integers(1, 2))):
        if draw(st.booleans()):
            blocks.append(session.Block((session.Leg(draw(st.floats(-40, top)), draw(st.floats(1, 30))),)))
        else:
            low = draw(st.floats(-30, top - 5))
            high = draw(st.floats(low + 5, top))
            legs = (session.Leg(high, draw(st.floats(0, 8))), session.Leg(low, draw(st.floats(0, 8))))
            blocks.append(session.Block(legs, cycles=draw(st.integers(1, 2))))
    speed = draw(st.floats(0.5, config.limits.max_speed))
    return session.Program(tuple(blocks), speed=speed, accel=config.limits.max_accel)


presses = st.lists(
    st.builds(sim.Press, t=st.floats(0, HORIZON - 20).map(lambda x: round(x, 2)), name=st.sampled_from(BUTTONS),
              hold=st.sampled_from([0.0, 0.5, 5.0, 30.0])),
    max_size=6,
)
faults = st.lists(
    st.builds(sim.Fault, t=st.floats(1, HORIZON - 20).map(lambda x: round(x, 2)), kind=st.sampled_from(FAULT_KINDS),
              duration=st.sampled_from([0.02, 0.5, 2.0, 20.0])),
    max_size=2,
)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_invariants_hold_under_random_profiles_buttons_and_faults(data):
    config = data.draw(configs())
    program = data.draw(st.one_of(st.none(), programs(config)))
    script = data.draw(presses)
    injected = data.draw(faults)
    if injected:
        # the interesting part: someone holds return (or presses stop) right after a fault
        after = injected[0].t + data.draw(st.sampled_from([0.05, 0.5, 3.0]))
        script = script + [sim.Press(round(after, 2), data.draw(st.sampled_from(["return", "return", "stop", "reset"])),
                                     data.draw(st.sampled_from([0.0, 10.0, 60.0])))]
    run = simulate(config=config, program=program, presses=list(script), faults=list(injected), until=HORIZON)
    check_invariants(run, config, script, injected, program is not None)
