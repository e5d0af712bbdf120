"""The phone remote's pure rules (controller/core/remote.py), its [remote] config and its tokens."""

from __future__ import annotations

import json
from dataclasses import replace
import os
import stat
import subprocess
import sys

import pytest
from hypothesis import given, settings, strategies as st

from controller.core import period, remote as rules
from controller.core.session import Preset
from controller.core.state import BUTTONS, Activity, ButtonEvent, Context, Machine, on_button
from controller.core.table_state import UserChoice
from controller.setup.calibration import mount_for
from controller.errors import ConfigError
from controller.records.remote_tokens import TokenError, TokenStore, digest
from controller.setup.config import Config, load_config
from controller.setup.config_remote import listen_option, parse_listen
from controller.shell.table import settings_from

LAPSE = 0.5
SETTINGS = settings_from(Config())


def table(machine: Machine = Machine(), *, presets=("hold-40",), users=()):
    """A snapshot of the table with ``machine``: what the remote server hands press_verdict."""
    s, _ = period.initial(SETTINGS, mount=mount_for(Config(), None), position=-60.0, now=0.0,
                          presets=[Preset(name, None) for name in presets], users=users)
    return replace(s, machine=machine)


def verdict(button, machine=Machine(), *, allow=False, **kw):
    return rules.press_verdict(button, allow_motion=allow, table=table(machine, **kw), t=1.0)


def hold(holds, client, button, now, *, allow=True, held=frozenset()):
    return rules.request_hold(holds, client, button, now=now, allow_motion=allow, table_held=held)


# -- what a remote may press ---------------------------------------------------------------------------
@pytest.mark.parametrize("button", ["start"])
def test_start_needs_allow_motion(button):
    v = verdict(button)
    assert v.status == 403 and "allow_motion" in v.reason


@pytest.mark.parametrize("button", ["reset", "return", "select"])
def test_the_way_home_and_the_harmless_buttons_are_never_locked(button):
    assert verdict(button) is None
    assert verdict(button, Machine(stop_latched=True)) is None


def test_a_start_that_the_table_would_refuse_sounds_no_warning():
    """Asked of the state machine itself: each refusal says the machine's own reason."""
    refusals = {
        Machine(stop_latched=True): "stop is latched",
        Machine(trip="stall"): "tripped (stall)",
        Machine(activity=Activity.RUNNING, motion_requested=True): "ignored while running",
        Machine(activity=Activity.RETURNING, motion_requested=True): "ignored while returning",
    }
    for machine, reason in refusals.items():
        v = verdict("start", machine, allow=True)
        assert v.status == 409 and reason in v.reason, (machine, v)
    v = verdict("start", allow=True, presets=())
    assert v.status == 409 and "there is no preset to start" in v.reason
    v = verdict("start", allow=True, presets=(), users=[_unacknowledged()])
    assert v.status == 409 and "acknowledged" in v.reason
    assert verdict("start", allow=True) is None


def _unacknowledged():
    return UserChoice("ana", (Preset("hold-40", None),), SETTINGS, acknowledged=False)


def test_return_while_tripped_is_hold_to_run_so_a_press_is_sent_to_the_hold():
    v = verdict("return", Machine(trip="imu-lost"))
    assert v.status == 409 and "hold" in v.reason


@pytest.mark.parametrize("button", ["stop", "up", "down", "", "START", "launch"])
def test_stop_and_the_hold_to_run_buttons_are_not_presses(button):
    assert verdict(button, allow=True).status == 400


def test_the_state_machines_refusals_read_as_refusals_and_its_acceptances_do_not():
    """Every notice on_button gives for a press that changes nothing is read as a refusal."""
    refused, accepted = [], []
    for name in BUTTONS:
        for m in (Machine(), Machine(stop_latched=True), Machine(trip="stall"), Machine(activity=Activity.RUNNING)):
            for ctx in (Context(), Context(at_home=True), Context(presets=1), Context(profile_selected=False)):
                out = on_button(m, ButtonEvent(name, True, 0.0), ctx)
                out = on_button(out.machine, ButtonEvent(name, False, 0.0), ctx) if not out.notices else out
                for notice in out.notices:
                    # A refused start still counts as a person asking for motion (motion_requested,
                    # rule 6), which is no acceptance of the press itself; `return` held while
                    # tripped asks and is accepted (the recovery).
                    asked = out.machine.motion_requested != m.motion_requested
                    changed = replace(out.machine, held=frozenset(), select_since=None, motion_requested=False) != replace(
                        m, held=frozenset(), select_since=None, motion_requested=False) or (asked and name != "start")
                    acted = changed or out.session_started or out.returning_started or out.select_next or out.user_next
                    (accepted if acted or notice in rules.SATISFIED else refused).append(notice)
    assert refused and accepted
    for notice in refused:
        assert not rules.outcome([{"event": "notice", "message": notice}])[0], notice
    for notice in accepted:
        assert rules.outcome([{"event": "notice", "message": notice}])[0], notice
    assert rules.outcome([{"event": "notice", "message": "stop cleared"}]) == (True, "stop cleared")
    assert rules.outcome([]) == (True, None)


# -- holds -------------------------------------------------------------------------------------------
def test_a_hold_presses_once_renews_and_lapses_after_hold_lapse():
    r = hold({}, "a", "down", 10.0)
    assert r.posts == (("down", True),) and r.refused is None
    assert rules.levels(r.holds, now=10.4, lapse=LAPSE) == {"down"}
    r2 = hold(r.holds, "a", "down", 10.4)  # a renewal posts nothing
    assert r2.posts == () and rules.levels(r2.holds, now=10.85, lapse=LAPSE) == {"down"}
    assert rules.levels(r2.holds, now=10.9, lapse=LAPSE) == frozenset()  # lapsed, noticed or not


def test_a_lapsed_hold_never_resumes_until_released_and_pressed_again():
    r = hold({}, "a", "down", 0.0)
    e = rules.expire(r.holds, now=0.6, lapse=LAPSE, table_held=frozenset({"down"}))
    assert e.posts == (("down", False),) and e.holds["a"].ended
    again = hold(e.holds, "a", "down", 0.7)  # the link is back, the finger still down: nothing
    assert again.posts == () and again.refused and rules.levels(again.holds, now=0.7, lapse=LAPSE) == frozenset()
    other = hold(e.holds, "a", "up", 0.7)
    assert other.posts == () and other.refused
    released = hold(e.holds, "a", None, 0.8)
    assert released.posts == () and "a" not in released.holds  # the lapse released it already
    fresh = hold(released.holds, "a", "down", 0.9)
    assert fresh.posts == (("down", True),)


def test_a_hold_the_table_let_go_of_ends_there():
    r = hold({}, "a", "down", 0.0)
    holds = rules.seen(r.holds, "down", 0.0)
    e = rules.expire(holds, now=0.1, lapse=LAPSE, table_held=frozenset())  # a stop forgot it
    assert e.holds["a"].ended and e.posts == ()
    unseen = rules.expire(r.holds, now=0.1, lapse=LAPSE, table_held=frozenset())  # not taken yet: wait
    assert unseen.holds["a"].ended is None


def test_one_remote_hold_at_a_time_and_never_on_a_button_held_on_the_table():
    r = hold({}, "a", "down", 0.0)
    assert hold(r.holds, "b", "up", 0.0).refused.startswith("another remote")
    assert hold({}, "b", "up", 0.0, held=frozenset({"up"})).refused.endswith("held on the table")


def test_switching_buttons_releases_the_first():
    r = hold({}, "a", "down", 0.0)
    s = hold(r.holds, "a", "up", 0.1)
    assert s.posts == (("down", False), ("up", True))


def test_up_and_down_need_allow_motion_and_return_does_not():
    assert hold({}, "a", "down", 0.0, allow=False).refused
    assert hold({}, "a", "up", 0.0, allow=False).refused
    assert hold({}, "a", "return", 0.0, allow=False).posts == (("return", True),)
    assert hold({}, "a", "sideways", 0.0).refused


def test_a_remote_stop_ends_every_hold():
    r = hold({}, "a", "return", 0.0)
    ended = rules.end_all(r.holds, "stop pressed")
    assert rules.levels(ended, now=0.0, lapse=LAPSE) == frozenset()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b"]), st.sampled_from(["up", "down", "return", None, "x"]),
                          st.floats(0, 2)), max_size=30))
def test_no_hold_is_held_past_its_lapse_whatever_the_messages(messages):
    holds, now = {}, 0.0
    for client, button, dt in messages:
        now += dt
        r = hold(holds, client, button, now)
        holds = r.holds
        e = rules.expire(holds, now=now, lapse=LAPSE, table_held=rules.levels(holds, now=now, lapse=LAPSE))
        holds = e.holds
        for button in rules.levels(holds, now=now, lapse=LAPSE):
            assert any(h.button == button and h.ended is None and now - h.renewed < LAPSE for h in holds.values())
        assert len(rules.levels(holds, now=now, lapse=LAPSE)) <= 1


# -- a remote start's warning ------------------------------------------------------------------------
def test_a_stop_from_anywhere_or_a_trip_cancels_a_waiting_start():
    assert rules.cancels_warning({"event": "button", "name": "stop", "action": "press"})
    assert rules.cancels_warning({"event": "trip", "reason": "stall"})
    assert rules.cancels_warning({"event": "button", "name": "stop", "action": "release"}) is None
    w = rules.StartWarning(until=3.0)
    assert rules.warning_sounding(w, 2.9) and not rules.warning_due(w, 2.9) and rules.warning_due(w, 3.0)
    cancelled = rules.StartWarning(until=3.0, cancelled="stop")
    assert not rules.warning_due(cancelled, 5.0) and not rules.warning_sounding(cancelled, 1.0)


def test_wrong_tokens_are_counted_per_address_within_a_window():
    f = {}
    for i in range(rules.MAX_FAILURES):
        assert rules.failures_allowed(f, "1.2.3.4", float(i))
        f = rules.add_failure(f, "1.2.3.4", float(i))
    assert not rules.failures_allowed(f, "1.2.3.4", 5.0) and rules.failures_allowed(f, "5.6.7.8", 5.0)
    assert rules.failures_allowed(f, "1.2.3.4", 5.0 + rules.FAILURE_WINDOW)


# -- [remote] -----------------------------------------------------------------------------------------
def test_the_remote_is_off_by_default_with_the_contracts_defaults():
    r = Config().remote
    assert r.listen is None and r.allow_motion is False and r.start_warning == 3.0 and r.hold_lapse == 0.5


@pytest.mark.parametrize("body, words", [
    ('listen = "0.0.0.0"', "[remote] listen: listen '0.0.0.0' must be HOST:PORT"),
    ('listen = "0.0.0.0:0"', "the port must be a number from 1 to 65535"),
    ('listen = "bad host:80"', "is not an address or a host name"),
    ('hold_lapse = "2s"', "[remote] hold_lapse: must be ≤ 1s"),
    ('hold_lapse = "0.1s"', "[remote] hold_lapse: must be ≥ 0.3s"),
    ('start_warning = "0s"', "[remote] start_warning: must be ≥ 1s"),
    ('allow_motion = "yes"', "[remote] allow_motion"),
    ('alow_motion = true', "did you mean 'allow_motion'"),
])
def test_a_bad_remote_section_is_named_with_its_option_and_limit(tmp_path, body, words):
    path = tmp_path / "c.toml"
    path.write_text(f"[remote]\n{body}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert str(e.value).startswith(str(path)) and words in str(e.value), str(e.value)


def test_listen_addresses():
    assert parse_listen("0.0.0.0:8270") == ("0.0.0.0", 8270)
    assert parse_listen("[::1]:8270") == ("::1", 8270)
    assert parse_listen("table.local:80") == ("table.local", 80)
    assert listen_option("127.0.0.1:0") == ("127.0.0.1", 0)
    with pytest.raises(ConfigError, match="--remote"):
        listen_option("8270")


# -- tokens -------------------------------------------------------------------------------------------
def test_a_token_is_random_kept_only_as_a_hash_and_revoked_by_name(tmp_path):
    store = TokenStore(tmp_path / "remote-tokens.json")
    token = store.create("phone")
    assert len(token) >= 32 and store.check(token) == "phone" and store.check(token + "x") is None
    text = (tmp_path / "remote-tokens.json").read_text()
    assert token not in text and digest(token) in text
    assert stat.S_IMODE(os.stat(tmp_path / "remote-tokens.json").st_mode) == 0o600
    assert store.create("tablet") != token
    other = TokenStore(tmp_path / "remote-tokens.json")  # the service's copy sees the revocation
    assert other.check(token) == "phone"
    store.revoke("phone")
    assert other.check(token) is None
    with pytest.raises(TokenError, match="no remote token named 'phone'"):
        store.revoke("phone")
    with pytest.raises(TokenError, match="token name"):
        store.create("a b")


def test_remote_token_prints_the_token_last_and_list_never_shows_it(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text(f'[history]\nfile = "{tmp_path / "h.sqlite"}"\n', encoding="utf-8")
    prog = [sys.executable, "-m", "controller", "remote"]
    made = subprocess.run(prog + ["token", "--config", str(config), "--name", "ana"], capture_output=True, text=True)
    assert made.returncode == 0
    token = made.stdout.splitlines()[-1]
    assert TokenStore(tmp_path / "remote-tokens.json").check(token) == "ana"
    listed = subprocess.run(prog + ["list", "--config", str(config)], capture_output=True, text=True)
    assert listed.stdout.startswith("ana\t") and token not in listed.stdout
    paired = subprocess.run(prog + ["pair", "--config", str(config), "--host", "192.168.1.20"],
                            capture_output=True, text=True)
    assert paired.returncode == 0 and "http://192.168.1.20:8270/#token=" in paired.stdout
    assert "█" in paired.stdout or "▀" in paired.stdout  # the QR code
    assert "replaced" not in paired.stderr  # 'phone' is new
    again = subprocess.run(prog + ["token", "--config", str(config), "--name", "ana"], capture_output=True, text=True)
    assert again.returncode == 0  # the same name again: said, since the earlier token stops working
    assert "note: the earlier token 'ana' is replaced: it stops working at its next request" in again.stderr
    assert TokenStore(tmp_path / "remote-tokens.json").check(token) is None
    gone = subprocess.run(prog + ["revoke", "nobody", "--config", str(config)], capture_output=True, text=True)
    assert gone.returncode == 2 and "no remote token named 'nobody'" in gone.stderr and "Traceback" not in gone.stderr
    assert sorted(t["name"] for t in json.loads((tmp_path / "remote-tokens.json").read_text())["tokens"]) == ["ana", "phone"]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to hand the file over")
def test_a_token_made_as_root_belongs_to_the_state_folders_owner(tmp_path):
    os.chown(tmp_path, 4321, 4321)  # the service user, as install.sh makes the state folder
    TokenStore(tmp_path / "remote-tokens.json").create("phone")
    assert os.stat(tmp_path / "remote-tokens.json").st_uid == 4321


def test_a_release_on_its_way_to_the_loop_is_not_a_button_held_on_the_table():
    assert rules.releases_in_flight({"down": 7}, 7) == {"down"}  # posted during period 8
    assert rules.releases_in_flight({"down": 7}, 8) == {"down"}  # ... or taken by period 9
    assert rules.releases_in_flight({"down": 7}, 9) == frozenset()


def test_a_finger_lifted_and_put_back_within_a_period_presses_again():
    """Found under load: a hold released (or lapsed) and pressed again before the loop had taken
    the release was refused as "already held on the table" (the table still held the remote's own)."""
    from controller.shell.remote_link import RemoteLink
    from controller.shell.table import Table
    from drivers.clock import VirtualClock
    from drivers.sim import hardware

    config = Config.model_validate({"remote": {"allow_motion": True}})
    clock = VirtualClock()
    hw = hardware.build(config, clock=clock)
    with Table(config, hw) as table:
        link = RemoteLink(table, allow_motion=True, start_warning=1.0, hold_lapse=LAPSE)

        def periods(n: int) -> None:
            for _ in range(n):
                clock.advance_to(clock.now() + table.settings.period)
                table.period()
                link.pump()

        periods(5)
        assert link.hold("phone", "down") is None
        periods(2)
        assert table.state.machine.held == {"down"}
        assert link.hold("phone", None) is None
        assert link.hold("phone", "down") is None  # the release is not taken yet: still a new press
        periods(2)
        assert table.state.machine.held == {"down"} and link.hold_of("phone") == ("down", None)
        for _ in range(int(2 * LAPSE / table.settings.period)):  # no renewal: it lapses, and the pump
            if link.hold_of("phone")[1] is not None:             # posts the release
                break
            periods(1)
        assert link.hold_of("phone")[1] is not None
        assert link.hold("phone", None) is None  # at once, before the loop has taken that release
        assert link.hold("phone", "down") is None
        periods(2)
        assert table.state.machine.held == {"down"}


def test_a_remote_start_with_the_session_time_up_is_posted_and_brings_the_table_home():
    """The table's own start begins the timeout return then (state.py): the remote's start must be
    posted too, not refused with a notice that says the table returns when nothing would happen (a
    reviewer's find). Once posted, the table's notice is a taking, not a refusal."""
    from controller.core.estimator import Estimate
    from controller.core.planner import Setpoint

    s = replace(table(Machine()), estimate=Estimate(40.0, 0.0, 0.0, 1.0), setpoint=Setpoint(40.0), head_down=5000.0)
    assert s.button_context().session_time_up
    assert rules.press_verdict("start", allow_motion=True, table=s, t=1.0) is None  # posted (after its warning)
    taken = on_button(s.machine, ButtonEvent("start", True, 1.0), s.button_context())
    assert taken.returning_started and taken.machine.return_reason == "session-timeout"
    accepted, _ = rules.outcome([{"event": "notice", "message": n} for n in taken.notices])
    assert accepted


def test_a_remote_select_with_no_preset_is_refused():
    nothing = on_button(Machine(), ButtonEvent("select", True, 0.0), Context(presets=0))
    released = on_button(nothing.machine, ButtonEvent("select", False, 0.1), Context(presets=0))
    accepted, reason = rules.outcome([{"event": "notice", "message": n} for n in released.notices])
    assert not accepted and reason == "select ignored: there is no preset"
