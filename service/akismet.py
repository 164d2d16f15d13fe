"""Akismet's API, byte for byte: form-encoded in, `text/plain` (or JSON for 1.2) out.

Akismet answers problems with status 200 and a body such as `invalid` or
`Missing required field: user_ip.` plus an `X-akismet-debug-help` header, and its clients
depend on exactly that, so this blueprint does too (the JSON API uses 4xx statuses instead).
"""

from __future__ import annotations

import csv
import io
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from flask import Blueprint, Response, current_app, g, jsonify, request
from werkzeug.datastructures import MultiDict

from service.apikeys import KeyInfo
from service.cache import get_cache
from service.checks import get_checker, this_month
from service.db import get_session
from service.errors import ApiError, UnauthorizedError
from service.labels import record_label
from service.metrics import get_metrics
from service.ratelimit import authenticate_limited
from service.rediskeys import usage_key
from service.validation import request_body
from spamfilter.comment import Comment, Verdict

bp = Blueprint("akismet", __name__)
THANKS = "Thanks for making the web a better place."
_FIELDS = {
    "comment_author": "author",
    "comment_author_email": "author_email",
    "comment_author_url": "author_url",
    "user_ip": "user_ip",
    "user_agent": "user_agent",
    "referrer": "referrer",
    "permalink": "permalink",
    "comment_type": "type",
    "blog_lang": "lang",
}
MAX_VALUE_CHARS = 100_000


def text(body: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A text/plain answer with Akismet's headers."""
    response = Response(body, status=status, mimetype="text/plain")
    response.headers.update(headers or {})
    return response


class AkismetError(Exception):
    """An Akismet-style refusal: a body and a debug-help header, status 200."""

    def __init__(self, body: str, help_text: str, status: int = 200):
        super().__init__(help_text)
        self.body, self.help_text, self.status = body, help_text, status


@bp.errorhandler(AkismetError)
def _akismet_error(exc: AkismetError) -> Response:
    return text(exc.body, exc.status, {"X-akismet-debug-help": exc.help_text})


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError) -> Response:
    if isinstance(exc, UnauthorizedError):
        return text("invalid", headers={"X-akismet-debug-help": exc.message})
    # A rate limit is 429 with Retry-After: neither `true` nor `false`, so every Akismet client
    # takes it as a failed call (the WordPress plugin holds the comment and re-checks it later).
    return text(exc.message, exc.status, {"X-akismet-debug-help": exc.message, **exc.headers()})


@bp.before_request
def _read_form() -> None:
    # Werkzeug drops a whole form body that is not UTF-8, which would surface as a misleading
    # "Missing required field"; decode it here so the client hears what is wrong.
    values = MultiDict(request.args)
    if request.mimetype == "application/x-www-form-urlencoded":
        try:
            body = request_body(request, cache=True).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise AkismetError("invalid", f"The request body is not valid UTF-8 (byte {exc.start})") from exc
        for name, value in parse_qsl(body, keep_blank_values=True):
            values.add(name, value)
    else:
        values.update(request.form)
    g.akismet_values = values


def _value(name: str) -> str | None:
    value = g.akismet_values.get(name)
    if value is not None and (len(value) > MAX_VALUE_CHARS or "\x00" in value):
        raise AkismetError("invalid", f'The "{name}" value is too long or contains NUL characters')
    return value or None


def _require(*names: str) -> None:
    for name in names:
        if not _value(name):
            raise AkismetError(f"Missing required field: {name}.", f'Empty "{name}" value')


def _key() -> KeyInfo:
    info = authenticate_limited(_value("api_key") or _value("key"))
    g.api_key = info
    return info


def _blog() -> str:
    blog = _value("blog") or ""
    try:
        parts = urlsplit(blog)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        parts = urlsplit("")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise AkismetError("invalid", "We were unable to parse your blog URI")
    return blog


def _comment(blog: str) -> Comment:
    context = {field: _value(name) for name, field in _FIELDS.items()}
    return Comment(text=_value("comment_content") or "", site=blog, **context)


def _truthy(name: str) -> bool:
    return (_value(name) or "").strip().lower() not in ("", "0", "false", "no")


@bp.post("/1.1/verify-key")
def verify_key() -> Response:
    """`valid` for a known key and a well-formed blog URL, else `invalid`."""
    if not _value("key") and not _value("api_key"):
        raise AkismetError("invalid", 'Empty "key" value')
    _blog()
    _key()
    return text("valid")


@bp.post("/1.1/comment-check")
def comment_check() -> Response:
    """`true` for spam (with `X-akismet-pro-tip: discard` for the discard tier), else `false`."""
    _require("api_key", "blog", "user_ip")
    key = _key()
    comment = _comment(_blog())
    # Akismet's is_test traffic is answered but never kept for review or training.
    result = get_checker().check(comment, "akismet", key, user_role=_value("user_role"), keep=not _truthy("is_test"))
    g.log_fields = {"verdict": result.verdict.value, "cached": result.cached, "site": key.site}
    headers = {"X-akismet-guid": result.id, "X-spamfilter-verdict": result.verdict.value}
    if result.verdict is Verdict.DISCARD:
        headers["X-akismet-pro-tip"] = "discard"
    spam = result.verdict in (Verdict.SPAM, Verdict.DISCARD)
    return text("true" if spam else "false", headers=headers)


def _submit(label: str) -> Response:
    _require("api_key", "blog", "user_ip")
    key = _key()
    blog = _blog()
    if _truthy("is_test"):
        return text(THANKS)  # test traffic is acknowledged but never becomes a training label
    guid = _value("guid") or request.headers.get("X-akismet-guid")
    record = get_checker().find(guid, key) if guid else None
    comment = _comment(blog)
    fields: dict[str, Any] = dict(record) if record else {"text": comment.text}
    for name in ("author", "author_url", "permalink", "type", "lang"):
        fields[name] = fields.get(name) or getattr(comment, name)
    fields["site"] = key.site  # the key's site, never the blog field: see api.feedback
    if not fields.get("text"):
        raise AkismetError("Missing required field: comment_content.", 'Empty "comment_content" value')
    record_label(
        get_session(),
        label,
        fields,
        "akismet",
        f"key:{key.id}",
        check_id=guid if record else None,
        key_id=key.id,
        model_version=fields.get("model_version"),
    )
    get_metrics().labels.labels(label, "akismet").inc()
    get_cache().put({}, {}, {usage_key_now(key): "missed_spam" if label == "spam" else "false_positives"})
    return text(THANKS)


def usage_key_now(key: KeyInfo) -> str:
    """This month's usage counter of a key."""
    return usage_key(_prefix(), key.id, this_month())


@bp.post("/1.1/submit-spam")
def submit_spam() -> Response:
    """Report a missed spam."""
    return _submit("spam")


@bp.post("/1.1/submit-ham")
def submit_ham() -> Response:
    """Report a false positive."""
    return _submit("ham")


@bp.route("/1.2/usage-limit", methods=["GET", "POST"])
def usage_limit() -> Response:
    """Calls this month; there is no limit on your own server."""
    _require("api_key")
    counts = get_cache().counts(usage_key_now(_key()))
    return jsonify(
        {
            "limit": "none",
            "usage": counts.get("spam", 0) + counts.get("ham", 0),
            "percentage": "0.00",
            "throttled": False,
        }
    )


@bp.route("/1.2/key-sites", methods=["GET", "POST"])
def key_sites() -> Response:
    """Per-site activity this month (one site per key here), as JSON or CSV."""
    key = _key()
    month = _value("month") or this_month()
    counts = get_cache().counts(usage_key(_prefix(), key.id, month))
    row = {
        "site": key.site,
        "api_calls": str(counts.get("spam", 0) + counts.get("ham", 0)),
        "spam": str(counts.get("spam", 0)),
        "ham": str(counts.get("ham", 0)),
        "missed_spam": str(counts.get("missed_spam", 0)),
        "false_positives": str(counts.get("false_positives", 0)),
        "is_revoked": False,
    }
    url_filter = _value("filter")
    rows = [row] if not url_filter or url_filter in key.site else []
    if (_value("format") or "json") == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["Site", "Total API Calls", "Spam", "Ham", "Missed Spam", "False Positives", "Is Revoked"])
        writer.writerows([[r[k] for k in row] for r in rows])
        return text(buffer.getvalue())
    return jsonify({month: rows, "limit": 500, "offset": 0, "total": len(rows)})


def _prefix() -> str:
    return str(current_app.config["SPAMFILTER_REDIS_PREFIX"])
