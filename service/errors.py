"""Client errors with their HTTP status, and the one place that turns exceptions into responses."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger("spamfilter.service")


class ApiError(Exception):
    """A client error: a status, a stable code, a message, and the offending field if any."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field

    def headers(self) -> dict[str, str]:
        """Headers the answer must carry besides the body."""
        return {}


class UnauthorizedError(ApiError):
    """No API key, or one that is unknown or revoked."""

    status, code = 401, "unauthorized"


class NotFoundError(ApiError):
    """The thing asked for does not exist (or no longer)."""

    status, code = 404, "not_found"


class PayloadTooLargeError(ApiError):
    """The body or a list in it is larger than allowed."""

    status, code = 413, "payload_too_large"


class UnsupportedMediaTypeError(ApiError):
    """The body is not in a format the route reads."""

    status, code = 415, "unsupported_media_type"


class ValidationError(ApiError):
    """The body parsed but a field is missing, of the wrong type or out of range."""

    status, code = 422, "invalid_field"


class RateLimitedError(ApiError):
    """Too many requests from this key or client address for now; `retry_after` says for how long."""

    status, code = 429, "rate_limited"

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        """`Retry-After` in whole seconds."""
        return {"Retry-After": str(self.retry_after)}


class UnavailableError(ApiError):
    """A dependency the route cannot do without (the database) is down."""

    status, code = 503, "unavailable"


_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def error_body(status: int, code: str, message: str, field: str | None = None) -> Response:
    """The JSON error shape every route uses."""
    error: dict[str, str] = {"code": code, "message": message}
    if field:
        error["field"] = field
    response = jsonify({"error": error})
    response.status_code = status
    return response


def init_app(app: Flask) -> None:
    """Register the handlers: API errors, HTTP errors and anything unexpected, all as JSON."""

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        response = error_body(exc.status, exc.code, exc.message, exc.field)
        response.headers.update(exc.headers())
        return response

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        if status == 413:
            limit = app.config["SPAMFILTER_MAX_BODY_BYTES"]
            return error_body(413, "payload_too_large", f"request body larger than {limit} bytes")
        response = error_body(status, _HTTP_CODES.get(status, "http_error"), exc.description or exc.name)
        # Keep the exception's own headers, e.g. the `Allow` list a 405 must carry (RFC 9110).
        response.headers.extend((k, v) for k, v in exc.get_headers() if k.lower() != "content-type")
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_body(500, "internal_error", "internal error; it has been logged")
