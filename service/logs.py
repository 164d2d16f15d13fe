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


def init_app(app: Flask) -> None:
    """Time each request and log it without keys, bodies or full client addresses."""

    @app.before_request
    def _start() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def _log(response: Response) -> Response:
        if not log.isEnabledFor(logging.INFO):
            return response
        fields = {
            "method": request.method,
            "path": request.path,  # never the query string: Akismet clients may put keys there
            "status": response.status_code,
            "ms": round((time.perf_counter() - g.get("started", time.perf_counter())) * 1000, 2),
            "client": mask_ip(request.remote_addr),
        }
        key = g.get("api_key")
        if key is not None:
            fields["key_id"] = key.id
        fields.update(g.get("log_fields", {}))
        log.info("request", extra={"fields": fields})
        return response
