"""Programs of moves and dwells (a profile, or the way home), and the goal at each moment (pure)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from controller.planner import Setpoint, move_time


@dataclass(frozen=True, slots=True)
class Leg:
    """Move to ``goal``, then hold there for ``dwell`` seconds counted from arrival."""

    goal: float
    dwell: float


@dataclass(frozen=True, slots=True)
class Block:
    """Legs run in order, as whole cycles: ``cycles`` times, or while a cycle still fits ``within``."""

    legs: tuple[Leg, ...]
    cycles: int | None = 1
    within: float | None = None  # seconds from the block's start

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


@dataclass(frozen=True, slots=True)
class Preset:
    """A named program that `start` can run; `select` steps through them on the table."""

    name: str
    program: Program


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


def start(now: float) -> Progress:
    return Progress(block_start=now)


def cycle_time(block: Block, position: float, program: Program) -> float:
    """Time for one whole cycle of ``block`` starting still at ``position``."""
    total, at = 0.0, position
    for leg in block.legs:
        total += move_time(leg.goal - at, max_speed=program.speed, max_accel=program.accel) + leg.dwell
        at = leg.goal
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
        if not p.dwelling:
            if setpoint.position == leg.goal and setpoint.still:
                p = replace(p, dwelling=True, phase_start=now)
            else:
                return p, leg.goal
        if now - p.phase_start < leg.dwell:
            return p, leg.goal
        # This leg is done: on to the next leg, the next cycle, or the next block.
        p = replace(p, leg=p.leg + 1, dwelling=False)
        if p.leg == len(block.legs):
            p = replace(p, leg=0, cycle=p.cycle + 1, in_cycle=False)
    raise AssertionError("session.advance did not settle")  # pragma: no cover - a bug, not a state


def time_above(program: Program, start_angle: float, threshold: float = 0.0) -> tuple[float, float]:
    """(an upper bound on the time spent above ``threshold`` degrees, the total time) of a program.

    Used to reject, at load, a profile that cannot finish within the session timeout. The bound is
    conservative: a move is charged as if it started from rest at the threshold.
    """
    above = total = 0.0
    at = start_angle
    for block in program.blocks:
        cycles = 0
        elapsed = 0.0
        while True:
            if block.cycles is not None and cycles >= block.cycles:
                break
            one = cycle_time(block, at, program)
            if block.within is not None and elapsed + one > block.within + 1e-9:
                break
            for leg in block.legs:
                t_move = move_time(leg.goal - at, max_speed=program.speed, max_accel=program.accel)
                part = move_time(max(leg.goal, threshold) - max(at, threshold), max_speed=program.speed, max_accel=program.accel)
                above += min(part, t_move)
                if leg.goal >= threshold:
                    above += leg.dwell
                total += t_move + leg.dwell
                at = leg.goal
            elapsed += one
            cycles += 1
    return above, total


def program_for(profile, *, max_speed: float, max_accel: float) -> Program:
    """A profile's steps as a program, at the lowest of the config's and the profile's speeds."""
    blocks = []
    for step in profile.steps:
        if step.kind == "hold":
            blocks.append(Block((Leg(step.angle, step.duration),)))
        elif step.kind == "oscillate":
            legs = (Leg(step.high, step.dwell_high), Leg(step.low, step.dwell_low))
            if step.cycles is not None:
                blocks.append(Block(legs, cycles=step.cycles))
            else:
                blocks.append(Block(legs, cycles=None, within=step.duration))
        else:  # pragma: no cover - the profile model admits no other kind
            raise ValueError(f"unknown step kind {step.kind!r}")
    speed = max_speed if profile.max_speed is None else min(max_speed, profile.max_speed)
    return Program(tuple(blocks), speed=speed, accel=max_accel)
