"""Redis clients, made in one place: a URL, or Redis Sentinel naming the current master."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import redis
from redis.sentinel import Sentinel


def redis_configured(config: Mapping[str, Any]) -> bool:
    """Whether the service should use Redis at all."""
    return bool(config.get("REDIS_URL") or config.get("SPAMFILTER_REDIS_SENTINELS"))


def _sentinel_nodes(value: str) -> list[tuple[str, int]]:
    nodes = []
    for item in value.split(","):
        host, _, port = item.strip().rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"SPAMFILTER_REDIS_SENTINELS takes host:port[,host:port...], not {value!r}")
        nodes.append((host, int(port)))
    return nodes


def make_redis(config: Mapping[str, Any], timeout: float, **options: Any) -> redis.Redis:
    """A client with these timeouts: through Sentinel when sentinels are configured, else from REDIS_URL.

    With Sentinel, REDIS_URL (optional) still gives the database number and password; the host
    and port come from the sentinels, asked again on every reconnect, so a failover is followed.
    """
    sentinels = config.get("SPAMFILTER_REDIS_SENTINELS")
    if not sentinels:
        return redis.Redis.from_url(
            config["REDIS_URL"], socket_timeout=timeout, socket_connect_timeout=timeout, **options
        )
    url_options: dict[str, Any] = {}
    if config.get("REDIS_URL"):
        parsed = redis.connection.parse_url(config["REDIS_URL"])
        url_options = {k: parsed[k] for k in ("db", "password", "username") if parsed.get(k) is not None}
    sentinel = Sentinel(_sentinel_nodes(sentinels), socket_timeout=timeout, socket_connect_timeout=timeout)
    return sentinel.master_for(
        config["SPAMFILTER_REDIS_SENTINEL_SERVICE"],
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        **url_options,
        **options,
    )
