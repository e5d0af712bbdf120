"""Everything checked before anything moves: the profile against the config and the session timeout."""

from __future__ import annotations

from dataclasses import dataclass

from controller import session
from controller.errors import ProfileError
from controller.validation import format_duration


@dataclass(frozen=True)
class Prepared:
    profile: object  # profiles.Profile
    source: str
    program: session.Program
    head_down: float  # s, an upper bound
    duration: float  # s, from the first move to the end of the last step (the return not counted)
    notes: tuple[str, ...] = ()  # what was adjusted (a user's speed cap), one line each
    level: int = 0  # a progressive profile's level (0: the first session)


def prepare_profile(name_or_path: str, config, *, config_source: str = "the config", user: str | None = None,
                    level: int = 0) -> Prepared:
    """Load, check and compile a profile; raises ProfileError naming the file, the field and the limit.

    A profile that would keep the user head-down longer than ``limits.session_timeout`` is rejected
    here, at load, rather than cut short by the timeout mid-session: the user learns it before
    lying on the table, and a session that starts is one that can finish.
    """
    from profiles import resolve_profile

    profile, source = resolve_profile(name_or_path)
    notes = []
    names: dict[str, str] = {}
    if user is not None:
        # A user's limits apply on top of the config's: angles and head-down time are checked
        # (and refused) like the config's; a faster profile is slowed to the user's speed.
        person = config.user(user)
        if person.max_angle is not None and person.max_angle < config.limits.max_angle:
            names["max_angle"] = f"user '{user}' max_angle"
        if person.max_head_down is not None and person.max_head_down < config.limits.session_timeout:
            names["session_timeout"] = f"user '{user}' max_head_down"
        config = config.for_user(user)
        config_source = f"user '{user}' in {config_source}"
        cap = config.limits.max_speed
        if profile.max_speed is None or profile.max_speed > cap:
            if profile.max_speed is not None:
                notes.append(f"{source}: max_speed = {profile.max_speed:g} capped at {cap:g} deg/s for user '{user}'")
            profile = profile.model_copy(update={"max_speed": cap})
    if profile.progression is not None:  # the whole way up must fit, not only today's session
        _compile(profile.at_level(profile.progression.final_level), config, f"{source} (at its target)", config_source,
                 names)
    profile = profile.at_level(level)
    program, head_down, total = _compile(profile, config, source, config_source, names)
    return Prepared(profile, source, program, head_down, total, tuple(notes), level)


def _compile(profile, config, source: str, config_source: str, names: dict[str, str]):
    """(program, head-down bound, total time) of a profile that fits the config; else ProfileError."""
    from profiles import check_profile_limits
    from profiles.model import MAX_PROFILE_TIME

    check_profile_limits(profile, config, source=source, config_source=config_source, names=names)
    program = session.program_for(profile, max_speed=config.limits.max_speed, max_accel=config.limits.max_accel)
    head_down, total = session.time_above(program, config.table.home_angle)
    if total > MAX_PROFILE_TIME:
        raise ProfileError(f"{source}: its steps last about {format_duration(round(total))} at {program.speed:g} "
                           f"deg/s, longer than the {format_duration(MAX_PROFILE_TIME)} a profile may last")
    timeout = config.limits.session_timeout
    if head_down > timeout:
        raise ProfileError(
            f"{source}: keeps the user head-down for up to {format_duration(round(head_down))}, longer than "
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
