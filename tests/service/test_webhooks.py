"""Webhooks: a real local HTTP receiver gets signed notices, retried after a failure."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from flask import Flask
from sqlalchemy import select, update

from service.apikeys import find_key
from service.db import WebhookDelivery
from service.moderators import create_moderator
from service.webhooks import backoff, deliver_due, set_webhook
from tests.service.conftest import SPAM_TEXT, new_key
from tests.service.test_moderation import PASSWORD, _csrf, _login


class Receiver:
    """A local HTTP server that answers with the given statuses in turn and records requests."""

    def __init__(self, statuses: list[int]):
        self.statuses, self.requests = list(statuses), []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver([500])
    yield server
    server.close()


def test_an_overturn_is_notified_signed_and_retried(app: Flask, receiver: Receiver) -> None:
    site = f"https://hook-{uuid.uuid4().hex[:6]}.example"
    key = new_key(app, site)
    sessions = app.extensions["spamfilter.sessions"]
    with sessions() as session:
        secret = set_webhook(session, find_key(session, key[:10]), receiver.url)
        name = f"mod-{uuid.uuid4().hex[:6]}"
        create_moderator(session, name, PASSWORD)
    checks = [
        app.test_client()
        .post("/v1/check", json={"content": f"{SPAM_TEXT} {n}"}, headers={"Authorization": f"Bearer {key}"})
        .json
        for n in ("a", "b")
    ]
    app.extensions["spamfilter.checker"].keeper.flush()
    client = app.test_client()
    _login(client, name)
    token = _csrf(client, "/moderation")
    client.post(
        f"/moderation/api/decide/{checks[0]['id']}", json={"label": "spam"}, headers={"X-CSRF-Token": token}
    )  # agrees: no notice
    client.post(
        f"/moderation/api/decide/{checks[1]['id']}", json={"label": "ham"}, headers={"X-CSRF-Token": token}
    )  # overturns

    engine = app.extensions["spamfilter.engine"]
    with httpx.Client() as http:
        assert deliver_due(engine, http) >= 1
        with sessions() as session:
            delivery = session.scalars(
                select(WebhookDelivery).where(WebhookDelivery.payload.contains(checks[1]["id"]))
            ).one()
            assert (delivery.status, delivery.attempts, delivery.last_error) == ("pending", 1, "HTTP 500")
            when = delivery.next_attempt_at.replace(
                tzinfo=delivery.next_attempt_at.tzinfo or dt.UTC
            )  # SQLite keeps no zone
            assert when > dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)
            session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == delivery.id)
                .values(next_attempt_at=dt.datetime.now(dt.UTC))
            )
            session.commit()
        assert deliver_due(engine, http) >= 1
    with sessions() as session:
        assert session.get(WebhookDelivery, delivery.id).status == "delivered"

    assert len(receiver.requests) == 2
    headers, body = receiver.requests[-1]
    expected = hmac.new(
        secret.encode(), headers["X-Spamfilter-Timestamp"].encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    assert headers["X-Spamfilter-Signature"] == f"sha256={expected}"
    notice = json.loads(body)
    assert (notice["event"], notice["check_id"], notice["new_verdict"], notice["by"]) == (
        "verdict_changed",
        checks[1]["id"],
        "ham",
        f"moderator:{name}",
    )
    assert notice["old_verdict"] in ("spam", "discard") and notice["site"] == site

    stats = client.get("/moderation/api/stats").json["webhooks"]
    assert stats["counts"].get("delivered", 0) >= 1


def test_deliveries_give_up_after_the_last_try(app: Flask) -> None:
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 9, 20)] == [10, 20, 40, 2560, 3600]
    with app.extensions["spamfilter.sessions"]() as session:
        key = find_key(session, new_key(app)[:10])
        set_webhook(session, key, "http://127.0.0.1:1/closed")
        session.add(
            WebhookDelivery(
                key_id=key.id,
                check_id="c",
                new_verdict="ham",
                payload="{}",
                status="pending",
                attempts=7,
                next_attempt_at=dt.datetime.now(dt.UTC),
            )
        )
        session.commit()
    with httpx.Client() as http:
        deliver_due(app.extensions["spamfilter.engine"], http)
    with app.extensions["spamfilter.sessions"]() as session:
        failed = session.scalars(select(WebhookDelivery).where(WebhookDelivery.key_id == key.id)).one()
    assert (failed.status, failed.attempts) == ("failed", 8) and failed.last_error


@pytest.mark.parametrize("url", ["ftp://x.example/hook", "not a url", "http://127.0.0.1:abc/hook"])
def test_webhook_urls_must_be_http(app: Flask, url: str) -> None:
    with (
        app.extensions["spamfilter.sessions"]() as session,
        pytest.raises(ValueError, match="webhook URL must be http"),
    ):
        set_webhook(session, find_key(session, new_key(app)[:10]), url)


def test_every_change_of_the_effective_verdict_is_told(app: Flask) -> None:
    key = new_key(app, f"https://flip-{uuid.uuid4().hex[:6]}.example")
    sessions = app.extensions["spamfilter.sessions"]
    name = f"mod-{uuid.uuid4().hex[:6]}"
    with sessions() as session:
        set_webhook(session, find_key(session, key[:10]), "http://127.0.0.1:9/unused")
        create_moderator(session, name, PASSWORD)
    check = (
        app.test_client()
        .post("/v1/check", json={"content": f"{SPAM_TEXT} flip"}, headers={"Authorization": f"Bearer {key}"})
        .json
    )
    assert check["verdict"] in ("spam", "discard")
    app.extensions["spamfilter.checker"].keeper.flush()
    client = app.test_client()
    _login(client, name)
    token = {"X-CSRF-Token": _csrf(client, "/moderation")}
    label_id = client.post(f"/moderation/api/decide/{check['id']}", json={"label": "ham"}, headers=token).json[
        "label_id"
    ]
    client.post(f"/moderation/api/decide/{check['id']}", json={"label": "spam"}, headers=token)
    client.post(f"/moderation/api/decide/{check['id']}", json={"label": "spam"}, headers=token)  # no change: no notice
    client.post(f"/moderation/api/undo/{label_id}", headers=token)  # back to ham
    client.post(f"/moderation/api/undo/{label_id}", headers=token)  # back to no label: the spam verdict stands
    with sessions() as session:
        told = session.scalars(
            select(WebhookDelivery.new_verdict)
            .where(WebhookDelivery.check_id == check["id"])
            .order_by(WebhookDelivery.id)
        ).all()
    assert told == ["ham", "spam", "ham", "spam"]


def test_a_bad_url_in_the_database_fails_its_delivery_not_the_sender(app: Flask) -> None:
    with app.extensions["spamfilter.sessions"]() as session:
        key = find_key(session, new_key(app)[:10])
        key.webhook_url, key.webhook_secret = "http://127.0.0.1:abc/hook", "s"
        session.add(
            WebhookDelivery(
                key_id=key.id,
                check_id="c",
                new_verdict="ham",
                payload="{}",
                status="pending",
                attempts=0,
                next_attempt_at=dt.datetime.now(dt.UTC),
            )
        )
        session.commit()
    with httpx.Client() as http:
        assert deliver_due(app.extensions["spamfilter.engine"], http) >= 1  # other tests may have left some due
    with app.extensions["spamfilter.sessions"]() as session:
        delivery = session.scalars(select(WebhookDelivery).where(WebhookDelivery.key_id == key.id)).one()
    assert (delivery.status, delivery.attempts) == ("pending", 1) and delivery.last_error
