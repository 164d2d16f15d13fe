"""The review queue on both databases: kept checks, uncertainty order, decisions, audit and undo."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select

from service.db import LabelEvent, StoredCheck, upgrade
from spamfilter.cli import main
from tests.service.conftest import SPAM_TEXT, new_key

TEXTS = [
    SPAM_TEXT,
    "Earn money online, visit my page",
    "Make money fast working from home",
    "Visit my website for more info",
]


def _headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def queue(database_url: str, app_factory) -> tuple[Flask, str, list[dict]]:
    """An app that keeps every check (ham too), a key, and the checks it made."""
    app = app_factory(database_url, SPAMFILTER_HAM_SAMPLE=1.0)
    key = new_key(app, f"https://queue-{uuid.uuid4().hex[:8]}.example")  # the database is shared by the module
    client = app.test_client()
    checks = [
        client.post("/v1/check", json={"content": t, "author": f"a{i}"}, headers=_headers(key)).json
        for i, t in enumerate(TEXTS)
    ]
    app.extensions["spamfilter.checker"].keeper.flush()  # the writer thread may have sent some already
    with app.extensions["spamfilter.sessions"]() as session:
        assert session.query(StoredCheck).filter(StoredCheck.id.in_([c["id"] for c in checks])).count() == len(TEXTS)
    return app, key, checks


def test_queue_lists_the_most_uncertain_first(queue) -> None:
    app, key, checks = queue
    page = app.test_client().get("/v1/reviews", headers=_headers(key)).json
    assert page["total"] == len(TEXTS) and page["next_offset"] is None
    distances = [abs(item["spam_probability"] - 0.5) for item in page["items"]]
    assert distances == sorted(distances)
    assert {item["id"] for item in page["items"]} == {c["id"] for c in checks}
    first = page["items"][0]
    assert first["reasons"] and first["label"] is None and "user_ip" not in first and "author_email" not in first


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("limit=2", 2),
        ("limit=2&offset=3", 1),
        ("verdict=ham", 0),
        ("since=2999-01-01", 0),
        ("until=2999-01-01T00:00:00Z", 4),
        ("reason=subscribe", 1),
    ],
)
def test_queue_filters_and_pages(queue, query: str, expected: int) -> None:
    app, key, _ = queue
    page = app.test_client().get(f"/v1/reviews?{query}", headers=_headers(key)).json
    assert len(page["items"]) == expected


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=x", "offset=-1", "verdict=maybe", "since=yesterday", "labelled=perhaps"]
)
def test_queue_rejects_bad_parameters(queue, query: str) -> None:
    app, key, _ = queue
    response = app.test_client().get(f"/v1/reviews?{query}", headers=_headers(key))
    assert response.status_code == 422 and response.json["error"]["field"] == query.split("=")[0]


def test_decisions_become_labels_with_audit_and_undo(queue) -> None:
    app, key, checks = queue
    client = app.test_client()
    decided = client.post(f"/v1/reviews/{checks[0]['id']}", json={"label": "ham"}, headers=_headers(key)).json
    assert decided["status"] == "created"
    remaining = client.get("/v1/reviews", headers=_headers(key)).json
    assert checks[0]["id"] not in {item["id"] for item in remaining["items"]}
    done = client.get("/v1/reviews?labelled=true", headers=_headers(key)).json["items"]
    assert [(item["id"], item["label"]) for item in done] == [(checks[0]["id"], "ham")]

    bulk = client.post(
        "/v1/reviews/bulk", json={"ids": [c["id"] for c in checks[1:]] * 2, "label": "spam"}, headers=_headers(key)
    ).json
    assert [r["status"] for r in bulk["results"]] == ["created"] * 3
    assert client.get("/v1/reviews", headers=_headers(key)).json["total"] == 0

    undone = client.post(f"/v1/labels/{decided['label_id']}/undo", headers=_headers(key)).json
    assert undone["label"] is None
    assert [(h["old"], h["new"], h["source"]) for h in undone["history"]] == [
        (None, "ham", "review"),
        ("ham", None, "undo"),
    ]
    assert checks[0]["id"] in {item["id"] for item in client.get("/v1/reviews", headers=_headers(key)).json["items"]}
    nothing_left = client.post(f"/v1/labels/{decided['label_id']}/undo", headers=_headers(key))
    assert nothing_left.status_code == 404 and "no change left" in nothing_left.json["error"]["message"]
    with app.extensions["spamfilter.sessions"]() as session:
        actors = set(session.scalars(select(LabelEvent.actor)))
    assert actors and all(a.startswith("key:") for a in actors)


def test_other_sites_see_and_touch_nothing(queue) -> None:
    app, _, checks = queue
    stranger = new_key(app, "https://elsewhere.example")
    client = app.test_client()
    assert client.get("/v1/reviews", headers=_headers(stranger)).json["total"] == 0
    response = client.post(f"/v1/reviews/{checks[0]['id']}", json={"label": "spam"}, headers=_headers(stranger))
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("path", "body", "status", "field"),
    [
        ("/v1/reviews/unknown", {"label": "spam"}, 404, "id"),
        ("/v1/reviews/unknown", {"label": "maybe"}, 422, "label"),
        ("/v1/reviews/bulk", {"ids": [], "label": "spam"}, 422, "ids"),
        ("/v1/reviews/bulk", {"ids": ["x"] * 501, "label": "spam"}, 413, "ids"),
        ("/v1/labels/999999/undo", None, 404, "id"),
    ],
)
def test_decision_errors(queue, path: str, body, status: int, field: str) -> None:
    app, key, _ = queue
    response = app.test_client().post(path, json=body, headers=_headers(key))
    assert response.status_code == status and response.json["error"]["field"] == field


@pytest.mark.parametrize(("sample", "kept"), [(0.0, False), (1.0, True)])
def test_ham_is_sampled(database_url: str, app_factory, sample: float, kept: bool) -> None:
    app = app_factory(database_url, SPAMFILTER_HAM_SAMPLE=sample)
    key = new_key(app)
    check = (
        app.test_client()
        .post("/v1/check", json={"content": "A calm, ordinary remark about the weather"}, headers=_headers(key))
        .json
    )
    assert check["verdict"] == "ham"
    app.extensions["spamfilter.checker"].keeper.flush()
    with app.extensions["spamfilter.sessions"]() as session:
        assert (session.get(StoredCheck, check["id"]) is not None) is kept


def test_akismet_test_traffic_is_not_kept(database_url: str, app_factory) -> None:
    app = app_factory(database_url)
    key = new_key(app)
    form = {
        "api_key": key,
        "blog": "https://news.example",
        "user_ip": "203.0.113.9",
        "comment_content": SPAM_TEXT,
        "is_test": "1",
    }
    response = app.test_client().post("/1.1/comment-check", data=form)
    assert response.get_data(as_text=True) == "true"
    app.extensions["spamfilter.checker"].keeper.flush()
    with app.extensions["spamfilter.sessions"]() as session:
        assert session.get(StoredCheck, response.headers["X-akismet-guid"]) is None


def test_purge_deletes_old_checks_only(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'purge.db'}"
    upgrade(url)
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from service.db import ApiKey

    engine = create_engine(url)
    now = dt.datetime.now(dt.UTC)
    with Session(engine) as session:
        session.add(ApiKey(id=1, site="https://x.example", key_hash="0" * 64, key_prefix="sf_x"))
        for name, age in (("old", 100), ("new", 1)):
            session.add(
                StoredCheck(
                    id=name,
                    key_id=1,
                    site="https://x.example",
                    text=name,
                    fingerprint=name,
                    verdict="spam",
                    spam_probability=0.9,
                    uncertainty=0.4,
                    reasons="[]",
                    model_version="v",
                    created_at=now - dt.timedelta(days=age),
                )
            )
        session.commit()
    result = CliRunner().invoke(main, ["purge", "--older-than", "90d"], env={"DATABASE_URL": url})
    assert result.exit_code == 0 and "deleted 1 kept checks" in result.output
    with Session(engine) as session:
        assert [c.id for c in session.scalars(select(StoredCheck))] == ["new"]
    engine.dispose()
    bad = CliRunner().invoke(main, ["purge", "--older-than", "ninety days"], env={"DATABASE_URL": url})
    assert bad.exit_code != 0 and "takes a number and d, h or m" in bad.output
    huge = CliRunner().invoke(main, ["purge", "--older-than", "999999d"], env={"DATABASE_URL": url})
    assert huge.exit_code != 0 and "up to 100 years" in huge.output and "Traceback" not in huge.output


def test_undo_walks_back_one_change_at_a_time(queue) -> None:
    app, key, checks = queue
    client = app.test_client()
    label_id = client.post(f"/v1/reviews/{checks[0]['id']}", json={"label": "spam"}, headers=_headers(key)).json[
        "label_id"
    ]
    client.post(f"/v1/reviews/{checks[0]['id']}", json={"label": "ham"}, headers=_headers(key))
    steps = [client.post(f"/v1/labels/{label_id}/undo", headers=_headers(key)) for _ in range(3)]
    assert [r.status_code for r in steps] == [200, 200, 404]
    assert [r.json["label"] for r in steps[:2]] == ["spam", None]


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/v1/labels/99999999999999999999/undo", None, 404),
        ("/v1/reviews/bulk", {"ids": ["\ud800"], "label": "spam"}, 422),
        ("/v1/reviews/bulk", {"ids": [5], "label": "spam"}, 422),
        ("/v1/reviews/%00", {"label": "spam"}, 404),
    ],
)
def test_odd_ids_are_client_errors(queue, path: str, body, status: int) -> None:
    app, key, _ = queue
    assert app.test_client().post(path, json=body, headers=_headers(key)).status_code == status


def test_bulk_saves_nothing_when_an_id_is_unknown(queue) -> None:
    app, key, checks = queue
    client = app.test_client()
    response = client.post(
        "/v1/reviews/bulk", json={"ids": [checks[0]["id"], "0" * 32], "label": "spam"}, headers=_headers(key)
    )
    assert response.status_code == 404 and "nothing was saved" in response.json["error"]["message"]
    assert client.get("/v1/reviews?labelled=true", headers=_headers(key)).json["total"] == 0


def test_times_with_offsets_are_compared_in_utc(queue) -> None:
    app, key, _ = queue
    an_hour_ago = (
        (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).astimezone(dt.timezone(dt.timedelta(hours=5))).isoformat()
    )
    page = app.test_client().get("/v1/reviews", query_string={"since": an_hour_ago}, headers=_headers(key)).json
    assert page["total"] == len(TEXTS) and page["items"][0]["created_at"].endswith("+00:00")
    assert app.test_client().get("/v1/reviews?site=x", headers=_headers(key)).status_code == 200
