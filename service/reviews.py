"""The review queue: kept checks, most uncertain first, and decisions that become labels."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from flask import Blueprint, Response, g, jsonify, request
from sqlalchemy import Select, func, select
from sqlalchemy.exc import SQLAlchemyError

from service.apikeys import KeyInfo, authenticate_bearer
from service.db import Label, StoredCheck, get_session, stored_time
from service.errors import NotFoundError, PayloadTooLargeError, UnavailableError, ValidationError
from service.labels import label_history, record_label, undo_label
from service.metrics import get_metrics
from service.validation import json_body
from service.webhooks import notify_if_changed

bp = Blueprint("reviews", __name__, url_prefix="/v1")
MAX_PAGE = 200
MAX_BULK = 500
VERDICTS = ("ham", "review", "spam", "discard")


@bp.before_request
def _authenticate() -> None:
    g.api_key = authenticate_bearer(request.headers.get("Authorization", ""))


def _key() -> KeyInfo:
    key: KeyInfo = g.api_key
    return key


def _int(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
        raise ValidationError(f"{name} must be a whole number from {low} to {high}", field=name)
    return int(raw)


def _time(name: str) -> dt.datetime | None:
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        value = dt.datetime.fromisoformat(raw)
    except ValueError as exc:
        raise ValidationError(f"{name} must be an ISO 8601 date or time", field=name) from exc
    # In UTC: SQLite stores times without their offset, so an offset must not reach it.
    try:
        return value.astimezone(dt.UTC) if value.tzinfo else value.replace(tzinfo=dt.UTC)
    except OverflowError:  # an offset pushes it past year 1 or 9999: as far as a bound can go
        return (dt.datetime.min if value.year == 1 else dt.datetime.max).replace(tzinfo=dt.UTC)


def _utc(value: dt.datetime) -> str:
    return stored_time(value).isoformat()


def valid_check_id(check_id: object) -> bool:
    """Check ids are 32 hex digits; anything else cannot name a kept check."""
    return isinstance(check_id, str) and 0 < len(check_id) <= 32 and check_id.isascii() and check_id.isalnum()


def review_query(site: str | None) -> Select[StoredCheck, str | None, int]:
    """Kept checks (of one site, or all), with their current label, filtered by the query string."""
    query = select(StoredCheck, Label.label, Label.id).outerjoin(Label, Label.fingerprint == StoredCheck.fingerprint)
    if site is not None:
        query = query.where(StoredCheck.site == site)
    if site is not None and "\x00" in site:
        raise ValidationError("site must not contain NUL characters", field="site")
    verdicts = [v for v in request.args.get("verdict", "").split(",") if v]
    if any(v not in VERDICTS for v in verdicts):
        raise ValidationError(f"verdict must be among {', '.join(VERDICTS)}", field="verdict")
    if verdicts:
        query = query.where(StoredCheck.verdict.in_(verdicts))
    reason = request.args.get("reason")
    if reason:
        query = query.where(StoredCheck.reasons.contains(json.dumps(reason)[1:-1]))
    since, until = _time("since"), _time("until")
    if since:
        query = query.where(StoredCheck.created_at >= since)
    if until:
        query = query.where(StoredCheck.created_at < until)
    labelled = request.args.get("labelled", "false")
    if labelled not in ("true", "false", "all"):
        raise ValidationError("labelled must be true, false or all", field="labelled")
    if labelled == "false":
        query = query.where(Label.label.is_(None))
    elif labelled == "true":
        query = query.where(Label.label.is_not(None))
    return query


def review_item(check: StoredCheck, label: str | None, label_id: int | None) -> dict[str, Any]:
    """A kept check as the queue shows it."""
    return {
        "id": check.id,
        "content": check.text,
        **{name: getattr(check, name) for name in ("author", "author_url", "permalink", "type", "lang")},
        "verdict": check.verdict,
        "spam_probability": check.spam_probability,
        "reasons": json.loads(check.reasons),
        "model_version": check.model_version,
        "created_at": _utc(check.created_at),
        "label": label,
        "label_id": label_id,
    }


def review_page(site: str | None) -> dict[str, Any]:
    """One page of the queue: most uncertain first (where a decision teaches the model most)."""
    limit, offset = _int("limit", 50, 1, MAX_PAGE), _int("offset", 0, 0, 10**9)
    query = review_query(site)
    try:
        session = get_session()
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = session.execute(
            query.order_by(StoredCheck.uncertainty, StoredCheck.created_at.desc(), StoredCheck.id)
            .limit(limit)
            .offset(offset)
        ).all()
    except SQLAlchemyError as exc:
        raise UnavailableError("the database is unavailable; the review queue cannot be read now") from exc
    items = [review_item(check, label, label_id) for check, label, label_id in rows]
    following = offset + len(items) if offset + len(items) < total else None
    return {"items": items, "total": total, "limit": limit, "offset": offset, "next_offset": following}


@bp.get("/reviews")
def list_reviews() -> Response:
    """The key's site's queue, paginated."""
    return jsonify(review_page(_key().site))


def label_of(body: dict[str, Any]) -> str:
    """The body's `label`, which must be spam or ham."""
    label = body.get("label")
    if label not in ("spam", "ham"):
        raise ValidationError("label must be spam or ham", field="label")
    return str(label)


def _decide(check_id: str, label: str) -> dict[str, Any]:
    return decide_check(check_id, label, _key().site, "review", f"key:{_key().id}", _key().id)


def decide_check(
    check_id: str, label: str, site: str | None, source: str, actor: str, key_id: int | None
) -> dict[str, Any]:
    """Label a kept check (of `site`, or any site when None) on behalf of `actor`."""
    if not valid_check_id(check_id):
        raise NotFoundError(f"no kept check {check_id[:64]!r} for this site", field="id")
    try:
        check = get_session().get(StoredCheck, check_id)
    except SQLAlchemyError as exc:
        raise UnavailableError("the database is unavailable; nothing was saved, please retry") from exc
    if check is None or (site is not None and check.site != site):
        raise NotFoundError(f"no kept check {check_id[:64]!r} for this site", field="id")
    fields = {
        name: getattr(check, name) for name in ("text", "author", "author_url", "permalink", "type", "lang", "site")
    }
    outcome = record_label(
        get_session(), label, fields, source, actor, check_id=check.id, key_id=key_id, model_version=check.model_version
    )
    get_metrics().labels.labels(label, source).inc()
    if source == "moderator" and outcome.status != "unchanged":
        try:
            notify_if_changed(get_session(), check, label, actor)
        except SQLAlchemyError as exc:  # the label is saved; only the site's notice is missing
            raise UnavailableError("the label was saved but the site's webhook could not be queued") from exc
    return {"id": check.id, "label_id": outcome.id, "label": outcome.label, "status": outcome.status}


@bp.post("/reviews/<check_id>")
def decide(check_id: str) -> Response:
    """Label one kept check."""
    return jsonify(_decide(check_id, label_of(json_body(request))))


@bp.post("/reviews/bulk")
def decide_many() -> Response:
    """Label up to MAX_BULK kept checks at once: `{"ids": [...], "label": "spam"}`."""
    body = json_body(request)
    label = label_of(body)
    ids = body.get("ids")
    if not isinstance(ids, list) or not ids:
        raise ValidationError("ids must be a non-empty list of check ids", field="ids")
    if len(ids) > MAX_BULK:
        raise PayloadTooLargeError(f"at most {MAX_BULK} ids per bulk decision, got {len(ids)}", field="ids")
    ensure_all_kept(ids, _key().site)
    return jsonify({"results": [_decide(i, label) for i in dict.fromkeys(ids)]})


def ensure_all_kept(ids: list[object], site: str | None) -> None:
    """Refuse a bulk decision before writing anything if any id is not a kept check of `site`."""
    bad = next((i for i in ids if not valid_check_id(i)), None)
    if bad is not None:
        raise ValidationError(f"not a check id: {str(bad)[:64]!r}", field="ids")
    try:
        query = select(StoredCheck.id).where(StoredCheck.id.in_(ids))
        found = set(get_session().scalars(query if site is None else query.where(StoredCheck.site == site)))
    except SQLAlchemyError as exc:
        raise UnavailableError("the database is unavailable; nothing was saved, please retry") from exc
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotFoundError(f"no kept check {str(missing[0])[:64]!r} for this site; nothing was saved", field="ids")


@bp.post("/labels/<int:label_id>/undo")
def undo(label_id: int) -> Response:
    """Revert a label's latest change; undoing its creation withdraws it."""
    outcome = undo_label(get_session(), label_id, _key().site, f"key:{_key().id}")
    history = [
        {"old": e.old_label, "new": e.new_label, "source": e.source, "actor": e.actor, "at": e.created_at.isoformat()}
        for e in label_history(get_session(), label_id)
    ]
    return jsonify(
        {"label_id": outcome.id, "label": None if outcome.label == "none" else outcome.label, "history": history}
    )
