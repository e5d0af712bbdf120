"""What a restarted service must not forget: the last trusted angle, the latches, the session clock.

Kept in the runtime directory (/run/inversion-table, a tmpfs that systemd keeps across restarts
of the service but not across a reboot), written atomically a few times a second. After a crash
and a restart the service starts with the same latch, and if the IMU is dead it can still count
steps home from the last angle it trusted (the BRIEF's hold-to-run return).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from controller.core.reasons import REASONS, Trip

FILE_NAME = "restart.json"
# Written when the angle moved this much, or a latch changed, and at most this often.
SAVE_ANGLE_STEP = 0.1  # deg
SAVE_INTERVAL = 0.2  # s


@dataclass(frozen=True)
class RestartState:
    angle: float  # deg, the last angle the sensor was trusted at (the step count agreed)
    stop_latched: bool = False
    trip: str | None = None
    head_down: float = 0.0  # s of this session's head-down clock


def path_from_environment() -> Path | None:
    """systemd's $RUNTIME_DIRECTORY (RuntimeDirectory=), or None outside systemd."""
    folder = os.environ.get("RUNTIME_DIRECTORY")
    return Path(folder.split(":")[0]) / FILE_NAME if folder else None


def save(path: Path, state: RestartState) -> None:
    """Atomic on a tmpfs: write, then rename (no fsync: the file is not meant to outlive a reboot)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(state)), encoding="utf-8")
    os.replace(tmp, path)


def load(path: Path | None) -> RestartState | None:
    """The state a previous run of the service left, or None (first start since boot, or unreadable)."""
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        trip = None if data["trip"] is None else Trip(data["trip"])
        state = RestartState(float(data["angle"]), bool(data["stop_latched"]), trip, float(data["head_down"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return state


class Keeper:
    """Saves the controller's restart state from the loop's thread, only when it changed enough."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._last: RestartState | None = None
        self._saved_at = float("-inf")

    def update(self, controller, now: float) -> None:
        c = controller.state
        trip = c.machine.trip
        trusted = (c.estimate is not None and c.reading is not None and c.reading.sample_ok
                   and (trip is None or REASONS[trip].sensor_trusted))
        if trusted:
            angle = c.estimate.angle
        elif c.anchored:  # the step count from the last trusted angle (a hold-to-run return moves it)
            angle = c.position
        else:
            return
        state = RestartState(round(angle, 3), c.machine.stop_latched, c.machine.trip, round(c.head_down, 2))
        last = self._last
        changed = last is None or (state.stop_latched, state.trip) != (last.stop_latched, last.trip)
        moved = last is not None and abs(state.angle - last.angle) >= SAVE_ANGLE_STEP
        if changed or (moved and now - self._saved_at >= SAVE_INTERVAL):
            try:
                save(self.path, state)
            except OSError:
                return  # no runtime directory: the restart simply knows less
            self._last, self._saved_at = state, now
