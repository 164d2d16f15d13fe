"""Service settings: defaults, then `SPAMFILTER_*` (and `REDIS_URL` / `DATABASE_URL`) from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# name → (default, parser, what the README says). The README's table is checked against this.
SETTINGS: dict[str, tuple[Any, Any, str]] = {
    "SPAMFILTER_MODEL_DIR": (None, str, "model registry or version directory (default: the bundled model)"),
    "SPAMFILTER_STATE_DIR": ("var", str, "where the embedded SQLite database lives"),
    "DATABASE_URL": (
        None,
        str,
        "SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db (default: SQLite in the state dir)",
    ),
    "REDIS_URL": (None, str, "Redis for the verdict cache, e.g. redis://127.0.0.1:6379/0 (default: in-process cache)"),
    "SPAMFILTER_REDIS_SENTINELS": (
        None,
        str,
        "Redis Sentinel nodes, host:port[,host:port...]: the cache follows the master they name",
    ),
    "SPAMFILTER_REDIS_SENTINEL_SERVICE": ("mymaster", str, "the master's name in Sentinel"),
    "SPAMFILTER_REDIS_TIMEOUT_MS": (
        50,
        int,
        "Redis connect and read timeout; past it the cache is skipped (fail open)",
    ),
    "SPAMFILTER_REDIS_PREFIX": ("spamfilter", str, "prefix of every Redis key"),
    "SPAMFILTER_CACHE_TTL": (86400, int, "seconds a cached verdict lives"),
    "SPAMFILTER_CACHE_SIZE": (100_000, int, "entries in the in-process cache (used without REDIS_URL)"),
    "SPAMFILTER_CHECK_TTL": (604800, int, "seconds a check stays findable by id for feedback"),
    "SPAMFILTER_BATCH_LIMIT": (1000, int, "most comments in one /v1/check/batch request"),
    "SPAMFILTER_MAX_BODY_BYTES": (8 * 1024 * 1024, int, "largest request body accepted (413 above)"),
    "SPAMFILTER_KEY_CACHE_SECONDS": (30, int, "how long a worker trusts a looked-up API key (revocation delay)"),
    "SPAMFILTER_LOG_LEVEL": ("INFO", str, "log level of the JSON request log"),
    "SPAMFILTER_HAM_SAMPLE": (
        0.02,
        float,
        "share of ham checks kept for review (review, spam and discard are all kept)",
    ),
    "SPAMFILTER_MODEL_POLL_SECONDS": (
        5.0,
        float,
        "how often workers check the registry for a promoted model (a Redis notice wakes them sooner)",
    ),
    "SPAMFILTER_SHADOW_SAMPLE": (0.25, float, "share of checks a shadow model also scores, off the request path"),
    "SPAMFILTER_METRICS_TOKEN": (None, str, "bearer token for /metrics (unset: /metrics is off)"),
    "SPAMFILTER_RATE_LIMIT_PER_KEY": (
        120_000,
        int,
        "requests a minute per API key, a batch counting each comment (0: off)",
    ),
    "SPAMFILTER_RATE_LIMIT_PER_IP": (
        120,
        int,
        "requests a minute per client address that come without a valid key or token (0: off)",
    ),
    "SPAMFILTER_RATE_LIMIT_LOGIN": (
        20,
        int,
        "moderators' login attempts per 15 minutes per client address, and per moderator name (0: off)",
    ),
    "SPAMFILTER_TRUSTED_PROXIES": (
        0,
        int,
        "reverse proxies in front that append to X-Forwarded-For (0: limits use the connecting address)",
    ),
}


def load_settings(
    overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Defaults, overridden by the environment, overridden by `overrides` (tests)."""
    env = os.environ if environ is None else environ
    settings: dict[str, Any] = {}
    for name, (default, parse, _) in SETTINGS.items():
        raw = env.get(name)
        settings[name] = parse(raw) if raw not in (None, "") else default
    settings.update(overrides or {})
    if not settings["DATABASE_URL"]:
        state = Path(settings["SPAMFILTER_STATE_DIR"])
        settings["DATABASE_URL"] = f"sqlite:///{(state / 'spamfilter.db').resolve()}"
    return settings
