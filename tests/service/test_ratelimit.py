"""Rate limits per key, per client address and per login, in-process and on a real Redis, failing open."""

from __future__ import annotations

import logging
import re
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import akismet
import httpx
import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

import service.ratecounters
import service.ratelimit
from service.db import upgrade
from service.moderators import create_moderator
from service.ratelimit import LOGIN_WINDOW, WINDOW, address_subject, client_address
from tests.service.conftest import METRICS_TOKEN, REDIS_TEST_URL, SPAM_TEXT, new_key

BLOG = "https://news.example"
PASSWORD = "correct horse battery"
ADDRESS_A, ADDRESS_B = "198.51.100.7", "203.0.113.9"
Build = Callable[..., Flask]


@pytest.fixture(scope="module")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One migrated SQLite database for the module: limits do not depend on the store."""
    url = f"sqlite:///{tmp_path_factory.mktemp('ratelimit') / 'spamfilter.db'}"
    upgrade(url)
    return url


@pytest.fixture(params=["in-process", "redis"])
def build(request: pytest.FixtureRequest, sqlite_url: str, redis_prefix: str, app_factory: Any) -> Build:
    """Apps with the given limits, counting in-process (no REDIS_URL) or in the test Redis."""
    shared = {"REDIS_URL": REDIS_TEST_URL, "SPAMFILTER_REDIS_PREFIX": redis_prefix} if request.param == "redis" else {}
    return lambda **settings: app_factory(sqlite_url, **shared, **settings)


class Clock:
    """A stand-in for the `time` module of the rate-limit code: wall and monotonic time move together."""

    def __init__(self, start: float):
        self.now = start

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Rate-limit code on a clock the test moves, 15 s into a minute (and into a 15-minute window)."""
    fake = Clock(LOGIN_WINDOW * 2_000_000 + 15)
    monkeypatch.setattr(service.ratecounters, "time", fake)
    monkeypatch.setattr(service.ratelimit, "time", fake)
    return fake


def client_at(app: Flask, address: str) -> FlaskClient:
    """A test client whose requests come from `address`."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def check(client: FlaskClient, key: str, text: str = "a comment") -> Any:
    return client.post("/v1/check", json={"content": text}, headers={"Authorization": f"Bearer {key}"})


def comment_check(client: FlaskClient, key: str) -> Any:
    return client.post(
        "/1.1/comment-check", data={"api_key": key, "blog": BLOG, "user_ip": "192.0.2.1", "comment_content": "hi"}
    )


def moderator(app: Flask) -> str:
    name = f"mod-{uuid.uuid4().hex[:6]}"
    with app.extensions["spamfilter.sessions"]() as session:
        create_moderator(session, name, PASSWORD)
    return name


def login(client: FlaskClient, name: str, password: str = PASSWORD) -> Any:
    page = client.get("/moderation/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token, page[:200]
    return client.post("/moderation/login", data={"name": name, "password": password, "csrf_token": token.group(1)})


def retry_after(response: Any, window: int = WINDOW) -> int:
    value = int(response.headers["Retry-After"])
    assert 1 <= value <= window
    return value


def test_key_limit_is_429_with_retry_after_on_every_keyed_route(build: Build) -> None:
    app = build(SPAMFILTER_RATE_LIMIT_PER_KEY=3)
    key, other = new_key(app), new_key(app)
    client = app.test_client()
    assert [check(client, key, f"comment {i}").status_code for i in range(3)] == [200, 200, 200]
    refused = check(client, key)
    assert refused.status_code == 429 and retry_after(refused)
    assert refused.json["error"]["code"] == "rate_limited" and "at most 3 a minute" in refused.json["error"]["message"]
    feedback = client.post(
        "/v1/feedback", json={"content": "x", "label": "spam"}, headers={"Authorization": f"Bearer {key}"}
    )
    assert feedback.status_code == 429 and retry_after(feedback)
    assert check(client, other).status_code == 200  # one key's limit is its own


def test_a_batch_counts_each_comment(build: Build) -> None:
    app = build(SPAMFILTER_RATE_LIMIT_PER_KEY=5)
    key, client = new_key(app), app.test_client()
    auth = {"Authorization": f"Bearer {key}"}
    batch = lambda n: client.post("/v1/check/batch", json={"comments": [{"content": "x"}] * n}, headers=auth)  # noqa: E731
    assert batch(4).status_code == 200
    assert batch(2).status_code == 429  # 4 + 2 > 5: nothing of it is checked
    assert check(client, key).status_code == 429  # the refused batch's first comment was counted


def test_akismet_answers_a_rate_limit_as_a_failed_call(build: Build) -> None:
    app = build(SPAMFILTER_RATE_LIMIT_PER_KEY=2)
    key = new_key(app)
    http = httpx.Client(transport=httpx.WSGITransport(app=app))
    client = akismet.SyncClient(config=akismet.Config(key=key, url=BLOG), http_client=http)
    assert client.comment_check("192.0.2.1", comment_content="a lovely song") in tuple(akismet.CheckResponse)
    assert comment_check(app.test_client(), key).status_code == 200
    with pytest.raises(akismet.RequestError, match="429"):  # the client raises, never reads it as ham
        client.comment_check("192.0.2.1", comment_content="a lovely song")
    http.close()
    refused = comment_check(app.test_client(), key)
    assert refused.status_code == 429 and retry_after(refused)
    body = refused.get_data(as_text=True)
    # Neither `true` nor `false`: the WordPress plugin holds the comment and re-checks it later.
    assert body not in ("true", "false", "invalid") and "retry after" in body
    assert refused.headers["X-akismet-debug-help"] == body and "X-akismet-guid" not in refused.headers


def test_failed_credentials_are_limited_per_address(build: Build) -> None:
    app = build(SPAMFILTER_RATE_LIMIT_PER_IP=3)
    a, b = client_at(app, ADDRESS_A), client_at(app, ADDRESS_B)
    wrong = "sf_" + uuid.uuid4().hex
    assert [check(a, wrong).status_code for _ in range(4)] == [401, 401, 401, 429]
    refused = check(a, wrong)
    assert refused.status_code == 429 and retry_after(refused) and "this address" in refused.json["error"]["message"]
    assert comment_check(a, wrong).status_code == 429  # Akismet: not `invalid`, which would mean a bad key
    assert a.get("/metrics", headers={"Authorization": "Bearer guess"}).status_code == 429
    assert a.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).status_code == 429
    assert check(b, wrong).status_code == 401  # another address is not blocked


def test_key_and_address_limits_are_independent(build: Build) -> None:
    app = build(SPAMFILTER_RATE_LIMIT_PER_KEY=2, SPAMFILTER_RATE_LIMIT_PER_IP=2)
    key, unseen = new_key(app), new_key(app)
    a, b = client_at(app, ADDRESS_A), client_at(app, ADDRESS_B)
    assert check(a, key).status_code == 200
    assert [check(a, "sf_wrong").status_code for _ in range(3)] == [401, 401, 429]
    assert check(a, key).status_code == 200  # failures from its address do not stop a key in use
    over = check(b, key)
    assert over.status_code == 429 and "this key" in over.json["error"]["message"]
    assert check(b, "sf_wrong").status_code == 401  # a key over its limit does not block its address
    assert check(b, unseen).status_code == 200
    blocked = check(a, new_key(app))  # a blocked address's unknown keys are refused unread
    assert blocked.status_code == 429 and "this address" in blocked.json["error"]["message"]


def test_login_brute_force_is_blocked_per_address_and_per_name(build: Build) -> None:
    app = build(SPAMFILTER_RATE_LIMIT_LOGIN=3)
    name, other = moderator(app), moderator(app)
    a = client_at(app, ADDRESS_A)
    assert [login(a, name, "wrong password!").status_code for _ in range(3)] == [401, 401, 401]
    refused = login(a, name)  # the right password no longer helps
    assert refused.status_code == 429 and retry_after(refused, LOGIN_WINDOW)
    assert "Too many login attempts" in refused.get_data(as_text=True) and "Set-Cookie" not in refused.headers
    assert login(client_at(app, ADDRESS_B), name).status_code == 429  # the name is locked from anywhere
    assert login(a, other).status_code == 429  # and the address for any name
    assert login(client_at(app, ADDRESS_B), other).status_code == 302


def test_successful_logins_do_not_count(build: Build) -> None:
    app = build(SPAMFILTER_RATE_LIMIT_LOGIN=2)
    name, a = moderator(app), client_at(app, ADDRESS_A)
    assert [login(a, name).status_code for _ in range(5)] == [302] * 5


@pytest.mark.parametrize(
    ("limit", "setting", "window"),
    [
        ("key", "SPAMFILTER_RATE_LIMIT_PER_KEY", WINDOW),
        ("ip", "SPAMFILTER_RATE_LIMIT_PER_IP", WINDOW),
        ("login", "SPAMFILTER_RATE_LIMIT_LOGIN", LOGIN_WINDOW),
    ],
)
def test_limits_reset_with_their_window(build: Build, clock: Clock, limit: str, setting: str, window: int) -> None:
    app = build(**{setting: 1})
    a = client_at(app, ADDRESS_A)
    key, name = new_key(app), moderator(app)
    attempt = {
        "key": lambda: check(a, key).status_code == 200,
        "ip": lambda: check(a, "sf_wrong").status_code == 401,
        "login": lambda: login(a, name, "wrong password!").status_code == 401,
    }[limit]
    assert attempt()
    assert not attempt()
    refused = {"key": lambda: check(a, key), "ip": lambda: check(a, "sf_wrong"), "login": lambda: login(a, name)}
    assert int(refused[limit]().headers["Retry-After"]) == window - 15  # the clock is 15 s into the window
    clock.now += window - 15
    assert attempt()


def test_counters_live_in_redis_under_the_prefix_with_a_ttl(sqlite_url: str, redis_prefix: str, app_factory) -> None:
    app = app_factory(sqlite_url, REDIS_URL=REDIS_TEST_URL, SPAMFILTER_REDIS_PREFIX=redis_prefix)
    key, a = new_key(app), client_at(app, ADDRESS_A)
    assert [check(a, key, SPAM_TEXT).status_code for _ in range(3)] == [200] * 3
    assert check(a, "sf_wrong").status_code == 401
    assert login(a, "nobody", "wrong password!").status_code == 401
    app.extensions["spamfilter.cache"].flush()  # the key's counts ride the write-behind batch
    client = redis.Redis.from_url(REDIS_TEST_URL, decode_responses=True)
    counters = {k: (int(client.get(k) or 0), client.ttl(k)) for k in client.scan_iter(f"{redis_prefix}:rate:*")}
    client.close()
    kinds = {k.split(":")[2]: value for k, value in counters.items()}
    assert set(kinds) == {"key", "ip", "login-ip", "login-name"}
    assert kinds["key"][0] == 3 and kinds["ip"][0] == 1 and kinds["login-ip"][0] == 1
    assert all(0 < ttl <= 2 * WINDOW for count, ttl in (kinds["key"], kinds["ip"]))
    assert 0 < kinds["login-name"][1] <= 2 * LOGIN_WINDOW
    assert not any(ADDRESS_A in k or "nobody" in k for k in counters)  # addresses and names are hashed


def test_workers_share_a_key_limit_through_redis(sqlite_url: str, redis_prefix: str, app_factory) -> None:
    shared = {"REDIS_URL": REDIS_TEST_URL, "SPAMFILTER_REDIS_PREFIX": redis_prefix, "SPAMFILTER_RATE_LIMIT_PER_KEY": 4}
    first, second = app_factory(sqlite_url, **shared), app_factory(sqlite_url, **shared)
    key = new_key(first)
    assert [check(first.test_client(), key).status_code for _ in range(3)] == [200] * 3
    first.extensions["spamfilter.cache"].flush()
    # The second worker admits on its own count until its first sync (the accuracy trade-off)...
    assert check(second.test_client(), key).status_code == 200
    second.extensions["spamfilter.cache"].flush()
    # ...which brings back the fleet's total: 4 of 4.
    assert check(second.test_client(), key).status_code == 429
    assert check(first.test_client(), key).status_code == 200  # one over: what it admitted before syncing
    first.extensions["spamfilter.cache"].flush()
    assert check(first.test_client(), key).status_code == 429


@pytest.fixture(params=["refused", "silent"])
def dead_redis(request: pytest.FixtureRequest) -> Iterator[str]:
    """A Redis URL where nothing answers: no listener at all, or one that accepts and never replies."""
    if request.param == "refused":
        yield "redis://127.0.0.1:1/0"
        return
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"


def test_redis_down_or_slow_fails_open(
    sqlite_url: str, dead_redis: str, app_factory: Any, caplog: pytest.LogCaptureFixture
) -> None:
    app = app_factory(
        sqlite_url,
        REDIS_URL=dead_redis,
        SPAMFILTER_REDIS_TIMEOUT_MS=20,
        SPAMFILTER_RATE_LIMIT_PER_KEY=100,
        SPAMFILTER_RATE_LIMIT_PER_IP=1,
        SPAMFILTER_RATE_LIMIT_LOGIN=1,
    )
    logging.getLogger("spamfilter").addHandler(caplog.handler)  # the service's logger does not propagate
    try:
        key, name, a = new_key(app), moderator(app), client_at(app, ADDRESS_A)
        started = time.perf_counter()
        assert [check(a, key, f"comment {i}").status_code for i in range(5)] == [200] * 5
        assert [check(a, "sf_wrong").status_code for _ in range(5)] == [401] * 5
        assert [login(a, name, "wrong password!").status_code for _ in range(3)] == [401] * 3
        assert login(a, name).status_code == 302
        assert time.perf_counter() - started < 5.0  # the breaker skips Redis instead of waiting on it
    finally:
        logging.getLogger("spamfilter").removeHandler(caplog.handler)
    metrics = a.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).get_data(as_text=True)
    skipped = re.findall(r'spamfilter_rate_limit_events_total\{event="unavailable",limit="(\w+)"\} (\S+)', metrics)
    assert {limit for limit, count in skipped if float(count) > 0} == {"ip", "login"}
    warnings = [r for r in caplog.records if "rate limits per address and login are not enforced" in r.getMessage()]
    assert len(warnings) == 1  # once in a while, not once per request


def test_zero_turns_the_limits_off(build: Build) -> None:
    app = build(SPAMFILTER_RATE_LIMIT_PER_KEY=0, SPAMFILTER_RATE_LIMIT_PER_IP=0, SPAMFILTER_RATE_LIMIT_LOGIN=0)
    key, name, a = new_key(app), moderator(app), client_at(app, ADDRESS_A)
    assert {check(a, key, f"c {i}").status_code for i in range(30)} == {200}
    assert {check(a, "sf_wrong").status_code for _ in range(30)} == {401}
    assert {login(a, name, "wrong password!").status_code for _ in range(5)} == {401}


@pytest.mark.parametrize(
    ("environ", "proxies", "expected"),
    [
        ({"REMOTE_ADDR": "10.0.0.1"}, 0, "10.0.0.1"),
        ({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.5"}, 0, "10.0.0.1"),  # not trusted
        ({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.5"}, 1, "203.0.113.5"),
        ({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "1.1.1.1, 203.0.113.5"}, 1, "203.0.113.5"),  # spoofed left
        ({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "1.1.1.1, 203.0.113.5, 10.0.0.2"}, 2, "203.0.113.5"),
        ({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.5"}, 2, "10.0.0.1"),  # fewer hops than proxies
        ({}, 0, "unknown"),
    ],
)
def test_client_address_behind_trusted_proxies(environ: dict[str, str], proxies: int, expected: str) -> None:
    assert client_address(environ, proxies) == expected


@pytest.mark.parametrize(
    ("first", "second", "same"),
    [
        ("2001:db8:1:2::1", "2001:db8:1:2:ffff::9", True),  # one /64: one host's usual share
        ("2001:db8:1:2::1", "2001:db8:1:3::1", False),
        ("203.0.113.5", "203.0.113.6", False),
        ("203.0.113.5", "203.0.113.5", True),
    ],
)
def test_addresses_are_counted_hashed_and_ipv6_per_64(first: str, second: str, same: bool) -> None:
    assert (address_subject(first) == address_subject(second)) is same
    assert first not in address_subject(first) and re.fullmatch(r"[0-9a-f]{20}", address_subject(first))


def test_readme_documents_the_limits() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert "**Rate limits.**" in readme and "Retry-After" in readme
