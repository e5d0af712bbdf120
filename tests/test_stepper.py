"""The stepper driver on gpiozero mock pins: steps, direction, enable, halt latch, pulse thread."""

from __future__ import annotations

import pytest
from gpiozero.pins.mock import MockFactory

from drivers.stepper import Stepper, ThreadedPulseTrain


class CountingTrain:
    """A stand-in for the pulse hardware: records trains; cancel reports half of the last unsent."""

    def __init__(self, step, direction):
        self.direction = direction
        self.trains = []
        self.unsent = 0

    def emit(self, steps, duration):
        self.direction.value = steps > 0
        self.trains.append((steps, duration))
        self.unsent = abs(steps) // 2

    def cancel(self):
        unsent, self.unsent = self.unsent, 0
        return unsent

    def close(self):
        pass


@pytest.fixture
def motor():
    factory = MockFactory()
    m = Stepper(step_pin=20, dir_pin=21, enable_pin=16, steps_per_degree=200, max_speed=4.0,
                pulses=CountingTrain, pin_factory=factory, position=-60.0)
    yield m, factory
    m.close()
    factory.close()


def test_enable_is_off_until_the_first_move_and_active_low(motor):
    m, factory = motor
    assert factory.pin(16).state == 1  # disabled: active low, high level
    m.move_to(-59.9, 0.02)
    assert m.enabled and factory.pin(16).state == 0


def test_moves_in_whole_steps_and_keeps_position(motor):
    m, factory = motor
    assert m.move_to(-59.95, 0.02) == 10  # 2.5 deg/s
    assert factory.pin(21).state == 1  # DIR high for head-down
    assert m.position == pytest.approx(-59.95)
    assert m.move_to(-59.975, 0.02) == -5
    assert factory.pin(21).state == 0


def test_a_move_faster_than_the_limit_is_clamped(motor):
    m, _ = motor
    sent = m.move_to(0.0, 0.02)  # 60 deg in one period: a planner bug
    # one step of rounding allowed over the rate: a period at full speed may need ceil(rate x dt)
    assert sent == int(4.0 * 1.05 * 200 * 0.02) + 1 and m.clamped_moves == 1


def test_halt_latches_keeps_torque_and_counts_only_sent_steps(motor):
    m, _ = motor
    m.move_to(-59.95, 0.02)  # 10 steps, 5 of which "not yet sent"
    token = m.halt_count
    m.halt()
    assert m.enabled  # holding torque
    assert m.steps == 5 and m.halted
    assert m.move_to(-50, 0.02) == 0  # no move while latched
    assert not m.clear_halt(token)  # the token predates the halt
    assert m.clear_halt(m.halt_count) and m.move_to(-59.9, 0.02) > 0


def test_a_halt_after_the_token_was_read_is_not_cleared(motor):
    m, _ = motor
    token = m.halt_count
    m.halt()  # e.g. the stop button, on its own thread, after the loop read the token
    assert not m.clear_halt(token) and m.halted


def test_close_is_safe_twice_and_releases_the_driver(motor):
    m, factory = motor
    m.move_to(-59.95, 0.02)
    m.close()
    m.close()
    assert m.move_to(-59.9, 0.02) == 0


def test_threaded_pulse_train_sends_evenly_and_cancels():
    factory = MockFactory()
    from gpiozero import DigitalOutputDevice

    step, direction = DigitalOutputDevice(20, pin_factory=factory), DigitalOutputDevice(21, pin_factory=factory)
    clock = [0.0]
    train = ThreadedPulseTrain(step, direction, now=lambda: clock[0], start_thread=False)
    train.emit(10, 0.01)  # one pulse per ms
    clock[0] = 0.0045
    assert train.send_due() == pytest.approx(0.0005)
    rising = [s for s in factory.pin(20).states if s.state]
    assert len(rising) == 5 and direction.value == 1
    assert train.cancel() == 5
    clock[0] = 1.0
    assert train.send_due() is None
    assert len([s for s in factory.pin(20).states if s.state]) == 5
    train.close()
    factory.close()


def test_a_late_train_hands_its_unsent_pulses_to_the_next():
    factory = MockFactory()
    from gpiozero import DigitalOutputDevice

    step, direction = DigitalOutputDevice(20, pin_factory=factory), DigitalOutputDevice(21, pin_factory=factory)
    clock = [0.0]
    train = ThreadedPulseTrain(step, direction, now=lambda: clock[0], start_thread=False)
    train.emit(10, 0.02)
    clock[0] = 0.01
    train.send_due()  # 5 sent (plus the one due at 0.01)
    train.emit(10, 0.02)  # the next period arrives early
    clock[0] = 1.0
    train.send_due()
    assert len([s for s in factory.pin(20).states if s.state]) == 20
    train.close()
    factory.close()


@pytest.mark.realtime
def test_a_halt_does_not_wait_for_a_backlog_of_overdue_pulses():
    """A pulse thread that fell behind sends overdue pulses back to back; a cancel must cut in
    between pulses, not wait for the whole backlog (the stop button halts through it)."""
    import threading
    import time

    from gpiozero.pins.mock import MockPin

    from tests.waiting import wait_for

    class SlowPin(MockPin):
        def _set_state(self, value):  # each write costs 1 ms, as a slow pin back-end might
            time.sleep(0.0005)
            super()._set_state(value)

    factory = MockFactory(pin_class=SlowPin)
    from gpiozero import DigitalOutputDevice

    step, direction = DigitalOutputDevice(20, pin_factory=factory), DigitalOutputDevice(21, pin_factory=factory)
    train = ThreadedPulseTrain(step, direction)
    try:
        train.emit(1000, 0.001)  # 1000 pulses due at once: about a second of back-to-back writes
        wait_for(lambda: sum(s.state for s in factory.pin(20).states) >= 10, what="the backlog to start going out")
        started = time.monotonic()
        unsent = train.cancel()
        took = time.monotonic() - started
        assert unsent > 500 and took < 0.02  # well within one 20 ms control period
    finally:
        train.close()
        factory.close()


def test_the_config_refuses_a_drive_faster_than_the_pulses_can_go(tmp_path):
    from controller.setup.config import MAX_STEP_RATE, load_config
    from controller.errors import ConfigError

    path = tmp_path / "c.toml"
    path.write_text("[table]\nsteps_per_degree = 800\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"that is 3200 steps/s, above the {MAX_STEP_RATE} the step pulses can reach"):
        load_config(path)
