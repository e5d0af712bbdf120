"""What the status LED and the buzzer show, chosen from the table's state (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from controller.core.command import AUTO_MOVE_WARNING

COUNT_ON, COUNT_OFF = 0.15, 0.25  # s: one pulse of a count (the selected preset's number)
LONG_COUNT_ON = 0.6  # s: one pulse of a user's number


@dataclass(frozen=True)
class Pattern:
    """Pulses of (on, off) seconds, played from when the pattern began; repeated or played once."""

    name: str
    pulses: tuple[tuple[float, float], ...]
    repeat: bool = True
    description: str = ""

    @cached_property
    def length(self) -> float:
        """Seconds of one play (asked for at every level, so summed once)."""
        return sum(on + off for on, off in self.pulses)

    def level(self, elapsed: float) -> bool:
        """On or off, ``elapsed`` seconds after the pattern began."""
        if elapsed < 0 or (not self.repeat and elapsed >= self.length):
            return False
        t = elapsed % self.length if self.repeat else elapsed
        for on, off in self.pulses:
            if t < on:
                return True
            t -= on + off
            if t < 0:
                return False
        return False


def count(n: int, *, long: bool = False) -> Pattern:
    """n pulses, once: the number of the preset (short) or the user (long) just selected."""
    on = LONG_COUNT_ON if long else COUNT_ON
    return Pattern(f"{'user' if long else 'count'}-{n}", ((on, COUNT_OFF),) * n, repeat=False)


SILENT = Pattern("silent", ((0.0, 1.0),), description="off")
# (state, LED, buzzer): the documented patterns, in the order the docs list them.
LED_IDLE = Pattern("idle", ((1.0, 0.0),), description="steady on")
LED_RUNNING = Pattern("running", ((0.5, 0.5),), description="slow blink, 1 per second")
LED_WARNING = Pattern("warning", ((0.125, 0.125),), description="fast blink, 4 per second")
LED_STOPPED = Pattern("stopped", ((0.15, 0.15), (0.15, 1.05)), description="double flash every 1.5 s")
LED_TRIPPED = Pattern("tripped", ((0.1, 0.1),), description="rapid blink, 5 per second")
LED_WAITING = Pattern("waiting", ((0.1, 0.1), (0.1, 0.7)), description="double blink every second")
BUZZ_WAITING = Pattern("waiting", ((0.1, 4.9),), description="a chirp every 5 s")
BUZZ_WARNING = Pattern("warning", ((0.1, 0.2),), description="3 short beeps a second")
BUZZ_STOPPED = Pattern("stopped", ((0.3, 0.0),), repeat=False, description="one beep as the stop latches")
BUZZ_TRIPPED = Pattern("tripped", ((0.5, 1.5),), description="a beep every 2 s until reset")

TABLE = (
    ("idle: home or anywhere, waiting for a button", LED_IDLE, SILENT),
    ("running, returning or jogging", LED_RUNNING, SILENT),
    (f"about to return home by itself (a timeout), for the last {AUTO_MOVE_WARNING:g} s", LED_WARNING, BUZZ_WARNING),
    ("head-down and idle, with nothing that will bring it home by itself (after a reset or a restart): "
     "press return", LED_WAITING, BUZZ_WAITING),
    ("stopped (stop latched)", LED_STOPPED, BUZZ_STOPPED),
    ("tripped (a fault latched)", LED_TRIPPED, BUZZ_TRIPPED),
)


def patterns(
    state: str,
    *,
    auto_return_in: float | None = None,
    selected: int | None = None,
    since_selected: float | None = None,
    waiting_head_down: bool = False,
    user: int | None = None,
    since_user: float | None = None,
) -> tuple[Pattern, Pattern]:
    """(LED, buzzer) for the table's state; a fresh preset selection is counted out on both."""
    if state == "tripped":
        return LED_TRIPPED, BUZZ_TRIPPED
    if state == "stopped":
        return LED_STOPPED, BUZZ_STOPPED
    if auto_return_in is not None and auto_return_in <= AUTO_MOVE_WARNING:
        return LED_WARNING, BUZZ_WARNING
    if user is not None and since_user is not None and since_user < count(user, long=True).length:
        return count(user, long=True), count(user, long=True)
    if selected is not None and since_selected is not None and since_selected < count(selected).length:
        return count(selected), count(selected)
    if waiting_head_down and state == "idle":
        return LED_WAITING, BUZZ_WAITING
    if state == "idle":
        return LED_IDLE, SILENT
    return LED_RUNNING, SILENT


def markdown_table() -> str:
    """The patterns as the docs show them (a test keeps docs/HARDWARE.md equal to this)."""
    rows = ["| the table is | LED | buzzer |", "|---|---|---|"]
    rows += [f"| {what} | {led.description} | {buzz.description} |" for what, led, buzz in TABLE]
    rows.append("| a preset was just selected with `select` | its number in short flashes | its number in short beeps |")
    rows.append("| a user was just selected (`select` held 1.5 s) | their number in long flashes | their number in long beeps |")
    return "\n".join(rows)
