"""The alerts' network drop-in (systemd/alerts.conf): installed only while [alerts] urls is set,
and the sandbox's exposure stays low with it."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.test_systemd import ANALYZE, ROOT, UNIT, _analyze_version, _commands, _dry_run, _dry_run_with, needs_analyze
from tests.test_systemd import paths  # noqa: F401 - a fixture

ALERTS = ROOT / "systemd" / "alerts.conf"


@pytest.mark.parametrize("config, alerting", [
    (None, False),  # a new install: the example config, urls = []
    ('[alerts]\nurls = ["ntfy://my-topic"]\n', True),
    ('[alerts]\nurls = []\nstuck_after = "2m"\n', False),
])
def test_the_installer_lets_the_service_connect_out_only_to_send_alerts(paths, config, alerting):  # noqa: F811
    result = _dry_run_with(paths, config)
    drop_in = paths[0]["UNIT_DIR"] / "inversion-table.service.d" / "alerts.conf"
    assert (f"install -m 0644 {ALERTS} {drop_in}" in _commands(result.stdout)) is alerting, result.stdout


def test_the_installer_removes_the_alerts_drop_in_without_urls(paths):  # noqa: F811
    p, env = paths
    drop_in = p["UNIT_DIR"] / "inversion-table.service.d" / "alerts.conf"
    drop_in.parent.mkdir(parents=True)
    drop_in.write_text("[Service]\nPrivateNetwork=no\n")
    assert f"rm -f {drop_in}" in _commands(_dry_run(env).stdout)


@needs_analyze
def test_security_exposure_stays_low_with_the_alerts_drop_in(tmp_path):
    if _analyze_version() < 250:
        pytest.skip("systemd-analyze security --offline needs systemd 250 or later")
    service = "".join(line for line in ALERTS.read_text(encoding="utf-8").splitlines(keepends=True)
                      if line.strip() and not line.startswith(("#", "[")))
    merged = tmp_path / "inversion-table.service"
    merged.write_text(UNIT.read_text(encoding="utf-8").replace("\n[Install]", f"\n{service}\n[Install]"),
                      encoding="utf-8")
    result = subprocess.run([ANALYZE, "security", "--offline=yes", "--no-pager", str(merged)],
                            capture_output=True, text=True, timeout=60)
    out = result.stdout + result.stderr
    m = re.search(r"Overall exposure level for inversion-table\.service: (\d+(?:\.\d+)?)", out)
    assert m, out
    assert float(m.group(1)) <= 2.0, out  # as with the network drop-in (1.4 with systemd 252)
