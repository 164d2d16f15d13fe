"""Rate-limit counters in fixed windows: per API key on the hot path, and plain counters for the rest.

The per-key counter never waits for Redis: it counts in this worker and rides in the verdict
cache's write-behind pipeline, whose replies bring back every worker's total. The other limits
(requests without valid credentials, logins) are rare enough for one round trip each, in Redis
or, without REDIS_URL, in this process.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import redis

from service.rediskeys import rate_key

if TYPE_CHECKING:
    from service.rediscache import RedisCache

log = logging.getLogger("spamfilter.ratelimit")
# Most counters (and blocked addresses) one worker keeps in memory, whatever a flood sends.
LOCAL_SIZE = 100_000
# While Redis is away, a worker says so this often (each skipped limit is also counted in the metrics).
WARN_SECONDS = 60.0


def window_of(now: float, seconds: int) -> int:
    """The window `now` falls in; windows start at multiples of `seconds` so every worker agrees."""
    return int(now // seconds)


def seconds_left(now: float, seconds: int) -> int:
    """Whole seconds until the window holding `now` ends (at least 1): the Retry-After."""
    return max(1, math.ceil((window_of(now, seconds) + 1) * seconds - now))


class KeyCounter:
    """Requests per API key in the current window, admitted without any round trip.

    Each worker admits on the fleet's total at its last sync plus what it counted since. Its
    new counts go out with the cache's write-behind flush (every 50 ms) as INCRBY, whose
    replies are the new totals. So a key can overshoot its limit by what the workers admit
    between two syncs; without Redis (or while it is away) each worker counts alone.
    """

    def __init__(self, limit: int, prefix: str, seconds: int, wake: Callable[[], None] | None = None):
        self.limit = limit
        self.prefix = prefix
        self.seconds = seconds
        self._wake = wake
        # key id → [window, fleet total at the last sync, counted here since that sync]
        self._counts: dict[int, list[int]] = {}
        self._lock = threading.Lock()

    def hit(self, key_id: int, cost: int = 1) -> int:
        """0 when admitted (and counted); else the seconds until the window ends (a refusal is not counted)."""
        now = time.time()
        window = int(now // self.seconds)
        with self._lock:
            count = self._counts.get(key_id)
            fresh = count is None or count[0] != window
            if count is None or count[0] != window:
                count = self._counts[key_id] = [window, 0, 0]
            if count[1] + count[2] + cost > self.limit:
                return seconds_left(now, self.seconds)
            count[2] += cost
        if fresh and self._wake is not None:
            self._wake()  # the flusher runs in this process (once a window per key, so it costs nothing)
        return 0

    def queue(self, pipe: Any) -> Callable[[list[Any]], None] | None:
        """Add this worker's new counts to a Redis pipeline; the returned call reads back the totals."""
        window = window_of(time.time(), self.seconds)
        with self._lock:
            for stale in [key_id for key_id, count in self._counts.items() if count[0] != window]:
                del self._counts[stale]
            sent = [(key_id, count[2]) for key_id, count in self._counts.items() if count[2]]
        if not sent:
            return None
        for key_id, amount in sent:
            key = rate_key(self.prefix, "key", str(key_id), window)
            pipe.incrby(key, amount)
            pipe.expire(key, 2 * self.seconds)

        def read(replies: list[Any]) -> None:
            with self._lock:
                for (key_id, amount), total in zip(sent, replies[: 2 * len(sent) : 2], strict=True):
                    count = self._counts.get(key_id)
                    if count is not None and count[0] == window:
                        count[1], count[2] = int(total), count[2] - amount

        return read


class Counters(Protocol):
    """Shared counters that expire."""

    def add(self, amounts: dict[str, int], ttl: int) -> dict[str, int] | None:
        """Add to each counter; their new values, or None when the store cannot answer (fail open)."""


class LocalCounters:
    """Counters in this process: the limits without REDIS_URL (each worker counts alone)."""

    def __init__(self, size: int = LOCAL_SIZE):
        self._values: dict[str, list[float]] = {}  # key → [expires at (monotonic), value]
        self._size = size
        self._lock = threading.Lock()

    def add(self, amounts: dict[str, int], ttl: int) -> dict[str, int] | None:
        """Add and return the new values."""
        now = time.monotonic()
        values: dict[str, int] = {}
        with self._lock:
            for key, amount in amounts.items():
                entry = self._values.get(key)
                if entry is None or entry[0] < now:
                    entry = self._values[key] = [now + ttl, 0]
                entry[1] += amount
                values[key] = int(entry[1])
            if len(self._values) > self._size:
                self._values = {k: e for k, e in self._values.items() if e[0] >= now}
                while len(self._values) > self._size:
                    del self._values[next(iter(self._values))]
        return values


class RedisCounters:
    """Counters in Redis, one round trip per call, behind the verdict cache's breaker."""

    def __init__(self, cache: RedisCache):
        self.cache = cache
        self._warned = -WARN_SECONDS

    def add(self, amounts: dict[str, int], ttl: int) -> dict[str, int] | None:
        """INCRBY and EXPIRE each in one pipeline; None while Redis is unavailable (fail open)."""
        if self.cache.breaker_open():
            self._warn("the breaker is open")
            return None
        try:
            pipe = self.cache.client.pipeline(transaction=False)
            for key, amount in amounts.items():
                pipe.incrby(key, amount)
                pipe.expire(key, ttl)
            replies = pipe.execute()
        except (redis.RedisError, OSError) as exc:
            self.cache.trip(exc)
            self._warn(str(exc))
            return None
        return {key: int(total) for key, total in zip(amounts, replies[::2], strict=True)}

    def _warn(self, reason: str) -> None:
        now = time.monotonic()
        if now - self._warned >= WARN_SECONDS:  # once in a while, not once per request
            self._warned = now
            log.warning("redis unavailable, rate limits per address and login are not enforced: %s", reason)
