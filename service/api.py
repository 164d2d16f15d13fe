"""The JSON API: /v1/check, /v1/check/batch and /v1/feedback, with bearer API keys."""

from __future__ import annotations

from typing import Any

import orjson
from flask import Blueprint, Response, current_app, g, jsonify, request

from service.apikeys import KeyInfo, authenticate_bearer
from service.checks import get_checker
from service.db import get_session
from service.errors import NotFoundError, ValidationError
from service.labels import record_label
from service.metrics import get_metrics
from service.ratelimit import get_limiter
from service.validation import json_body, parse_batch, parse_comment

bp = Blueprint("api", __name__, url_prefix="/v1")


@bp.before_request
def _authenticate() -> None:
    g.api_key = authenticate_bearer(request.headers.get("Authorization", ""))


def _json(body: dict[str, Any], status: int = 200) -> Response:
    # orjson straight into a Response: jsonify's generic path costs more than the check itself.
    return Response(orjson.dumps(body), status, mimetype="application/json")


def _key() -> KeyInfo:
    key: KeyInfo = g.api_key
    return key


@bp.post("/check")
def check() -> Response:
    """Check one comment."""
    item = parse_comment(json_body(request))
    result = get_checker().check(item.comment, "json", _key(), item.comment_id)
    g.log_fields = {"verdict": result.verdict.value, "cached": result.cached, "site": _key().site}
    return _json(result.as_dict())


@bp.post("/check/batch")
def check_batch() -> Response:
    """Check up to SPAMFILTER_BATCH_LIMIT comments, answered in the same order."""
    items = parse_batch(json_body(request), current_app.config["SPAMFILTER_BATCH_LIMIT"])
    get_limiter().charge(_key(), len(items) - 1)  # each comment counts: the request itself already did
    results = [get_checker().check(i.comment, "json-batch", _key(), i.comment_id).as_dict() for i in items]
    g.log_fields = {"batch": len(results), "site": _key().site}
    return _json({"results": results})


def _feedback_fields(body: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The comment a feedback is about: from a check id, or from the comment's own fields."""
    check_id = body.get("id")
    if check_id is not None:
        if not isinstance(check_id, str):
            raise ValidationError("id must be a string", field="id")
        record = get_checker().find(check_id, _key())
        if record is None:
            raise NotFoundError(
                f"no check with id {check_id[:64]!r} (unknown, or older than the check TTL)", field="id"
            )
        return record, check_id
    item = parse_comment({k: v for k, v in body.items() if k != "label"})
    fields = {
        "text": item.comment.text,
        **{k: getattr(item.comment, k) for k in ("author", "author_url", "permalink", "type", "lang", "site")},
    }
    return fields, None


@bp.post("/feedback")
def feedback() -> Response:
    """Label a checked comment (by `id`) or any comment (by its fields) as spam or ham."""
    body = json_body(request)
    label = body.get("label")
    if label not in ("spam", "ham"):
        raise ValidationError("label must be spam or ham", field="label")
    if "id" in body and set(body) - {"id", "label"}:
        raise ValidationError("send either id or the comment's fields, not both", field="id")
    fields, check_id = _feedback_fields(body)
    # Labels belong to the key's site whatever the body says: one site cannot read or flip
    # another's labels by naming it.
    fields["site"] = _key().site
    outcome = record_label(
        get_session(),
        label,
        fields,
        "api",
        f"key:{_key().id}",
        check_id=check_id,
        key_id=_key().id,
        model_version=fields.get("model_version"),
    )
    get_metrics().labels.labels(label, "api").inc()
    response = jsonify({"id": outcome.id, "label": outcome.label, "status": outcome.status})
    response.status_code = 201 if outcome.status == "created" else 200
    return response
