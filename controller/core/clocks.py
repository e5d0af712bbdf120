"""The session's clocks within a period: head-down time, the timeout and idle countdowns, a late return (pure)."""

from __future__ import annotations


from controller.core import command, session, state, supervisor
from controller.core.state import Activity


def session_clock(p, dt: float) -> None:
    """Session and idle timeouts: bring a head-down table home by itself. ``p`` is the period's
    working copy of the table state (core/period.py)."""
    now = p.now
    home = supervisor.at_home(p.setpoint.position, p.limits)
    idle_home = home and p.machine.activity is Activity.IDLE
    p.head_down = command.head_down_time(
        p.head_down, angle=p.estimate.angle, setpoint=p.setpoint.position, dt=dt, home=idle_home
    )
    m = p.machine
    p.auto_return_in = None
    if m.latched or not m.motion_requested or home:
        p.warned = False
        return  # nothing moves by itself while latched, or after a reset until a person asks
    if m.activity is Activity.RETURNING:
        p.warned = False
        _hurry_if_late(p)
        return
    left = time_left(p)
    _count_down(p, left)
    if left <= 0:
        p.log("warning", f"session timeout: head-down for {p.head_down:.0f} s, bringing the table home")
        p.apply(state.begin_return(m, "session-timeout"))
    elif (
        m.activity is Activity.IDLE
        and command.head_down(angle=p.estimate.angle, setpoint=p.setpoint.position)
        and now - p.last_activity >= p.settings.idle_timeout
    ):
        p.log("warning", f"idle timeout: head-down with no button pressed for {now - p.last_activity:.0f} s, "
                               "bringing the table home")
        p.apply(state.begin_return(m, "idle-timeout"))


def head_down_before_the_anchor(p, dt: float) -> None:
    """Before the power-on anchor the angle is not known, yet time head-down counts (I5 counts it
    from power-on): by the anchor's tilts so far, or the angle a restart carried (the step count).
    Not counted, a restart head-down took the anchor's 0.2 s (more, with bad samples) off the
    session's head-down time each time."""
    tilts = p.anchor_tilts
    angle = sum(tilts) / len(tilts) if tilts else p.setpoint.position
    p.head_down = command.head_down_time(p.head_down, angle=angle, setpoint=p.setpoint.position, dt=dt, home=False)


def time_left(p) -> float:
    """Seconds of head-down time left before the session-timeout return must begin."""
    angle = max(p.estimate.angle, p.setpoint.position)
    return command.seconds_to_timeout(p.head_down, angle=angle, limits=p.limits, return_speed=p.return_speed,
                                      velocity=p.setpoint.velocity, period=p.settings.period)


def head_down_budget(p) -> float:
    """I5's bound for this session from here: the timeout plus a return at max_speed (command.i5_allowance)."""
    angle = max(p.estimate.angle, p.setpoint.position)
    return p.limits.session_timeout + command.i5_allowance(angle, p.setpoint.velocity, limits=p.limits)


def _hurry_if_late(p) -> None:
    """The clock is read during a return too: one whose plan would end past I5's bound (fixed
    when it began) goes on at max_speed instead of the comfort speed, and without its rest if the
    rest is where it would end past it (steps lost within the tracking tolerance leave the "flat"
    rest head-down, an adversarial tester's find: 335 s against 35 s, resting 5 minutes at a true
    2 deg)."""
    if p.program is None:
        return
    if p.return_budget is None:
        # Begun before the power-on anchor (`return` pressed at once after a restart head-down):
        # the bound is fixed as soon as the angle is known. Left unset, the return was never
        # hurried: 21.15 s head-down at a 0.25 deg/s comfort speed, past I5's 21.10 s.
        p.return_budget = head_down_budget(p)
    sp, lim = p.setpoint, p.limits
    # From the higher of the sensor and the plan: steps lost unseen leave the plan at the "flat"
    # rest while the table is still head-down, and the sensor says so.
    angle = max(p.estimate.angle, sp.position)
    needed = command.time_to_come_up(angle, sp.velocity, speed=p.program.speed, accel=lim.max_accel)
    if p.head_down + needed <= p.return_budget:  # I5 allows no slack: a hurried return is only faster
        return
    hurried = p.return_program(speed=lim.max_speed)
    if p.program == hurried:
        return  # already the fastest way home from here
    p.log("warning", "the return would keep the user head-down past the session timeout: returning at max_speed")
    p.report({"t": p.now, "event": "notice", "message": "returning faster: the session time is up"})
    p.program = hurried
    p.progress = session.start(p.now)


def _stays_head_up(p) -> bool:
    """A profile none of whose legs goes above the head-down threshold never takes the table
    head-down: its way up is no descent to look ahead along (a false "returns home by itself"
    warning on a head-up profile with a short timeout, an adversarial tester's find)."""
    if p.machine.activity is not Activity.RUNNING or p.program is None:
        return False
    top = session.highest_goal(p.program)
    return top is None or top <= command.HEAD_DOWN_ABOVE


def _count_down(p, left: float) -> None:
    """How long until a timeout return, while head-down or heading there; warn once when near."""
    now = p.now
    heading_down = p.setpoint.velocity > 0 and p.machine.activity is not Activity.IDLE
    if not heading_down and not command.head_down(angle=p.estimate.angle, setpoint=p.setpoint.position):
        p.warned = False
        return
    if heading_down:  # the countdown may run faster than the clock: look ahead
        ahead = command.seconds_until_due(
            p.head_down, angle=max(p.estimate.angle, p.setpoint.position), velocity=p.setpoint.velocity,
            limits=p.limits, return_speed=p.return_speed, period=p.settings.period,
            horizon=command.AUTO_MOVE_WARNING + 2.0) if left <= 100 * command.AUTO_MOVE_WARNING else None
        if ahead is not None and _stays_head_up(p):  # asked only near the timeout: it walks the program
            ahead = None
        left = max(left, command.AUTO_MOVE_WARNING + 2.0) if ahead is None else min(left, ahead)
    why = "session timeout"
    if p.machine.activity is Activity.IDLE:
        idle_left = p.settings.idle_timeout - (now - p.last_activity)
        if idle_left < left:
            left, why = max(0.0, idle_left), "idle timeout"
    p.auto_return_in = left
    if left > command.AUTO_MOVE_WARNING:
        p.warned = False
    elif not p.warned and left > 0:
        p.warned = True
        message = f"the table returns home by itself in {left:.0f} s ({why})"
        p.log("warning", message)
        p.report({"t": now, "event": "notice", "message": message})
