"""A simulated person at the table, answering `calibrate`'s prompts by pressing the table's buttons."""

from __future__ import annotations

import re
import time
from typing import Callable

# How long the person waits for the table before giving up (a bug, or a trip): never forever.
PATIENCE = 120.0  # s


class SimulatedPerson:
    """Reads a prompt, does what it asks on the simulated table (true angle in hand), answers."""

    def __init__(self, hw, *, say: Callable[[str], None] = print, truthful: bool = True) -> None:
        self.hw, self.say, self.truthful = hw, say, truthful

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
        deadline = time.monotonic() + PATIENCE
        try:
            while not until(self.hw.table.angle()) and time.monotonic() < deadline:
                time.sleep(0.005)
        finally:
            self.hw.release(button)
