"""Prometheus metrics: one collector set per app, multiprocess-aware under gunicorn."""

from __future__ import annotations

import hmac
import os
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, current_app, request
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from service.errors import NotFoundError, UnauthorizedError

if TYPE_CHECKING:
    from service.ratelimit import RateLimiter

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0)


def _multiprocess() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


class Metrics:
    """The service's counters, histogram and gauge."""

    def __init__(self) -> None:
        # Under gunicorn each worker writes its values to files; the registry only serves reads.
        self.registry = CollectorRegistry()
        registry = None if _multiprocess() else self.registry
        self.checks = Counter("spamfilter_checks", "Comments checked", ["verdict", "site"], registry=registry)
        self.latency = Histogram(
            "spamfilter_check_seconds", "Time to answer a check", ["api"], buckets=LATENCY_BUCKETS, registry=registry
        )
        self.cache = Counter(
            "spamfilter_cache_events", "Verdict cache hits, misses and errors", ["event"], registry=registry
        )
        self.model = Gauge(
            "spamfilter_model_info",
            "The model version serving",
            ["version"],
            registry=registry,
            multiprocess_mode="max",
        )
        self.labels = Counter("spamfilter_labels", "Labels received", ["label", "source"], registry=registry)
        self.reloads = Counter(
            "spamfilter_model_reloads",
            "Model switches by outcome (loaded, failed)",
            ["role", "outcome"],
            registry=registry,
        )
        self.shadow = Counter(
            "spamfilter_shadow_checks",
            "Checks the shadow model scored (agreed, disagreed, dropped)",
            ["outcome"],
            registry=registry,
        )
        self.rate_limits = Counter(
            "spamfilter_rate_limit_events",
            "Requests refused by a rate limit (key, ip, login), and limits skipped while Redis was unavailable",
            ["limit", "event"],
            registry=registry,
        )
        # Label lookups cost microseconds each; the hot path uses children bound once.
        self.cache_hit = self.cache.labels("hit")
        self.cache_miss = self.cache.labels("miss")
        self._checks: dict[tuple[str, str], Any] = {}
        self._latency: dict[str, Any] = {}

    def count_check(self, verdict: str, site: str) -> None:
        """One more check with this verdict for this site."""
        child = self._checks.get((verdict, site))
        if child is None:
            child = self._checks.setdefault((verdict, site), self.checks.labels(verdict, site))
        child.inc()

    def observe_latency(self, api: str, seconds: float) -> None:
        """Record how long a check took."""
        child = self._latency.get(api)
        if child is None:
            child = self._latency.setdefault(api, self.latency.labels(api))
        child.observe(seconds)

    def render(self) -> bytes:
        """The exposition text for /metrics."""
        if _multiprocess():
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)


def get_metrics() -> Metrics:
    """The current app's metrics."""
    metrics: Metrics = current_app.extensions["spamfilter.metrics"]
    return metrics


def init_app(app: Flask) -> None:
    """Create the metrics and the /metrics route."""
    app.extensions["spamfilter.metrics"] = Metrics()

    @app.get("/metrics")
    def metrics() -> Response:
        # Metrics cover every site, so they take the operators' token, not a site's API key
        # (Prometheus sends it with `authorization: {credentials: TOKEN}` in the scrape config).
        token = current_app.config["SPAMFILTER_METRICS_TOKEN"]
        if not token:
            raise NotFoundError("metrics are off: set SPAMFILTER_METRICS_TOKEN to turn them on")
        # Wrong tokens count against the address, like wrong keys (the limiter is made after the metrics).
        limiter: RateLimiter = current_app.extensions["spamfilter.ratelimit"]
        wait = limiter.blocked(request.environ)
        if wait:
            raise limiter.refuse_address(wait)
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
            limiter.failed(request.environ)
            raise UnauthorizedError("metrics need the SPAMFILTER_METRICS_TOKEN bearer token")
        return Response(get_metrics().render(), mimetype=CONTENT_TYPE_LATEST)
