"""The systemd unit and its installer.

The unit is parsed with configparser and checked with ``systemd-analyze verify`` and
``systemd-analyze security --offline=yes``; ``systemd/install.sh`` is checked with ``bash -n``,
shellcheck (when installed) and ``--dry-run`` on temporary paths. Nothing here changes the system.
"""

from __future__ import annotations

import configparser
import os
import pwd
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "systemd" / "inversion-table.service"
INSTALL = ROOT / "systemd" / "install.sh"
EXEC_PATH = "/opt/inversion-table/venv/bin/inversion-table"

ANALYZE = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")


def _analyze_version() -> int:
    out = subprocess.run([ANALYZE, "--version"], capture_output=True, text=True, timeout=30).stdout
    m = re.match(r"systemd (\d+)", out)
    return int(m.group(1)) if m else 0


# ---------------------------------------------------------------------------------------------
# The unit's settings


class _KeepDuplicates(dict):
    """While reading, configparser stores each option as a list of lines and assigns it anew for
    each occurrence; appending instead keeps every value of a repeated key (DeviceAllow=, ...)."""

    def __setitem__(self, key, value):
        if isinstance(value, list) and key in self and isinstance(self[key], list):
            self[key].extend(value)
        else:
            super().__setitem__(key, value)


def _unit(text: str | None = None) -> dict[str, dict[str, list[str]]]:
    """{section: {key: [values in order]}} with the case of keys kept."""
    parser = configparser.ConfigParser(
        strict=False, interpolation=None, delimiters=("=",), comment_prefixes=("#", ";"),
        empty_lines_in_values=False, dict_type=_KeepDuplicates,
    )
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string(UNIT.read_text() if text is None else text)
    return {
        section: {key: parser.get(section, key).split("\n") for key in parser.options(section)}
        for section in parser.sections()
    }


@pytest.fixture(scope="module")
def unit():
    return _unit()


def _one(unit, section, key) -> str:
    values = unit[section].get(key)
    assert values is not None, f"[{section}] {key}= is missing"
    assert len(values) == 1, f"[{section}] {key}= is set {len(values)} times: {values}"
    return values[0]


def _words(unit, section, key) -> list[str]:
    """Every space-separated word over all the lines of a list-valued setting."""
    return [w for v in unit[section].get(key, []) for w in shlex.split(v)]


def test_the_parser_keeps_every_value_of_a_repeated_key():
    parsed = _unit("[Service]\nDeviceAllow=char-a rw\nDeviceAllow=char-b r\nUser=x\n")
    assert parsed["Service"]["DeviceAllow"] == ["char-a rw", "char-b r"]
    assert parsed["Service"]["User"] == ["x"]


def test_service_type_notify_and_watchdog(unit):
    assert _one(unit, "Service", "Type") == "notify"
    # The READY/WATCHDOG datagrams come from a thread of the main process.
    assert _one(unit, "Service", "NotifyAccess") == "main"
    assert _one(unit, "Service", "WatchdogSec") == "10s"


def test_restart_policy_follows_the_exit_codes(unit):
    assert _one(unit, "Service", "Restart") == "on-failure"
    assert _one(unit, "Service", "RestartSec") == "3s"
    # 2 = config rejected: retrying cannot help. 1 and 3 restart (a restart never moves the table).
    assert _words(unit, "Service", "RestartPreventExitStatus") == ["2"]


def test_exec_start(unit):
    assert shlex.split(_one(unit, "Service", "ExecStart")) == [
        EXEC_PATH, "run", "--config", "/etc/inversion-table/config.toml",
    ]


def test_runs_as_the_dedicated_user_with_gpio_and_i2c(unit):
    assert _one(unit, "Service", "User") == "inversion-table"
    assert _one(unit, "Service", "Group") == "inversion-table"
    assert {"gpio", "i2c"} <= set(_words(unit, "Service", "SupplementaryGroups"))
    assert "DynamicUser" not in unit["Service"]


def test_devices_closed_but_gpio_chips_and_i2c_allowed(unit):
    assert _one(unit, "Service", "DevicePolicy") == "closed"
    allowed = {tuple(v.split()) for v in unit["Service"].get("DeviceAllow", [])}
    assert ("char-gpiochip", "rw") in allowed
    assert ("char-i2c", "rw") in allowed
    # PrivateDevices=yes would hide /dev/gpiochip* and /dev/i2c-*.
    assert unit["Service"].get("PrivateDevices", ["no"]) == ["no"]


def test_environment_pins_the_pin_factory_and_lgpio_work_dir(unit):
    env = {}
    for word in _words(unit, "Service", "Environment"):
        key, _, value = word.partition("=")
        env[key] = value
    assert env["GPIOZERO_PIN_FACTORY"] == "lgpio"
    assert env["LG_WD"] == "/run/inversion-table"
    assert _one(unit, "Service", "RuntimeDirectory") == "inversion-table"
    assert _one(unit, "Service", "StateDirectory") == "inversion-table"
    assert _one(unit, "Service", "ConfigurationDirectory") == "inversion-table"


def test_hardening_that_would_break_the_hardware_is_absent(unit):
    # gpiozero reads the board revision from /proc/device-tree or /proc/cpuinfo.
    assert unit["Service"].get("ProcSubset", ["all"]) == ["all"]
    # A user namespace would leave the gpio and i2c groups unmapped.
    assert unit["Service"].get("PrivateUsers", ["no"]) == ["no"]
    assert _one(unit, "Service", "ProtectSystem") == "strict"
    assert _one(unit, "Service", "CapabilityBoundingSet") == ""


def test_installed_for_multi_user_and_documented(unit):
    assert _one(unit, "Install", "WantedBy") == "multi-user.target"
    docs = _words(unit, "Unit", "Documentation")
    assert "file:/opt/inversion-table/src/README.md" in docs
    assert all(d.startswith("file:/opt/inversion-table/src/") for d in docs)


# ---------------------------------------------------------------------------------------------
# systemd-analyze


def _real_executable() -> str:
    """This test environment's `inversion-table` script, else the Python running the tests."""
    script = Path(sys.executable).parent / "inversion-table"
    if script.is_file() and os.access(script, os.X_OK):
        return str(script)
    return shutil.which("inversion-table") or sys.executable


def _verify(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [ANALYZE, "verify", str(path)], capture_output=True, text=True, timeout=60, cwd=path.parent,
    )


@needs_analyze
def test_systemd_analyze_verify_is_clean(tmp_path):
    """verify loads the unit as systemd would. Its only complaint about the shipped file on a dev
    machine is that ExecStart's binary does not exist yet, so the copy checked here has that one
    path replaced by a real executable and must draw no message at all. (verify does not look up
    User=, Group= or SupplementaryGroups=: the missing inversion-table user draws nothing.)"""
    text = UNIT.read_text()
    assert text.count(EXEC_PATH) == 1
    unit = tmp_path / "inversion-table.service"
    unit.write_text(text.replace(EXEC_PATH, _real_executable()))
    result = _verify(unit)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


@needs_analyze
@pytest.mark.skipif(Path(EXEC_PATH).exists(), reason="the service is installed on this machine")
def test_systemd_analyze_verify_of_the_shipped_file_only_misses_the_binary():
    result = _verify(UNIT)
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert EXEC_PATH in lines[0] and "not executable" in lines[0]


@needs_analyze
def test_systemd_analyze_verify_catches_a_typo(tmp_path):
    """The clean result above means something: a misspelt key is reported."""
    unit = tmp_path / "inversion-table.service"
    text = UNIT.read_text().replace(EXEC_PATH, _real_executable())
    unit.write_text(text.replace("WatchdogSec=", "WatchdogSecs=", 1))
    result = _verify(unit)
    assert "WatchdogSecs" in result.stdout + result.stderr


@needs_analyze
def test_security_exposure_is_at_most_2():
    if _analyze_version() < 250:
        pytest.skip("systemd-analyze security --offline needs systemd 250 or later")
    result = subprocess.run(
        [ANALYZE, "security", "--offline=yes", "--no-pager", str(UNIT)],
        capture_output=True, text=True, timeout=60,
    )
    out = result.stdout + result.stderr
    m = re.search(r"Overall exposure level for inversion-table\.service: (\d+(?:\.\d+)?)", out)
    assert m, out
    assert float(m.group(1)) <= 2.0, out


# ---------------------------------------------------------------------------------------------
# install.sh


def test_install_sh_syntax():
    subprocess.run(["bash", "-n", str(INSTALL)], check=True, timeout=30)
    assert os.access(INSTALL, os.X_OK), "install.sh should be executable"


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed")
def test_install_sh_shellcheck():
    result = subprocess.run(["shellcheck", str(INSTALL)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
def paths(tmp_path):
    """Temporary stand-ins for every path install.sh writes, and a fake raspi-config that reports
    I2C disabled (its `do_i2c` would fail loudly, but a dry run never calls it)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "raspi-config"
    fake.write_text('#!/bin/sh\n[ "$2" = get_i2c ] && { echo 1; exit 0; }\necho "fake raspi-config: $*" >&2\nexit 99\n')
    fake.chmod(0o755)
    boot = tmp_path / "boot-config.txt"
    boot.write_text("[all]\narm_64bit=1\n")
    p = {
        "PREFIX": tmp_path / "opt",
        "ETC_DIR": tmp_path / "etc",
        "STATE_DIR": tmp_path / "state",
        "UNIT_DIR": tmp_path / "units",
        "SYSTEM_CONF_DIR": tmp_path / "system.conf.d",
        "BOOT_CONFIG": boot,
    }
    env = {**os.environ, **{k: str(v) for k, v in p.items()}, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    return p, env


def _dry_run(env, *args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(INSTALL), "--dry-run", *args], capture_output=True, text=True, timeout=60, env=env,
    )


def _dry_run_with(paths, config: str | None) -> subprocess.CompletedProcess:
    """The installer's dry run over an existing config (None: a new install, the example config)."""
    p, env = paths
    if config is not None:
        p["ETC_DIR"].mkdir()
        (p["ETC_DIR"] / "config.toml").write_text(config)
    result = _dry_run(env)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def _commands(out: str) -> list[str]:
    return [line[2:] for line in out.splitlines() if line.startswith("+ ")]


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(f): f.read_bytes() for f in sorted(root.rglob("*")) if f.is_file()}


def test_dry_run_prints_every_step_and_changes_nothing(paths, tmp_path):
    p, env = paths
    before = _snapshot(tmp_path)
    result = _dry_run(env)
    assert result.returncode == 0, result.stdout + result.stderr
    out, cmds = result.stdout, _commands(result.stdout)

    assert "raspi-config nonint do_i2c 0" in cmds
    assert "Reboot (I2C was just enabled)" in out

    try:
        pwd.getpwnam("inversion-table")
        assert "user inversion-table exists" in out
    except KeyError:
        [useradd] = [c for c in cmds if c.startswith("useradd ")]
        words = useradd.split()
        assert words[-1] == "inversion-table" and "--system" in words
        assert "--shell" in words and words[words.index("--shell") + 1] == "/usr/sbin/nologin"
        assert "--no-create-home" in words
        assert set(words[words.index("--groups") + 1].split(",")) == {"gpio", "i2c"}

    venv = p["PREFIX"] / "venv"
    assert f"python3 -m venv --system-site-packages {venv}" in cmds
    assert any(c.startswith(f"{venv}/bin/pip install") and c.endswith(str(p["PREFIX"] / "src")) for c in cmds)
    assert f"install -m 0644 {ROOT}/systemd/config.example.toml {p['ETC_DIR']}/config.toml" in cmds
    assert (f"install -d -m 0755 -o inversion-table -g inversion-table {p['STATE_DIR']}") in cmds
    assert f"install -m 0644 {UNIT} {p['UNIT_DIR']}/inversion-table.service" in cmds
    assert cmds.index("systemctl daemon-reload") < cmds.index("systemctl enable inversion-table")
    # Not started before calibration: only told how.
    assert not any(c.startswith("systemctl start") or c.startswith("systemctl restart") for c in cmds)
    assert f"sudo -u inversion-table {venv}/bin/inversion-table doctor --config {p['ETC_DIR']}/config.toml" in out
    assert f"sudo {venv}/bin/inversion-table calibrate --config {p['ETC_DIR']}/config.toml" in out
    assert "sudo systemctl start inversion-table" in out
    assert "journalctl -u inversion-table -f" in out
    # No watchdog unless asked.
    assert "==> Hardware watchdog" not in out and not any("watchdog" in c for c in cmds)

    assert _snapshot(tmp_path) == before
    assert not any(p[k].exists() for k in ("PREFIX", "ETC_DIR", "STATE_DIR", "UNIT_DIR", "SYSTEM_CONF_DIR"))


def test_an_existing_config_is_never_overwritten(paths):
    p, env = paths
    p["ETC_DIR"].mkdir()
    config = p["ETC_DIR"] / "config.toml"
    config.write_text("[limits]\nmax_angle = 30  # mine\n")
    result = _dry_run(env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not any("config.toml" in c for c in _commands(result.stdout))
    assert f"keeping the existing {config}" in result.stdout
    assert config.read_text() == "[limits]\nmax_angle = 30  # mine\n"


def test_hardware_watchdog_adds_the_dtparam_and_the_manager_drop_in(paths):
    p, env = paths
    result = _dry_run(env, "--hardware-watchdog")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert f"+ append to {p['BOOT_CONFIG']}: dtparam=watchdog=on" in out
    drop_in = p["SYSTEM_CONF_DIR"] / "inversion-table-watchdog.conf"
    assert f"+ write {drop_in}:" in out
    block = out.split(f"+ write {drop_in}:", 1)[1]
    assert "[Manager]" in block and "RuntimeWatchdogSec=15s" in block
    assert p["BOOT_CONFIG"].read_text() == "[all]\narm_64bit=1\n"
    assert not drop_in.exists()


def test_hardware_watchdog_is_idempotent(paths):
    p, env = paths
    p["BOOT_CONFIG"].write_text("[all]\ndtparam=watchdog=on\n")
    p["SYSTEM_CONF_DIR"].mkdir()
    (p["SYSTEM_CONF_DIR"] / "inversion-table-watchdog.conf").write_text(
        "# Installed by inversion-table's install.sh --hardware-watchdog.\n[Manager]\nRuntimeWatchdogSec=15s\n"
    )
    result = _dry_run(env, "--hardware-watchdog")
    assert result.returncode == 0, result.stdout + result.stderr
    cmds = _commands(result.stdout)
    assert not any(c.startswith("append ") or c.startswith("write ") for c in cmds), cmds
    assert "already in" in result.stdout and "is up to date" in result.stdout
    assert "RuntimeWatchdogSec" not in result.stdout.split("Next steps", 1)[1]


def test_an_unknown_option_is_refused_before_anything_runs():
    result = subprocess.run([str(INSTALL), "--bogus"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().count("\n") == 0 and "--bogus" in result.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="as root, install.sh would really install")
def test_refuses_to_run_for_real_without_root(paths):
    _, env = paths
    result = subprocess.run([str(INSTALL)], capture_output=True, text=True, timeout=30, env=env)
    assert result.returncode != 0
    assert result.stdout == ""
    message = result.stderr.strip()
    assert message.count("\n") == 0 and "root" in message


# ---------------------------------------------------------------------------------------------
# The network drop-in: only when the phone remote or MQTT is configured


NETWORK = ROOT / "systemd" / "network.conf"


def _with_drop_in(tmp_path: Path) -> Path:
    """The unit as systemd would see it with the drop-in: its [Service] lines after the unit's."""
    service = "".join(line for line in NETWORK.read_text(encoding="utf-8").splitlines(keepends=True)
                      if line.strip() and not line.startswith(("#", "[")))
    text = UNIT.read_text(encoding="utf-8").replace("\n[Install]", f"\n{service}\n[Install]")
    path = tmp_path / "inversion-table.service"
    path.write_text(text, encoding="utf-8")
    return path


@needs_analyze
def test_security_exposure_stays_at_most_2_with_the_network_drop_in(tmp_path):
    if _analyze_version() < 250:
        pytest.skip("systemd-analyze security --offline needs systemd 250 or later")
    merged = _with_drop_in(tmp_path)
    unit = _unit(merged.read_text(encoding="utf-8"))
    assert _words(unit, "Service", "RestrictAddressFamilies")[-3:] == ["AF_UNIX", "AF_INET", "AF_INET6"]
    result = subprocess.run([ANALYZE, "security", "--offline=yes", "--no-pager", str(merged)],
                            capture_output=True, text=True, timeout=60)
    out = result.stdout + result.stderr
    m = re.search(r"Overall exposure level for inversion-table\.service: (\d+(?:\.\d+)?)", out)
    assert m, out
    assert float(m.group(1)) <= 2.0, out


def test_the_unit_alone_has_no_network(unit):
    assert _one(unit, "Service", "PrivateNetwork") == "yes"
    assert _words(unit, "Service", "RestrictAddressFamilies") == ["AF_UNIX"]


@pytest.mark.parametrize("config, networked", [
    (None, False),  # a new install: the example config, no remote
    ('[remote]\nlisten = "0.0.0.0:8270"\n', True),
    ('[remote]\nallow_motion = false\n', False),
    ('[mqtt]\nhost = "localhost"\n', True),
])
def test_the_installer_allows_the_network_only_for_the_remote_or_mqtt(paths, config, networked):
    result = _dry_run_with(paths, config)
    drop_in = paths[0]["UNIT_DIR"] / "inversion-table.service.d" / "network.conf"
    cmds = _commands(result.stdout)
    assert (f"install -m 0644 {NETWORK} {drop_in}" in cmds) is networked, result.stdout
    assert ("the service may use the local network" in result.stdout) is networked


def test_the_installer_removes_the_drop_in_when_neither_is_on_any_more(paths):
    p, env = paths
    drop_in = p["UNIT_DIR"] / "inversion-table.service.d" / "network.conf"
    drop_in.parent.mkdir(parents=True)
    drop_in.write_text("[Service]\nPrivateNetwork=no\n")
    result = _dry_run(env)
    assert f"rm -f {drop_in}" in _commands(result.stdout)
