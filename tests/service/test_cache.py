"""The verdict cache on a real Redis: hits, versioned keys without personal data, TTLs, failing open."""

from __future__ import annotations

import logging
import time

import pytest
import redis
from flask import Flask

from service.localcache import LocalCache
from service.rediscache import BREAKER_SECONDS
from service.rediskeys import check_key, redis_key, usage_key, verdict_key
from spamfilter.artifact import LoadedModel
from tests.service.conftest import METRICS_TOKEN, REDIS_TEST_URL, SPAM_TEXT, new_key

EMAIL, IP = "someone.private@example.org", "203.0.113.77"


@pytest.fixture
def redis_app(database_url: str, redis_prefix: str, app_factory) -> Flask:
    return app_factory(
        database_url, REDIS_URL=REDIS_TEST_URL, SPAMFILTER_REDIS_PREFIX=redis_prefix, SPAMFILTER_CACHE_TTL=120
    )


def _check(app: Flask, key: str, **fields: str) -> dict:
    response = app.test_client().post(
        "/v1/check", json={"content": SPAM_TEXT, **fields}, headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 200, response.json
    return response.json


def test_redis_hit_and_keys_free_of_personal_data(redis_app: Flask, redis_prefix: str) -> None:
    key = new_key(redis_app)
    first = _check(redis_app, key, author_email=EMAIL, user_ip=IP, author="Spammer")
    second = _check(redis_app, key, author_email="other@example.org", user_ip="198.51.100.1", author="Spammer")
    assert (first["cached"], second["cached"]) == (False, True)  # e-mail and IP do not change the score
    redis_app.extensions["spamfilter.cache"].flush()  # the write-behind queue reaches Redis within 50 ms anyway
    client = redis.Redis.from_url(REDIS_TEST_URL, decode_responses=True)
    keys = list(client.scan_iter(f"{redis_prefix}:*"))
    assert any(k.startswith(f"{redis_prefix}:verdict:2026.11.26-1:") for k in keys)
    assert all(EMAIL not in k and IP not in k and "Spammer" not in k for k in keys)
    verdict = next(k for k in keys if ":verdict:" in k)
    assert 100 < client.ttl(verdict) <= 120
    assert client.ttl(check_key(redis_prefix, first["id"])) > 86400  # checks live for the feedback window
    stored = client.get(check_key(redis_prefix, first["id"]))
    assert stored and EMAIL not in stored and IP not in stored
    client.close()


def test_new_model_version_never_serves_an_old_verdict(redis_app: Flask, small_model: LoadedModel) -> None:
    key = new_key(redis_app)
    assert _check(redis_app, key, author="v")["cached"] is False
    assert _check(redis_app, key, author="v")["cached"] is True
    bundled = redis_app.extensions["spamfilter.model"]
    redis_app.extensions["spamfilter.model"] = small_model
    try:
        answer = _check(redis_app, key, author="v")
        assert (answer["cached"], answer["model_version"]) == (False, "fixture-1")
    finally:
        redis_app.extensions["spamfilter.model"] = bundled


def test_redis_down_fails_open(database_url: str, app_factory, caplog: pytest.LogCaptureFixture) -> None:
    app = app_factory(database_url, REDIS_URL="redis://127.0.0.1:1/0", SPAMFILTER_REDIS_TIMEOUT_MS=20)
    logging.getLogger("spamfilter").addHandler(caplog.handler)  # the service's logger does not propagate
    key = new_key(app)
    started = time.perf_counter()
    answers = [_check(app, key, author=f"distinct {i}") for i in range(5)]
    elapsed = time.perf_counter() - started
    assert all(a["verdict"] in ("spam", "discard") and a["cached"] is False for a in answers)
    assert elapsed < 2.0
    metrics = (
        app.test_client().get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).get_data(as_text=True)
    )
    errors = [line for line in metrics.splitlines() if line.startswith('spamfilter_cache_events_total{event="error"}')]
    assert errors and float(errors[0].split()[-1]) >= 5
    assert app.test_client().get("/readyz").json["degraded"] == ["cache"]
    logging.getLogger("spamfilter").removeHandler(caplog.handler)
    assert any("redis unavailable" in r.getMessage() for r in caplog.records)


def test_feedback_by_id_is_503_when_redis_is_down(database_url: str, app_factory) -> None:
    app = app_factory(database_url, REDIS_URL="redis://127.0.0.1:1/0", SPAMFILTER_REDIS_TIMEOUT_MS=20)
    key = new_key(app)
    response = app.test_client().post(
        "/v1/feedback", json={"id": "a" * 32, "label": "spam"}, headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 503 and "send the comment's fields" in response.json["error"]["message"]


def test_breaker_skips_redis_then_retries(redis_app: Flask) -> None:
    cache = redis_app.extensions["spamfilter.cache"]
    cache.trip(redis.ConnectionError("simulated"))
    assert cache.breaker_open() and cache.get("anything") is None
    time.sleep(BREAKER_SECONDS + 0.1)
    assert not cache.breaker_open() and cache.healthy()


def test_local_cache_is_the_default(app: Flask) -> None:
    assert isinstance(app.extensions["spamfilter.cache"], LocalCache)
    key = new_key(app)
    assert [_check(app, key, author="local")["cached"] for _ in range(2)] == [False, True]


@pytest.mark.parametrize(
    ("built", "expected"),
    [
        (verdict_key("sf", "v1", "abc"), "sf:verdict:v1:abc"),
        (check_key("sf", "123"), "sf:check:123"),
        (usage_key("sf", 7, "2026-11"), "sf:usage:7:2026-11"),
    ],
)
def test_redis_keys_come_from_one_builder(built: str, expected: str) -> None:
    assert built == expected


def test_empty_key_part_is_refused() -> None:
    with pytest.raises(ValueError, match="empty part"):
        redis_key("sf", "verdict", "", "abc")


def test_writes_wait_out_a_redis_outage(redis_app: Flask, database_url: str, redis_prefix: str, app_factory) -> None:
    key = new_key(redis_app)
    cache = redis_app.extensions["spamfilter.cache"]
    cache.trip(redis.ConnectionError("simulated outage"))
    check = _check(redis_app, key, author="during the outage")
    assert cache.flush() == 0  # the breaker is open: nothing sent, nothing lost
    time.sleep(BREAKER_SECONDS + 0.1)
    cache.flush()
    other = app_factory(database_url, REDIS_URL=REDIS_TEST_URL, SPAMFILTER_REDIS_PREFIX=redis_prefix)
    response = other.test_client().post(
        "/v1/feedback", json={"id": check["id"], "label": "spam"}, headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 201


def test_lookup_policy_stops_asking_when_lookups_miss_and_resumes_on_hits() -> None:
    from service.checks import LookupPolicy

    policy = LookupPolicy()
    asked = []
    for _ in range(400):  # a stream of distinct comments: every lookup misses
        ask = policy.should_ask()
        asked.append(ask)
        if ask:
            policy.record(hit=False)
    assert all(asked[:20]) and sum(asked[-100:]) == 100 // LookupPolicy.PROBE_EVERY
    for _ in range(200):  # a flood of repeats: the probes hit, and asking comes back
        if policy.should_ask():
            policy.record(hit=True)
    assert policy.hit_rate >= LookupPolicy.MIN_HIT_RATE and all(policy.should_ask() for _ in range(10))
