"""The moderators' page without a browser: accounts, login, CSRF, cookies, decisions and undo."""

from __future__ import annotations

import re
import uuid

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from service.moderators import create_moderator
from spamfilter.cli import main
from tests.service.conftest import SPAM_TEXT, new_key

PASSWORD = "correct horse battery"


@pytest.fixture
def moderator(app: Flask) -> str:
    name = f"mod-{uuid.uuid4().hex[:6]}"
    with app.extensions["spamfilter.sessions"]() as session:
        create_moderator(session, name, PASSWORD)
    return name


def _csrf(client: FlaskClient, path: str = "/moderation/login") -> str:
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page) or re.search(r"const CSRF = \"([^\"]+)\"", page)
    assert match, page[:300]
    return match.group(1)


def _login(client: FlaskClient, name: str, password: str = PASSWORD):
    return client.post("/moderation/login", data={"name": name, "password": password, "csrf_token": _csrf(client)})


def test_login_sets_a_safe_cookie_and_opens_the_page(app: Flask, moderator: str) -> None:
    client = app.test_client()
    assert client.get("/moderation").status_code == 302  # to the login form
    response = _login(client, moderator)
    assert response.status_code == 302 and response.headers["Location"].endswith("/moderation")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert moderator in client.get("/moderation").get_data(as_text=True)
    https = app.test_client()
    secure = https.post(
        "/moderation/login",
        data={"name": moderator, "password": PASSWORD, "csrf_token": _csrf(https)},
        headers={"X-Forwarded-Proto": "https"},
    )
    assert "Secure" in secure.headers["Set-Cookie"]


@pytest.mark.parametrize(("password", "csrf_ok", "status"), [("wrong password!", True, 401), (PASSWORD, False, 401)])
def test_bad_logins_are_refused(app: Flask, moderator: str, password: str, csrf_ok: bool, status: int) -> None:
    client = app.test_client()
    token = _csrf(client) if csrf_ok else "forged"
    response = client.post("/moderation/login", data={"name": moderator, "password": password, "csrf_token": token})
    assert response.status_code == status
    assert client.get("/moderation").status_code == 302


def test_decide_and_undo_need_the_csrf_header(app: Flask, moderator: str) -> None:
    key = new_key(app, f"https://mod-{uuid.uuid4().hex[:6]}.example")
    check = (
        app.test_client()
        .post("/v1/check", json={"content": SPAM_TEXT + " moderation"}, headers={"Authorization": f"Bearer {key}"})
        .json
    )
    app.extensions["spamfilter.checker"].keeper.flush()
    client = app.test_client()
    _login(client, moderator)
    token = _csrf(client, "/moderation")
    assert client.post(f"/moderation/api/decide/{check['id']}", json={"label": "spam"}).status_code == 401
    decided = client.post(
        f"/moderation/api/decide/{check['id']}", json={"label": "spam"}, headers={"X-CSRF-Token": token}
    ).json
    assert decided["status"] == "created"
    undone = client.post(f"/moderation/api/undo/{decided['label_id']}", headers={"X-CSRF-Token": token}).json
    assert undone["label"] is None
    assert [(h["new"], h["actor"]) for h in undone["history"]] == [
        ("spam", f"moderator:{moderator}"),
        (None, f"moderator:{moderator}"),
    ]
    queue = client.get("/moderation/api/queue").json
    assert check["id"] in {item["id"] for item in queue["items"]}


def test_queue_api_needs_a_login(client: FlaskClient) -> None:
    assert client.get("/moderation/api/queue").status_code == 401


@pytest.mark.parametrize(
    ("name", "password", "message"),
    [("", "long enough password", "1 to 100 characters"), ("bob", "short", "at least 10 characters")],
)
def test_moderator_rules(app: Flask, name: str, password: str, message: str) -> None:
    with app.extensions["spamfilter.sessions"]() as session, pytest.raises(ValueError, match=message):
        create_moderator(session, name, password)


def test_cli_creates_moderators_with_hashed_passwords(tmp_path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'mods.db'}"}
    result = CliRunner().invoke(
        main, ["moderators", "create", "--name", "alice", "--password-stdin"], input=PASSWORD + "\n", env=env
    )
    assert result.exit_code == 0 and "created moderator alice" in result.output
    again = CliRunner().invoke(
        main, ["moderators", "create", "--name", "alice", "--password-stdin"], input=PASSWORD + "\n", env=env
    )
    assert again.exit_code != 0 and "already a moderator called 'alice'" in again.output
    from sqlalchemy import create_engine, text

    engine = create_engine(env["DATABASE_URL"])
    with engine.connect() as connection:
        stored = connection.execute(text("select password_hash from moderators")).scalar_one()
    engine.dispose()
    assert stored.startswith("scrypt:") and PASSWORD not in stored


def test_bulk_decisions_and_stats(app: Flask, moderator: str) -> None:
    site = f"https://stats-{uuid.uuid4().hex[:6]}.example"
    key = new_key(app, site)
    texts = [SPAM_TEXT + " bulk one", SPAM_TEXT + " bulk two", "Earn money online, visit my page (stats)"]
    ids = [
        app.test_client().post("/v1/check", json={"content": t}, headers={"Authorization": f"Bearer {key}"}).json["id"]
        for t in texts
    ]
    app.extensions["spamfilter.checker"].keeper.flush()
    client = app.test_client()
    _login(client, moderator)
    token = _csrf(client, "/moderation")
    assert (
        client.post("/moderation/api/bulk", json={"ids": ids[:2], "label": "spam"}).status_code == 401
    )  # no CSRF header
    bulk = client.post(
        "/moderation/api/bulk", json={"ids": ids[:2], "label": "spam"}, headers={"X-CSRF-Token": token}
    ).json
    assert [r["status"] for r in bulk["results"]] == ["created", "created"]
    client.post(
        f"/moderation/api/decide/{ids[2]}", json={"label": "ham"}, headers={"X-CSRF-Token": token}
    )  # overturns a spam call

    stats = client.get("/moderation/api/stats?days=7").json
    assert stats["days"] and sum(stats["by_site"][site]) == 3
    assert sum(sum(values) for values in stats["by_verdict"].values()) >= 3
    assert 0 < stats["spam_share"][site][-1] <= 1
    assert stats["decisions"] >= 3 and stats["overturned"] >= 1
    assert any(m["version"] == "2026.11.26-1" for m in stats["models"])
    assert "Moderation statistics" in client.get("/moderation/stats").get_data(as_text=True)
    assert client.get("/moderation/api/stats?days=0").status_code == 422
    assert app.test_client().get("/moderation/api/stats").status_code == 401


@pytest.mark.parametrize(
    ("header", "form"), [({"X-CSRF-Token": "é"}, None), (None, {"csrf_token": "é", "name": "x", "password": "y"})]
)
def test_non_ascii_csrf_tokens_are_refused_not_crashed(app: Flask, moderator: str, header, form) -> None:
    client = app.test_client()
    _login(client, moderator)
    if header:
        response = client.post("/moderation/api/decide/x", json={"label": "spam"}, headers=header)
    else:
        response = app.test_client().post("/moderation/login", data=form)
    assert response.status_code == 401


def test_odd_moderation_inputs_are_client_errors(app: Flask, moderator: str) -> None:
    client = app.test_client()
    assert _login(client, "bad\x00name").status_code == 401
    _login(client, moderator)
    token = _csrf(client, "/moderation")
    assert client.get("/moderation/api/queue?site=%00").status_code == 422
    assert client.post("/moderation/api/undo/99999999999999999999", headers={"X-CSRF-Token": token}).status_code == 404
    assert (
        client.post(
            "/moderation/api/bulk", json={"ids": ["\ud800"], "label": "spam"}, headers={"X-CSRF-Token": token}
        ).status_code
        == 422
    )
