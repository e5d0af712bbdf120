"""A simulated person at the table, answering `calibrate`'s prompts by pressing the table's buttons."""

from __future__ import annotations

import re
from typing import Callable

# How long the person waits for the table before giving up (a bug, or a trip): never forever.
PATIENCE = 120.0  # s
WRONG_WAY = 0.5  # deg the wrong way before the person lets go, as anyone would
STUCK_AFTER = 2.0  # s without progress before the person lets go


class SimulatedPerson:
    """Reads a prompt, does what it asks on the simulated table (true angle in hand), answers."""

    def __init__(self, hw, *, sleep: Callable[[float], None], now: Callable[[], float],
                 say: Callable[[str], None] = print, truthful: bool = True) -> None:
        """``sleep`` and ``now`` are the clock the table runs on (real or virtual time)."""
        self.hw, self.say, self.truthful = hw, say, truthful
        self.sleep, self.now = sleep, now
        self.home = hw.table.angle()  # the table starts home

    def ask(self, prompt: str) -> str:
        self.say(prompt.strip())
        if "Is that about right?" in prompt:
            reading = float(re.search(r"reads the table at ([+-]?\d+)°", prompt).group(1))
            right = abs(reading - self.hw.table.angle()) < 5.0  # a person can tell head-up from head-down
            return self._answer("y" if right == self.truthful else "n")
        if "Jog the table level" in prompt:
            self._hold("down" if self.hw.table.angle() < 0 else "up", until=lambda a: abs(a) < 0.2)
        elif "Hold down" in prompt:
            start = self.hw.table.angle()
            self._hold("down", until=lambda a: a >= start + 10.0)
        elif "Hold return" in prompt:
            self._hold("return", until=lambda a: a <= self.home + 0.5)
        elif "press reset, then press return" in prompt:
            for button in ("reset", "return"):
                self.hw.press(button)
                self.hw.release(button)
                self.sleep(0.1)  # a person's pace: the loop sees each press
            self.say("  (the simulated person presses reset, then return)")
        elif "Press return" in prompt:
            self.hw.press("return")
            self.hw.release("return")
            self.say("  (the simulated person presses return)")
        return self._answer("")

    def _answer(self, text: str) -> str:
        self.say(f"  > {text}" if text else "  > (Enter)")
        return text

    def _hold(self, button: str, *, until: Callable[[float], bool]) -> None:
        self.say(f"  (the simulated person holds {button})")
        self.hw.press(button)
        deadline = self.now() + PATIENCE
        start, way = self.hw.table.angle(), 1 if button == "down" else -1  # up and return: head-up
        best, best_at = start, self.now()
        try:
            while not until(angle := self.hw.table.angle()) and self.now() < deadline:
                if (angle - start) * way < -WRONG_WAY:
                    self.say(f"  (the table goes the wrong way: the simulated person lets go of {button})")
                    break
                if (angle - best) * way > 0.05:
                    best, best_at = angle, self.now()
                elif self.now() - best_at > STUCK_AFTER:
                    self.say(f"  (the table does not move: the simulated person lets go of {button})")
                    break
                self.sleep(0.005)
        finally:
            self.hw.release(button)
