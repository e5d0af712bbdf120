"""Everything checked before anything moves: the profile against the config and the session timeout."""

from __future__ import annotations

import math

from dataclasses import dataclass

from controller.core import command, session
from controller.core.supervisor import Limits
from controller.errors import ProfileError
from controller.setup.validation import format_duration


@dataclass(frozen=True)
class Prepared:
    profile: object  # profiles.Profile
    source: str
    program: session.Program
    head_down: float  # s, an upper bound
    duration: float  # s, from the first move to the end of the last step (the return not counted)
    notes: tuple[str, ...] = ()  # what was adjusted (a user's speed cap, where a progression stops), one line each
    level: int = 0  # a progressive profile's level (0: the first session)
    final_level: int | None = None  # a progressive profile's last level (for a user, the last that fits); else None


def check_summary(label: str, prepared: Prepared, config) -> str:
    """`profiles check`'s line for a profile that fits (the remote's profile editor shows it too)."""
    return (f"{label}: ok: '{prepared.profile.name}', {len(prepared.profile.steps)} step(s), about "
            f"{format_duration(round(prepared.duration))} of steps, head-down at most "
            f"{format_duration(round(prepared.head_down))} (session timeout "
            f"{format_duration(config.limits.session_timeout)})")


def prepare_profile(name_or_path: str, config, *, config_source: str = "the config", user: str | None = None,
                    level: int = 0, resolved: tuple | None = None) -> Prepared:
    """Load, check and compile a profile; raises ProfileError naming the file, the field and the limit.

    A profile that would keep the user head-down longer than ``limits.session_timeout`` is rejected
    here, at load, rather than cut short by the timeout mid-session: the user learns it before
    lying on the table, and a session that starts is one that can finish.

    A progressive profile's target must fit the config. For a user it goes up to the last level
    that fits their limits and stops there (with a note); it is refused only if not even the
    first level fits. ``resolved`` is ``resolve_profile(name_or_path)``, if already done.
    """
    from profiles import resolve_profile

    profile, source = resolved or resolve_profile(name_or_path)
    notes = []
    names: dict[str, str] = {}
    final = None
    if profile.progression is not None:  # the whole way up must fit the config, not only today's session
        final = profile.progression.final_level
        _compile(profile.at_level(final), config, f"{source} (at its target)", config_source, {})
    if user is not None:
        # A user's limits apply on top of the config's: angles and head-down time are checked
        # (and refused) like the config's; a faster profile is slowed to the user's speed.
        person = config.user(user)
        if person.max_angle is not None and person.max_angle < config.limits.max_angle:
            names["max_angle"] = f"user '{user}' max_angle"
        if person.max_head_down is not None and person.max_head_down < config.limits.session_timeout:
            names["session_timeout"] = f"user '{user}' max_head_down"
        table_speed = config.limits.max_speed
        config = config.for_user(user)
        config_source = f"user '{user}' in {config_source}"
        cap = config.limits.max_speed
        if profile.max_speed is None or profile.max_speed > cap:
            if profile.max_speed is not None:
                notes.append(f"{source}: max_speed = {profile.max_speed:g} capped at {cap:g} deg/s for user '{user}'")
            elif cap < table_speed:  # slower than the profile would run for anyone else: say so
                notes.append(f"{source}: slowed to {cap:g} deg/s, user '{user}' max_speed "
                             f"([limits] max_speed = {table_speed:g})")
            profile = profile.model_copy(update={"max_speed": cap})
        if final is not None:
            final = _last_level_that_fits(profile, final, config, source, config_source, names, user, notes)
    if final is not None:
        level = min(level, final)
    profile = profile.at_level(level)
    program, head_down, total = _compile(profile, config, source, config_source, names)
    return Prepared(profile, source, program, head_down, total, tuple(notes), level, final)


def _last_level_that_fits(profile, final: int, config, source: str, config_source: str, names: dict[str, str],
                          user: str, notes: list[str]) -> int:
    """The last level of a progression within a user's limits (0 if none: compiling it then says why).

    Each level holds at least as steep and as long as the one before, so the levels that fit come
    first, and a bisection finds the last of them."""
    def fits(level: int) -> bool:
        try:
            _compile(profile.at_level(level), config, source, config_source, names)
        except ProfileError:
            return False
        return True

    if fits(final):
        return final
    if not fits(0):
        return 0
    good, bad = 0, final
    while bad - good > 1:
        middle = (good + bad) // 2
        good, bad = (middle, bad) if fits(middle) else (good, middle)
    angle, seconds = profile.progression.hold(good)
    next_angle, next_seconds = profile.progression.hold(bad)
    if next_angle > config.limits.max_angle:
        limit = f"{names.get('max_angle', '[limits] max_angle')} = {config.limits.max_angle:g}"
    else:
        program = session.program_for(profile.at_level(bad), max_speed=config.limits.max_speed,
                                      max_accel=config.limits.max_accel)
        limit = (f"{names.get('session_timeout', '[limits] session_timeout')} = "
                 f"{format_duration(config.limits.session_timeout)} (head-down for up to "
                 f"{format_duration(round(_head_down(program, config)[1]))})")
    # Levels are counted from 1 for people, as `inversion-table history` shows them.
    notes.append(f"{source}: for user '{user}' the progression stops at level {good + 1} ({angle:g}° for "
                 f"{format_duration(seconds)}): level {bad + 1} ({next_angle:g}° for {format_duration(next_seconds)}) "
                 f"would exceed {limit}")
    return good


def _compile(profile, config, source: str, config_source: str, names: dict[str, str]):
    """(program, head-down bound, total time) of a profile that fits the config; else ProfileError."""
    from profiles import check_profile_limits
    from profiles.model import MAX_PROFILE_TIME

    # A progression's level is checked as it is run (the steps of that level), not as its target.
    check_profile_limits(profile.model_copy(update={"progression": None}), config, source=source,
                         config_source=config_source, names=names)
    program = session.program_for(profile, max_speed=config.limits.max_speed, max_accel=config.limits.max_accel)
    _check_speeds_watched(program, config, source, config_source)
    steps_head_down, head_down, total = _head_down(program, config)
    if total > MAX_PROFILE_TIME:
        raise ProfileError(f"{source}: its steps last about {format_duration(round(total))} at {program.speed:g} "
                           f"deg/s, longer than the {format_duration(MAX_PROFILE_TIME)} a profile may last")
    timeout = config.limits.session_timeout
    if head_down > timeout:
        # Rounded to the second unless that would hide the excess ("up to 30s, longer than 30s")
        shown = round(head_down) if round(head_down) > timeout else math.ceil(head_down * 100) / 100
        early = "" if round(head_down - steps_head_down) < 1 else (
            f" ({format_duration(round(steps_head_down))} in its steps, and the timeout return must begin "
            f"{format_duration(round(head_down - steps_head_down))} early at [motion] return_speed = "
            f"{min(config.motion.return_speed, program.speed):g})")
        raise ProfileError(
            f"{source}: keeps the user head-down for up to {format_duration(shown)}{early}, longer than "
            f"{names.get('session_timeout', '[limits] session_timeout')} = {format_duration(timeout)} ({config_source}); "
            + ("choose a shorter profile" if "session_timeout" in names else "shorten the steps or raise the timeout")
        )
    for block in program.blocks:
        if block.within is None:
            continue
        one_cycle = session.cycle_time(block, block.legs[-1].goal, program)
        if one_cycle > block.within:
            raise ProfileError(
                f"{source}: {block.label} duration = {format_duration(block.within)} is shorter "
                f"than one cycle ({format_duration(round(one_cycle))} at {program.speed:g} deg/s): no cycle would run"
            )
    return program, head_down, total


def _head_down(program: session.Program, config) -> tuple[float, float, float]:
    """(head-down in the steps, the same with the timeout return's allowance, total time) of ``program``."""
    steps_head_down, total = session.time_above(program, config.table.home_angle, command.HEAD_DOWN_ABOVE)
    # At run time the timeout return begins early by what the comfort return takes beyond one at
    # max_speed (command.seconds_to_timeout): counted here, so a profile that passes is never cut short.
    allowance = _return_allowance(program, config) if steps_head_down > 0 else 0.0  # head-up: no timeout return
    return steps_head_down, steps_head_down + allowance, total


def _check_speeds_watched(program: session.Program, config, source: str, config_source: str) -> None:
    """Every move must be fast enough for a stall to trip within 1 s (I8): refused at load if not."""
    from controller.core.supervisor import Tracking, slowest_watched_speed, too_slow_advice
    from controller.setup.config import TRACKING_FLOORS

    tracking = Tracking(**config.tracking.model_dump())
    slowest = slowest_watched_speed(tracking)
    lines = []
    if program.speed < slowest - 1e-9:
        lines.append(f"{source}: max_speed = {program.speed:g} is below {slowest:.3g} deg/s, the slowest speed whose "
                     f"stall [tracking] rate_tolerance = {config.tracking.rate_tolerance:g} can see within 1 s "
                     f"({config_source}): {too_slow_advice(tracking, program.speed, floors=TRACKING_FLOORS)}")
    for block in program.blocks:
        for leg in block.legs:
            speed = session.leg_speed(program, leg)
            if leg.speed is not None and speed < slowest - 1e-9:
                lines.append(f"{source}: {block.label} speed = {leg.speed:g} is below {slowest:.3g} deg/s, the slowest "
                             f"speed whose stall [tracking] rate_tolerance = {config.tracking.rate_tolerance:g} can see "
                             f"within 1 s ({config_source}): {too_slow_advice(tracking, leg.speed, floors=TRACKING_FLOORS)}")
    if lines:
        from controller.setup.validation import join_problems

        raise ProfileError(join_problems(list(dict.fromkeys(lines))))


def _return_allowance(program: session.Program, config) -> float:
    """The most the run-time clock starts a timeout return early at any point of ``program``: at
    the top of each move, still braking from the move's speed (command.return_allowance)."""
    lim = config.limits
    limits = Limits(home_angle=config.table.home_angle, max_angle=lim.max_angle, max_speed=lim.max_speed,
                    max_accel=lim.max_accel, session_timeout=lim.session_timeout)
    return_speed = min(config.motion.return_speed, program.speed)  # a slow profile also comes home slowly
    worst = 0.0
    for block in program.blocks:
        for leg in block.legs:
            if leg.goal is None:
                continue
            speed = session.leg_speed(program, leg)
            worst = max(worst, command.return_allowance(leg.goal, speed, limits=limits, return_speed=return_speed))
    # And the period the clock is read in, which the run-time clock begins early by even when the
    # comfort return is as fast as max_speed (command.seconds_to_timeout's lead): left out then, a
    # profile at its limit was cut short by a period (found by an adversarial tester).
    return worst + 1.0 / config.control.rate
