"""The verdict cache: Redis when configured (see rediscache.py), else in-process (localcache.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from flask import Flask, current_app
from sqlalchemy.engine import Engine

from service.checkstore import SqlCheckStore
from service.localcache import LocalCache
from service.metrics import Metrics
from service.rediscache import RedisCache
from service.redisclient import make_redis, redis_configured

# Each worker's front cache in front of Redis: small and short-lived, it absorbs repeats.
FRONT_SIZE = 20_000
FRONT_TTL = 300


class VerdictCache(Protocol):
    """What the check path needs from a cache."""

    def get(self, key: str) -> dict[str, Any] | None:
        """A cached value, or None on a miss (or when the cache is unreachable)."""

    def get_local(self, key: str) -> dict[str, Any] | None:
        """This worker's copy, without any network round trip."""

    def start_get(self, key: str) -> Callable[[], dict[str, Any] | None]:
        """Send a shared-cache lookup now; the returned call waits for its answer (call it once)."""

    def put(
        self, entries: dict[str, dict[str, Any]], ttls: dict[str, int], counters: dict[str, str] | None = None
    ) -> None:
        """Store several values at once, and add one to each `counters` hash field."""

    def counts(self, key: str) -> dict[str, int]:
        """The fields of a counter hash (empty when unknown or unreachable)."""

    def get_check(self, key: str) -> dict[str, Any] | None:
        """A stored check, or None; raises UnavailableError when the store is unreachable."""

    def healthy(self) -> bool:
        """Whether the cache answers now."""

    def close(self) -> None:
        """Flush queued writes and stop background threads."""


def make_cache(config: dict[str, Any], metrics: Metrics, engine: Engine | None = None) -> VerdictCache:
    """Redis when REDIS_URL (or Sentinel) is set, else the in-process cache."""
    if redis_configured(config):
        timeout = config["SPAMFILTER_REDIS_TIMEOUT_MS"] / 1000
        client = make_redis(config, timeout, health_check_interval=30)
        front = LocalCache(FRONT_SIZE, min(config["SPAMFILTER_CACHE_TTL"], FRONT_TTL), config["SPAMFILTER_CHECK_TTL"])
        return RedisCache(client, metrics, front)
    # Without Redis, check records also go to the SQL store so every worker can find them.
    records = SqlCheckStore(engine) if engine is not None else None
    return LocalCache(
        config["SPAMFILTER_CACHE_SIZE"], config["SPAMFILTER_CACHE_TTL"], config["SPAMFILTER_CHECK_TTL"], records
    )


def get_cache() -> VerdictCache:
    """The current app's cache."""
    cache: VerdictCache = current_app.extensions["spamfilter.cache"]
    return cache


def init_app(app: Flask) -> None:
    """Create the cache the configuration asks for."""
    app.extensions["spamfilter.cache"] = make_cache(
        dict(app.config), app.extensions["spamfilter.metrics"], app.extensions["spamfilter.engine"]
    )
