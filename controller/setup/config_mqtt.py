"""[mqtt]: Home Assistant and fleets over an MQTT broker (absent section: no MQTT), and the connection it describes."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Annotated

from pydantic import BeforeValidator, Field, ValidationInfo, field_validator, model_validator

from controller.errors import ConfigError
from controller.setup.config_remote import is_host
from controller.setup.validation import StrictModel, problem

DEFAULT_PORT = 1883
# What a topic option may hold, and what its message says otherwise. Home Assistant's discovery
# topics take a node id of these characters only (<prefix>/<component>/<node_id>/<object_id>/config),
# and the name is the node id; the prefix is one or more levels, with no wildcard and none empty.
_TOPIC_TEXT = {
    "name": (re.compile(r"[A-Za-z0-9_-]+"),
             "letters, digits, - and _ only (it is a topic level and Home Assistant's node id)"),
    "discovery_prefix": (re.compile(r"[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*"),
                         "topic levels of letters, digits, - and _, joined by / (no + or #)"),
}
MAX_PASSWORD_BYTES = 1024  # a password file is one line; anything larger is the wrong file


def _tls(value):
    if isinstance(value, bool) or (isinstance(value, str) and value.strip()):
        return value
    raise problem(f"must be true, false or a CA certificate file's path in quotes (got {value!r})")


class MqttConfig(StrictModel):
    """[mqtt]: publish the table to an MQTT broker, with Home Assistant's discovery."""

    host: Annotated[str, Field(min_length=1, max_length=253)] = "localhost"
    port: Annotated[int, Field(ge=1, le=65535)] = DEFAULT_PORT
    name: Annotated[str, Field(min_length=1, max_length=64)] = "table-1"
    discovery_prefix: Annotated[str, Field(min_length=1, max_length=100)] = "homeassistant"
    allow_motion: bool = False
    username: Annotated[str, Field(min_length=1, max_length=256)] | None = None
    password_file: Annotated[str, Field(min_length=1)] | None = None
    # false: plain TCP; true: TLS checked against the system's certificate authorities; a path:
    # TLS checked against that CA certificate (PEM), for a broker with its own CA.
    tls: Annotated[bool | str, BeforeValidator(_tls)] = False

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        if not is_host(value):
            raise problem(f"{value!r} is not an address or a host name")
        return value

    @field_validator("name", "discovery_prefix")
    @classmethod
    def _topic_text(cls, value: str, info: ValidationInfo) -> str:
        pattern, allowed = _TOPIC_TEXT[info.field_name]
        if not pattern.fullmatch(value):
            raise problem(f"{value!r}: {allowed}")
        return value

    @model_validator(mode="after")
    def _password_needs_a_user(self) -> MqttConfig:
        if self.password_file is not None and self.username is None:
            raise problem("password_file needs username: the broker checks the two together")
        return self


@dataclass(frozen=True)
class MqttConnection:
    """What the client needs, with the files read: the password itself is never shown (repr)."""

    host: str
    port: int
    name: str
    discovery_prefix: str
    allow_motion: bool
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False
    ca_file: str | None = None  # with tls: None for the system's certificate authorities

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def _beside(path: str, config_source: str) -> str:
    """A relative path is taken from the config file's folder (systemd runs the service from /)."""
    if os.path.isabs(path) or not os.path.isfile(config_source):
        return os.path.abspath(path)
    return os.path.join(os.path.dirname(os.path.abspath(config_source)), path)


def read_password(path: str, config_source: str) -> str:
    """The password: the file's first line, without its line ending; ConfigError naming the option."""
    where = f"{config_source}: [mqtt] password_file {path}"
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_PASSWORD_BYTES + 1)
    except OSError as e:
        raise ConfigError(f"{where}: cannot read it ({e.strerror or e})") from None
    if len(data) > MAX_PASSWORD_BYTES:
        raise ConfigError(f"{where}: over {MAX_PASSWORD_BYTES} bytes: a password file holds one line, the password")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{where}: not UTF-8 text") from None
    lines = text.splitlines()
    password = lines[0] if lines else ""
    if not password or any(line.strip() for line in lines[1:]):
        raise ConfigError(f"{where}: must hold the password alone, on its first line" if password else f"{where}: is empty")
    return password


def connection(config, config_source: str) -> MqttConnection | None:
    """[mqtt] as the client needs it (None without the section), its files read now, before
    anything moves: a missing password or CA file is a ConfigError naming the option."""
    m: MqttConfig | None = config.mqtt
    if m is None:
        return None
    password = None
    if m.password_file is not None:
        password = read_password(_beside(m.password_file, config_source), config_source)
    ca_file = None
    if isinstance(m.tls, str):
        ca_file = _beside(m.tls, config_source)
        if not os.access(ca_file, os.R_OK) or not os.path.isfile(ca_file):
            raise ConfigError(f"{config_source}: [mqtt] tls {m.tls}: no readable CA certificate file there (give "
                              "the broker's CA certificate as a PEM file, or true for the system's authorities)")
    return MqttConnection(host=m.host, port=m.port, name=m.name, discovery_prefix=m.discovery_prefix,
                          allow_motion=m.allow_motion, username=m.username, password=password,
                          tls=m.tls is not False, ca_file=ca_file)
