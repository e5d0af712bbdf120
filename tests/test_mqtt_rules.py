"""MQTT's pure decisions (controller/core/mqtt.py) and the [mqtt] section: topics, Home Assistant's
discovery as Home Assistant reads it (its templates rendered with Jinja2, as it renders them), when
the state is published, what a command says and whether the remote's rules allow it."""

from __future__ import annotations

import json
from dataclasses import replace
import re

import jinja2
import pytest

from controller.core import mqtt as rules
from controller.core import remote
from controller.core.state import Activity, Machine
from controller.core.command import HEAD_DOWN_ABOVE
from controller.errors import ConfigError
from controller.setup.config import Config, load_config
from controller.setup.config_mqtt import connection
from controller.shell import simulate as sim
from controller.shell.service import load_presets
from tests.test_remote_rules import table as snapshot  # the remote's snapshot of a table in a given state

TOPICS = rules.Topics("table-1", "homeassistant")
PRESETS = ["gentle", "hold-40", "oscillate"]
# Home Assistant's MQTT discovery, per component: the keys it requires, and every key it knows
# (home-assistant.io/integrations/{sensor,binary_sensor,button,select}.mqtt). A key it does not
# know is an error there, and a missing required one drops the entity.
COMMON = {"name", "unique_id", "has_entity_name", "availability_topic", "payload_available", "payload_not_available",
          "device", "origin", "icon", "entity_category", "qos", "enabled_by_default", "json_attributes_topic",
          "json_attributes_template", "value_template", "state_topic"}
REQUIRED = {"sensor": {"state_topic"}, "binary_sensor": {"state_topic"}, "button": {"command_topic"},
            "select": {"command_topic", "options"}}
KNOWN = {"sensor": COMMON | {"unit_of_measurement", "state_class", "device_class", "suggested_display_precision",
                             "options", "expire_after", "force_update"},
         "binary_sensor": COMMON | {"device_class", "payload_on", "payload_off", "expire_after", "force_update"},
         "button": COMMON | {"command_topic", "command_template", "payload_press", "device_class", "retain"},
         "select": COMMON | {"command_topic", "command_template", "options", "optimistic", "retain"}}
DURATION_UNITS = {"d", "h", "min", "s", "ms"}
ID = re.compile(r"[A-Za-z0-9_-]+")


def _env() -> jinja2.Environment:
    return jinja2.Environment(undefined=jinja2.StrictUndefined)  # a typo in a key fails, as it logs in HA


def render(template: str, **variables) -> str:
    return _env().from_string(template).render(**variables)


def _discovery(allow_motion: bool = False, presets=PRESETS) -> dict[str, dict | None]:
    return dict(rules.discovery(TOPICS, presets=presets, allow_motion=allow_motion, sw_version="0.1.0"))


def _component(topic: str) -> tuple[str, str, str]:
    prefix, component, node, object_id, config = topic.split("/")
    assert (prefix, config) == ("homeassistant", "config"), topic
    return component, node, object_id


@pytest.fixture(scope="module")
def statuses() -> dict[str, dict]:
    """Status objects from a real simulated table: idle at home, running head-down, stopped, tripped."""
    config = Config()
    presets = load_presets(config, "test")
    out = {}

    def run(presses=(), faults=(), until=1.0) -> dict:
        s = sim.Simulation(config, presets=presets, presses=[sim.parse_press(p) for p in presses],
                           faults=[sim.parse_fault(f) for f in faults], seed=3)
        try:
            s.step_until(until)
            return remote.status(s.table.state, t=s.now(), allow_motion=False)
        finally:
            s.close()
    out["idle"] = run()
    out["running"] = run(["select@0.6", "start@0.8"], until=20.0)
    out["stopped"] = run(["select@0.6", "start@0.8", "stop@19"], until=20.0)
    out["tripped"] = run(["select@0.6", "start@0.8"], ["imu-disconnect@15"], until=20.0)
    return out


# -- topics and discovery ---------------------------------------------------------------------------
def test_every_topic_is_under_the_tables_own_root():
    for topic in (TOPICS.availability, TOPICS.state, TOPICS.event, TOPICS.command, TOPICS.result):
        assert topic.startswith("inversion-table/table-1/")
    assert TOPICS.ha_status == "homeassistant/status"
    assert rules.Topics("t", "ha/x").discovery("sensor", "angle") == "ha/x/sensor/t/angle/config"


def test_discovery_has_what_home_assistant_requires_of_every_entity():
    messages = _discovery(allow_motion=True)
    ids = []
    for topic, payload in messages.items():
        component, node, object_id = _component(topic)
        assert node == "table-1" and ID.fullmatch(object_id), topic
        assert payload is not None, topic
        assert REQUIRED[component] <= payload.keys(), (topic, REQUIRED[component] - payload.keys())
        assert payload.keys() <= KNOWN[component], (topic, payload.keys() - KNOWN[component])
        ids.append(payload["unique_id"])
        assert payload["availability_topic"] == TOPICS.availability
        assert (payload["payload_available"], payload["payload_not_available"]) == ("online", "offline")
        device = payload["device"]
        assert device["identifiers"] == ["inversion-table-table-1"] and device["name"] == "Inversion table table-1"
        assert device["manufacturer"] and device["model"] and device["sw_version"] == "0.1.0"
        assert payload["origin"]["name"] == "inversion-table"
        if "state_topic" in payload:
            assert payload["state_topic"] == TOPICS.state
        if "command_topic" in payload:
            assert payload["command_topic"] == TOPICS.command
        if payload.get("device_class") == "duration":
            assert payload["unit_of_measurement"] in DURATION_UNITS
        if payload.get("device_class") == "enum":
            assert "unit_of_measurement" not in payload and "state_class" not in payload and payload["options"]
        if payload.get("state_class") == "measurement":
            assert "unit_of_measurement" in payload
        json.dumps(payload)  # it goes out as JSON
    assert len(ids) == len(set(ids)), "unique ids must be unique"
    other = rules.discovery(rules.Topics("table-2"), presets=PRESETS, allow_motion=True, sw_version="0.1.0")
    assert not set(ids) & {p["unique_id"] for _, p in other}, "two tables on one broker share no unique id"


def test_discovery_offers_at_least_the_contracts_entities():
    messages = _discovery()
    angle = messages["homeassistant/sensor/table-1/angle/config"]
    assert angle["unit_of_measurement"] == "°" and angle["state_class"] == "measurement"
    assert messages["homeassistant/sensor/table-1/state/config"]["options"] == list(rules.STATES)
    head_down = messages["homeassistant/sensor/table-1/head_down/config"]
    assert head_down["device_class"] == "duration" and head_down["unit_of_measurement"] == "s"
    stop = messages["homeassistant/button/table-1/stop/config"]
    assert rules.parse_command(json.loads(stop["payload_press"])) == rules.Command(button="stop")
    select = messages["homeassistant/select/table-1/preset/config"]
    assert select["options"] == PRESETS
    for name in PRESETS:  # what Home Assistant sends when one is picked
        sent = render(select["command_template"], value=name)
        assert rules.parse_command(json.loads(sent)) == rules.Command(preset=name)
    for name in ("reset", "return"):
        button = messages[f"homeassistant/button/table-1/{name}/config"]
        assert rules.parse_command(json.loads(button["payload_press"])) == rules.Command(button=name)
    assert {"homeassistant/sensor/table-1/trip/config", "homeassistant/binary_sensor/table-1/head_down/config",
            "homeassistant/binary_sensor/table-1/latched/config"} <= messages.keys()


def test_start_is_offered_only_with_allow_motion_and_removed_otherwise():
    start = "homeassistant/button/table-1/start/config"
    assert _discovery(allow_motion=False)[start] is None  # published empty: Home Assistant removes it
    payload = _discovery(allow_motion=True)[start]
    assert rules.parse_command(json.loads(payload["payload_press"])) == rules.Command(button="start")
    assert _discovery(presets=[])["homeassistant/select/table-1/preset/config"] is None


def test_every_template_renders_the_real_status_as_home_assistant_expects(statuses):
    """Each value template, rendered on the status object of a real simulated table in each state,
    gives what its entity takes: a number (or None, "unknown") for a numeric sensor, one of the
    options for the enum and the select, ON or OFF for a binary sensor, a JSON object for attributes."""
    messages = _discovery()
    for name, status in statuses.items():
        value_json = json.loads(json.dumps(status))  # as it arrives
        for topic, payload in messages.items():
            if payload is None or "value_template" not in payload:
                continue
            component, _, object_id = _component(topic)
            got = render(payload["value_template"], value_json=value_json)
            if "unit_of_measurement" in payload:
                assert got == "None" or float(got) == float(got), (name, topic, got)
            elif "options" in payload:
                assert got in payload["options"], (name, topic, got)
            elif component == "binary_sensor":
                assert got in ("ON", "OFF"), (name, topic, got)
            else:
                assert got and got != "None", (name, topic, got)
            if "json_attributes_template" in payload:
                assert isinstance(json.loads(render(payload["json_attributes_template"], value_json=value_json)), dict)
    assert statuses["running"]["angle"] > HEAD_DOWN_ABOVE  # the fixture's session really is head-down
    value = lambda obj, state: render(messages[f"homeassistant/{obj}/config"]["value_template"],  # noqa: E731
                                      value_json=json.loads(json.dumps(statuses[state])))
    assert value("binary_sensor/table-1/head_down", "running") == "ON"
    assert value("binary_sensor/table-1/head_down", "idle") == "OFF"
    assert value("binary_sensor/table-1/latched", "stopped") == "ON"
    assert value("binary_sensor/table-1/latched", "tripped") == "ON"
    assert value("binary_sensor/table-1/latched", "running") == "OFF"
    assert value("sensor/table-1/trip", "tripped") == "imu-lost" and value("sensor/table-1/trip", "idle") == "none"
    assert value("sensor/table-1/state", "stopped") == "stopped"
    assert value("select/table-1/preset", "running") == "hold-40"
    assert float(value("sensor/table-1/head_down", "running")) > 0
    assert value("sensor/table-1/angle", "running") == str(round(statuses["running"]["angle"], 1))
    assert render(messages["homeassistant/sensor/table-1/angle/config"]["value_template"],
                  value_json={"angle": None}) == "None"  # no angle yet: "unknown", never an error


# -- when the state is published --------------------------------------------------------------------
def _status(**changes) -> dict:
    base = {"t": 10.0, "state": "idle", "angle": -60.0, "target": -60.0, "goal": None, "head_down": 0.0,
            "auto_return_in": None, "trip": None, "preset": "gentle", "held": [], "stop_latched": False,
            "start_in": None}
    return base | changes


def test_the_first_state_and_every_change_of_state_go_out_at_once():
    last = _status()
    assert rules.state_due(None, None, last, 0.0)
    assert not rules.state_due(last, 10.0, _status(t=10.05), 10.05)
    for change in ({"state": "running"}, {"trip": "imu-lost"}, {"held": ["down"]}, {"preset": "hold-40"},
                   {"stop_latched": True}, {"goal": 20.0}, {"auto_return_in": 30.0}, {"start_in": 2.0}):
        assert rules.state_due(last, 10.0, _status(t=10.01, **change), 10.01), change


def test_while_live_the_state_goes_out_once_a_second():
    for live in ({"state": "running"}, {"state": "returning"}, {"state": "jogging"}, {"auto_return_in": 30.0},
                 {"state": "stopped", "stop_latched": True, "angle": 30.0}):  # head-down: its clock runs
        last = _status(**live)
        assert rules.live(last), live
        assert not rules.state_due(last, 10.0, _status(t=10.5, **live, head_down=3.0, target=-50.0), 10.5), live
        assert rules.state_due(last, 10.0, _status(t=11.0, **live, head_down=3.5), 11.0), live


def test_a_table_at_rest_below_head_down_publishes_no_noise_but_a_real_move():
    last = _status(angle=0.5)
    assert not rules.live(last)
    assert not rules.state_due(last, 10.0, _status(t=20.0, angle=0.8), 20.0)
    assert rules.state_due(last, 10.0, _status(t=20.0, angle=0.0), 20.0)
    assert not rules.state_due(_status(angle=None), 10.0, _status(t=20.0, angle=None), 20.0)


# -- commands ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("button", rules.COMMAND_BUTTONS)
def test_every_button_command_parses(button):
    assert rules.parse_command({"button": button}) == rules.Command(button=button)


@pytest.mark.parametrize("data, says", [
    ([], "one JSON object"), ("stop", "one JSON object"), ({}, "one JSON object"),
    ({"button": "stop", "preset": "x"}, "one JSON object"), ({"button": "up"}, "unknown button 'up'"),
    ({"button": 1}, "unknown button 1"), ({"preset": ""}, "a preset is named by a text"),
    ({"preset": 3}, "a preset is named by a text"), ({"name": "hold-40"}, "unknown key 'name'"),
])
def test_anything_else_is_not_a_command(data, says):
    with pytest.raises(rules.BadCommand, match=re.escape(says)):
        rules.parse_command(data)


def _verdict(command, *, allow_motion=False, stop_latched=False, trip=None, activity="idle", presets=PRESETS,
             selected=0):
    """The verdict on a snapshot of the table in that state, as the client asks it."""
    machine = Machine(stop_latched=stop_latched, trip=trip, activity=Activity(activity),
                      motion_requested=activity != "idle")
    return rules.command_verdict(command, allow_motion=allow_motion, t=1.0,
                                 table=replace(snapshot(machine, presets=presets), selected=selected))


def test_stop_is_never_refused():
    for state in ({}, {"stop_latched": True}, {"trip": "imu-lost"}, {"activity": "running"}):
        assert _verdict(rules.Command(button="stop"), **state) is None


def test_start_needs_mqtts_own_allow_motion_and_the_remotes_rules_still_apply():
    v = _verdict(rules.Command(button="start"))
    assert v.status == 403 and "start from MQTT needs [mqtt] allow_motion = true" in v.reason
    assert _verdict(rules.Command(button="start"), allow_motion=True) is None
    assert _verdict(rules.Command(button="start"), allow_motion=True, stop_latched=True).status == 409
    assert _verdict(rules.Command(button="start"), allow_motion=True, activity="running").status == 409
    for button in ("reset", "return", "select"):  # the way home is never locked
        assert _verdict(rules.Command(button=button)) is None
    tripped = _verdict(rules.Command(button="return"), trip="imu-lost")
    assert tripped.status == 409 and "hold return on the table" in tripped.reason


def test_a_preset_is_so_many_presses_of_select_or_refused_by_name():
    assert _verdict(rules.Command(preset="gentle")) == 0
    assert _verdict(rules.Command(preset="oscillate")) == 2
    assert _verdict(rules.Command(preset="gentle"), selected=1) == 2
    nope = _verdict(rules.Command(preset="nope"))
    assert nope.status == 404 and "no preset 'nope' on the table (presets: gentle, hold-40, oscillate)" == nope.reason
    assert remote.preset_steps([], 0, "x").reason.endswith("(presets: none)")


def test_the_remotes_own_refusals_read_as_before():
    v = remote.press_verdict("start", allow_motion=False, table=snapshot(), t=1.0)
    assert v.reason.startswith("start from the remote needs [remote] allow_motion = true")
    v = remote.press_verdict("return", allow_motion=True, table=snapshot(Machine(trip="stall")), t=1.0)
    assert v.reason.endswith("hold the page's return button")


# -- [mqtt] -----------------------------------------------------------------------------------------
def _config(tmp_path, text: str):
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path), str(path)


def test_no_section_no_mqtt(tmp_path):
    assert Config().mqtt is None and connection(Config(), "the default config") is None
    config, source = _config(tmp_path, '[mqtt]\nhost = "broker.local"\n')
    c = connection(config, source)
    assert (c.host, c.port, c.name, c.discovery_prefix, c.allow_motion, c.tls) == (
        "broker.local", 1883, "table-1", "homeassistant", False, False)


@pytest.mark.parametrize("text, says", [
    ('name = "table 1"', "[mqtt] name: 'table 1': letters, digits, - and _ only"),
    ("port = 70000", "[mqtt] port: must be ≤ 65535"),
    ('host = "a b"', "[mqtt] host: 'a b' is not an address or a host name"),
    ('discovery_prefix = "ha/#"', "[mqtt] discovery_prefix: 'ha/#': topic levels"),
    ("tls = 1", "[mqtt] tls: must be true, false or a CA certificate file's path"),
    ('password_file = "pw"', "[mqtt]: password_file needs username"),
    ('allow_motion = "yes"', "[mqtt] allow_motion: must be a valid boolean"),
    ("password = 'x'", "[mqtt]: unknown key 'password'"),
])
def test_a_bad_mqtt_option_is_named(tmp_path, text, says):
    with pytest.raises(ConfigError) as e:
        _config(tmp_path, f"[mqtt]\n{text}\n")
    assert says in str(e.value) and str(e.value).startswith(str(tmp_path / "config.toml"))


def test_the_password_is_read_from_its_file_next_to_the_config_and_never_shown(tmp_path):
    (tmp_path / "pw").write_text("s3cret-pw\n", encoding="utf-8")
    config, source = _config(tmp_path, '[mqtt]\nusername = "table"\npassword_file = "pw"\n')
    c = connection(config, source)
    assert c.password == "s3cret-pw" and c.username == "table"
    assert "s3cret-pw" not in repr(c) and "s3cret-pw" not in repr(config)


@pytest.mark.parametrize("content, says", [
    (None, "cannot read it (No such file or directory)"), ("", "is empty"), ("\n", "is empty"),
    ("s3cret\nmore\n", "must hold the password alone"), ("s3cret" * 200, "over 1024 bytes"),
])
def test_a_bad_password_file_is_refused_naming_the_option(tmp_path, content, says):
    if content is not None:
        (tmp_path / "pw").write_text(content, encoding="utf-8")
    config, source = _config(tmp_path, '[mqtt]\nusername = "table"\npassword_file = "pw"\n')
    with pytest.raises(ConfigError) as e:
        connection(config, source)
    assert str(e.value).startswith(f"{source}: [mqtt] password_file {tmp_path / 'pw'}: {says}")
    assert "s3cret" not in str(e.value)


def test_tls_is_the_systems_authorities_or_a_ca_file(tmp_path):
    config, source = _config(tmp_path, "[mqtt]\ntls = true\n")
    assert (connection(config, source).tls, connection(config, source).ca_file) == (True, None)
    config, source = _config(tmp_path, '[mqtt]\ntls = "ca.pem"\n')
    with pytest.raises(ConfigError, match=r"\[mqtt\] tls ca.pem: no readable CA certificate file there"):
        connection(config, source)
    (tmp_path / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
    assert connection(config, source).ca_file == str(tmp_path / "ca.pem")


def test_run_refuses_a_missing_password_file_before_anything_moves(tmp_path):
    """Exit 2 and one line naming the option, before the hardware is built: no traceback, no password."""
    import subprocess
    import sys

    config = tmp_path / "config.toml"
    config.write_text('[mqtt]\nusername = "table"\npassword_file = "missing-pw"\n', encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "controller", "run", "--sim", "--config", str(config)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"inversion-table: error: {config}: [mqtt] password_file {tmp_path / 'missing-pw'}: cannot read it "
        "(No such file or directory)"]
    assert "ready" not in done.stdout
