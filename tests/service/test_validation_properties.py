"""JSON bodies: the validator accepts exactly the valid ones and answers every other with a 4xx.

The oracles below restate the README's rules independently of service/validation.py: a body is
a JSON object (else 422) in UTF-8 (else 400), nested at most 20 levels (else 422), with no key
twice in one object (else 400); a comment has a non-empty string
`content` of at most 100,000 characters and known optional fields that are null, empty or strings
of at most 2,000 (`comment_id` 200) without NUL characters or lone surrogates (else 422).
Through the app, every answer is JSON, the fast path and the Flask route agree, and nothing is
a 5xx: on both databases, since PostgreSQL refuses more than SQLite does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, quote_from_bytes

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st

from service import close_app
from service.errors import ApiError
from service.validation import (
    COMMENT_FIELDS,
    MAX_CONTENT_CHARS,
    MAX_FIELD_CHARS,
    MAX_JSON_DEPTH,
    loads_body,
    parse_batch,
    parse_comment,
)
from tests.service.conftest import NO_RATE_LIMITS, make_app
from tests.tally import bounded, counted

any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=30)
big_ints = st.sampled_from([2**63 - 1, -(2**63), -(2**63) - 1, 2**64 - 1, 2**64, -(10**30), 10**40])
scalars = st.none() | st.booleans() | st.integers() | big_ints | st.floats() | any_text
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4), max_leaves=20
)


def _nest(levels: int) -> dict[str, Any]:
    value: Any = "deep"
    for _ in range(levels - 2):
        value = [value]
    return {"content": "x", "a": value}


bodies = st.one_of(json_values, st.dictionaries(any_text, json_values, max_size=5), st.integers(15, 30).map(_nest))


def _depth(value: Any) -> int:
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    return 1 + max((_depth(child) for child in children), default=0)


def _big_int(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_big_int(v) for v in value.values())
    if isinstance(value, list):
        return any(_big_int(v) for v in value)
    return isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**64


def _outcome(call: Any) -> tuple[int, Any]:
    """(200, result) or (status, the ApiError); any other exception fails the test."""
    try:
        return 200, call()
    except ApiError as exc:
        assert 400 <= exc.status < 500 and exc.message
        return exc.status, exc


@bounded(300)
@given(bodies)
@counted
def test_loads_body_accepts_exactly_objects_within_the_limits(value: Any) -> None:
    raw = json.dumps(value).encode()
    status, result = _outcome(lambda: loads_body(raw))
    if _big_int(value):
        # orjson reads an integer beyond 64 bits as a float; the standard library's fallback (taken
        # after a NaN or a lone surrogate, say) refuses it. No field takes a number either way.
        assert status in (200, 400, 422)
    elif not isinstance(value, dict) or _depth(value) > MAX_JSON_DEPTH:
        assert status == 422
    else:
        assert status == 200 and json.dumps(result) == json.dumps(value)


def _mutate(data: st.DataObject, raw: bytes) -> bytes:
    for _ in range(data.draw(st.integers(0, 3))):
        at = data.draw(st.integers(0, len(raw)))
        cut = data.draw(st.integers(0, 2))
        raw = raw[:at] + data.draw(st.binary(max_size=3)) + raw[at + cut :]
    return raw


@bounded(300)
@given(bodies, st.data())
@counted
def test_loads_body_answers_any_bytes_with_a_4xx_or_an_object(value: Any, data: st.DataObject) -> None:
    raw = data.draw(
        st.sampled_from(
            [
                json.dumps(value).encode(),
                json.dumps(value).encode("utf-16"),
                b"\xef\xbb\xbf" + json.dumps(value).encode(),
                json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass"),
            ]
        )
    )
    raw = data.draw(st.one_of(st.just(_mutate(data, raw)), st.binary(max_size=50)))
    status, result = _outcome(lambda: loads_body(raw))
    assert status in (200, 400, 422)
    if status == 200:
        assert isinstance(result, dict)


keys = st.sampled_from(["content", "author", "a", "b", "é", "\\"])
tricky = st.sampled_from(['a": b', 'x" : y', '":', "\\", "", "z"])  # look like a key's end, are not
spaces = st.sampled_from(["", " ", "\t", "\n ", "\r\n"])


@st.composite
def objects_with_pairs(draw: st.DrawFn, depth: int = 0) -> tuple[str, list[tuple[str, Any]], bool]:
    """JSON text of an object written pair by pair (so keys may repeat), its pairs, and whether any repeat."""
    pairs, parts, repeated = [], [], False
    for key in draw(st.lists(keys, max_size=5)):
        if depth < 2 and draw(st.booleans()):
            text, inner, inner_repeated = draw(objects_with_pairs(depth + 1))
            value: Any = dict(inner)
            repeated |= inner_repeated
        else:
            value = draw(st.one_of(tricky, st.integers(), st.none()))
            text = json.dumps(value)
        pairs.append((key, value))
        parts.append(f"{json.dumps(key)}{draw(spaces)}:{draw(spaces)}{text}")
    repeated |= len({k for k, _ in pairs}) < len(pairs)
    return "{" + f",{draw(spaces)}".join(parts) + "}", pairs, repeated


@bounded(250)
@given(objects_with_pairs())
@counted
def test_a_key_given_twice_in_any_object_is_refused(case: tuple[str, list[tuple[str, Any]], bool]) -> None:
    text, pairs, repeated = case
    status, result = _outcome(lambda: loads_body(text.encode()))
    if repeated:
        assert status == 400 and "appears twice in one object" in result.message
    else:
        assert status == 200 and result == dict(pairs)


def _string_ok(value: Any, limit: int, required: bool) -> bool:
    if value is None or value == "":
        return not required
    if not isinstance(value, str) or "\x00" in value or len(value) > limit:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _comment_ok(data: Any) -> bool:
    if not isinstance(data, dict) or set(data) - set(COMMENT_FIELDS):
        return False
    limits = {name: 200 if name == "comment_id" else MAX_FIELD_CHARS for name in COMMENT_FIELDS}
    limits["content"] = MAX_CONTENT_CHARS
    return all(_string_ok(data.get(name), limit, name == "content") for name, limit in limits.items())


def _sized(limit: int) -> st.SearchStrategy[str]:
    return st.sampled_from([limit - 1, limit, limit + 1]).map(lambda n: "é" * n)


field_values = st.one_of(
    st.none(),
    st.just(""),
    any_text,
    st.text(max_size=20).map(lambda t: t + "\x00"),
    _sized(200),
    _sized(MAX_FIELD_CHARS),
    st.integers(),
    st.booleans(),
    st.lists(st.integers(), max_size=2),
)
comments = st.one_of(
    st.dictionaries(st.sampled_from([*COMMENT_FIELDS, "autor", "Content", ""]), field_values, max_size=6),
    st.fixed_dictionaries(
        {"content": st.one_of(any_text, _sized(MAX_CONTENT_CHARS))}, optional={"author": field_values}
    ),
    json_values,
)


@bounded(400)
@given(comments)
@counted
def test_parse_comment_accepts_exactly_the_valid_comments(data: Any) -> None:
    status, result = _outcome(lambda: parse_comment(data))
    assert (status == 200) == _comment_ok(data), (status, result)
    if status == 200:
        assert result.comment.text == data["content"] and result.comment_id == (data.get("comment_id") or None)
        assert result.comment.author == (data.get("author") or None)
    else:
        assert status == 422


@bounded(300)
@given(st.one_of(st.fixed_dictionaries({"comments": st.lists(comments, max_size=5)}), json_values))
@counted
def test_parse_batch_takes_one_to_limit_valid_comments(body: Any) -> None:
    if not isinstance(body, dict):
        return
    status, result = _outcome(lambda: parse_batch(body, limit=3))
    items = body.get("comments")
    if set(body) != {"comments"} or not isinstance(items, list) or not items:
        assert status == 422
    elif len(items) > 3:
        assert status == 413
    elif not all(map(_comment_ok, items)):
        assert status == 422 and result.field.startswith("comments[")
    else:
        assert status == 200 and [r.comment.text for r in result] == [c["content"] for c in items]


# Through the app: the fast path (a valid check answered before Flask) and the Flask route alone.


@pytest.fixture(scope="module")
def plain_app(database_url: str) -> Iterator[Flask]:
    """The app with its fast path taken off, as when the fast path steps aside."""
    app = make_app(database_url, **NO_RATE_LIMITS)
    app.wsgi_app = app.wsgi_app.inner  # type: ignore[attr-defined]
    yield app
    close_app(app)


CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "application/vnd.api+json",
    "APPLICATION/JSON",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/jsonx",
    None,
]


def _json_ok(content_type: str | None) -> bool:
    mimetype = (content_type or "").split(";")[0].strip().lower()
    return mimetype == "application/json" or (mimetype.startswith("application/") and mimetype.endswith("+json"))


def _answer(client: FlaskClient, path: str, raw: bytes, content_type: str | None, headers: dict[str, str]) -> Any:
    sent = {**headers, **({"Content-Type": content_type} if content_type else {})}
    response = client.post(path, data=raw, headers=sent)
    assert response.status_code < 500 and response.mimetype == "application/json", response.get_data()[:300]
    body = response.get_json()
    if response.status_code >= 400:
        assert set(body) == {"error"} and body["error"]["message"] and body["error"]["code"]
        assert set(body["error"]) <= {"code", "message", "field"}
    return response.status_code, body


def _expected_check_status(raw: bytes, content_type: str | None) -> int:
    if not _json_ok(content_type):
        return 415
    status, body = _outcome(lambda: loads_body(raw))
    return status if status != 200 else _outcome(lambda: parse_comment(body))[0]


check_bodies = st.one_of(
    comments.map(lambda c: json.dumps(c).encode()),
    bodies.map(lambda v: json.dumps(v).encode()),
    objects_with_pairs().map(lambda case: case[0].encode()),
    st.binary(max_size=40),
)


@bounded(150)
@given(check_bodies, st.sampled_from(CONTENT_TYPES))
@counted
def test_check_answers_alike_on_both_paths_and_as_the_validator_says(
    unlimited_app: Flask, plain_app: Flask, unlimited_auth: dict[str, str], raw: bytes, content_type: str | None
) -> None:
    fast = _answer(unlimited_app.test_client(), "/v1/check", raw, content_type, unlimited_auth)
    plain = _answer(plain_app.test_client(), "/v1/check", raw, content_type, unlimited_auth)
    assert fast[0] == plain[0] == _expected_check_status(raw, content_type)
    if fast[0] == 200:
        drop = {"id", "cached"}
        assert {k: v for k, v in fast[1].items() if k not in drop} == {
            k: v for k, v in plain[1].items() if k not in drop
        }
    else:
        assert fast[1] == plain[1]


ROUTES = {
    "/v1/check/batch": (200, 400, 413, 415, 422),
    "/v1/feedback": (200, 201, 400, 404, 415, 422),
    "/v1/reviews/bulk": (200, 400, 404, 413, 415, 422),
    "/v1/reviews/0123456789abcdef0123456789abcdef": (200, 400, 404, 415, 422),
    "/v1/labels/1/undo": (200, 404),
}
route_bodies = st.one_of(
    check_bodies,
    st.fixed_dictionaries({"comments": st.lists(comments, max_size=3)}).map(lambda b: json.dumps(b).encode()),
    st.fixed_dictionaries(
        {"label": st.sampled_from(["spam", "ham", "SPAM", None])},
        optional={
            "id": st.one_of(any_text, st.integers()),
            "ids": st.lists(any_text, max_size=3),
            "content": any_text,
            "author": field_values,
        },
    ).map(lambda b: json.dumps(b).encode()),
)


@bounded(150)
@given(st.sampled_from(sorted(ROUTES)), route_bodies, st.sampled_from(CONTENT_TYPES))
@counted
def test_every_json_route_answers_bad_bodies_with_a_json_4xx(
    unlimited_app: Flask, unlimited_auth: dict[str, str], path: str, raw: bytes, content_type: str | None
) -> None:
    status, _ = _answer(unlimited_app.test_client(), path, raw, content_type, unlimited_auth)
    assert status in ROUTES[path]


query_values = st.one_of(
    st.text(st.characters(codec="utf-8"), max_size=30),
    st.integers().map(str),
    st.datetimes().map(lambda d: d.isoformat()),
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    st.sampled_from(["0001-01-01T00:00:00+05:00", "9999-12-31T23:00:00-05:00", "ham,,spam", "all", "2026-02-30"]),
).map(lambda value: quote(value, safe="").encode())
raw_query_values = st.one_of(
    query_values,
    st.binary(max_size=10).map(lambda b: quote_from_bytes(b, safe="").encode()),  # not UTF-8
    st.sampled_from([b"%", b"%zz", b"a%2", b"+", b"%2B05:00"]),
)
query_names = st.sampled_from([b"verdict", b"reason", b"since", b"until", b"labelled", b"limit", b"offset", b"x"])


@bounded(150)
@given(st.lists(st.tuples(query_names, raw_query_values), max_size=6))
@counted
def test_review_queue_answers_any_query_with_200_or_422(
    unlimited_app: Flask, unlimited_auth: dict[str, str], query: list[tuple[bytes, bytes]]
) -> None:
    raw = b"&".join(name + b"=" + value for name, value in query).decode("ascii")  # already percent-encoded
    response = unlimited_app.test_client().get("/v1/reviews", query_string=raw, headers=unlimited_auth)
    assert response.status_code in (200, 422), response.get_data()[:300]
    assert response.mimetype == "application/json"
