"""A WSGI fast path for the hottest route: a well-formed `POST /v1/check` skips Flask's machinery.

Flask's request and response objects, context pushes and hooks cost more than the check
itself (about 0.15 ms against 0.05 ms for a cached verdict). This middleware answers a valid,
authorised `POST /v1/check` directly with the same validator, authenticator, checker and log
line the Flask route uses. Anything else, including every request that would be an error,
is handed to the Flask app untouched (its body re-wrapped), so errors are still produced in
one place.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterable
from typing import Any

import orjson
from flask import Flask

from service.apikeys import KeyAuthenticator, KeyInfo
from service.checks import Checker
from service.logs import log_request
from service.ratelimit import RateLimiter
from service.validation import CheckInput, loads_body, parse_comment

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def _is_json(content_type: str) -> bool:
    mimetype = content_type.split(";", 1)[0].strip(" \t").lower()  # as Werkzeug parses it
    return mimetype == "application/json" or (mimetype.startswith("application/") and mimetype.endswith("+json"))


class FastCheck:
    """WSGI middleware in front of the Flask app for `POST /v1/check`."""

    def __init__(self, app: Flask, inner: WsgiApp):
        self.inner = inner
        self.extensions = app.extensions
        self.max_body = app.config["SPAMFILTER_MAX_BODY_BYTES"]
        self.limiter: RateLimiter = app.extensions["spamfilter.ratelimit"]

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Answer the fast case here; hand everything else to Flask."""
        if environ.get("PATH_INFO") != "/v1/check" or environ.get("REQUEST_METHOD") != "POST":
            return self.inner(environ, start_response)
        started = time.perf_counter()
        length = environ.get("CONTENT_LENGTH") or ""
        if not (length.isascii() and length.isdigit()) or int(length) > self.max_body:
            return self.inner(environ, start_response)
        if not _is_json(environ.get("CONTENT_TYPE", "")):
            return self.inner(environ, start_response)
        body = environ["wsgi.input"].read(int(length))
        accepted = self._accept(environ, body)
        if accepted is None:
            environ["wsgi.input"] = io.BytesIO(body)
            return self.inner(environ, start_response)
        key, item = accepted
        checker: Checker = self.extensions["spamfilter.checker"]
        result = checker.check(item.comment, "json", key, item.comment_id)
        payload = orjson.dumps(result.as_dict())
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
        extra = {"verdict": result.verdict.value, "cached": result.cached, "site": key.site}
        log_request("POST", "/v1/check", 200, started, environ.get("REMOTE_ADDR"), key.id, extra)
        return [payload]

    def _accept(self, environ: dict[str, Any], body: bytes) -> tuple[KeyInfo, CheckInput] | None:
        """The key and the comment, or None when Flask should answer (with its error)."""
        scheme, _, token = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
        # A blocked address (too many bad keys) is Flask's to answer, which reads no unknown key.
        if scheme.lower() != "bearer" or self.limiter.blocked(environ):
            return None
        authenticator: KeyAuthenticator = self.extensions["spamfilter.keys"]
        try:
            key = authenticator.authenticate(token.strip())
            item = parse_comment(loads_body(body))
        except Exception:  # any problem is Flask's to answer, through its one error mapping
            return None
        # Over its limit: Flask answers the 429 (a refusal is not counted, so nothing counts twice).
        if self.limiter.keys is not None and self.limiter.keys.hit(key.id):
            return None
        return key, item


def init_app(app: Flask) -> None:
    """Put the fast path in front of the app's WSGI callable."""
    app.wsgi_app = FastCheck(app, app.wsgi_app)  # type: ignore[method-assign]
