"""Buttons through gpiozero mock pins: events are posted; stop halts the motor itself, after posting."""

from __future__ import annotations

import pytest
from gpiozero.pins.mock import MockFactory

from controller.core.state import BUTTONS
from drivers.buttons import ButtonPanel

PINS = {"stop": 17, "reset": 27, "start": 22, "return": 23, "up": 24, "down": 25}


def test_presses_and_releases_are_posted_and_stop_halts_after_posting():
    factory = MockFactory()
    calls = []
    panel = ButtonPanel(PINS, names=BUTTONS, post=lambda name, pressed, t: calls.append(("post", name, pressed, t)),
                        on_stop=lambda: calls.append(("halt",)), now=lambda: 1.5, pin_factory=factory)
    factory.pin(22).drive_low()
    factory.pin(22).drive_high()
    factory.pin(17).drive_low()
    assert calls == [("post", "start", True, 1.5), ("post", "start", False, 1.5), ("post", "stop", True, 1.5),
                     ("halt",)]
    assert panel.pressed() == frozenset({"stop"})
    panel.close()
    panel.close()
    factory.close()


def test_unknown_or_missing_buttons_are_refused():
    factory = MockFactory()
    with pytest.raises(ValueError, match="unknown"):
        ButtonPanel({"stop": 17, "launch": 5}, names=BUTTONS, post=print, on_stop=print, now=lambda: 0,
                    pin_factory=factory)
    with pytest.raises(ValueError, match="stop"):
        ButtonPanel({"start": 22}, names=BUTTONS, post=print, on_stop=print, now=lambda: 0, pin_factory=factory)
    factory.close()


@pytest.mark.realtime
def test_close_wakes_the_hold_threads_instead_of_waiting_for_them():
    """gpiozero's hold thread polls every 0.1 s, and after a press waits up to ``hold_time`` for the
    release; ``Button.close()`` joins it. Six buttons, one just pressed and held: closing them used
    to take 0.1-1.4 s (Simulation.close() paid it in every test). Woken, their threads end at once."""
    import time

    factory = MockFactory()
    panel = ButtonPanel(PINS, names=BUTTONS, post=lambda name, pressed, t: None, on_stop=lambda: None, now=lambda: 0.0,
                        pin_factory=factory)
    threads = [b._hold_thread for b in panel._buttons.values()]
    assert len(threads) == 6 and all(t.is_alive() for t in threads)
    factory.pin(23).drive_low()  # return, held
    started = time.monotonic()
    panel.close()
    took = time.monotonic() - started
    assert not any(t.is_alive() for t in threads)
    assert took < 0.5, took  # the old wait for a held button alone was hold_time, 1 s
    factory.close()
