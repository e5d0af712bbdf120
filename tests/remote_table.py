"""A real `inversion-table run --sim --remote 127.0.0.1:0` for the remote's tests: the real server
on its own thread, the real loop, the real clock. Everything waits for conditions with deadlines."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from contextlib import contextmanager

import httpx

from tests.waiting import end, wait_for

PROG = [sys.executable, "-m", "controller"]
STATUS_POLL = 0.02  # s
SERVING = re.compile(r"remote: serving the page on (http://\S+)/")


class RemoteTable:
    """The service in a subprocess; ``url``, ``token``, and helpers to call the API."""

    def __init__(self, proc: subprocess.Popen, lines: list[str], url: str, token: str, period: float) -> None:
        self.proc, self.lines, self.url, self.token, self.period = proc, lines, url, token, period
        self.http = httpx.Client(base_url=url, timeout=20.0)
        self._last_status = 0.0

    @property
    def auth(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}

    def get(self, path: str, token: bool = True, **kw):
        headers = dict(self.auth if token else {}, **kw.pop("headers", {}))
        return self.http.get(path, headers=headers, **kw)

    def post(self, path: str, body=None, token: bool = True, **kw):
        headers = dict(self.auth if token else {}, **kw.pop("headers", {}))
        if isinstance(body, (dict, list)):
            return self.http.post(path, headers=headers, content=json.dumps(body), **kw)
        return self.http.post(path, headers=headers, content=body, **kw)

    def status(self) -> dict:
        # A poll at most every 20 ms: the tests wait on this, and a server answering 200 a second
        # would only load the machine the real-time loop shares.
        wait = self._last_status + STATUS_POLL - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self._last_status = time.monotonic()
        r = self.get("/api/status")
        assert r.status_code == 200, r.text
        return r.json()

    def press(self, button: str):
        return self.post("/api/press", {"button": button})

    def wait_state(self, state: str, timeout: float = 20.0) -> dict:
        found = {}

        def reached():
            found.update(self.status())
            return found["state"] == state
        try:
            wait_for(reached, timeout, f"the table to be {state}")
        except AssertionError as e:
            raise AssertionError(f"{e}: {found}\n" + "\n".join(self.lines[-30:])) from None
        return found

    def ws_url(self, token: str | None = None) -> str:
        base = self.url.replace("http://", "ws://") + "/api/ws"
        return base + (f"?token={token}" if token is not None else "")

    def log_has(self, text: str) -> bool:
        return any(text in line for line in list(self.lines))


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("GPIOZERO_PIN_FACTORY", "NOTIFY_SOCKET")}
    return env


@contextmanager
def remote_table(tmp_path, remote: str = "", *, rate: int = 20, args=()):
    """A simulated table serving the remote, with one token made by `remote token` (its last line)."""
    config = tmp_path / "config.toml"
    config.write_text(f'[calibration]\nfile = "{tmp_path / "none.json"}"\n[history]\nfile = "{tmp_path / "history.sqlite"}"\n'
                      f"[control]\nrate = {rate}\n[remote]\n{remote}\n", encoding="utf-8")
    made = subprocess.run(PROG + ["remote", "token", "--config", str(config), "--name", "test"], env=_env(),
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    token = made.stdout.splitlines()[-1]
    proc = subprocess.Popen(PROG + ["run", "--sim", "--config", str(config), "--remote", "127.0.0.1:0", *args],
                            env=_env(), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []

    def read() -> None:
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    table = None
    try:
        wait_for(lambda: any(SERVING.search(line) for line in lines) or proc.poll() is not None, 60,
                 "the remote to serve")
        match = next((SERVING.search(line) for line in lines if SERVING.search(line)), None)
        assert match, "\n".join(lines)
        table = RemoteTable(proc, lines, match.group(1), token, 1.0 / rate)
        # Ready as systemd hears it: the sensor's first angle is in. Before that the table is idle
        # but knows nothing (a return pressed then returns until it does; a busy machine made
        # that long enough to refuse the next press).
        wait_for(lambda: table.log_has("ready: ") or proc.poll() is not None, 60, "the service to be ready")
        table.wait_state("idle")
        yield table
    except BaseException:
        print("the service's last lines:", *lines[-40:], sep="\n")  # pytest shows them with the failure
        raise
    finally:
        if table is not None:
            table.http.close()
        end(proc)
        reader.join(10)
        # Kept for a post-mortem: pytest keeps the last runs' tmp_path (the trip's cause is in here).
        (tmp_path / "service.log").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert not any("Traceback" in line for line in lines), "\n".join(lines)


class Socket:
    """A WebSocket client on its own thread: every message kept, holds renewed on demand."""

    def __init__(self, url: str) -> None:
        from websockets.sync.client import connect

        self._connection = connect(url, open_timeout=20, close_timeout=5)
        self.ws = self._connection.__enter__()
        self.messages: list[dict] = []
        self.closed = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        try:
            for text in self.ws:
                self.messages.append(json.loads(text))
        except Exception:
            pass
        self.closed.set()

    def send(self, message: dict) -> float:
        """Send; the time on the monotonic clock (the simulated table's clock too) just after."""
        self.ws.send(json.dumps(message))
        return time.monotonic()

    def of(self, kind: str) -> list[dict]:
        return [m for m in list(self.messages) if m.get("type") == kind]

    def events(self, **match) -> list[dict]:
        return [m for m in self.of("event") if all(m.get(k) == v for k, v in match.items())]

    def last_status(self) -> dict | None:
        statuses = self.of("status")
        return statuses[-1] if statuses else None

    def close(self) -> float:
        self.ws.close()
        return time.monotonic()
