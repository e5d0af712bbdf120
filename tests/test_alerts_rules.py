"""The alerts' pure rules (controller/core/alerts.py): when someone may be stuck, what the alert says,
the all-clear, the retries' back-off, secrets kept out of messages, and the [alerts] config."""

from __future__ import annotations

import itertools
import logging

import pytest
from hypothesis import given, settings, strategies as st

from controller.core import alerts as rules
from controller.core.command import HEAD_DOWN_ABOVE
from controller.errors import ConfigError
from controller.setup.config import DEFAULT_CONFIG_TOML, Config
from controller.setup.validation import validate_toml_text

STUCK_AFTER = 60.0
NAME = "table-1"
HOME = -60.0


def obs(t, angle=42.0, *, stop=False, trip=None, user="ana", by_steps=False, state=None):
    home = angle is not None and abs(angle - HOME) <= 1.0
    state = state or ("stopped" if stop else "tripped" if trip else "running")
    return rules.Observation(t=t, state=state, stop_latched=stop, trip=trip, angle=angle, by_steps=by_steps,
                             home=home, user=user)


def run(observations, *, stuck_after=STUCK_AFTER):
    """Every alert the rules send for these observations, as (t, kind)."""
    w, sent = rules.Watch(), []
    for o in observations:
        w, alert = rules.watch(w, o, stuck_after=stuck_after, name=NAME)
        if alert is not None:
            sent.append((o.t, alert))
    return w, sent


# -- when -----------------------------------------------------------------------------------------
def test_a_stop_held_head_down_for_stuck_after_alerts_once_in_the_words_of_the_issue():
    _, sent = run([obs(0.0), obs(0.1, stop=True)] + [obs(0.1 + k, stop=True) for k in range(1, 200)])
    (t, alert), = sent
    assert t == pytest.approx(60.1)
    assert alert.kind == "stuck" and alert.title == "Inversion table 'table-1': someone may be stuck"
    assert alert.body == ("Table 'table-1' (user ana): stopped at 42° head-down for 1 min. Press RESET, then RETURN "
                          "on the table to bring it home; if it does not move, lower it by hand (see the manual).")


def test_a_stop_released_by_reset_before_stuck_after_sends_nothing_and_the_clock_starts_again():
    stops = [obs(t, stop=True) for t in range(0, 50)] + [obs(50.0)] + [obs(t, stop=True) for t in range(51, 110)]
    assert run(stops)[1] == []
    assert [t for t, _ in run(stops + [obs(111.0, stop=True)])[1]] == [111.0]  # 60 s after the second stop


@pytest.mark.parametrize("angle", [HOME, -20.0, 0.0, HEAD_DOWN_ABOVE, None])
def test_a_stop_that_is_not_head_down_is_nobody_stuck(angle):
    assert run([obs(t, angle, stop=True) for t in range(0, 600, 5)])[1] == []


def test_a_trip_during_a_session_alerts_at_once_and_says_what_happened():
    _, sent = run([obs(0.0, 0.5), obs(1.0, 30.0), obs(61.0, 42.0), obs(61.02, 42.0, trip="imu-lost", by_steps=True)]
                  + [obs(62.0 + k, 42.0, trip="imu-lost", by_steps=True) for k in range(300)])
    (t, alert), = sent
    assert t == 61.02 and alert.kind == "trip"
    assert alert.body == (
        "Table 'table-1' (user ana): tripped at about 42° head-down (by the motor's step count: the angle sensor is "
        "not trusted) (imu-lost: the angle sensor stopped answering (no good sample for 60 ms)), head-down for 1 min. "
        "Hold RETURN on the table to bring it home (it moves slowly, only while held); if it does not move, lower it "
        "by hand (see the manual).")


def test_a_trip_on_the_way_home_below_horizontal_alerts_too_but_not_one_at_home():
    _, sent = run([obs(0.0, -20.0), obs(0.1, -20.0, trip="stall")])
    assert [a.kind for _, a in sent] == ["trip"] and "tripped at -20° (stall: " in sent[0][1].body
    assert "head-down for" not in sent[0][1].body
    assert run([obs(0.0, HOME), obs(0.1, HOME, trip="imu-lost")])[1] == []
    assert run([obs(0.0, None), obs(0.1, None, trip="imu-lost")])[1] == []  # nothing known, nothing moved


def test_the_all_clear_comes_once_when_the_table_is_home_and_then_a_new_incident_can_alert():
    stuck = [obs(float(t), stop=True) for t in range(0, 61)]
    going_home = [obs(61.0, 42.0), obs(70.0, 20.0), obs(80.0, 0.0), obs(90.0, -59.5), obs(91.0, HOME)]
    _, sent = run(stuck + going_home + [obs(92.0, HOME), obs(100.0, 10.0), obs(101.0, 10.0, trip="stall")])
    assert [(t, a.kind) for t, a in sent] == [(60.0, "stuck"), (90.0, "all-clear"), (101.0, "trip")]
    assert sent[1][1].body == "Table 'table-1' (user ana): home again at -60°, 30 s after the alert. All clear."
    assert sent[1][1].title == "Inversion table 'table-1': home again"


def test_one_alert_per_incident_whatever_happens_before_home():
    """A reset, another stop, a trip on the way home: the person alerted already knows."""
    sequence = ([obs(float(t), stop=True) for t in range(0, 61)] + [obs(62.0, 40.0)]
                + [obs(float(t), 30.0, stop=True) for t in range(63, 200)] + [obs(201.0, 20.0, trip="stall")]
                + [obs(float(t), 20.0, trip="stall") for t in range(202, 400)])
    assert [a.kind for _, a in run(sequence)[1]] == ["stuck"]


def test_a_user_nobody_chose_is_said_so():
    _, sent = run([obs(0.0, 10.0, user=None), obs(1.0, 10.0, trip="over-angle", user=None)])
    assert sent[0][1].body.startswith("Table 'table-1' (no user chosen): tripped at 10° head-down (over-angle: ")


# -- the service stopping -------------------------------------------------------------------------
def test_the_service_stopping_head_down_alerts_once_and_not_at_home():
    w, _ = run([obs(0.0, 30.0), obs(125.0, 42.0)])
    w, alert = rules.service_stopping(w, obs(125.0, 42.0, state="running"), name=NAME)
    assert alert.kind == "stopping" and alert.body == (
        "Table 'table-1' (user ana): the controller stopped with the table at 42° head-down (head-down for 2 min "
        "5 s): it can no longer bring the table home or send the all-clear. Start the controller again and hold "
        "RETURN on the table, or lower it by hand (see the manual).")
    assert rules.service_stopping(w, obs(126.0, 42.0), name=NAME)[1] is None
    assert rules.service_stopping(rules.Watch(), obs(0.0, HOME), name=NAME)[1] is None
    assert rules.service_stopping(rules.Watch(), obs(0.0, 0.0), name=NAME)[1] is None


def test_the_service_stopping_with_an_incident_open_says_no_all_clear_will_come():
    w, sent = run([obs(0.0, -20.0), obs(0.1, -20.0, trip="stall")])
    assert rules.service_stopping(w, obs(1.0, -20.0, trip="stall"), name=NAME)[1].kind == "stopping"


# -- exhaustively: every short sequence of what a period can show ---------------------------------
KINDS = [dict(angle=a, stop=s, trip=tr) for a in (None, HOME, -20.0, 0.5, 1.5, 42.0) for s in (False, True)
         for tr in (None, "stall", "imu-lost")]


@pytest.mark.parametrize("stuck_after", [10.0, 60.0])
def test_every_sequence_of_four_kinds_of_period_keeps_the_rules(stuck_after):
    """Each kind held for a while (0, 30 or 90 s): 36^4 x 3^4 runs would be many, so every pair of
    kinds with every hold, and every run of four kinds with a 90 s hold, are checked."""
    holds = (0.0, 30.0, 90.0)
    cases = [((k1, h1), (k2, h2)) for k1, k2 in itertools.product(range(len(KINDS)), repeat=2)
             for h1, h2 in itertools.product(holds, repeat=2)]
    cases += [tuple((k, 90.0) for k in ks) for ks in itertools.product(range(0, len(KINDS), 5), repeat=4)]
    for case in cases:
        t, sequence = 0.0, []
        for kind, held in case:
            for dt in (0.0, held / 2, held):
                sequence.append(obs(t + dt, **KINDS[kind]))
            t += held + 1.0
        check_rules(sequence, stuck_after)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(range(len(KINDS))), st.floats(0.0, 120.0)), max_size=30),
       st.sampled_from([10.0, 60.0, 600.0]))
def test_any_sequence_keeps_the_rules(steps, stuck_after):
    t, sequence = 0.0, []
    for kind, dt in steps:
        t += dt
        sequence.append(obs(t, **KINDS[kind]))
    check_rules(sequence, stuck_after)


def check_rules(sequence, stuck_after):
    """No storm (an opening alert, then its all-clear, in turn), an all-clear only at home, and
    nobody left: latched head-down for stuck_after, or a new trip away from home, means an incident."""
    w, opened, stuck_since, last_trip = rules.Watch(), False, None, None
    for o in sequence:
        w, alert = rules.watch(w, o, stuck_after=stuck_after, name=NAME)
        if alert is not None and alert.kind == "all-clear":
            assert opened and o.home, sequence
            opened = False
        elif alert is not None:
            assert not opened and not o.home, sequence
            opened = True
        stuck_since = (o.t if stuck_since is None else stuck_since) if o.latched and o.head_down else None
        if stuck_since is not None and o.t - stuck_since >= stuck_after:
            assert opened, ("stuck with no alert", sequence)
        if o.trip is not None and last_trip is None and o.angle is not None and not o.home:
            assert opened, ("a trip away from home with no alert", sequence)
        last_trip = o.trip
        assert (w.incident_at is not None) == opened


# -- words ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("seconds, text", [(0, "0 s"), (0.4, "0 s"), (45, "45 s"), (59.6, "1 min"), (60, "1 min"),
                                           (125, "2 min 5 s"), (3600, "1 h"), (3900, "1 h 5 min"), (-3, "0 s")])
def test_durations_read_as_a_person_says_them(seconds, text):
    assert rules.duration_text(seconds) == text


def test_the_test_alert_names_the_table():
    alert = rules.test_alert("table-1")
    assert alert.kind == "test" and alert.body.startswith("Table 'table-1' (no user chosen): a test alert")


# -- retries --------------------------------------------------------------------------------------
def test_retries_back_off_to_once_a_minute_and_give_up_after_an_hour():
    delays, elapsed = [], 0.0
    for failures in itertools.count(1):
        delay = rules.retry_delay(failures, elapsed)
        if delay is None:
            break
        delays.append(delay)
        elapsed += delay
    assert delays[:7] == [2, 4, 8, 16, 32, 60, 60] and set(delays[5:]) == {60}
    assert rules.RETRY_FOR - 60 < elapsed <= rules.RETRY_FOR
    assert rules.retry_delay(10**6, 0.0) == 60  # no overflow however many
    with pytest.raises(ValueError):
        rules.retry_delay(0, 0.0)


# -- secrets ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("url, private, hidden", [
    ("mailto://user:s3cret@example.com", "mailto://user:****@example.com/?cto=15.0", ("s3cret",)),
    ("tgram://123456:ABCdef/123", "tgram://1...f/123/?image=False", ("123456", "ABCdef")),
    ("json://127.0.0.1:8000/", "json://127.0.0.1:8000/?method=POST", ()),
])
def test_the_secrets_of_a_url_are_what_its_private_form_hides(url, private, hidden):
    assert set(rules.secret_words(url, private)) == set(hidden)
    text = f"failed sending to {url}: " + " and ".join(hidden)
    assert not any(h in rules.scrub(text, hidden) for h in hidden)
    assert rules.masked(private) == private.split("?")[0]


def test_scrubbing_replaces_whole_words_only():
    assert rules.scrub("pass passport pass.", ("pass",)) == "**** passport ****."


# -- [alerts] in the config -------------------------------------------------------------------------
def load(text):
    return validate_toml_text(text, Config, error_cls=ConfigError, source="cfg.toml")


def test_no_alerts_unless_urls_are_given_and_the_defaults_are_the_documented_ones():
    assert Config().alerts.urls == [] and Config().alerts.stuck_after == 60.0 and Config().alerts.name is None
    assert "[alerts]" in DEFAULT_CONFIG_TOML and load(DEFAULT_CONFIG_TOML) == Config()
    config = load('[alerts]\nurls = ["json://127.0.0.1:8000/"]\nstuck_after = "2m"\nname = "table 1"\n')
    assert config.alerts.stuck_after == 120.0 and config.alerts.name == "table 1"


@pytest.mark.parametrize("text, message", [
    ('urls = ["json://127.0.0.1:1/", "nonsense://user:hunter2@host"]',
     "cfg.toml: [alerts] urls: URL #2: Apprise knows no service 'nonsense://'"),
    ('urls = ["mailto://user:hunter2@"]', "cfg.toml: [alerts] urls: URL #1: Apprise cannot use this mailto:// URL"),
    ('urls = ["user:hunter2@host"]', "cfg.toml: [alerts] urls: URL #1: not an Apprise URL"),
    ('urls = ["us:hunter2@h://x"]', "cfg.toml: [alerts] urls: URL #1: not an Apprise URL"),
    ('stuck_after = "5s"', "cfg.toml: [alerts] stuck_after: must be ≥ 10s"),
    ('stuck_after = "11m"', "cfg.toml: [alerts] stuck_after: must be ≤ 10m"),
    ('stuck_afer = "1m"', "cfg.toml: [alerts]: unknown key 'stuck_afer' (did you mean 'stuck_after'?)"),
    ('name = "a/b"', "cfg.toml: [alerts] name: "),
])
def test_a_bad_alerts_section_is_one_clear_line_that_never_shows_a_password(text, message):
    with pytest.raises(ConfigError) as info:
        load(f"[alerts]\n{text}\n")
    assert str(info.value).startswith(message), info.value
    assert "hunter2" not in str(info.value)


def test_every_bad_url_is_named_by_its_place(caplog):
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ConfigError) as info:
        load('[alerts]\nurls = ["nope://a:hunter2@b", "json://127.0.0.1:1/", "x"]\n')
    lines = str(info.value).splitlines()
    assert [line.split(": ")[2] for line in lines] == ["URL #1", "URL #3"]
    assert "hunter2" not in caplog.text and "nope://" not in caplog.text  # nor did Apprise's own log say it
