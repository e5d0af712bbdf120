"""The status LED and buzzer through gpiozero, played from patterns on the control loop's clock."""

from __future__ import annotations

from typing import Protocol

from gpiozero import LED, Buzzer


class Pattern(Protocol):
    """What an output plays: a name, and its level a given time after it began (the application's patterns)."""

    @property
    def name(self) -> str: ...

    def level(self, elapsed: float) -> bool: ...


class _Off:
    """What an output plays before it is first shown anything: off."""

    name = "silent"

    def level(self, elapsed: float) -> bool:
        return False


OFF = _Off()


class _Output:
    """One on/off device playing one pattern at a time, from when that pattern began."""

    def __init__(self, device) -> None:
        self.device = device
        self.pattern: Pattern = OFF
        self.began = 0.0
        self.level = False

    def play(self, pattern: Pattern, now: float) -> None:
        if pattern is not self.pattern and pattern != self.pattern:  # the same object, period after period
            self.pattern, self.began = pattern, now
        level = pattern.level(now - self.began)
        if level != self.level:  # write the pin only on a change: a pin write costs an I/O call
            self.level = level
            (self.device.on if level else self.device.off)()


class Indicators:
    """gpiozero ``LED`` and ``Buzzer`` (either may be absent, ``None``), updated once per period.

    What to play is chosen by the application (``controller.core.indicate``); this plays it. The
    levels are computed from the loop's clock rather than with gpiozero's background
    ``blink()`` threads, so the simulator plays them on virtual time and tests can read them.
    """

    def __init__(self, *, led_pin: int | str | None, buzzer_pin: int | str | None, pin_factory=None) -> None:
        self._outputs: dict[str, _Output] = {}
        try:
            if led_pin is not None:
                self._outputs["led"] = _Output(LED(led_pin, pin_factory=pin_factory))
            if buzzer_pin is not None:
                self._outputs["buzzer"] = _Output(Buzzer(buzzer_pin, pin_factory=pin_factory))
        except Exception:
            self.close()
            raise

    def show(self, led: Pattern, buzzer: Pattern, now: float) -> None:
        for name, pattern in (("led", led), ("buzzer", buzzer)):
            if name in self._outputs:
                self._outputs[name].play(pattern, now)

    def levels(self) -> dict[str, bool]:
        """What each fitted output shows right now (for status lines and tests)."""
        return {name: out.level for name, out in self._outputs.items()}

    def playing(self) -> dict[str, str]:
        return {name: out.pattern.name for name, out in self._outputs.items()}

    def close(self) -> None:
        """Turn everything off and release the pins. Safe to call twice."""
        for out in self._outputs.values():
            try:
                out.device.off()
            finally:
                out.device.close()
        self._outputs.clear()

    def __enter__(self) -> Indicators:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
