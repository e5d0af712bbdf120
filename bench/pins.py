"""gpiozero mock pins that behave as the Pi's lgpio pins do where the benchmarks need it.

gpiozero's ``MockPin`` runs an input's edge callback inside ``drive_low()``, on the thread that
drives the pin. Driving the stop pin then halts the motor before ``drive_low()`` returns, and no
step pulse can ever fall between the edge and the halt: a stop latency of zero by construction.
lgpio delivers edges from a callback thread of its own, so the pulse thread, the control loop and
the callback race, as they do on the table. ``BenchFactory`` does the same: each edge is queued to
one callback thread (per factory, as lgpio has one per chip) that calls gpiozero's handlers.

The pins also keep the absolute time of every rising edge (``MockPin.states`` keeps only deltas).
"""

from __future__ import annotations

import queue
import threading
import time

from gpiozero.pins.mock import MockFactory, MockPin
from gpiozero.pins.pi import PiPin


class _CallbackThread:
    def __init__(self) -> None:
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="pin-callbacks", daemon=True)
        self._thread.start()

    def deliver(self, pin: PiPin, ticks: float, state: bool) -> None:
        self._queue.put((pin, ticks, state))

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            pin, ticks, state = item
            pin.delivered = time.monotonic()  # when the callback thread got round to the edge
            if pin._when_changed is not None:  # the button may have been closed meanwhile
                PiPin._call_when_changed(pin, ticks, state)  # gpiozero's handler, as lgpio's callback calls it

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=2.0)


class BenchPin(MockPin):
    """A mock pin whose edge callbacks come from the factory's callback thread; it records rising edges."""

    def __init__(self, factory, info) -> None:
        self.rising: list[float] = []  # monotonic times of the rising edges since the last clear_states()
        self.delivered: float | None = None  # when the callback thread last began an edge's callbacks
        super().__init__(factory, info)

    def _change_state(self, value):
        changed = super()._change_state(value)
        if changed and value:
            self.rising.append(self._last_change)  # the time MockPin stamped the change with
        return changed

    def clear_states(self) -> None:
        super().clear_states()
        self.rising = []

    def _call_when_changed(self):
        self.factory.callbacks.deliver(self, self._last_change, self._state)


class BenchFactory(MockFactory):
    """A MockFactory of ``BenchPin``s with one callback thread; ``close()`` ends it."""

    def __init__(self) -> None:
        self.callbacks = _CallbackThread()
        super().__init__(pin_class=BenchPin)

    def close(self) -> None:
        super().close()
        self.callbacks.close()


def last_rising_edge(pin: BenchPin) -> float | None:
    return pin.rising[-1] if pin.rising else None


def stepping(pin: BenchPin, within: float) -> bool:
    """A rising edge on the pin within the last ``within`` seconds."""
    last = last_rising_edge(pin)
    return last is not None and time.monotonic() - last <= within
