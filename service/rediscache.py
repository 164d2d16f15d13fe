"""The shared cache in Redis: a front cache per worker, write-behind, and failing open."""

from __future__ import annotations

import atexit
import functools
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import orjson
import redis

from service.errors import UnavailableError
from service.localcache import LocalCache, nothing
from service.metrics import Metrics

log = logging.getLogger("spamfilter.cache")
T = TypeVar("T")
# After a Redis error, skip Redis this long so a dead server costs nothing per request.
BREAKER_SECONDS = 1.0
# Monthly usage counters outlive their month by a little, for late key-sites reads.
COUNTER_TTL = 40 * 86400
# Writes reach Redis within this; a worker's own front cache answers its repeats at once.
FLUSH_SECONDS = 0.05
# While Redis is away, this many checks' writes wait for it (about a minute of heavy traffic).
MAX_PENDING = 50_000


def fail_open(default: Any) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Turn a Redis error into `default`: logged, counted, and the breaker opened."""

    def decorate(method: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(method)
        def wrapper(self: RedisCache, *args: Any, **kwargs: Any) -> T:
            if self.breaker_open():
                self.metrics.cache.labels("error").inc()
                return default
            try:
                return method(self, *args, **kwargs)
            except (redis.RedisError, OSError) as exc:
                self.trip(exc)
                return default

        return wrapper

    return decorate


class FlushHook(Protocol):
    """Other writes that ride in the write-behind pipeline (the per-key rate counters)."""

    def queue(self, pipe: Any) -> Callable[[list[Any]], None] | None:
        """Add commands to the pipeline; the returned call gets their replies (and is not called on failure)."""


class RedisCache:
    """Verdicts and checks shared through Redis, with a per-worker front cache and write-behind.

    A Redis round trip costs about as much as scoring a comment, so reads try this worker's
    own cache first and writes are batched by a background thread every FLUSH_SECONDS. Any
    Redis failure degrades to 'no shared cache' (fail open); reads of a check by id, where
    'not found' would mislead, raise UnavailableError instead.
    """

    def __init__(self, client: redis.Redis, metrics: Metrics, front: LocalCache):
        self.client = client
        self.metrics = metrics
        self.front = front
        self._open_until = 0.0
        self._pending: list[tuple[dict[str, dict[str, Any]], dict[str, int], dict[str, str]]] = []
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self._flusher_pid = 0
        self._local = threading.local()
        self._stop = threading.Event()
        self.flush_hooks: list[FlushHook] = []

    def breaker_open(self) -> bool:
        """Whether Redis is being skipped after a recent error."""
        return time.monotonic() < self._open_until

    def trip(self, exc: Exception) -> None:
        """Count and log a Redis error, and skip Redis for a moment."""
        if not self.breaker_open():
            log.warning("redis unavailable, serving without the shared cache: %s", exc)
        self._open_until = time.monotonic() + BREAKER_SECONDS
        self.metrics.cache.labels("error").inc()

    def get(self, key: str) -> dict[str, Any] | None:
        """This worker's copy, else Redis's; None on a miss or an error."""
        value = self.front.get(key)
        if value is None:
            value = self._remote_get(key)
            if value is not None:
                self.front.put({key: value}, {})
        return value

    @fail_open(None)
    def _remote_get(self, key: str) -> dict[str, Any] | None:
        raw = self.client.get(key)
        return orjson.loads(raw) if raw else None

    def get_local(self, key: str) -> dict[str, Any] | None:
        """This worker's copy only."""
        return self.front.get(key)

    def _lookup_connection(self) -> redis.Connection:
        # One connection per thread for lookups: the pool's get/release costs as much as the GET.
        connection: redis.Connection | None = getattr(self._local, "connection", None)
        if connection is None or self._local.pid != os.getpid():
            pool = self.client.connection_pool
            # The pool's own class: unix sockets and TLS (rediss://) keep working.
            connection = pool.connection_class(**pool.connection_kwargs)
            self._local.connection, self._local.pid = connection, os.getpid()
        return connection

    def start_get(self, key: str) -> Callable[[], dict[str, Any] | None]:
        """Send GET now and return at once, so scoring overlaps the round trip."""
        if self.breaker_open():
            self.metrics.cache.labels("error").inc()
            return nothing
        connection = self._lookup_connection()
        try:
            connection.send_command("GET", key)
        except (redis.RedisError, OSError) as exc:
            connection.disconnect()
            self.trip(exc)
            return nothing

        def finish() -> dict[str, Any] | None:
            try:
                raw = connection.read_response()
            except (redis.RedisError, OSError) as exc:
                connection.disconnect()
                self.trip(exc)
                return None
            if not raw:
                return None
            value: dict[str, Any] = orjson.loads(raw)
            self.front.put({key: value}, {})
            return value

        return finish

    def put(
        self, entries: dict[str, dict[str, Any]], ttls: dict[str, int], counters: dict[str, str] | None = None
    ) -> None:
        """Keep values here at once; queue them (and counter bumps) for Redis."""
        self.front.put(entries, ttls)
        with self._lock:
            self._pending.append((entries, ttls, counters or {}))
        self.ensure_flusher()

    def ensure_flusher(self) -> None:
        """Start this process's flusher thread if it is not running (threads do not survive gunicorn's fork)."""
        if self._flusher_pid != os.getpid():
            self._flusher_pid = os.getpid()
            threading.Thread(target=self._flush_forever, name="spamfilter-cache-flush", daemon=True).start()
            atexit.register(self.flush)

    def _flush_forever(self) -> None:
        while not self._stop.wait(FLUSH_SECONDS):
            self.flush()

    def close(self) -> None:
        """Stop the flusher after one last flush (for an app being shut down)."""
        self._stop.set()
        atexit.unregister(self.flush)
        self.flush()

    def flush(self) -> int:
        """Send queued writes to Redis in one pipeline; returns how many were sent (0 on error)."""
        with self._flushing:  # one flush at a time, so a caller's flush waits for one in flight
            return self._flush()

    def _flush(self) -> int:
        with self._lock:
            batch, self._pending = self._pending, []
        if not batch and not self.flush_hooks:
            return 0
        if self.breaker_open():
            self._requeue(batch)
            return 0
        bumps: dict[tuple[str, str], int] = {}
        try:
            pipe = self.client.pipeline(transaction=False)
            for entries, ttls, counters in batch:
                for key, value in entries.items():
                    pipe.set(key, orjson.dumps(value), ex=ttls[key])
                for key, name in counters.items():
                    bumps[key, name] = bumps.get((key, name), 0) + 1
            for (key, name), amount in bumps.items():
                pipe.hincrby(key, name, amount)
            for key in {key for key, _ in bumps}:
                pipe.expire(key, COUNTER_TTL)
            readers = [(len(pipe), hook.queue(pipe)) for hook in self.flush_hooks]  # same round trip
            replies = pipe.execute()
        except (redis.RedisError, OSError) as exc:
            self.trip(exc)
            # Kept for the next flush: check records were promised to feedback by id. A batch
            # that failed after Redis applied it may bump the usage counters twice.
            self._requeue(batch)
            return 0
        for start, read in readers:
            if read is not None:
                read(replies[start:])
        return len(batch)

    def _requeue(self, batch: list[tuple[dict[str, dict[str, Any]], dict[str, int], dict[str, str]]]) -> None:
        """Put unsent writes back in front of newer ones, dropping the oldest beyond MAX_PENDING."""
        with self._lock:
            self._pending = batch + self._pending
            excess = len(self._pending) - MAX_PENDING
            if excess > 0:
                del self._pending[:excess]
                self.metrics.cache.labels("dropped").inc(excess)

    @fail_open({})
    def counts(self, key: str) -> dict[str, int]:
        """A counter hash across every worker and replica (writes land within FLUSH_SECONDS)."""
        self.flush()
        raw: dict[Any, Any] = self.client.hgetall(key)
        return {(k.decode() if isinstance(k, bytes) else str(k)): int(v) for k, v in raw.items()}

    def get_check(self, key: str) -> dict[str, Any] | None:
        """A stored check; a Redis error here is a 503, since 'not found' would mislead."""
        local = self.front.get(key)
        if local is not None:
            return local
        try:
            raw = self.client.get(key)
        except (redis.RedisError, OSError) as exc:
            self.trip(exc)
            raise UnavailableError("the check store (Redis) is unavailable; send the comment's fields instead") from exc
        return orjson.loads(raw) if raw else None

    def healthy(self) -> bool:
        """Whether Redis answers a ping now."""
        try:
            return bool(self.client.ping())
        except (redis.RedisError, OSError):
            return False
