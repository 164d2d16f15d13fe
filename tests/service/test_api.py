"""The JSON API on both databases: verdicts, batches, feedback, and a clear 4xx for every bad input."""

from __future__ import annotations

import json

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from service.db import Label
from tests.service.conftest import HAM_TEXT, METRICS_TOKEN, SPAM_TEXT, new_key


def test_check_answers_verdict_probability_reasons_version(client: FlaskClient, auth: dict[str, str]) -> None:
    spam = client.post("/v1/check", json={"content": SPAM_TEXT, "author": "x", "comment_id": "c-1"}, headers=auth)
    ham = client.post("/v1/check", json={"content": HAM_TEXT}, headers=auth)
    assert spam.status_code == ham.status_code == 200
    s, h = spam.json, ham.json
    assert s["verdict"] in ("spam", "discard") and h["verdict"] == "ham"
    assert s["spam_probability"] > 0.9 > 0.1 > h["spam_probability"]
    assert s["model_version"] == "2026.11.26-1" and s["comment_id"] == "c-1"
    assert s["reasons"] and {"feature", "weight"} <= set(s["reasons"][0])
    assert len(s["id"]) == 32 and s["id"] != h["id"]


def test_repeated_check_is_cached(client: FlaskClient, auth: dict[str, str]) -> None:
    body = {"content": "A repeated comment about the weather", "author": "Ann"}
    first, second = (client.post("/v1/check", json=body, headers=auth).json for _ in range(2))
    assert (first["cached"], second["cached"]) == (False, True)
    assert first["verdict"] == second["verdict"] and first["spam_probability"] == second["spam_probability"]
    assert first["id"] != second["id"]


def test_batch_keeps_order(client: FlaskClient, auth: dict[str, str]) -> None:
    comments = [
        {"content": SPAM_TEXT, "comment_id": "a"},
        {"content": HAM_TEXT, "comment_id": "b"},
        {"content": "ok", "comment_id": "c"},
    ]
    response = client.post("/v1/check/batch", json={"comments": comments}, headers=auth)
    assert response.status_code == 200
    assert [r["comment_id"] for r in response.json["results"]] == ["a", "b", "c"]
    assert response.json["results"][0]["verdict"] in ("spam", "discard")


def test_batch_limit_is_enforced(database_url: str, app_factory) -> None:
    app = app_factory(database_url, SPAMFILTER_BATCH_LIMIT=3)
    headers = {"Authorization": f"Bearer {new_key(app)}"}
    response = app.test_client().post("/v1/check/batch", json={"comments": [{"content": "x"}] * 4}, headers=headers)
    assert response.status_code == 413
    assert response.json["error"] == {
        "code": "payload_too_large",
        "message": "at most 3 comments per batch, got 4",
        "field": "comments",
    }


def _labels(app: Flask) -> list[Label]:
    with app.extensions["spamfilter.sessions"]() as session:
        return list(session.scalars(select(Label).order_by(Label.id)))


def test_feedback_by_id_is_idempotent_and_reversible(app: Flask, client: FlaskClient, auth: dict[str, str]) -> None:
    check = client.post(
        "/v1/check", json={"content": "Visit my page for cheap watches", "author": "bob"}, headers=auth
    ).json
    first = client.post("/v1/feedback", json={"id": check["id"], "label": "spam"}, headers=auth)
    again = client.post("/v1/feedback", json={"id": check["id"], "label": "spam"}, headers=auth)
    flipped = client.post("/v1/feedback", json={"id": check["id"], "label": "ham"}, headers=auth)
    assert (first.status_code, again.status_code, flipped.status_code) == (201, 200, 200)
    assert (first.json["status"], again.json["status"], flipped.json["status"]) == ("created", "unchanged", "updated")
    rows = [r for r in _labels(app) if r.text == "Visit my page for cheap watches"]
    assert len(rows) == 1
    assert (rows[0].label, rows[0].previous_label, rows[0].check_id, rows[0].site, rows[0].author) == (
        "ham",
        "spam",
        check["id"],
        "https://news.example",
        "bob",
    )


def test_feedback_by_fields_matches_the_same_comment(app: Flask, client: FlaskClient, auth: dict[str, str]) -> None:
    body = {"content": "Great reporting, thank you", "author": "cy", "site": "https://news.example"}
    check = client.post("/v1/check", json=body, headers=auth).json
    by_id = client.post("/v1/feedback", json={"id": check["id"], "label": "ham"}, headers=auth)
    by_fields = client.post("/v1/feedback", json={**body, "label": "ham"}, headers=auth)
    assert by_id.json["id"] == by_fields.json["id"] and by_fields.json["status"] == "unchanged"


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"id": "0" * 32, "label": "spam"}, 404, "not_found", "id"),
        ({"id": "../etc", "label": "spam"}, 404, "not_found", "id"),
        ({"id": 5, "label": "spam"}, 422, "invalid_field", "id"),
        ({"content": "x", "label": "maybe"}, 422, "invalid_field", "label"),
        ({"content": "x"}, 422, "invalid_field", "label"),
        ({"id": "abc", "content": "x", "label": "spam"}, 422, "invalid_field", "id"),
        ({"label": "spam"}, 422, "invalid_field", "content"),
    ],
)
def test_feedback_errors(
    client: FlaskClient, auth: dict[str, str], body: dict, status: int, code: str, field: str
) -> None:
    response = client.post("/v1/feedback", json=body, headers=auth)
    assert response.status_code == status
    assert response.json["error"]["code"] == code and response.json["error"]["field"] == field


@pytest.mark.parametrize(
    ("kwargs", "status", "code", "message"),
    [
        (
            {"data": "content=x", "content_type": "application/x-www-form-urlencoded"},
            415,
            "unsupported_media_type",
            "application/json",
        ),
        ({"data": "{not json", "content_type": "application/json"}, 400, "bad_request", "not valid JSON"),
        ({"data": b'{"content": "\xff"}', "content_type": "application/json"}, 400, "bad_request", "not valid UTF-8"),
        ({"data": "[1, 2]", "content_type": "application/json"}, 422, "invalid_field", "JSON object"),
        ({"json": {}}, 422, "invalid_field", "content is required"),
        ({"json": {"content": 5}}, 422, "invalid_field", "content must be a string"),
        ({"json": {"content": "x", "autor": "typo"}}, 422, "invalid_field", "unknown field autor"),
        ({"json": {"content": "x" * 100_001}}, 422, "invalid_field", "longer than 100000"),
        ({"json": {"content": "a\x00b"}}, 422, "invalid_field", "NUL"),
        ({"json": {"content": "x", "author": "y" * 2001}}, 422, "invalid_field", "author is longer"),
        (
            {"data": '{"content": "x", "a": ' + "[" * 5000 + "]" * 5000 + "}", "content_type": "application/json"},
            400,
            "bad_request",
            "nested too deeply",
        ),
        (
            {"data": '{"content": "x", "a": ' + "[" * 50 + "]" * 50 + "}", "content_type": "application/json"},
            422,
            "invalid_field",
            "nested more than",
        ),
        ({"json": {"comments": []}}, 422, "invalid_field", "unknown field comments"),
    ],
)
def test_bad_check_requests(
    client: FlaskClient, auth: dict[str, str], kwargs: dict, status: int, code: str, message: str
) -> None:
    response = client.post("/v1/check", headers=auth, **kwargs)
    assert response.status_code == status, response.json
    assert response.json["error"]["code"] == code
    assert message in response.json["error"]["message"]


def test_oversized_body_is_413(database_url: str, app_factory) -> None:
    app = app_factory(database_url, SPAMFILTER_MAX_BODY_BYTES=1000)
    headers = {"Authorization": f"Bearer {new_key(app)}"}
    response = app.test_client().post(
        "/v1/check", data=json.dumps({"content": "x" * 2000}), content_type="application/json", headers=headers
    )
    assert response.status_code == 413 and response.json["error"]["code"] == "payload_too_large"


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer sf_not-a-real-key", "Basic abc", "sf_without_scheme"])
def test_missing_or_unknown_keys_are_401(client: FlaskClient, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    response = client.post("/v1/check", json={"content": "x"}, headers=headers)
    assert response.status_code == 401 and response.json["error"]["code"] == "unauthorized"


def test_revoked_key_is_refused(app: Flask, client: FlaskClient) -> None:
    from service.apikeys import revoke_key

    key = new_key(app)
    assert (
        client.post("/v1/check", json={"content": "x"}, headers={"Authorization": f"Bearer {key}"}).status_code == 200
    )
    with app.extensions["spamfilter.sessions"]() as session:
        revoke_key(session, key[:10])
    assert (
        client.post("/v1/check", json={"content": "x"}, headers={"Authorization": f"Bearer {key}"}).status_code == 401
    )


@pytest.mark.parametrize(
    ("method", "path", "status"), [("get", "/v1/nope", 404), ("get", "/v1/check", 405), ("delete", "/healthz", 405)]
)
def test_unknown_routes_are_json(
    client: FlaskClient, auth: dict[str, str], method: str, path: str, status: int
) -> None:
    response = getattr(client, method)(path, headers=auth)
    assert response.status_code == status and "message" in response.json["error"]


def test_health_and_docs_need_no_key_but_metrics_do(client: FlaskClient, auth: dict[str, str]) -> None:
    client.post("/v1/check", json={"content": HAM_TEXT}, headers=auth)
    assert client.get("/healthz").json == {"status": "ok"}
    ready = client.get("/readyz").json
    assert ready["status"] == "ready" and ready["components"] == {"model": "ok", "cache": "ok", "database": "ok"}
    spec = client.get("/openapi.json").json
    assert {"/v1/check", "/v1/check/batch", "/v1/feedback"} <= set(spec["paths"])
    assert "/v1/feedback" in client.get("/docs").get_data(as_text=True)
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers=auth).status_code == 401  # a site's key sees no other site's figures
    metrics = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).get_data(as_text=True)
    assert 'spamfilter_checks_total{site="https://news.example",verdict="ham"}' in metrics
    assert (
        "spamfilter_check_seconds_bucket" in metrics and 'spamfilter_model_info{version="2026.11.26-1"} 1.0' in metrics
    )


def test_readyz_names_a_degraded_database(app_factory) -> None:
    app = app_factory("postgresql+psycopg://nobody@127.0.0.1:1/none")
    ready = app.test_client().get("/readyz")
    assert ready.status_code == 200
    assert ready.json["status"] == "degraded" and ready.json["degraded"] == ["database"]


def test_fast_path_and_flask_route_answer_alike(database_url: str, app_factory) -> None:
    fast = app_factory(database_url)
    plain = app_factory(database_url)
    plain.wsgi_app = plain.wsgi_app.inner  # the Flask route alone, as when the fast path steps aside
    body = {"content": SPAM_TEXT, "author": "z", "comment_id": "same"}
    answers = []
    for app in (fast, plain):
        response = app.test_client().post("/v1/check", json=body, headers={"Authorization": f"Bearer {new_key(app)}"})
        assert response.status_code == 200 and response.mimetype == "application/json"
        answers.append(response.json)
    assert {k: v for k, v in answers[0].items() if k != "id"} == {k: v for k, v in answers[1].items() if k != "id"}


def test_request_log_has_no_key_and_masks_the_address(client: FlaskClient, api_key: str) -> None:
    import io
    import logging

    from service.logs import JsonFormatter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("spamfilter")
    logger.addHandler(handler)
    logger.setLevel("INFO")
    try:
        client.post(
            "/v1/check",
            json={"content": "log me", "user_ip": "203.0.113.77", "author_email": "private@example.org"},
            headers={"Authorization": f"Bearer {api_key}"},
            environ_base={"REMOTE_ADDR": "198.51.100.23"},
        )
        client.post(
            "/1.1/comment-check", data={"api_key": api_key, "blog": "https://news.example", "user_ip": "203.0.113.77"}
        )
    finally:
        logger.setLevel("WARNING")
        logger.removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    requests = [line for line in lines if line["message"] == "request"]
    assert {r["path"] for r in requests} == {"/v1/check", "/1.1/comment-check"}
    text = "\n".join(json.dumps(r) for r in requests)
    assert api_key not in text and api_key[:10] not in text
    assert "203.0.113.77" not in text and "198.51.100.23" not in text and "private@example.org" not in text
    assert any(r["client"] == "198.51.100.0/24" and "key_id" in r for r in requests)


def test_one_site_cannot_touch_another_sites_labels(app: Flask, client: FlaskClient) -> None:
    own, other = new_key(app, "https://a.example"), new_key(app, "https://b.example")
    body = {"content": "Shared words across two sites", "author": "same"}
    first = client.post(
        "/v1/feedback",
        json={**body, "label": "spam", "site": "https://a.example"},
        headers={"Authorization": f"Bearer {own}"},
    )
    probe = client.post(
        "/v1/feedback",
        json={**body, "label": "ham", "site": "https://a.example"},
        headers={"Authorization": f"Bearer {other}"},
    )
    assert (first.status_code, probe.status_code) == (201, 201)  # a new label of b's own, not a's flipped
    rows = [r for r in _labels(app) if r.text == body["content"]]
    assert sorted((r.site, r.label, r.previous_label) for r in rows) == [
        ("https://a.example", "spam", None),
        ("https://b.example", "ham", None),
    ]


def test_without_redis_another_worker_finds_a_check_by_id(database_url: str, app_factory) -> None:
    worker_a, worker_b = app_factory(database_url), app_factory(database_url)  # two processes' worth of memory
    key = new_key(worker_a)
    check = (
        worker_a.test_client()
        .post("/v1/check", json={"content": "Which worker am I on?"}, headers={"Authorization": f"Bearer {key}"})
        .json
    )
    worker_a.extensions["spamfilter.cache"]._records.flush()  # the writer thread does this within 0.1 s
    response = worker_b.test_client().post(
        "/v1/feedback", json={"id": check["id"], "label": "ham"}, headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("kwargs", "status", "message"),
    [
        ({"data": '{"content": ' + "1" * 5000 + "}", "content_type": "application/json"}, 400, "not valid JSON"),
        ({"json": {"content": "hi", "comment_id": "\ud800"}}, 422, "comment_id is not valid Unicode"),
        ({"json": {"content": "bad \udfff text"}}, 422, "content is not valid Unicode"),
    ],
)
def test_inputs_that_once_caused_500s(
    client: FlaskClient, auth: dict[str, str], kwargs: dict, status: int, message: str
) -> None:
    response = client.post("/v1/check", headers=auth, **kwargs)
    assert response.status_code == status and message in response.json["error"]["message"]


def test_odd_content_length_falls_back_to_flask(client: FlaskClient, auth: dict[str, str]) -> None:
    response = client.post(
        "/v1/check",
        data=b'{"content": "x"}',
        headers={**auth, "Content-Type": "application/json"},
        environ_overrides={"CONTENT_LENGTH": "\u00b2"},
    )
    assert response.status_code < 500


@pytest.mark.parametrize(
    ("data", "body", "help_text"),
    [
        ({"api_key": "k", "blog": "http://[::1", "user_ip": "1.2.3.4"}, "invalid", None),
        (
            b"api_key=k&blog=https%3A%2F%2Fx.example&user_ip=1.2.3.4&comment_content=Caf\xe9",
            "invalid",
            "not valid UTF-8",
        ),
    ],
)
def test_akismet_odd_forms_are_answered_like_akismet(
    client: FlaskClient, api_key: str, data, body: str, help_text: str | None
) -> None:
    if isinstance(data, dict):
        data = {**data, "api_key": api_key}
    else:
        data = data.replace(b"api_key=k", f"api_key={api_key}".encode())
    response = client.post("/1.1/comment-check", data=data, content_type="application/x-www-form-urlencoded")
    assert (response.status_code, response.get_data(as_text=True)) == (200, body)
    if help_text:
        assert help_text in response.headers["X-akismet-debug-help"]
