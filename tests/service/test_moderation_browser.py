"""End to end in a real browser: headless Chromium logs in, works the queue by keyboard, undoes."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from tests.service.conftest import LiveServer

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
PASSWORD = "correct horse battery"
TEXTS = [
    "Check out my channel and subscribe!! Free money at http://bit.ly/x1",
    "Earn money online, visit my page",
    "Make money fast working from home",
]


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1000,800",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium')}",
    ):
        options.add_argument(flag)
    # The Debian driver, named explicitly: Selenium would otherwise try to download one.
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    yield driver
    driver.quit()


def _wait_text(browser: webdriver.Chrome, element_id: str, text: str) -> None:
    WebDriverWait(browser, 10).until(expected_conditions.text_to_be_present_in_element((By.ID, element_id), text))


def test_moderator_works_the_queue_by_keyboard(
    live_server: LiveServer, browser: webdriver.Chrome, tmp_path: Path
) -> None:
    live_server.cli("moderators", "create", "--name", "alice", "--password-stdin", stdin=PASSWORD + "\n")
    key = live_server.cli("keys", "create", "--site", "https://e2e.example").strip().splitlines()[-1]
    for text in TEXTS:
        response = httpx.post(
            f"{live_server.url}/v1/check",
            json={"content": text},
            headers={"Authorization": f"Bearer {key}"},
            timeout=10,
        )
        assert response.json()["verdict"] != "ham"  # so the check is kept for review
    time.sleep(0.5)  # kept checks are written behind every 0.1 s

    browser.get(f"{live_server.url}/moderation")
    browser.find_element(By.ID, "name").send_keys("alice")
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.ID, "login").submit()
    WebDriverWait(browser, 10).until(expected_conditions.visibility_of_element_located((By.ID, "item")))
    _wait_text(browser, "position", "1 / 3")
    first = browser.find_element(By.ID, "text").text
    assert browser.find_elements(By.CSS_SELECTOR, "#text mark"), "the reasons are highlighted in the text"

    body = browser.find_element(By.TAG_NAME, "body")
    body.send_keys("s")
    _wait_text(browser, "status", "Marked spam.")
    _wait_text(browser, "position", "2 / 3")
    second = browser.find_element(By.ID, "text").text
    body.send_keys("h")
    _wait_text(browser, "status", "Marked ham.")
    body.send_keys("u")
    _wait_text(browser, "status", "Undone.")
    _wait_text(browser, "position", "2 / 3")
    body.send_keys("k")
    _wait_text(browser, "position", "1 / 3")
    browser.save_screenshot(str(tmp_path / "moderation.png"))
    browser.set_window_size(390, 844)  # a phone: nothing may need sideways scrolling
    _wait_text(browser, "position", "1 / 3")
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    assert browser.find_element(By.ID, "spam").is_displayed() and browser.find_element(By.ID, "undo").is_displayed()
    browser.save_screenshot(str(tmp_path / "phone.png"))
    browser.set_window_size(1000, 800)
    browser.get(f"{live_server.url}/moderation/stats")
    _wait_text(browser, "overturn-note", "review-tier comments were decided")
    assert browser.find_elements(By.CSS_SELECTOR, "#verdicts rect"), "the verdict chart is drawn"
    browser.save_screenshot(str(tmp_path / "stats.png"))

    database = live_server.env["DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(database) as db:
        labels = dict(db.execute("select text, label from labels where source in ('moderator', 'undo')").fetchall())
        events = db.execute(
            "select l.text, e.old_label, e.new_label, e.source, e.actor from label_events e join labels l on l.id = e.label_id "
            "where e.actor = 'moderator:alice' order by e.id"
        ).fetchall()
    assert labels == {first: "spam", second: None}
    assert events == [
        (first, None, "spam", "moderator", "moderator:alice"),
        (second, None, "ham", "moderator", "moderator:alice"),
        (second, "ham", None, "undo", "moderator:alice"),
    ]
