"""The phone remote's page in a real browser: Debian's Chromium, headless, driven by Selenium with
Debian's chromium-driver (.ci/run installs both), against a real `run --sim --remote`."""

from __future__ import annotations

import os
import shutil
import time

import pytest

from tests.remote_table import remote_table
from tests.waiting import wait_for

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=412,915")
HOLD_LAPSE = 0.5

# A missing browser fails in CI (a skipped test is not a test); on a developer's machine without
# it, these say what to install.
if not (os.path.exists(CHROMIUM) and os.path.exists(DRIVER)) and not os.environ.get("CI"):
    pytest.skip("needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)",
                allow_module_level=True)


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    with remote_table(tmp_path_factory.mktemp("page"), f'allow_motion = true\nstart_warning = "1s"\n'
                                                        f'hold_lapse = "{HOLD_LAPSE}s"') as t:
        yield t


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    profile = tmp_path_factory.mktemp("chromium")
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _open(table, browser):
    from selenium.webdriver.common.by import By

    browser.get(f"{table.url}/#token={table.token}")
    wait_for(lambda: browser.find_element(By.ID, "link").get_attribute("class") == "up", 30, "the page's link")
    wait_for(lambda: "°" in browser.find_element(By.ID, "angle").text, 10, "the angle on the page")
    return lambda element_id: browser.find_element(By.ID, element_id)


def _press(browser, element, *, hold: bool = False):
    """A finger on ``element``: scrolled into the middle of the screen (the STOP covers the
    bottom), then pressed and released, or pressed and held (``hold``)."""
    from selenium.webdriver.common.action_chains import ActionChains

    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    chain = ActionChains(browser).move_to_element(element).click_and_hold()
    (chain if hold else chain.release()).perform()


def _settle(table):
    s = table.status()
    if s["stop_latched"] or s["trip"]:
        assert table.press("reset").status_code == 200
    if table.status()["angle"] > table.status()["home_angle"] + 2:
        table.press("return")
    table.wait_state("idle", 120)


@pytest.mark.realtime
def test_the_page_shows_a_session_and_its_stop_latches_the_stop(table, browser):
    from selenium.webdriver.common.action_chains import ActionChains

    element = _open(table, browser)
    assert "token" not in browser.current_url  # the token left the address bar, kept by the page
    wait_for(lambda: element("start").is_enabled(), 10, "start enabled on the page")
    _press(browser, element("start"))  # a remote start: the warning, then the session
    wait_for(lambda: "About to move" in element("start-in-row").text or table.status()["state"] == "running",
             10, "the start's warning on the page")
    table.wait_state("running", 20)
    first = float(element("angle").text.rstrip("°"))
    wait_for(lambda: float(element("angle").text.rstrip("°")) > first + 1.0, 30, "the angle changing on the page")
    ActionChains(browser).move_to_element(element("stop")).click_and_hold().perform()  # the finger touches STOP
    tapped = time.monotonic()
    wait_for(lambda: table.status()["stop_latched"], 5, "the stop latched by the page's STOP")
    ActionChains(browser).release().perform()
    events = [line for line in table.lines if line.startswith("button stop press")]
    assert events and time.monotonic() - tapped < 5
    wait_for(lambda: "stopped" in element("state").text.lower(), 5, "the page saying stopped")
    assert table.status()["state"] == "stopped"
    _press(browser, element("reset"))
    wait_for(lambda: not table.status()["stop_latched"], 10, "the reset")
    _press(browser, element("return"))
    table.wait_state("returning", 10)
    table.wait_state("idle", 120)


@pytest.mark.realtime
def test_a_held_down_button_moves_the_table_only_while_held(table, browser):
    from selenium.webdriver.common.action_chains import ActionChains

    _settle(table)
    element = _open(table, browser)
    start = table.status()["angle"]
    _press(browser, element("hold-down"), hold=True)
    wait_for(lambda: table.status()["state"] == "jogging", 10, "the jog")
    wait_for(lambda: table.status()["angle"] > start + 1.5, 30, "the table moving while held")
    assert "down" in table.status()["held"]
    ActionChains(browser).release().perform()
    stopped = table.wait_state("idle", 5)
    assert stopped["held"] == []
    angle = table.status()["angle"]
    wait_for(lambda: len([line for line in table.lines if line.startswith("button down release")]) >= 1, 5, "release")
    time_after = table.status()["t"] + 1.0
    wait_for(lambda: table.status()["t"] > time_after, 10, "a second of the table's time")
    assert abs(table.status()["angle"] - angle) < 0.3 and table.status()["state"] == "idle"


@pytest.mark.realtime
def test_cutting_the_pages_link_ends_its_hold_and_the_page_says_so(table, browser):
    from selenium.webdriver.common.action_chains import ActionChains

    _settle(table)
    element = _open(table, browser)
    start = table.status()["angle"]
    _press(browser, element("hold-down"), hold=True)
    wait_for(lambda: table.status()["angle"] > start + 1.0, 30, "the table moving while held")
    # The page freezes (its renewals stop, the socket stays open): the hold lapses on the table.
    browser.execute_script("clearInterval(state.renew); state.renew = null;")
    cut = time.monotonic()
    table.wait_state("idle", 5)
    release = [line for line in table.lines if line.startswith("button down release")]
    assert release, table.lines[-10:]
    assert time.monotonic() - cut < 5
    ActionChains(browser).release().perform()
    # Now the link itself goes: the page says so, and that no hold is left.
    _press(browser, element("hold-down"), hold=True)
    wait_for(lambda: table.status()["state"] == "jogging", 10, "a second jog")
    browser.execute_script("state.socket.onclose = null; state.socket.close(); setLink(false, 'LINK LOST — every hold has ended'); endHold(null);")
    table.wait_state("idle", 0.5 + HOLD_LAPSE + 2 * table.period + 2)
    assert "LINK LOST" in element("link").text and "every hold has ended" in element("link").text
    assert not browser.find_elements("css selector", ".holdbtn.holding")
    ActionChains(browser).release().perform()
    table.press("return")
    table.wait_state("idle", 120)
