"""One table, built once from the config and its hardware: the controller, buttons, dead-man,
crash hook and the after-period pipeline. A real-time or a virtual-time driver runs its periods."""

from __future__ import annotations

import logging
from collections import Counter
from typing import Callable, Sequence

from controller.core import supervisor
from controller.setup.calibration import mount_for
from controller.shell.deadman import DeadMan, install_crash_hook
from controller.shell.seams import Hardware
from controller.shell.loop import Controller, Settings, UserChoice
from controller.core.reasons import Trip
from controller.core.state import BUTTONS, ButtonEvent
from drivers.buttons import ButtonPanel

log = logging.getLogger("inversion_table")

def settings_from(config) -> Settings:
    """What the control loop needs from a config, as plain numbers."""
    c = config
    limits = supervisor.Limits(
        home_angle=c.table.home_angle,
        max_angle=c.limits.max_angle,
        max_speed=c.limits.max_speed,
        max_accel=c.limits.max_accel,
        session_timeout=c.limits.session_timeout,
    )
    return Settings(
        limits=limits,
        period=c.period,
        jog_speed=c.motion.jog_speed,
        return_speed=c.motion.return_speed,
        idle_timeout=c.limits.idle_timeout,
        rest_angle=c.motion.rest_angle,
        rest_time=c.motion.rest_time,
        tracking=supervisor.Tracking(**c.tracking.model_dump()),
    )


class _LoopFaults:
    """The control loop's view of the IMU, through which a `crash` fault raises inside a period."""

    def __init__(self, imu) -> None:
        self._imu = imu
        self.crash_next = False

    def read(self):
        if self.crash_next:
            self.crash_next = False
            raise RuntimeError("injected crash inside the control loop")
        return self._imu.read()

    def close(self) -> None:
        self._imu.close()


class Table:
    """The table every front end drives the same way.

    ``hardware`` comes from a factory (``drivers.pi.build`` or ``drivers.sim.hardware.build``);
    nothing here knows which, except that simulated hardware can be given faults. Events go to
    every ``listeners`` callable; after each period ``after_period`` callables get the sample.
    """

    def __init__(self, config, hardware: Hardware, *, presets: Sequence = (), users: Sequence[UserChoice] = (),
                 restored=None) -> None:
        self.config, self.hw = config, hardware
        self.settings = settings_from(config)
        self.listeners: list[Callable[[dict], None]] = []
        self.after_period: list[Callable[[dict], None]] = []
        # Front ends that hold hold-to-run buttons (the phone remote): their levels are read with
        # the pins' (the loop's guard against a lost release), and they may sound a warning.
        self.extra_levels: list[Callable[[], frozenset[str]]] = []
        self.indicate_overrides: list[Callable[[float, object, object], tuple]] = []
        self.loop_stalled = False  # a `loop-stall` fault: the driver runs no periods meanwhile
        self._faults_on: Counter[str] = Counter()  # windows of each fault kind under way (they may overlap)
        self.deadman_inline = False  # the virtual-time driver checks the dead-man after each period
        self._imu = _LoopFaults(hardware.imu)
        self.controller = Controller(
            imu=self._imu, motor=hardware.motor, mount=mount_for(config, hardware.calibration), clock=hardware.clock,
            settings=self.settings, presets=presets, report=self._event,
            buttons_pressed=self._pressed, restored=restored, users=users,
        )
        # Refuses start-up (StartupRefused) if the stop button reads pressed.
        self.panel = ButtonPanel(hardware.button_pins, names=BUTTONS,
                                 post=lambda name, pressed, t: self.controller.post(ButtonEvent(name, pressed, t)),
                                 on_stop=hardware.motor.halt, now=hardware.clock.now, pin_factory=hardware.pin_factory)
        self.deadman = DeadMan(heartbeat=lambda: self.controller.alive, halt=hardware.motor.halt,
                               post_trip=self._deadman_trip, now=hardware.clock.now, period=self.settings.period)
        self._uninstall_hook = install_crash_hook(halt=hardware.motor.halt, post_trip=self.controller.post_trip)
        self._shown: tuple[str, str] | None = None
        self._closed = False

    @property
    def state(self):
        """The frozen snapshot of the table's decisions (controller.core.table_state.TableState)."""
        return self.controller.state

    def now(self) -> float:
        return self.hw.clock.now()

    def _pressed(self) -> frozenset[str]:
        """The buttons held now: the pins' levels, and any front end's holds."""
        pressed = self.panel.pressed()
        for levels in self.extra_levels:
            pressed = pressed | levels()
        return pressed

    # -- events --------------------------------------------------------------------------------
    def _event(self, record: dict) -> None:
        for listener in self.listeners:
            listener(record)

    def _deadman_trip(self, reason: Trip) -> None:
        """The dead-man posts to the loop (which latches when it runs again); listeners hear it now."""
        self._event({"t": self.hw.clock.now(), "event": "deadman", "reason": reason})
        self.controller.post_trip(reason)

    # -- one period ----------------------------------------------------------------------------
    def period(self) -> dict | None:
        """Run one control period and the after-period pipeline; None while the loop is stalled."""
        if self.loop_stalled:  # the loop does not run; the dead-man still watches
            if self.deadman_inline:
                self.deadman.check()
            return None
        record = self.controller.tick()
        if self.deadman_inline:
            self.deadman.check()
        self._indicate()
        for after in self.after_period:
            after(record)
        return record

    def _indicate(self) -> None:
        """Play the LED and buzzer patterns; listeners hear when they change."""
        now = self.hw.clock.now()
        led, buzzer = self.controller.patterns(now)
        for override in self.indicate_overrides:
            led, buzzer = override(now, led, buzzer)
        self.hw.indicators.show(led, buzzer, now)
        shown = (led.name, buzzer.name)
        if shown != self._shown:
            self._shown = shown
            self._event({"t": now, "event": "indicate", "led": led.name, "buzzer": buzzer.name})

    # -- faults (simulated hardware) -----------------------------------------------------------
    def inject(self, kind: str, active: bool) -> None:
        """Start or end a fault: the loop's own (stall, crash) here, the rest in the hardware.

        Windows of one kind may overlap (``--fault imu-disconnect@1:0.02 --fault imu-disconnect@1:0.5``):
        the fault lasts until the last of them ends, not the first."""
        self._faults_on[kind] += 1 if active else -1
        if self._faults_on[kind] < 0:
            self._faults_on[kind] = 0  # an end with no start: nothing to end
        elif self._faults_on[kind] > int(active):
            pass  # another window of this kind is still under way
        elif kind == "loop-stall":
            self.loop_stalled = active
        elif kind == "crash":
            self._imu.crash_next = active
        else:
            self.hw.set_fault(kind, active)
        self._event({"t": self.hw.clock.now(), "event": "fault", "kind": kind, "active": active})

    # -- the end -------------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Halt, then release the buttons and the hardware. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self.hw.motor.halt()
        self.deadman.close()
        self._uninstall_hook()
        self.panel.close()
        self.hw.close()

    def __enter__(self) -> Table:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
