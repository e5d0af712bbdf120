"""The table's buttons through gpiozero: callbacks post events; stop also halts the motor itself."""

from __future__ import annotations

from typing import Callable, Collection, Mapping

from gpiozero import Button

from drivers.errors import StartupRefused

STOP = "stop"  # the one button that also halts the motor itself, and must read released at start-up


class ButtonPanel:
    """gpiozero ``Button``s for the table's buttons, by name.

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
        self._buttons: dict[str, Button] = {}
        try:
            for name, pin in pins.items():
                # bounce_time is left to our own code: MockPin ignores it, and a latching stop
                # must act on the first edge anyway.
                # hold_time=0: we use no when_held, and the hold thread then never sits in its
                # 1 s wait for a release, so close() need not wait for a held button either.
                button = Button(pin, pull_up=True, bounce_time=None, hold_time=0, pin_factory=pin_factory)
                button.when_pressed = lambda _=None, n=name: self._edge(n, True)
                button.when_released = lambda _=None, n=name: self._edge(n, False)
                self._buttons[name] = button
        except Exception:
            self.close()
            raise
        if self._buttons[STOP].is_pressed:
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
        return frozenset(name for name, b in self._buttons.items() if b.is_pressed)

    def close(self) -> None:
        """Release the pins. Safe to call twice.

        Each gpiozero ``Button`` has a hold thread that polls for a press every 0.1 s, and
        ``Button.close()`` joins it: closing six buttons one after another waited 0.1-0.4 s.
        So all of them are told to stop and woken first (``stopping``, then ``holding``, which
        the poll waits on), and only then closed: each join finds its thread already gone.
        """
        close_promptly(*self._buttons.values())
        self._buttons.clear()

    def __enter__(self) -> ButtonPanel:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def close_promptly(*buttons: Button) -> None:
    """Close gpiozero ``Button``s without waiting for their hold threads' 0.1 s poll.

    Every hold thread is asked to end and woken first, then each button is closed (which joins
    its thread, by then ending). This uses gpiozero's private ``HoldMixin._hold_thread`` and its
    ``stopping`` and ``holding`` events (gpiozero 2.0); if they are ever missing, ``close()``
    still stops the threads, only more slowly.
    """
    for button in buttons:
        thread = getattr(button, "_hold_thread", None)
        for name in ("stopping", "holding"):  # stopping first: the woken thread must see it
            flag = getattr(thread, name, None)
            if flag is not None:
                flag.set()
    for button in buttons:
        button.close()
