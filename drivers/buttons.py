"""The table's buttons through gpiozero: callbacks post events; stop also halts the motor itself."""

from __future__ import annotations

from typing import Callable, Collection, Mapping

from gpiozero import DigitalInputDevice

from drivers.errors import StartupRefused

STOP = "stop"  # the one button that also halts the motor itself, and must read released at start-up


def button_input(pin: int | str, *, pin_factory=None) -> DigitalInputDevice:
    """One button, wired to ground with the Pi's pull-up (active low): gpiozero's ``Button``
    without its hold thread. We use no ``when_held``, and that thread wakes every 0.1 s, on every
    button, for as long as the service runs: seven threads at normal priority taking the GIL,
    which the control loop then waits for whenever the kernel takes one off the CPU mid-way (the
    dead-man fired so in the tests on a loaded machine). bounce_time is left to our own code:
    MockPin ignores it, and a latching stop must act on the first edge anyway."""
    return DigitalInputDevice(pin, pull_up=True, bounce_time=None, pin_factory=pin_factory)


class ButtonPanel:
    """The table's buttons by name, each a ``button_input``.

    Callbacks run on gpiozero's threads, so they never decide anything: they post each edge as
    ``post(name, pressed, t)`` to the control loop. The one exception is stop, which also calls
    ``on_stop`` (the motor's ``halt``) directly, after posting, so the loop cannot clear a halt it
    has not yet seen the cause of. ``names`` are the buttons the application knows; ``pins`` may
    fit any of them, and must fit stop. Buttons are wired to ground with the Pi's pull-ups (active low).
    """

    def __init__(
        self,
        pins: Mapping[str, int | str],
        *,
        names: Collection[str],
        post: Callable[[str, bool, float], None],
        on_stop: Callable[[], None],
        now: Callable[[], float],
        pin_factory=None,
    ) -> None:
        unknown = set(pins) - set(names)
        if unknown:
            raise ValueError(f"unknown button(s): {', '.join(sorted(unknown))}")
        if STOP not in pins:
            raise ValueError("the stop button is required")
        self._post, self._on_stop, self._now = post, on_stop, now
        self._buttons: dict[str, DigitalInputDevice] = {}
        try:
            for name, pin in pins.items():
                button = button_input(pin, pin_factory=pin_factory)
                button.when_activated = lambda _=None, n=name: self._edge(n, True)
                button.when_deactivated = lambda _=None, n=name: self._edge(n, False)
                self._buttons[name] = button
        except Exception:
            self.close()
            raise
        if self._buttons[STOP].is_active:
            # A stop held or stuck at boot: refuse, rather than run with the one button that
            # must always work already pressed (safety rule 6, docs/SAFETY.md).
            self.close()
            raise StartupRefused(
                "the stop button is pressed at start-up (held, stuck or miswired): release it or "
                f"check its wiring on GPIO{pins[STOP]} (BCM numbering); nothing will move until it reads released"
            )

    def _edge(self, name: str, pressed: bool) -> None:
        self._post(name, pressed, self._now())
        if name == STOP and pressed:
            self._on_stop()

    def pressed(self) -> frozenset[str]:
        """The buttons held right now, read from the pins (levels, not edges)."""
        return frozenset(name for name, b in self._buttons.items() if b.is_active)

    def close(self) -> None:
        """Release the pins. Safe to call twice."""
        for button in self._buttons.values():
            button.close()
        self._buttons.clear()

    def __enter__(self) -> ButtonPanel:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
