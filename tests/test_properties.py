"""Property tests: random profiles, button scripts and faults on the whole simulated table, judged
against the invariants I1-I8 of docs/SAFETY.md on the simulator's ground truth (tests/invariants.py),
I5 with the brief's head-down (above +1 deg).

CI runs 100 examples, new ones each run (about 0.55 s of one core each on the README's machine (c));
set INVERSION_TABLE_PROPERTY_EXAMPLES for a larger search.
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
from tests.invariants import BRIEF_HEAD_DOWN_ABOVE, check_invariants

EXAMPLES = int(os.environ.get("INVERSION_TABLE_PROPERTY_EXAMPLES", "100"))
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
    # I5's head-down time counted above +1 deg, the brief's one definition (see the regression below)
    check_invariants(run, config, script, injected, program is not None, head_down_above=BRIEF_HEAD_DOWN_ABOVE)


# -- found by the test above ----------------------------------------------------------------------------
# A session that dwells 28 s at +1.0 deg, then 18 s at 30 deg, and comes home at 1.5 deg/s: found by a
# 1000-example trial run of the test above (issue 12), when it still counted I5's head-down time
# above 0 deg. Counted so, the 28 s at the threshold made 105.56 s by the time the return was under
# way, past the 105.54 s bound. The controller counts head-down above +1 deg, the brief's one
# definition (its load check, its session clock, I5): about 70 s, under the 90 s timeout, so no
# timeout return was due. By that definition the session keeps within I5, as this test checks.
THRESHOLD_DWELL = session.Program((session.Block((session.Leg(1.0, 28.0),)), session.Block((session.Leg(30.0, 18.0),))),
                                  speed=1.0, accel=4.0)


def test_a_session_dwelling_at_the_head_down_threshold_keeps_within_the_session_bound():
    config = Config.model_validate({"limits": {"max_angle": 30, "max_speed": 2.0, "session_timeout": 90},
                                    "motion": {"return_speed": 1.5, "jog_speed": 2.0}})
    run = simulate(config=config, program=THRESHOLD_DWELL, until=HORIZON)
    assert [e["reason"] for e in run.events if e["event"] == "return"] == ["profile-done"]
    check_invariants(run, config, [], [], True, head_down_above=BRIEF_HEAD_DOWN_ABOVE)


# Found by a 1000-example run of the test above (INVERSION_TABLE_PROPERTY_EXAMPLES=500, two seeds;
# issue 12): an imu-lost trip at 88 s, mid-session at 48 deg, and reset pressed (held) at 91.04 s,
# the time of a tick. The table then stays idle head-down, as rule 6 says it must after a reset
# until someone asks. tests/invariants.py took the state "before" the reset from the samples up
# to and including its time, and the tick at 91.04 had already taken it: idle, so the reset looked
# like one of nothing, the wait that followed was counted as automatic head-down time, and I5
# failed (106.06 s against 106.04 s). The oracle was wrong, not the table.
def test_a_reset_at_a_ticks_own_time_after_a_trip_head_down_is_a_reset_of_the_trip():
    config = Config.model_validate({"limits": {"max_angle": 60, "max_speed": 4.0, "session_timeout": 90},
                                    "motion": {"return_speed": 3.0, "jog_speed": 2.0}})
    leg = session.Leg
    program = session.Program((session.Block((leg(57.2, 0.0), leg(0.0, 0.0)), cycles=2),
                               session.Block((leg(6.05, 0.0), leg(0.0, 0.0)),)), speed=2.8, accel=4.0)
    faults = [sim.Fault(88.04, "imu-disconnect", 0.02), sim.Fault(88.04, "imu-disconnect", 2.0)]
    presses = [sim.Press(91.04, "reset", 60.0)]
    run = simulate(config=config, program=program, presses=list(presses), faults=faults, until=HORIZON)
    reset = next(e for e in run.events if e["event"] == "button" and e["name"] == "reset")
    assert reset["t"] == 91.04 and run.at(91.04)["state"] == "idle"  # taken in the tick at its own time
    assert run.at(91.02)["state"] == "tripped" and run.result.true_angle > 40  # and nothing moved after it
    check_invariants(run, config, presses, faults, True, head_down_above=BRIEF_HEAD_DOWN_ABOVE)


# Found by an adversarial tester driving the CLI (issue 12's session): a session timeout return
# interrupted by a stop, the stop reset, then `down` (or `start`) pressed with the session time up.
# `down` was refused ("press return (or hold up)"), and since a person had pressed a motion button
# the reset's wait was over, yet no timeout would ever come again: the table stayed at 35.9 deg,
# head-down for 1695 s against a 60 s timeout (I5). Now the press begins the timeout return.
def test_a_motion_button_pressed_after_a_reset_with_the_time_up_brings_the_table_home():
    config = Config.model_validate({"limits": {"session_timeout": "1m"}})
    for motion in ("down@105:1", "start@105"):
        presses = [sim.parse_press(p) for p in ("down@1:70", "stop@95", "reset@100", motion)]
        run = simulate(config=config, presses=list(presses), until=600)
        assert run.result.exit_code == sim.EXIT_HOME, (motion, run.result)
        assert [(e["t"], e["reason"]) for e in run.events if e["event"] == "return"] == [
            (86.74, "session-timeout"), (105.0, "session-timeout")], motion
        check_invariants(run, config, presses, [], False, head_down_above=BRIEF_HEAD_DOWN_ABOVE)
