"""Programs of moves and dwells (a profile, or the way home), and the goal at each moment (pure)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from controller.core.planner import Setpoint, move_time


@dataclass(frozen=True, slots=True)
class Leg:
    """Move to ``goal``, then hold there for ``dwell`` seconds counted from arrival.

    ``goal`` None holds wherever the table is (a pause before any move); ``speed`` lowers the
    program's speed for this leg's move (a slow ramp).
    """

    goal: float | None
    dwell: float
    speed: float | None = None


@dataclass(frozen=True, slots=True)
class Block:
    """Legs run in order, as whole cycles: ``cycles`` times, or while a cycle still fits ``within``."""

    legs: tuple[Leg, ...]
    cycles: int | None = 1
    within: float | None = None  # seconds from the block's start
    label: str = ""  # the profile step it came from, for messages: "steps #2 (oscillate)"

    def __post_init__(self) -> None:
        if not self.legs:
            raise ValueError("a block needs at least one leg")
        if (self.cycles is None) == (self.within is None):
            raise ValueError("a block has either a cycle count or a time budget")


@dataclass(frozen=True, slots=True)
class Program:
    blocks: tuple[Block, ...]
    speed: float  # deg/s, already the lowest of every limit that applies
    accel: float  # deg/s²


def highest_goal(program: Program) -> float | None:
    """The highest angle any leg of ``program`` moves to; None if none moves."""
    return max((leg.goal for block in program.blocks for leg in block.legs if leg.goal is not None), default=None)


@dataclass(frozen=True, slots=True)
class Preset:
    """A named program that `start` can run; `select` steps through them on the table."""

    name: str
    program: Program
    source: str = ""  # the preset name or file it was prepared from (to prepare it again)
    final_level: int | None = None  # a progressive profile's last level; None otherwise
    level: int = 0


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a running program is. ``block`` == len(blocks) means finished."""

    block: int = 0
    cycle: int = 0
    leg: int = 0
    dwelling: bool = False
    phase_start: float = 0.0  # when the current dwell began
    block_start: float = 0.0
    in_cycle: bool = False  # the current cycle was admitted and runs to its end
    held_at: float = 0.0  # where a goal-less leg (a first-step pause) holds


def start(now: float) -> Progress:
    return Progress(block_start=now)


def leg_speed(program: Program, leg: Leg) -> float:
    """The speed of a leg's move: the program's, or lower if the leg asks for it."""
    return program.speed if leg.speed is None else min(leg.speed, program.speed)


def speed_now(program: Program, progress: Progress) -> float:
    """The speed of the move in progress (a finished program: its own speed)."""
    if progress.block >= len(program.blocks):
        return program.speed
    return leg_speed(program, program.blocks[progress.block].legs[progress.leg])


def _move(program: Program, leg: Leg, at: float) -> tuple[float, float]:
    """(time to move for ``leg`` from ``at``, where it ends)."""
    goal = at if leg.goal is None else leg.goal
    return move_time(goal - at, max_speed=leg_speed(program, leg), max_accel=program.accel), goal


def cycle_time(block: Block, position: float, program: Program) -> float:
    """Time for one whole cycle of ``block`` starting still at ``position``."""
    total, at = 0.0, position
    for leg in block.legs:
        t, at = _move(program, leg, at)
        total += t + leg.dwell
    return total


def _block_continues(block: Block, progress: Progress, position: float, program: Program, now: float) -> bool:
    """Whether another whole cycle of the block starts now."""
    if block.cycles is not None:
        return progress.cycle < block.cycles
    assert block.within is not None
    return (now - progress.block_start) + cycle_time(block, position, program) <= block.within + 1e-9


def advance(program: Program, progress: Progress, setpoint: Setpoint, now: float) -> tuple[Progress, float | None]:
    """The program's goal at ``now``, given where the setpoint is; None once the program is done."""
    p = progress
    for _ in range(4 * len(program.blocks) + 8):  # bounded: each pass moves a leg, cycle or block on
        if p.block >= len(program.blocks):
            return p, None
        block = program.blocks[p.block]
        if not p.in_cycle:
            if not _block_continues(block, p, setpoint.position, program, now):
                p = Progress(block=p.block + 1, block_start=now)
                continue
            p = replace(p, in_cycle=True)
        leg = block.legs[p.leg]
        goal = leg.goal
        if not p.dwelling:
            if goal is None and setpoint.still:  # a pause before any move: here is the goal
                p = replace(p, dwelling=True, phase_start=now, held_at=setpoint.position)
            elif setpoint.position == goal and setpoint.still:
                p = replace(p, dwelling=True, phase_start=now)
            else:
                return p, setpoint.position if goal is None else goal
        goal = p.held_at if goal is None else goal
        if now - p.phase_start < leg.dwell:
            return p, goal
        # This leg is done: on to the next leg, the next cycle, or the next block.
        p = replace(p, leg=p.leg + 1, dwelling=False)
        if p.leg == len(block.legs):
            p = replace(p, leg=0, cycle=p.cycle + 1, in_cycle=False)
    raise AssertionError("session.advance did not settle")  # pragma: no cover - a bug, not a state


def time_above(program: Program, start_angle: float, threshold: float = 0.0) -> tuple[float, float]:
    """(an upper bound on the time spent above ``threshold`` degrees, the total time) of a program.

    Used to reject, at load, a profile that cannot finish within the session timeout. The bound is
    conservative: a move is charged as if it started from rest at the threshold. Closed form in
    the cycles: every cycle after a block's first starts where the first ended, so they are equal.
    """
    above = total = 0.0
    at = start_angle
    for block in program.blocks:
        first_above, first, end = _one_cycle(block, at, program, threshold)
        later_above, later, _ = _one_cycle(block, end, program, threshold)
        n = _cycles_run(block, first, later)
        if n:
            above += first_above + (n - 1) * later_above
            total += first + (n - 1) * later
            at = end
    return above, total


def _one_cycle(block: Block, at: float, program: Program, threshold: float) -> tuple[float, float, float]:
    """(time above ``threshold``, time, where it ends) of one cycle of ``block`` started still at ``at``."""
    above = total = 0.0
    for leg in block.legs:
        t_move, goal = _move(program, leg, at)
        part = move_time(max(goal, threshold) - max(at, threshold), max_speed=leg_speed(program, leg),
                         max_accel=program.accel)
        above += min(part, t_move) + (leg.dwell if goal >= threshold else 0.0)
        total += t_move + leg.dwell
        at = goal
    return above, total, at


def _cycles_run(block: Block, first: float, later: float) -> int:
    """How many cycles of ``block`` run, the first taking ``first`` seconds and each after it ``later``."""
    if block.cycles is not None:
        return block.cycles
    assert block.within is not None
    budget = block.within + 1e-9  # as _block_continues: a cycle starts only if it ends within the budget
    if first > budget:
        return 0
    if later <= 0:
        raise ValueError(f"{block.label or 'a block'}: a cycle that takes no time would never end")
    return 1 + int((budget - first) // later)


def _blocks(steps, previous: float | None, prefix: str = "") -> tuple[list[Block], float | None]:
    """Blocks for ``steps``, and the goal they end at (None: nothing moved yet)."""
    blocks = []
    for i, step in enumerate(steps):
        label = f"{prefix}steps #{i + 1} ({step.kind})"
        if step.kind == "hold":
            blocks.append(Block((Leg(step.angle, step.duration),), label=label))
            previous = step.angle
        elif step.kind == "oscillate":
            legs = (Leg(step.high, step.dwell_high), Leg(step.low, step.dwell_low))
            if step.cycles is not None:
                blocks.append(Block(legs, cycles=step.cycles, label=label))
            else:
                blocks.append(Block(legs, cycles=None, within=step.duration, label=label))
            previous = step.low
        elif step.kind == "ramp":
            blocks.append(Block((Leg(step.angle, 0.0, speed=step.speed),), label=label))
            previous = step.angle
        elif step.kind == "pause":
            blocks.append(Block((Leg(previous, step.duration),), label=label))
        elif step.kind == "repeat":
            for _ in range(step.times):
                more, previous = _blocks(step.steps, previous, prefix=f"{label} ")
                blocks.extend(more)
        else:  # pragma: no cover - the profile model admits no other kind
            raise ValueError(f"unknown step kind {step.kind!r}")
    return blocks, previous


def program_for(profile, *, max_speed: float, max_accel: float) -> Program:
    """A profile's steps as a program, at the lowest of the config's and the profile's speeds."""
    blocks, _ = _blocks(profile.steps, None)
    speed = max_speed if profile.max_speed is None else min(max_speed, profile.max_speed)
    return Program(tuple(blocks), speed=speed, accel=max_accel)
