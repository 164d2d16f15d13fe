"""Rate limits: per API key, per client address for requests without valid credentials, and per
address and moderator name for logins. Refusals are 429 with Retry-After; a Redis failure never
refuses anything (see ratecounters.py for how each limit counts).
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app, request

from service.errors import RateLimitedError, UnauthorizedError
from service.ratecounters import LOCAL_SIZE, Counters, KeyCounter, LocalCounters, RedisCounters, seconds_left
from service.rediscache import RedisCache
from service.rediskeys import rate_key

if TYPE_CHECKING:
    from service.apikeys import KeyAuthenticator, KeyInfo
    from service.metrics import Metrics

WINDOW = 60  # seconds: the per-key and per-address limits are per minute
LOGIN_WINDOW = 900  # logins are counted per 15 minutes: guessing needs many tries, a person few


def _digest(value: str) -> str:
    # Counters are named by a hash, so no address or name is ever written out in a Redis key.
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:20]


def client_address(environ: Mapping[str, Any], proxies: int) -> str:
    """The client's address: behind `proxies` trusted proxies, the one they saw in X-Forwarded-For."""
    if proxies > 0:
        # Each proxy appends the address it saw; anything left of our proxies' entries is the client's say.
        hops = [part.strip() for part in environ.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        if len(hops) >= proxies and hops[-proxies]:
            return hops[-proxies]
    return str(environ.get("REMOTE_ADDR") or "unknown")


def address_subject(address: str) -> str:
    """What an address is counted as: IPv4 alone, IPv6 by its /64 (one host's usual share), hashed."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return _digest(address)
    if ip.version == 6:
        return _digest(str(ipaddress.ip_network(f"{ip}/64", strict=False)))
    return _digest(str(ip))


def _nothing() -> None:
    return None


class RateLimiter:
    """The app's limits, as configured; the counters live in Redis when REDIS_URL is set."""

    def __init__(self, config: Mapping[str, Any], metrics: Metrics, cache: object):
        self.prefix: str = config["SPAMFILTER_REDIS_PREFIX"]
        self.per_key = max(int(config["SPAMFILTER_RATE_LIMIT_PER_KEY"]), 0)
        self.per_ip = max(int(config["SPAMFILTER_RATE_LIMIT_PER_IP"]), 0)
        self.per_login = max(int(config["SPAMFILTER_RATE_LIMIT_LOGIN"]), 0)
        self.proxies = max(int(config["SPAMFILTER_TRUSTED_PROXIES"]), 0)
        self.metrics = metrics
        shared = cache if isinstance(cache, RedisCache) else None
        self.counters: Counters = RedisCounters(shared) if shared is not None else LocalCounters()
        self.keys: KeyCounter | None = None
        if self.per_key:
            wake = shared.ensure_flusher if shared is not None else None
            self.keys = KeyCounter(self.per_key, self.prefix, WINDOW, wake)
            if shared is not None:
                shared.flush_hooks.append(self.keys)
        # Addresses this worker refuses unread until the window ends: address subject → wall time.
        self._blocked: dict[str, float] = {}
        self._blocks_end = 0.0

    def _refuse(self, limit: str, wait: int, message: str) -> RateLimitedError:
        self.metrics.rate_limits.labels(limit, "refused").inc()
        return RateLimitedError(f"{message}; retry after {wait} s", wait)

    def _subject(self, environ: Mapping[str, Any]) -> str:
        return address_subject(client_address(environ, self.proxies))

    def charge(self, key: KeyInfo, cost: int = 1) -> None:
        """Count a request (or a batch's further comments) against its key; RateLimitedError past the limit."""
        if self.keys is None or cost <= 0:
            return
        wait = self.keys.hit(key.id, cost)
        if wait:
            raise self._refuse("key", wait, f"too many requests with this key (at most {self.per_key} a minute)")

    def blocked(self, environ: Mapping[str, Any]) -> int:
        """Seconds this worker still refuses the client's requests without valid credentials (0: none)."""
        if not self._blocked:
            return 0
        now = time.time()
        if now >= self._blocks_end:  # every block is over: back to the one test above per request
            self._blocked = {}
            return 0
        until = self._blocked.get(self._subject(environ), 0.0)
        return max(0, math.ceil(until - now))

    def refuse_address(self, wait: int) -> RateLimitedError:
        """The refusal of a blocked address's request."""
        return self._refuse("ip", wait, "too many requests without a valid key from this address")

    def failed(self, environ: Mapping[str, Any]) -> None:
        """Count a request that came without valid credentials; RateLimitedError once its address is over."""
        if not self.per_ip:
            return
        now, subject = time.time(), self._subject(environ)
        counts = self.counters.add({rate_key(self.prefix, "ip", subject, int(now // WINDOW)): 1}, 2 * WINDOW)
        if counts is None:
            self.metrics.rate_limits.labels("ip", "unavailable").inc()
            return
        if max(counts.values()) > self.per_ip:
            wait = seconds_left(now, WINDOW)
            if len(self._blocked) >= LOCAL_SIZE:
                self._blocked = {s: t for s, t in self._blocked.items() if t > now}
            self._blocked[subject] = now + wait
            self._blocks_end = max(self._blocks_end, now + wait)
            raise self.refuse_address(wait)

    def login_attempt(self, environ: Mapping[str, Any], name: str) -> Callable[[], None]:
        """Count a login attempt per address and per name; RateLimitedError past either limit.

        The returned call takes the attempt back, for a login that succeeded: only failures
        should add up, and counting first means parallel guesses cannot slip past the limit.
        """
        if not self.per_login:
            return _nothing
        now = time.time()
        window = int(now // LOGIN_WINDOW)
        keys = [
            rate_key(self.prefix, "login-ip", self._subject(environ), window),
            rate_key(self.prefix, "login-name", _digest(name.strip().casefold()), window),
        ]
        counts = self.counters.add(dict.fromkeys(keys, 1), 2 * LOGIN_WINDOW)
        if counts is None:
            self.metrics.rate_limits.labels("login", "unavailable").inc()
            return _nothing
        if max(counts.values()) > self.per_login:
            raise self._refuse("login", seconds_left(now, LOGIN_WINDOW), "too many login attempts")

        def succeeded() -> None:
            self.counters.add(dict.fromkeys(keys, -1), 2 * LOGIN_WINDOW)

        return succeeded


def authenticate_limited(key: str | None) -> KeyInfo:
    """The request's API key (see KeyAuthenticator), refused with 429 past its own or its address's limit."""
    limiter = get_limiter()
    authenticator: KeyAuthenticator = current_app.extensions["spamfilter.keys"]
    wait = limiter.blocked(request.environ)
    # A blocked address may still use a key this worker has seen valid (a site's own server,
    # say); anything else is refused without a database look-up.
    if wait and not authenticator.seen(key):
        raise limiter.refuse_address(wait)
    try:
        info = authenticator.authenticate(key)
    except UnauthorizedError:
        limiter.failed(request.environ)
        raise
    limiter.charge(info)
    return info


def get_limiter() -> RateLimiter:
    """The current app's rate limiter."""
    limiter: RateLimiter = current_app.extensions["spamfilter.ratelimit"]
    return limiter


def init_app(app: Flask) -> None:
    """Create the limiter (after the cache and metrics)."""
    app.extensions["spamfilter.ratelimit"] = RateLimiter(
        app.config, app.extensions["spamfilter.metrics"], app.extensions["spamfilter.cache"]
    )
