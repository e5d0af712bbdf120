"""MQTT's decisions, as pure functions: the topics, Home Assistant's discovery payloads, when the
state is published, and what a command asks for and whether it may.

The client (controller/shell/mqtt_client.py) does the I/O: it encodes what this returns as JSON
and decodes what comes in. A command goes through the phone remote's rules (core/remote.py) and
then the table's own state machine, as a press on the page does: nothing here can move the table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from controller.core import remote
from controller.core.command import HEAD_DOWN_ABOVE

TOPIC_ROOT = "inversion-table"
ONLINE, OFFLINE = "online", "offline"
STATES = ("idle", "running", "returning", "jogging", "stopped", "tripped")  # the trace's state names
MOVING = frozenset({"running", "returning", "jogging"})
LIVE_EVERY = 1.0  # s: the state's pace while the table moves, counts down or is head-down
ANGLE_STEP = 0.5  # deg: a table that is neither moving nor head-down still publishes a move this big
# The status keys that change continuously; any change of the others is published at once.
CONTINUOUS = frozenset({"t", "angle", "target", "head_down", "auto_return_in", "start_in"})
COMMAND_BUTTONS = ("stop",) + remote.PRESSABLE
MAX_COMMAND_BYTES = 1024  # a command is a few dozen bytes; a larger payload is not read
MQTT = remote.Origin("MQTT", "mqtt", "hold return on the table (or on the phone remote's page)")
MANUFACTURER = "inversion-table (open source)"
MODEL = "Motorized inversion table"


@dataclass(frozen=True, slots=True)
class Topics:
    """Every topic of one table: ``inversion-table/NAME/...`` and its Home Assistant discovery."""

    name: str
    discovery_prefix: str = "homeassistant"

    @property
    def base(self) -> str:
        return f"{TOPIC_ROOT}/{self.name}"

    @property
    def availability(self) -> str:
        return f"{self.base}/availability"

    @property
    def state(self) -> str:
        return f"{self.base}/state"

    @property
    def event(self) -> str:
        return f"{self.base}/event"

    @property
    def command(self) -> str:
        return f"{self.base}/command"

    @property
    def result(self) -> str:
        """What became of each command (not retained): there is no other way to answer one."""
        return f"{self.base}/command/result"

    @property
    def ha_status(self) -> str:
        """Home Assistant's birth and will: ``online`` there asks for the discovery again."""
        return f"{self.discovery_prefix}/status"

    def discovery(self, component: str, object_id: str) -> str:
        return f"{self.discovery_prefix}/{component}/{self.name}/{object_id}/config"


# -- Home Assistant discovery -----------------------------------------------------------------------
def _maybe(expression: str, key: str) -> str:
    """A value template that renders ``expression`` of ``value_json.KEY``, or None (Home Assistant's
    "unknown") while the key is null: a number sensor cannot take the text "None" otherwise."""
    return f"{{{{ {expression} if value_json.{key} is not none else none }}}}"


def _entities(allow_motion: bool, presets: Sequence[str], topics: Topics) -> list[tuple[str, str, dict | None]]:
    """(component, object id, the entity's own keys, or None: remove it) for every entity."""
    command = topics.command

    def button(label: str, name: str, icon: str) -> dict:
        return {"name": label, "command_topic": command, "payload_press": f'{{"button": "{name}"}}', "icon": icon}

    return [
        ("sensor", "angle", {"name": "Angle", "state_topic": topics.state, "unit_of_measurement": "°",
                             "state_class": "measurement", "suggested_display_precision": 1, "icon": "mdi:angle-acute",
                             "value_template": _maybe("value_json.angle | round(1)", "angle")}),
        ("sensor", "target", {"name": "Target angle", "state_topic": topics.state, "unit_of_measurement": "°",
                              "state_class": "measurement", "suggested_display_precision": 1, "icon": "mdi:target",
                              "value_template": _maybe("value_json.target | round(1)", "target")}),
        ("sensor", "state", {"name": "State", "state_topic": topics.state, "device_class": "enum",
                             "options": list(STATES), "icon": "mdi:state-machine",
                             "value_template": "{{ value_json.state }}"}),
        ("sensor", "head_down", {"name": "Time head-down", "state_topic": topics.state, "device_class": "duration",
                                 "unit_of_measurement": "s", "state_class": "measurement", "icon": "mdi:timer-outline",
                                 "value_template": "{{ value_json.head_down | round(0) }}"}),
        ("sensor", "auto_return_in", {"name": "Automatic return in", "state_topic": topics.state,
                                      "device_class": "duration", "unit_of_measurement": "s", "icon": "mdi:home-clock",
                                      "value_template": _maybe("value_json.auto_return_in | round(0)", "auto_return_in")}),
        ("sensor", "trip", {"name": "Trip", "state_topic": topics.state, "icon": "mdi:alert-octagon",
                            "value_template": "{{ value_json.trip or 'none' }}",
                            "json_attributes_topic": topics.state,
                            "json_attributes_template": "{{ {'message': value_json.trip_message, "
                                                        "'what_to_do': value_json.trip_clears} | tojson }}"}),
        ("sensor", "user", {"name": "User", "state_topic": topics.state, "icon": "mdi:account",
                            "value_template": "{{ value_json.user or 'none' }}"}),
        ("binary_sensor", "head_down", {"name": "Head-down", "state_topic": topics.state, "icon": "mdi:human-handsdown",
                                        "value_template": "{{ 'ON' if value_json.angle is not none and "
                                                          f"value_json.angle > {HEAD_DOWN_ABOVE} else 'OFF' }}}}"}),
        ("binary_sensor", "latched", {"name": "Stop or trip latched", "state_topic": topics.state,
                                      "device_class": "problem",
                                      "value_template": "{{ 'ON' if value_json.stop_latched or value_json.trip "
                                                        "else 'OFF' }}"}),
        ("button", "stop", button("Stop", "stop", "mdi:stop-circle")),
        ("button", "reset", button("Reset", "reset", "mdi:restore")),
        ("button", "return", button("Return home", "return", "mdi:home-import-outline")),
        ("button", "start", button("Start", "start", "mdi:play-circle") if allow_motion else None),
        ("select", "preset", {"name": "Preset", "state_topic": topics.state, "command_topic": command,
                              "options": list(presets), "icon": "mdi:playlist-play",
                              "value_template": "{{ value_json.preset }}",
                              "command_template": '{"preset": {{ value | tojson }}}'} if presets else None),
    ]


def discovery(topics: Topics, *, presets: Sequence[str], allow_motion: bool,
              sw_version: str) -> list[tuple[str, dict | None]]:
    """Every discovery message: (topic, payload) to publish retained; a None payload is published
    empty, which removes an entity the table no longer offers (start without allow_motion)."""
    device = {"identifiers": [f"{TOPIC_ROOT}-{topics.name}"], "name": f"Inversion table {topics.name}",
              "manufacturer": MANUFACTURER, "model": MODEL, "sw_version": sw_version}
    origin = {"name": TOPIC_ROOT, "sw_version": sw_version}
    messages = []
    for component, object_id, entity in _entities(allow_motion, presets, topics):
        payload = None
        if entity is not None:
            payload = {**entity, "unique_id": f"{TOPIC_ROOT}-{topics.name}-{component}-{object_id}",
                       "has_entity_name": True, "availability_topic": topics.availability,
                       "payload_available": ONLINE, "payload_not_available": OFFLINE,
                       "device": device, "origin": origin}
        messages.append((topics.discovery(component, object_id), payload))
    return messages


# -- when the state is published --------------------------------------------------------------------
def live(status: Mapping) -> bool:
    """Whether the state changes on its own: moving, counting down, or head-down (its clock runs)."""
    angle = status.get("angle")
    return (status.get("state") in MOVING or status.get("auto_return_in") is not None
            or status.get("start_in") is not None or (angle is not None and angle > HEAD_DOWN_ABOVE))


def discrete(status: Mapping) -> dict:
    """What of a status is a change of state when it changes: all but the continuous values, and
    whether a countdown or a start's warning runs."""
    return {k: v for k, v in status.items() if k not in CONTINUOUS} | {
        "counting_down": status.get("auto_return_in") is not None, "warning": status.get("start_in") is not None}


def state_due(last: Mapping | None, last_at: float | None, status: Mapping, now: float) -> bool:
    """Whether to publish ``status`` at ``now``, given the ``last`` one published at ``last_at``:
    the first, every change of state (of anything but the continuous values) at once, and the
    continuous values every LIVE_EVERY while live, or after a move of ANGLE_STEP otherwise."""
    if last is None or last_at is None or discrete(last) != discrete(status):
        return True
    if live(status) or live(last):
        return now - last_at >= LIVE_EVERY
    before, angle = last.get("angle"), status.get("angle")
    return before is not None and angle is not None and abs(angle - before) >= ANGLE_STEP


# -- commands ---------------------------------------------------------------------------------------
class BadCommand(ValueError):
    """A command that is not one: said in one line, and never obeyed."""


@dataclass(frozen=True, slots=True)
class Command:
    button: str | None = None
    preset: str | None = None


COMMAND_FORM = '{"button": "stop" | "reset" | "start" | "return" | "select"} or {"preset": NAME}'


def parse_command(data: object) -> Command:
    """A decoded JSON command as a Command; BadCommand (one line) for anything else."""
    if not isinstance(data, dict) or len(data) != 1:
        raise BadCommand(f"a command is one JSON object, {COMMAND_FORM}")
    (key, value), = data.items()
    if key == "button":
        if not isinstance(value, str) or value not in COMMAND_BUTTONS:
            raise BadCommand(f"unknown button {value!r}: one of {', '.join(COMMAND_BUTTONS)}")
        return Command(button=value)
    if key == "preset":
        if not isinstance(value, str) or not value:
            raise BadCommand(f"a preset is named by a text, such as {{\"preset\": \"hold-40\"}} (got {value!r})")
        return Command(preset=value)
    raise BadCommand(f"unknown key {key!r}: a command is {COMMAND_FORM}")


def command_verdict(command: Command, *, allow_motion: bool, table, t: float) -> remote.Verdict | int | None:
    """What the remote's rules say of ``command`` on ``table`` (the snapshot) at ``t``: a refusal
    (Verdict), the number of select presses for a preset (0: selected already), or None (post the
    button; the table decides). ``stop`` is never refused."""
    if command.preset is not None:
        return remote.preset_steps([p.name for p in table.presets], table.selected, command.preset)
    if command.button == "stop":
        return None
    return remote.press_verdict(command.button, allow_motion=allow_motion, table=table, t=t, origin=MQTT)


def result(command: object, accepted: bool, reason: str | None) -> dict:
    """The answer to a command, on the result topic."""
    return {"command": command, "accepted": accepted, "reason": reason}
