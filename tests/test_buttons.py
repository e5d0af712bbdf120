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


def test_the_panel_runs_no_thread_of_its_own():
    """gpiozero's ``Button`` keeps a hold thread per button that wakes every 0.1 s to take the GIL,
    at normal priority, for as long as the service runs (and ``close()`` waited for each one's poll).
    The panel's inputs have none: presses still arrive, and stop still halts."""
    import threading

    factory = MockFactory()
    before = threading.active_count()
    posted, halts = [], []
    panel = ButtonPanel(PINS, names=BUTTONS, post=lambda name, pressed, t: posted.append((name, pressed)),
                        on_stop=lambda: halts.append(1), now=lambda: 0.0, pin_factory=factory)
    assert threading.active_count() == before
    factory.pin(PINS["return"]).drive_low()
    assert panel.pressed() == {"return"}
    factory.pin(PINS["stop"]).drive_low()
    assert posted == [("return", True), ("stop", True)] and halts == [1]
    panel.close()
    panel.close()
    assert threading.active_count() == before
    factory.close()
