"""Webhooks: a site hears when a moderator changes one of its comments' verdicts.

Each notification is a JSON body signed with the key's webhook secret:
`X-Spamfilter-Signature: sha256=HMAC(secret, "<timestamp>.<body>")` and
`X-Spamfilter-Timestamp: <unix seconds>` (signing the time stops replays). Deliveries are rows
in the database, claimed atomically so any worker may send them, retried with exponential
backoff, and marked failed after MAX_ATTEMPTS; the statistics page shows the failures.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
import time
from typing import Any, cast
from urllib.parse import urlsplit

import httpx
from flask import Flask
from sqlalchemy import func, select, update
from sqlalchemy.engine import CursorResult, Engine
from sqlalchemy.orm import Session

from service.db import ApiKey, StoredCheck, WebhookDelivery, utcnow

log = logging.getLogger("spamfilter.webhooks")
MAX_ATTEMPTS = 8
TIMEOUT_SECONDS = 5.0
POLL_SECONDS = 2.0
LEASE = dt.timedelta(seconds=4 * TIMEOUT_SECONDS)


def backoff(attempts: int) -> dt.timedelta:
    """Wait before the next try: 10 s, 20 s, 40 s … capped at an hour."""
    return dt.timedelta(seconds=min(10 * 2 ** max(attempts - 1, 0), 3600))


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header's value for a body sent at `timestamp`."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def set_webhook(session: Session, key: ApiKey, url: str | None) -> str | None:
    """Set (or with None remove) a key's webhook URL; returns the new secret, shown once."""
    if url is None:
        key.webhook_url = key.webhook_secret = None
        session.commit()
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
        httpx.URL(url)
    except (ValueError, httpx.InvalidURL) as exc:
        raise ValueError(f"a webhook URL must be http(s) with a valid host and port, not {url!r}") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"a webhook URL must be http(s), not {url!r}")
    key.webhook_url, key.webhook_secret = url, secrets.token_urlsafe(32)
    session.commit()
    return key.webhook_secret


def notify_if_changed(session: Session, check: StoredCheck, label: str | None, actor: str) -> bool:
    """Queue a notice when the comment's effective verdict now differs from what the site knows.

    The site knows the check's own verdict (review counts as not spam: Akismet answered false)
    until told otherwise by a notice; a moderator's label, or its undo back to no label, is the
    effective verdict now. Going back and forth is told each time; a no-op is not.
    """
    key = session.get(ApiKey, check.key_id)
    if key is None or not key.webhook_url:
        return False
    told = session.scalars(
        select(WebhookDelivery.new_verdict)
        .where(WebhookDelivery.check_id == check.id)
        .order_by(WebhookDelivery.id.desc())
    ).first()
    site_thinks_spam = told == "spam" if told is not None else check.verdict in ("spam", "discard")
    now_spam = label == "spam" if label is not None else check.verdict in ("spam", "discard")
    if now_spam == site_thinks_spam:
        return False
    new_verdict = "spam" if now_spam else "ham"
    payload = {
        "event": "verdict_changed",
        "check_id": check.id,
        "site": check.site,
        "old_verdict": check.verdict,
        "new_verdict": new_verdict,
        "by": actor,
        "at": utcnow().isoformat(),
    }
    session.add(
        WebhookDelivery(
            key_id=key.id,
            check_id=check.id,
            new_verdict=new_verdict,
            payload=json.dumps(payload),
            status="pending",
            attempts=0,
            next_attempt_at=utcnow(),
        )
    )
    session.commit()
    return True


def deliver_due(engine: Engine, client: httpx.Client, limit: int = 20) -> int:
    """Send the deliveries that are due; returns how many were attempted."""
    attempted = 0
    with Session(engine) as session:
        # A "sending" row whose lease ran out was left by a worker that died mid-send: send again.
        due = session.scalars(
            select(WebhookDelivery.id)
            .where(WebhookDelivery.status.in_(("pending", "sending")), WebhookDelivery.next_attempt_at <= utcnow())
            .order_by(WebhookDelivery.next_attempt_at)
            .limit(limit)
        ).all()
        for delivery_id in due:
            result = session.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.id == delivery_id,
                    WebhookDelivery.status.in_(("pending", "sending")),
                    WebhookDelivery.next_attempt_at <= utcnow(),
                )
                .values(status="sending", next_attempt_at=utcnow() + LEASE)
            )
            claimed = cast("CursorResult[Any]", result).rowcount
            session.commit()
            if claimed:  # another worker did not take it first
                _attempt(session, delivery_id, client)
                attempted += 1
    return attempted


def _attempt(session: Session, delivery_id: int, client: httpx.Client) -> None:
    delivery = session.get(WebhookDelivery, delivery_id)
    assert delivery is not None  # nosec B101  # claimed above, so it exists; for the type checker
    key = session.get(ApiKey, delivery.key_id)
    delivery.attempts += 1
    error: str | None = None
    if key is None or not key.webhook_url or not key.webhook_secret:
        error = "the key has no webhook any more"
    else:
        body = delivery.payload.encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-Spamfilter-Timestamp": timestamp,
            "X-Spamfilter-Signature": sign(key.webhook_secret, timestamp, body),
        }
        try:
            response = client.post(key.webhook_url, content=body, headers=headers, timeout=TIMEOUT_SECONDS)
            if response.status_code >= 300:
                error = f"HTTP {response.status_code}"
        except Exception as exc:  # any failure is this delivery's, never the sender thread's
            error = exc.__class__.__name__
    if error is None:
        delivery.status, delivery.delivered_at, delivery.last_error = "delivered", utcnow(), None
    else:
        delivery.last_error = error
        done = delivery.attempts >= MAX_ATTEMPTS
        delivery.status = "failed" if done else "pending"
        delivery.next_attempt_at = utcnow() + backoff(delivery.attempts)
        log.warning("webhook delivery %s failed (attempt %s): %s", delivery.id, delivery.attempts, error)
    session.commit()


def delivery_stats(session: Session) -> dict[str, Any]:
    """Counts by status, and the failing ones (retrying or given up) for the statistics page."""
    counts = dict(session.execute(select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status)).all())
    failing = session.scalars(
        select(WebhookDelivery)
        .where(WebhookDelivery.last_error.is_not(None), WebhookDelivery.status != "delivered")
        .order_by(WebhookDelivery.id.desc())
        .limit(20)
    ).all()
    return {
        "counts": {status: int(n) for status, n in counts.items()},
        "failing": [
            {"id": d.id, "key_id": d.key_id, "status": d.status, "attempts": d.attempts, "error": d.last_error}
            for d in failing
        ],
    }


class Deliverer:
    """A background thread per worker that sends due deliveries every POLL_SECONDS."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._pid = 0
        self._stop = threading.Event()

    def ensure_running(self) -> None:
        """Start this process's thread (threads do not survive gunicorn's fork)."""
        if self._pid != os.getpid() and not self._stop.is_set():
            self._pid = os.getpid()
            threading.Thread(target=self._run, name="spamfilter-webhooks", daemon=True).start()

    def _run(self) -> None:
        with httpx.Client(follow_redirects=False) as client:
            while not self._stop.wait(POLL_SECONDS):
                try:
                    deliver_due(self.engine, client)
                except Exception as exc:  # the thread must outlive any one bad round
                    log.warning("webhook deliveries wait: %s", exc.__class__.__name__)

    def close(self) -> None:
        """Stop the thread."""
        self._stop.set()


def get_deliverer(app: Flask) -> Deliverer:
    """The app's deliverer."""
    deliverer: Deliverer = app.extensions["spamfilter.webhooks"]
    return deliverer


def init_app(app: Flask) -> None:
    """A deliverer per app: gunicorn starts it in each worker, moderation requests elsewhere."""
    app.extensions["spamfilter.webhooks"] = Deliverer(app.extensions["spamfilter.engine"])
