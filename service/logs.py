"""Structured request logs: one JSON line per request, no keys, personal data masked."""

from __future__ import annotations

import ipaddress
import json
import logging
import sys
import time
from typing import Any

from flask import Flask, Response, g, request

log = logging.getLogger("spamfilter.request")


def mask_ip(value: str | None) -> str | None:
    """Keep the network, drop the host: 203.0.113.7 → 203.0.113.0/24, IPv6 to /48."""
    if not value:
        return None
    try:
        address = ipaddress.ip_address(value.split(",")[0].strip())
    except ValueError:
        return "invalid"
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


class JsonFormatter(logging.Formatter):
    """Log records as JSON objects."""

    def format(self, record: logging.LogRecord) -> str:
        """One line of JSON."""
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str) -> None:
    """Send the service's loggers to stderr as JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("spamfilter")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False


def log_request(
    method: str, path: str, status: int, started: float, client: str | None, key_id: int | None, extra: dict[str, Any]
) -> None:
    """One JSON line for a finished request: never keys, bodies, query strings or full addresses."""
    if not log.isEnabledFor(logging.INFO):
        return
    fields: dict[str, Any] = {
        "method": method,
        "path": path,  # never the query string: Akismet clients may put keys there
        "status": status,
        "ms": round((time.perf_counter() - started) * 1000, 2),
        "client": mask_ip(client),
    }
    if key_id is not None:
        fields["key_id"] = key_id
    fields.update(extra)
    log.info("request", extra={"fields": fields})


def init_app(app: Flask) -> None:
    """Time each request and log it."""

    @app.before_request
    def _start() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def _log(response: Response) -> Response:
        key = g.get("api_key")
        log_request(
            request.method,
            request.path,
            response.status_code,
            g.get("started", time.perf_counter()),
            request.remote_addr,
            key.id if key is not None else None,
            g.get("log_fields", {}),
        )
        return response
