"""The phone remote's API and WebSocket against a real `run --sim --remote` (issue 13; the BRIEF's
remote contract): real server, real loop, real clock; waits for conditions, never fixed sleeps."""

from __future__ import annotations

import json
import os
import threading
import time

import pytest

from controller.core.remote import MAX_FAILURES
from tests.remote_table import Socket, remote_table
from tests.waiting import wait_for

STATUS_KEYS = {"t", "state", "angle", "target", "goal", "head_down", "session_timeout", "auto_return_in", "trip",
               "preset", "presets", "user", "held", "allow_motion"}
RENEW_EVERY = 0.1  # s: how often a held button is renewed (the page renews as often)
MOTION = 'allow_motion = true\nstart_warning = "1s"\nhold_lapse = "0.5s"'


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    """One table that may move (allow_motion), shared by the tests that leave it idle and home-ish."""
    with remote_table(tmp_path_factory.mktemp("remote"), MOTION) as t:
        yield t


def _settle(table) -> None:
    """Back to idle with nothing latched (the tests share the table)."""
    if table.status()["stop_latched"] or table.status()["trip"]:
        assert table.press("reset").status_code == 200
    table.wait_state("idle")


@pytest.mark.realtime
def test_the_status_has_every_key_of_the_contract(table):
    status = table.status()
    assert STATUS_KEYS <= set(status)
    assert status["state"] == "idle" and status["allow_motion"] is True and status["held"] == []
    assert status["presets"] == ["gentle", "hold-40", "oscillate"] and status["preset"] in status["presets"]


@pytest.mark.realtime
def test_every_request_but_stop_needs_a_valid_token(table):
    for method, path, body in (("GET", "/api/status", None), ("POST", "/api/press", {"button": "reset"}),
                               ("POST", "/api/preset", {"name": "gentle"}), ("GET", "/api/history", None),
                               ("GET", "/api/profiles", None), ("POST", "/api/profiles/check", "name = 'x'")):
        for headers in ({}, {"Authorization": f"Basic {table.token}"}, {"Authorization": "Bearer"}):
            r = table.http.request(method, path, headers=headers,
                                   content=json.dumps(body) if isinstance(body, dict) else body)
            assert r.status_code == 401, (path, headers, r.text)
            assert "token" in r.json()["error"]
            assert "access-control-allow-origin" not in r.headers  # no CORS
    r = table.get("/api/status", token=False, headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401  # a wrong token (one of the few a module's table may see: each counts)
    ws = Socket(table.ws_url("wrong"))
    assert ws.closed.wait(10)
    assert ws.of("error")[0]["status"] == 401 and not ws.of("status")
    _settle(table)


@pytest.mark.realtime
def test_a_stop_without_a_token_latches_the_stop_as_the_button_does(table):
    assert table.post("/api/preset", {"name": "gentle"}).status_code == 200
    r = table.press("start")
    assert r.status_code == 200 and r.json() == {"accepted": True}, r.text
    table.wait_state("running")
    r = table.post("/api/stop", token=False)
    assert r.status_code == 200 and r.json()["latched"] is True
    status = table.status()  # answered once latched: the very next look says so
    assert status["state"] == "stopped" and status["stop_latched"] is True
    assert table.log_has("button stop press")
    r = table.press("start")  # refused while the stop is latched, and said why
    assert r.status_code == 409 and r.json()["accepted"] is False and "stop is latched" in r.json()["error"]
    r = table.press("reset")
    assert r.status_code == 200 and r.json()["accepted"] is True
    assert table.status()["state"] == "idle"  # a reset never moves the table
    r = table.press("reset")
    assert r.status_code == 409 and "nothing to reset" in r.json()["error"]
    assert table.press("return").status_code == 200
    table.wait_state("idle", 120)


@pytest.mark.realtime
def test_a_remote_start_warns_first_and_a_stop_during_the_warning_cancels_it(table):
    _settle(table)
    answers = []
    ws = Socket(table.ws_url(table.token))
    starter = threading.Thread(target=lambda: answers.append(table.press("start")))
    starter.start()
    wait_for(lambda: (table.status()["start_in"] or 0) > 0, 5, "the start's countdown")
    wait_for(lambda: ws.events(event="indicate", buzzer="warning"), 5, "the buzzer's warning")
    assert table.status()["state"] == "idle"  # nothing moves during the warning
    assert table.post("/api/stop", token=False).status_code == 200
    starter.join(20)
    assert answers[0].status_code == 409 and "cancelled" in answers[0].json()["error"]
    assert not ws.events(event="session")
    assert table.status()["state"] == "stopped"
    ws.close()
    _settle(table)


@pytest.mark.realtime
def test_the_table_refuses_what_it_would_refuse_from_its_buttons(table):
    _settle(table)
    assert table.press("select").status_code == 200
    r = table.post("/api/preset", {"name": "no-such"})
    assert r.status_code == 404 and "no preset" in r.json()["error"]
    assert table.post("/api/preset", {"name": "hold-40"}).status_code == 200
    assert table.status()["preset"] == "hold-40"
    r = table.press("stop")
    assert r.status_code == 400 and "/api/stop" in r.json()["error"]


def _hold_and_move(table, ws: Socket) -> float:
    """Hold down, renewing every 0.1 s, until the table has moved a degree; the last renewal's time."""
    start = table.status()["angle"]
    ws.send({"hold": "down"})
    try:
        wait_for(lambda: ws.send({"hold": "down"}) and table.status()["angle"] > start + 1.0, 30, "a jog down")
    except AssertionError as e:
        raise AssertionError(f"{e}: {table.status()}\n{[m for m in ws.messages if m['type'] != 'status'][:30]}\n"
                             + "\n".join(table.lines[-30:])) from None
    return ws.send({"hold": "down"})


@pytest.mark.realtime
def test_a_hold_lapses_when_its_renewals_stop_and_never_resumes(table):
    _settle(table)
    ws = Socket(table.ws_url(table.token))
    wait_for(lambda: ws.last_status(), 10, "a status push")
    assert ws.last_status()["held"] == []
    last = _hold_and_move(table, ws)
    # Held while renewed, as the table's own pushes showed (asking once more now would race the
    # lapse itself on a busy machine: a status answered 0.5 s after the last renewal finds it over).
    wait_for(lambda: any("down" in s["held"] for s in ws.of("status")), 10, "a push showing down held")
    wait_for(lambda: ws.events(event="button", name="down", action="release"), 10, "the lapse")
    released = ws.events(event="button", name="down", action="release")[0]["t"]
    assert released - last <= 0.5 + 2 * table.period, (released - last)
    status = table.wait_state("idle")
    assert "down" not in status["held"]
    # Renewals after the lapse move nothing: the hold ended, and a release is needed first.
    angle = table.status()["angle"]
    for _ in range(5):
        ws.send({"hold": "down"})
    wait_for(lambda: [m for m in ws.of("hold") if m.get("refused")], 5, "the refusal of a renewal after a lapse")
    assert table.status()["state"] == "idle" and abs(table.status()["angle"] - angle) < 0.2
    ws.close()
    again = Socket(table.ws_url(table.token))  # a new link: nothing moves by itself
    wait_for(lambda: len(again.of("status")) >= 5, 10, "five status pushes")
    assert all(s["state"] == "idle" for s in again.of("status"))
    again.close()
    assert table.press("return").status_code == 200
    table.wait_state("idle", 120)


@pytest.mark.realtime
def test_a_closed_socket_ends_its_hold_at_once(table):
    _settle(table)
    ws = Socket(table.ws_url(table.token))
    watcher = Socket(table.ws_url(table.token))
    _hold_and_move(table, ws)
    closed = ws.close()
    wait_for(lambda: watcher.events(event="button", name="down", action="release"), 10, "the release")
    released = watcher.events(event="button", name="down", action="release")[0]["t"]
    assert released - closed <= 0.5 + 2 * table.period, (released - closed)
    table.wait_state("idle")
    watcher.close()
    assert table.press("return").status_code == 200
    table.wait_state("idle", 120)


@pytest.mark.realtime
def test_malformed_requests_get_a_json_4xx_never_a_500_and_never_motion(table):
    _settle(table)
    before = table.status()
    bad = [("POST", "/api/press", b"", {}), ("POST", "/api/press", b"{", {}), ("POST", "/api/press", b"[]", {}),
           ("POST", "/api/press", b'{"button": 1}', {}), ("POST", "/api/press", b'{"button": "start", "x": 1}', {}),
           ("POST", "/api/press", b'{"button": "up"}', {}), ("POST", "/api/press", b"\xff\xfe", {}),
           ("POST", "/api/press", b'{"button": "\\ud800"}', {}), ("POST", "/api/preset", b'{"name": null}', {}),
           ("POST", "/api/preset", b'"gentle"', {}), ("GET", "/api/press", b"", {}), ("PUT", "/api/stop", b"", {}),
           ("GET", "/api/nothing", b"", {}), ("POST", "/api/profiles/check", b"\xff", {}),
           ("POST", "/api/press", b"x" * (64 * 1024 + 1), {}), ("POST", "/api/stop", b"x" * (70 * 1024), {}),
           ("POST", "/api/profiles/check", b"a" * (65 * 1024), {})]
    for method, path, body, headers in bad:
        r = table.http.request(method, path, content=body, headers={**table.auth, **headers})
        assert 400 <= r.status_code < 500, (path, body[:40], r.status_code, r.text)
        assert "error" in r.json()
        if len(body) > 64 * 1024:
            assert r.status_code == 413
    r = table.post("/api/profiles/check", b"steps = 3\n", headers={"Content-Type": "text/plain"})
    assert r.status_code == 200 and r.json()["ok"] is False and r.json()["message"].startswith("the profile")
    after = table.status()
    assert after["state"] == "idle" and abs(after["angle"] - before["angle"]) < 0.2
    assert not table.log_has("Traceback")


@pytest.mark.realtime
def test_a_remote_without_allow_motion_may_stop_reset_return_and_select_only(tmp_path):
    with remote_table(tmp_path) as table:
        for button in ("start",):
            r = table.press(button)
            assert r.status_code == 403 and "allow_motion" in r.json()["error"]
        ws = Socket(table.ws_url(table.token))
        for button in ("up", "down"):
            ws.send({"hold": button})
        wait_for(lambda: len([m for m in ws.of("hold") if m.get("refused")]) >= 2, 10, "two refusals")
        assert table.status()["held"] == [] and table.status()["state"] == "idle"
        assert table.press("return").status_code == 200  # the way home is never locked
        assert table.press("select").status_code == 200
        assert table.post("/api/stop", token=False).status_code == 200
        assert table.press("reset").status_code == 200
        ws.close()


@pytest.mark.realtime
def test_wrong_tokens_from_one_address_are_refused_for_a_while(tmp_path):
    with remote_table(tmp_path) as table:
        for _ in range(MAX_FAILURES):
            assert table.get("/api/status", token=False, headers={"Authorization": "Bearer guess"}).status_code == 401
        r = table.get("/api/status")  # even the right token waits now
        assert r.status_code == 429 and "wait" in r.json()["error"]
        assert table.post("/api/stop", token=False).status_code == 200  # the stop never waits


@pytest.mark.realtime
def test_fuzzed_malformed_requests_never_get_a_500_never_move_and_leave_no_traceback(table):
    """Random bodies, paths, methods and content types (hypothesis), each with the valid token."""
    from hypothesis import HealthCheck, given, settings, strategies as st

    _settle(table)
    before, lines_before = table.status(), len(table.lines)
    paths = st.sampled_from(["/api/press", "/api/preset", "/api/profiles/check", "/api/status", "/api/history",
                             "/api/profiles", "/api/stopp", "/api/press/", "/api", "/api/ws"])
    json_bodies = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(),
                               lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                            max_size=3), max_leaves=6)
    motion = {"start", "up", "down"}
    bodies = st.one_of(st.binary(max_size=300), json_bodies.map(lambda v: json.dumps(v).encode()),
                       st.dictionaries(st.sampled_from(["button", "name", "hold", "x"]),
                                       st.text(max_size=12).filter(lambda t: t not in motion | {"return", "reset", "select"})
                                       | st.integers(), max_size=2).map(lambda v: json.dumps(v).encode()))
    seen = []

    @settings(max_examples=int(os.environ.get("REMOTE_FUZZ_EXAMPLES", "300")), deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(method=st.sampled_from(["POST", "GET", "PUT", "DELETE", "PATCH"]), path=paths, body=bodies,
           kind=st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded", ""]))
    def one(method, path, body, kind):
        r = table.http.request(method, path, content=body if method != "GET" else None,
                               headers={**table.auth, **({"Content-Type": kind} if kind else {})})
        seen.append(r.status_code)
        assert r.status_code != 500 and r.status_code < 500, (method, path, body[:60], r.text)
        if r.status_code >= 400:
            assert "error" in r.json()
    one()
    assert seen.count(500) == 0 and any(400 <= code < 500 for code in seen)
    after = table.status()
    # Never moved: nothing was commanded (the target is where it was) and no button was pressed.
    # Not the estimate: idle after a return it settles a few tenths of a degree (K5, docs/SAFETY.md).
    assert after["state"] in ("idle", "stopped") and after["target"] == before["target"], (before, after)
    assert not [line for line in table.lines[lines_before:] if line.startswith("button ")]
    assert not table.log_has("Traceback") and not table.log_has("internal error")
    _settle(table)


@pytest.mark.realtime
def test_clients_that_never_read_do_not_delay_the_loop(table):
    """Sockets that stop reading (their pushes pile up) and a flood of status requests: the loop
    keeps its periods (no dead-man), and a hold still lapses on time."""
    import socket as sockets

    _settle(table)
    host, port = table.url.removeprefix("http://").split(":")
    stuck = []
    for _ in range(3):
        s = sockets.create_connection((host, int(port)))
        s.setsockopt(sockets.SOL_SOCKET, sockets.SO_RCVBUF, 4096)
        s.sendall(f"GET /api/ws?token={table.token} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
                  "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n".encode())
        stuck.append(s)  # never read again
    ws = Socket(table.ws_url(table.token))
    flood = threading.Event()

    def hammer() -> None:
        while not flood.is_set():
            table.http.get("/api/status", headers=table.auth)
    hammers = [threading.Thread(target=hammer, daemon=True) for _ in range(2)]
    for h in hammers:
        h.start()
    try:
        last = _hold_and_move(table, ws)
        wait_for(lambda: ws.events(event="button", name="down", action="release"), 10, "the lapse")
        released = ws.events(event="button", name="down", action="release")[0]["t"]
        assert released - last <= 0.5 + 2 * table.period, (released - last)
    finally:
        flood.set()
        for h in hammers:
            h.join(10)
        for s in stuck:
            s.close()
        ws.close()
    assert not table.log_has("missed its heartbeat") and not table.log_has("overran"), table.lines[-20:]
    assert table.press("return").status_code == 200
    table.wait_state("idle", 120)


@pytest.mark.realtime
def test_holds_lapse_within_hold_lapse_plus_two_periods_every_time(table):
    """Many lapses in a row (REMOTE_LAPSES, 10 by default; the closing note's 200 with
    REMOTE_LAPSES=200): the release comes within hold_lapse + two periods of the last renewal."""
    _settle(table)
    ws = Socket(table.ws_url(table.token))
    late, starved = [], []
    wanted = int(os.environ.get("REMOTE_LAPSES", "10"))
    try:
        for i in range(3 * wanted):
            if len(late) == wanted:
                break
            if table.status()["angle"] > 20:
                ws.send({"hold": None})
                assert table.press("return").status_code == 200
                table.wait_state("idle", 120)
            ws.send({"hold": None})  # a fresh press each time
            before = len(ws.events(event="button", name="down", action="release"))
            presses = len(ws.events(event="button", name="down", action="press"))
            sent = last = ws.send({"hold": "down"})

            def pressed() -> bool:
                # Renewed meanwhile, as the page does while a finger is down: on a busy machine
                # the press can take longer than hold_lapse to be reported.
                nonlocal last
                if len(ws.events(event="button", name="down", action="press")) > presses:
                    return True
                if time.monotonic() - last >= RENEW_EVERY:
                    last = ws.send({"hold": "down"})
                return False
            try:
                wait_for(pressed, 10, "the press")
            except AssertionError as e:
                raise AssertionError(f"{e} (lapse {i}): {ws.of('hold')[-5:]} {table.status()}") from None
            # Each new press taken at once (the page ends a hold that is refused): a release still
            # on its way to the loop is not a button "already held on the table".
            refused = [m for m in ws.of("hold") if m.get("refused")]
            assert not refused, (i, refused)
            last = ws.send({"hold": "down"})
            wait_for(lambda: len(ws.events(event="button", name="down", action="release")) > before, 10, "the lapse")
            released = ws.events(event="button", name="down", action="release")[before]["t"]
            assert sent <= last
            if released < last:
                # Released before this test's last renewal was even sent: the server had no renewal
                # within hold_lapse (its thread kept off a CPU on a loaded machine, seen with two
                # hogs beside the suite), so the hold lapsed as it must, and the press seen was the
                # next renewal's new one. Nothing to measure against: this lapse is run again.
                starved.append(round(released - last, 3))
                ws.send({"hold": None})  # and that new press let go of, seen, before the next lapse
                wait_for(lambda: len(ws.events(event="button", name="down", action="release"))
                         >= len(ws.events(event="button", name="down", action="press")), 10, "the release")
                continue
            late.append(released - last)
    finally:
        ws.send({"hold": None})
        ws.close()
    assert len(late) == wanted, f"only {len(late)} of {wanted} lapses measured; starved: {starved}"
    late.sort()
    p99 = late[min(len(late) - 1, int(0.99 * len(late)))]
    print(f"\nremote hold lapses: n={len(late)} min={late[0]:.3f} p99={p99:.3f} max={late[-1]:.3f} s "
          f"(bound {0.5 + 2 * table.period:.3f} s; run again, the renewals not reaching the server in time: {starved})")
    assert late[-1] <= 0.5 + 2 * table.period, late
    assert late[0] >= 0.5 - 0.01, late  # never early either: a renewal keeps the hold
    table.press("return")
    table.wait_state("idle", 120)


@pytest.mark.realtime
def test_the_way_home_is_never_locked_a_tripped_table_comes_home_while_return_is_held(tmp_path):
    """Jogged toward head-down on the table's own button, then a frozen sensor trips: a remote without
    allow_motion holds return, and the table moves toward home only while it is held."""
    with remote_table(tmp_path, args=("--press", "down@0.5:2.5", "--fault", "imu-freeze@3.5")) as table:
        tripped = table.wait_state("tripped", 30)
        assert tripped["trip"] == "imu-frozen" and tripped["trip_message"]
        r = table.press("return")
        assert r.status_code == 409 and "hold" in r.json()["error"]
        ws = Socket(table.ws_url(table.token))
        start = table.status()["target"]
        wait_for(lambda: ws.send({"hold": "return"}) and table.status()["target"] < start - 1.0, 30,
                 "the held return moving toward home")
        assert "return" in table.status()["held"]
        ws.send({"hold": None})
        wait_for(lambda: "return" not in table.status()["held"], 5, "the release")
        held_at = table.status()["target"]
        t = table.status()["t"] + 1.0
        wait_for(lambda: table.status()["t"] > t, 10, "a second of the table's time")
        assert abs(table.status()["target"] - held_at) < 0.2 and table.status()["state"] == "tripped"
        ws.close()


def test_with_no_token_yet_the_service_says_the_command_to_make_one_with_its_config(tmp_path):
    """The hint names this table's config: `remote token` without it would put the token next to
    another history file, where this table never looks."""
    import subprocess
    import sys

    config = tmp_path / "my table.toml"
    config.write_text(f'[history]\nfile = "{tmp_path / "history.sqlite"}"\n[control]\nrate = 20\n', encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "controller", "run", "--sim", "--config", str(config), "--remote",
                           "127.0.0.1:0", "--until", "0.5"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done
    quoted = f"'{config}'"  # a path with a space, quoted as a shell needs it
    assert (f"make one with `inversion-table remote token --config {quoted}` (or `remote pair --config {quoted}`)"
            in done.stdout + done.stderr), done.stdout + done.stderr
