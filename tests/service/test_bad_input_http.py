"""Bad input over the real HTTP stack: a gunicorn server, requests written byte by byte on a socket.

Each row of the tables is one request; the answer must come within seconds (never a hang),
never be a 5xx, and be what the README promises: a JSON error with a code and a message on the
JSON API, Akismet's status 200 with `invalid` or `Missing required field: …` and an
`X-akismet-debug-help` header on the Akismet routes. What test_api.py already checks through
Flask's test client is here only where the wire adds something (framing, Content-Length,
chunked bodies, the fast path in front of Flask). Requests gunicorn refuses itself (a malformed
Content-Length) are answered by gunicorn's own HTML 400: they never reach the app.
"""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlencode

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from tests.service.conftest import REDIS_TEST_URL, LiveServer
from tests.tally import record

MAX_BODY = 262_144  # small, so that bodies over it are cheap to send
BATCH_LIMIT = 5
BLOG = "https://news.example"
KEY = "SFKEYPLACEHOLDER"  # replaced by the server's key when the request is sent


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, str]]:
    """`spamfilter serve` with a small body limit and batch limit, no rate limits, and a key."""
    prefix = f"sftest-{uuid.uuid4().hex[:10]}"
    env = {
        "SPAMFILTER_MAX_BODY_BYTES": str(MAX_BODY),
        "SPAMFILTER_BATCH_LIMIT": str(BATCH_LIMIT),
        "SPAMFILTER_RATE_LIMIT_PER_IP": "0",
        "SPAMFILTER_RATE_LIMIT_PER_KEY": "0",
    }
    live = LiveServer(tmp_path_factory.mktemp("bad-input"), prefix, env=env)
    key = live.cli("keys", "create", "--site", BLOG).strip().splitlines()[-1]
    yield live, key
    live.stop()
    client = redis.Redis.from_url(REDIS_TEST_URL)
    for name in client.scan_iter(f"{prefix}:*"):
        client.delete(name)
    client.close()


@dataclass
class Answer:
    """An HTTP response as read off the socket."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    seconds: float = 0.0

    def json(self) -> dict:
        return json.loads(self.body)


def exchange(port: int, head: bytes, body: bytes = b"", close_write: bool = False) -> Answer:
    """Send `head` and `body` as they are, read the answer to the end (the server closes)."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        try:
            sock.sendall(head + body)
            if close_write:
                sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server may answer (413) and close before taking the whole body
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    status_line, _, rest = data.partition(b"\r\n")
    header_block, _, payload = rest.partition(b"\r\n\r\n")
    headers = {}
    for line in header_block.decode("latin-1").split("\r\n"):
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Answer(int(status_line.split()[1]), headers, payload, time.monotonic() - started)


def request_head(method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def chunked(body: bytes, size: int = 65_536) -> bytes:
    parts = [
        f"{len(body[i : i + size]):x}\r\n".encode() + body[i : i + size] + b"\r\n" for i in range(0, len(body), size)
    ]
    return b"".join(parts) + b"0\r\n\r\n"


@dataclass(frozen=True)
class Row:
    """One bad (or good) request and the answer it must get."""

    id: str
    path: str
    body: bytes = b""
    content_type: str | None = "application/json"
    status: int = 400
    code: str | None = None  # the JSON error code (JSON API), or None for Akismet and successes
    message: str = ""  # a fragment of the message (JSON API) or the body (Akismet)
    method: str = "POST"
    framing: str = "length"  # "length", "chunked", "declared" (a huge Content-Length, a few bytes sent),
    # "truncated" (Content-Length past the bytes sent, then the client stops) or "raw" (head as given)
    head: bytes = b""
    auth: bool = True


def _json(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


NESTED_100K = b"[" * 100_000 + b"]" * 100_000
OVER = b'{"content": "' + b"x" * MAX_BODY + b'"}'
COMMENTS = [{"content": f"comment {n}"} for n in range(BATCH_LIMIT + 1)]

JSON_ROWS = [
    Row("check-valid-fast-path", "/v1/check", _json({"content": "hello"}), status=200),
    Row("check-valid-chunked-flask-path", "/v1/check", _json({"content": "hello"}), status=200, framing="chunked"),
    Row("check-text-plain", "/v1/check", _json({"content": "x"}), "text/plain", 415, "unsupported_media_type"),
    Row("check-form", "/v1/check", b"content=x", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    Row(
        "check-multipart",
        "/v1/check",
        b"--b\r\n\r\nx\r\n--b--\r\n",
        "multipart/form-data; boundary=b",
        415,
        "unsupported_media_type",
    ),
    Row(
        "check-no-content-type",
        "/v1/check",
        _json({"content": "x"}),
        None,
        415,
        "unsupported_media_type",
        "application/json",
    ),
    Row(
        "check-no-content-type-chunked",
        "/v1/check",
        _json({"content": "x"}),
        None,
        415,
        "unsupported_media_type",
        framing="chunked",
    ),
    Row(
        "check-latin-1",
        "/v1/check",
        '{"content": "café"}'.encode("latin-1"),
        "application/json; charset=latin-1",
        400,
        "bad_request",
        "not valid UTF-8",
    ),
    Row(
        "check-invalid-utf8",
        "/v1/check",
        b'{"content": "\xc3\x28"}',
        status=400,
        code="bad_request",
        message="not valid UTF-8",
    ),
    Row(
        "check-raw-nul-byte",
        "/v1/check",
        b'{"content": "a\x00b"}',
        status=400,
        code="bad_request",
        message="not valid JSON",
    ),
    Row("check-escaped-nul", "/v1/check", b'{"content": "a\\u0000b"}', status=422, code="invalid_field", message="NUL"),
    Row(
        "check-lone-surrogate",
        "/v1/check",
        b'{"content": "a\\ud800b"}',
        status=422,
        code="invalid_field",
        message="not valid Unicode",
    ),
    Row(
        "check-nested-100k-arrays",
        "/v1/check",
        NESTED_100K,
        status=400,
        code="bad_request",
        message="nested too deeply",
    ),
    Row(
        "check-nested-100k-in-field",
        "/v1/check",
        b'{"content": "x", "a": ' + NESTED_100K + b"}",
        status=400,
        code="bad_request",
    ),
    Row(
        "check-nested-21",
        "/v1/check",
        _json({"content": "x", "a": [[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]}),
        status=422,
        code="invalid_field",
        message="nested more than 20",
    ),
    Row(
        "check-content-100001",
        "/v1/check",
        _json({"content": "é" * 100_001}),
        status=422,
        code="invalid_field",
        message="longer than 100000",
    ),
    Row(
        "check-author-2001",
        "/v1/check",
        _json({"content": "x", "author": "a" * 2001}),
        status=422,
        code="invalid_field",
        message="author is longer",
    ),
    Row(
        "check-comment-id-201",
        "/v1/check",
        _json({"content": "x", "comment_id": "c" * 201}),
        status=422,
        code="invalid_field",
        message="comment_id is longer",
    ),
    Row(
        "check-integer-5000-digits",
        "/v1/check",
        b'{"content": ' + b"9" * 5000 + b"}",
        status=400,
        code="bad_request",
        message="not valid JSON",
    ),
    Row(
        "check-number-1e400",
        "/v1/check",
        b'{"content": 1e400}',
        status=422,
        code="invalid_field",
        message="content must be a string",
    ),
    Row(
        "check-integer-over-64-bits",
        "/v1/check",
        b'{"content": "x", "author": 123456789012345678901234567890}',
        status=422,
        code="invalid_field",
        message="author must be a string",
    ),
    Row(
        "check-nan",
        "/v1/check",
        b'{"content": NaN}',
        status=422,
        code="invalid_field",
        message="content must be a string",
    ),
    Row(
        "check-duplicate-key",
        "/v1/check",
        b'{"content": "ham", "content": "spam"}',
        status=400,
        code="bad_request",
        message="appears twice",
    ),
    Row(
        "check-duplicate-key-spaced",
        "/v1/check",
        b'{"content" : "a", "author":"b", "author" :"c"}',
        status=400,
        code="bad_request",
        message="appears twice",
    ),
    Row("check-empty-body", "/v1/check", b"", status=400, code="bad_request", message="not valid JSON"),
    Row("check-whitespace-body", "/v1/check", b" \r\n ", status=400, code="bad_request", message="not valid JSON"),
    Row(
        "check-bom",
        "/v1/check",
        b'\xef\xbb\xbf{"content": "x"}',
        status=400,
        code="bad_request",
        message="not valid JSON",
    ),
    Row(
        "check-array-body", "/v1/check", b'[{"content": "x"}]', status=422, code="invalid_field", message="JSON object"
    ),
    Row("check-string-body", "/v1/check", b'"x"', status=422, code="invalid_field", message="JSON object"),
    Row("check-null-body", "/v1/check", b"null", status=422, code="invalid_field", message="JSON object"),
    Row(
        "check-content-list",
        "/v1/check",
        _json({"content": ["x"]}),
        status=422,
        code="invalid_field",
        message="content must be a string",
    ),
    Row(
        "check-content-bool",
        "/v1/check",
        _json({"content": True}),
        status=422,
        code="invalid_field",
        message="content must be a string",
    ),
    Row(
        "check-content-null",
        "/v1/check",
        _json({"content": None}),
        status=422,
        code="invalid_field",
        message="content is required",
    ),
    Row(
        "check-trailing-garbage",
        "/v1/check",
        b'{"content": "x"} {}',
        status=400,
        code="bad_request",
        message="Extra data",
    ),
    Row(
        "check-over-limit",
        "/v1/check",
        OVER,
        status=413,
        code="payload_too_large",
        message=f"larger than {MAX_BODY} bytes",
    ),
    Row("check-over-limit-chunked", "/v1/check", OVER, status=413, code="payload_too_large", framing="chunked"),
    Row("check-declared-1TB", "/v1/check", b'{"content"', status=413, code="payload_too_large", framing="declared"),
    Row("check-truncated-body", "/v1/check", b'{"content"', status=400, code="bad_request", framing="truncated"),
    Row("check-no-key", "/v1/check", _json({"content": "x"}), status=401, code="unauthorized", auth=False),
    Row("check-get", "/v1/check", method="GET", content_type=None, status=405, code="method_not_allowed"),
    Row(
        "batch-over-limit",
        "/v1/check/batch",
        _json({"comments": COMMENTS}),
        status=413,
        code="payload_too_large",
        message=f"at most {BATCH_LIMIT} comments",
    ),
    Row(
        "batch-empty",
        "/v1/check/batch",
        _json({"comments": []}),
        status=422,
        code="invalid_field",
        message="non-empty list",
    ),
    Row("batch-not-a-list", "/v1/check/batch", _json({"comments": {"content": "x"}}), status=422, code="invalid_field"),
    Row(
        "batch-bad-item",
        "/v1/check/batch",
        _json({"comments": [{"content": "x"}, {"content": 5}]}),
        status=422,
        code="invalid_field",
        message="comments[1].content must be a string",
    ),
    Row(
        "batch-duplicate-key-in-item",
        "/v1/check/batch",
        b'{"comments": [{"content": "a", "content": "b"}]}',
        status=400,
        code="bad_request",
        message="appears twice",
    ),
    Row(
        "batch-text-plain",
        "/v1/check/batch",
        _json({"comments": COMMENTS[:1]}),
        "text/plain",
        415,
        "unsupported_media_type",
    ),
    Row(
        "batch-over-limit-bytes",
        "/v1/check/batch",
        b'{"comments": [' + OVER + b"]}",
        status=413,
        code="payload_too_large",
    ),
    Row("batch-valid-chunked", "/v1/check/batch", _json({"comments": COMMENTS[:2]}), status=200, framing="chunked"),
    Row(
        "feedback-text-plain",
        "/v1/feedback",
        _json({"content": "x", "label": "spam"}),
        "text/plain",
        415,
        "unsupported_media_type",
    ),
    Row(
        "feedback-not-json", "/v1/feedback", b"{label: spam}", status=400, code="bad_request", message="not valid JSON"
    ),
    Row(
        "feedback-no-label",
        "/v1/feedback",
        _json({"content": "x"}),
        status=422,
        code="invalid_field",
        message="label must be spam or ham",
    ),
    Row(
        "feedback-label-number",
        "/v1/feedback",
        _json({"content": "x", "label": 1}),
        status=422,
        code="invalid_field",
        message="label",
    ),
    Row(
        "feedback-id-and-fields",
        "/v1/feedback",
        _json({"id": "a" * 32, "content": "x", "label": "ham"}),
        status=422,
        code="invalid_field",
        message="either id",
    ),
    Row("feedback-unknown-id", "/v1/feedback", _json({"id": "a" * 32, "label": "ham"}), status=404, code="not_found"),
    Row("feedback-huge-id", "/v1/feedback", _json({"id": "9" * 100_000, "label": "ham"}), status=404, code="not_found"),
    Row(
        "feedback-nul",
        "/v1/feedback",
        b'{"content": "a\\u0000", "label": "ham"}',
        status=422,
        code="invalid_field",
        message="NUL",
    ),
    Row(
        "feedback-duplicate-label",
        "/v1/feedback",
        b'{"content": "x", "label": "ham", "label": "spam"}',
        status=400,
        code="bad_request",
        message="appears twice",
    ),
    Row("feedback-over-limit", "/v1/feedback", OVER, status=413, code="payload_too_large"),
    Row(
        "reviews-limit-text",
        "/v1/reviews?limit=abc",
        method="GET",
        content_type=None,
        status=422,
        code="invalid_field",
        message="limit must be",
    ),
    Row(
        "reviews-limit-huge",
        "/v1/reviews?limit=" + "9" * 400,
        method="GET",
        content_type=None,
        status=422,
        code="invalid_field",
        message="limit must be",
    ),
    Row(
        "reviews-offset-negative",
        "/v1/reviews?offset=-1",
        method="GET",
        content_type=None,
        status=422,
        code="invalid_field",
        message="offset must be",
    ),
    Row(
        "reviews-since-not-a-date",
        "/v1/reviews?since=yesterday",
        method="GET",
        content_type=None,
        status=422,
        code="invalid_field",
        message="ISO 8601",
    ),
    Row(
        "reviews-since-year-1-with-offset",
        "/v1/reviews?since=0001-01-01T00:00:00%2B05:00",
        method="GET",
        content_type=None,
        status=200,
    ),
    Row(
        "reviews-until-year-9999-with-offset",
        "/v1/reviews?until=9999-12-31T23:00:00-05:00",
        method="GET",
        content_type=None,
        status=200,
    ),
    Row(
        "reviews-verdict-bogus",
        "/v1/reviews?verdict=ham,maybe",
        method="GET",
        content_type=None,
        status=422,
        code="invalid_field",
        message="verdict must be",
    ),
    Row(
        "reviews-labelled-bogus",
        "/v1/reviews?labelled=perhaps",
        method="GET",
        content_type=None,
        status=422,
        code="invalid_field",
    ),
    Row("reviews-reason-nul-invalid-utf8", "/v1/reviews?reason=%00%ff", method="GET", content_type=None, status=200),
    Row("reviews-body-ignored", "/v1/reviews", b"not json", "text/plain", 200, method="GET"),
    Row(
        "decide-text-plain",
        "/v1/reviews/" + "a" * 32,
        _json({"label": "spam"}),
        "text/plain",
        415,
        "unsupported_media_type",
    ),
    Row("decide-not-json", "/v1/reviews/" + "a" * 32, b"{", status=400, code="bad_request"),
    Row(
        "decide-bad-label",
        "/v1/reviews/" + "a" * 32,
        _json({"label": "SPAM!"}),
        status=422,
        code="invalid_field",
        message="label must be",
    ),
    Row("decide-unknown-check", "/v1/reviews/" + "a" * 32, _json({"label": "spam"}), status=404, code="not_found"),
    Row("decide-odd-id", "/v1/reviews/..%2f..%2fetc", _json({"label": "spam"}), status=404, code="not_found"),
    Row(
        "bulk-501-ids",
        "/v1/reviews/bulk",
        _json({"ids": ["a" * 32] * 501, "label": "ham"}),
        status=413,
        code="payload_too_large",
        message="at most 500 ids",
    ),
    Row(
        "bulk-ids-not-list",
        "/v1/reviews/bulk",
        _json({"ids": "a" * 32, "label": "ham"}),
        status=422,
        code="invalid_field",
    ),
    Row(
        "bulk-bad-id",
        "/v1/reviews/bulk",
        _json({"ids": [5], "label": "ham"}),
        status=422,
        code="invalid_field",
        message="not a check id",
    ),
    Row(
        "bulk-unknown-id", "/v1/reviews/bulk", _json({"ids": ["b" * 32], "label": "ham"}), status=404, code="not_found"
    ),
    Row("undo-id-past-32-bits", "/v1/labels/99999999999/undo", content_type=None, status=404, code="not_found"),
    Row("undo-id-not-a-number", "/v1/labels/abc/undo", content_type=None, status=404, code="not_found"),
    Row("gunicorn-bad-content-length", "/v1/check", framing="raw", head=b"Content-Length: abc\r\n", status=400),
    Row(
        "gunicorn-length-and-chunked",
        "/v1/check",
        framing="raw",
        head=b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
        status=400,
    ),
]


def send_row(server: tuple[LiveServer, str], row: Row) -> Answer:
    """Write the row's request on a socket, as its framing says."""
    live, key = server
    headers = {"Content-Type": row.content_type} if row.content_type else {}
    if row.auth:
        headers["Authorization"] = f"Bearer {key}"
    body = row.body.replace(KEY.encode(), key.encode())
    if row.framing == "raw":
        head = request_head(row.method, row.path, headers)[:-2] + row.head + b"\r\n"
        return exchange(live.port, head, b"0\r\n\r\n")
    if row.framing == "chunked":
        return exchange(
            live.port, request_head(row.method, row.path, {**headers, "Transfer-Encoding": "chunked"}), chunked(body)
        )
    declared = {"declared": 10**12, "truncated": len(body) + 100}.get(row.framing, len(body))
    if row.method == "GET" and not body:
        return exchange(live.port, request_head(row.method, row.path, headers))
    head = request_head(row.method, row.path, {**headers, "Content-Length": str(declared)})
    return exchange(live.port, head, body, close_write=row.framing == "truncated")


@pytest.mark.parametrize("row", JSON_ROWS, ids=[r.id for r in JSON_ROWS])
def test_json_api_answers_bad_input_over_http(server: tuple[LiveServer, str], row: Row) -> None:
    record("service.test_bad_input_http: JSON API table rows")
    answer = send_row(server, row)
    assert answer.seconds < 10, "an answer must come at once"
    assert answer.status == row.status, answer.body[:500]
    if row.id.startswith("gunicorn-"):
        return  # gunicorn's own refusal, before the app
    assert answer.headers["content-type"] == "application/json"
    if row.status >= 400:
        error = answer.json()["error"]
        assert error["code"] == row.code and row.message in error["message"], error
        assert set(error) <= {"code", "message", "field"}
    if row.status == 405:
        assert answer.headers["allow"]


def _form(**fields: str) -> bytes:
    return urlencode({"api_key": KEY, "blog": BLOG, "user_ip": "203.0.113.9", **fields}).encode()


FORM = "application/x-www-form-urlencoded"
AKISMET_ROWS = [
    Row("check-valid", "/1.1/comment-check", _form(comment_content="hello"), FORM, 200, message="false"),
    Row(
        "check-valid-chunked",
        "/1.1/comment-check",
        _form(comment_content="hello"),
        FORM,
        200,
        message="false",
        framing="chunked",
    ),
    Row(
        "check-invalid-utf8",
        "/1.1/comment-check",
        _form() + b"&comment_content=Caf%E9\xff",
        FORM,
        200,
        message="invalid",
    ),
    Row("check-nul", "/1.1/comment-check", _form(comment_content="a\x00b"), FORM, 200, message="invalid"),
    Row(
        "check-content-100001", "/1.1/comment-check", _form(comment_content="x" * 100_001), FORM, 200, message="invalid"
    ),
    Row(
        "check-author-nul",
        "/1.1/comment-check",
        _form(comment_content="hi", comment_author="\x00"),
        FORM,
        200,
        message="invalid",
    ),
    Row(
        "check-unknown-key",
        "/1.1/comment-check",
        _form(comment_content="hi").replace(KEY.encode(), b"sf_nope"),
        FORM,
        200,
        message="invalid",
    ),
    Row(
        "check-bad-blog",
        "/1.1/comment-check",
        _form(comment_content="hi", blog="http://[::1"),
        FORM,
        200,
        message="invalid",
    ),
    Row(
        "check-json-body",
        "/1.1/comment-check",
        _json({"api_key": KEY, "blog": BLOG}),
        "application/json",
        200,
        message="Missing required field: api_key.",
    ),
    Row(
        "check-percent-garbage",
        "/1.1/comment-check",
        b"%zz&&=&api_key",
        FORM,
        200,
        message="Missing required field: api_key.",
    ),
    Row(
        "check-no-content-type",
        "/1.1/comment-check",
        _form(comment_content="hi"),
        None,
        200,
        message="Missing required field: api_key.",
    ),
    Row(
        "check-multipart",
        "/1.1/comment-check",
        b"--b\r\nContent-Disposition: form-data; name=api_key\r\n\r\n" + KEY.encode() + b"\r\n--b--\r\n",
        "multipart/form-data; boundary=b",
        200,
        message="Missing required field: blog.",
    ),
    Row(
        "check-over-limit-chunked",
        "/1.1/comment-check",
        _form(comment_content="x" * MAX_BODY),
        FORM,
        413,
        framing="chunked",
    ),
    Row("check-over-limit", "/1.1/comment-check", _form(comment_content="x" * MAX_BODY), FORM, 413),
    Row("check-get", "/1.1/comment-check", method="GET", content_type=None, status=405),
    Row("verify-nul-key", "/1.1/verify-key", b"key=%00&blog=" + BLOG.encode(), FORM, 200, message="invalid"),
    Row("verify-no-key", "/1.1/verify-key", b"blog=" + BLOG.encode(), FORM, 200, message="invalid"),
    Row("submit-spam-nul", "/1.1/submit-spam", _form(comment_content="a\x00"), FORM, 200, message="invalid"),
    Row(
        "submit-ham-no-content",
        "/1.1/submit-ham",
        _form(),
        FORM,
        200,
        message="Missing required field: comment_content.",
    ),
    Row("submit-ham-invalid-utf8", "/1.1/submit-ham", _form() + b"&comment_content=\xff", FORM, 200, message="invalid"),
    Row("usage-no-key", "/1.2/usage-limit", b"", FORM, 200, message="Missing required field: api_key."),
    Row("key-sites-unknown-key", "/1.2/key-sites", b"api_key=sf_nope", FORM, 200, message="invalid"),
]


@pytest.mark.parametrize("row", AKISMET_ROWS, ids=[r.id for r in AKISMET_ROWS])
def test_akismet_answers_bad_input_over_http_like_akismet(server: tuple[LiveServer, str], row: Row) -> None:
    record("service.test_bad_input_http: Akismet table rows")
    answer = send_row(server, row)
    assert answer.seconds < 10, "an answer must come at once"
    assert answer.status == row.status, answer.body[:500]
    if row.status != 200:
        return  # 405 and 413 are HTTP's own answers, before any Akismet field is read
    assert answer.headers["content-type"].startswith("text/plain") and answer.body.decode() == row.message
    if row.message not in ("true", "false", "valid"):
        assert answer.headers["x-akismet-debug-help"]


# Found by fuzzing, checked on both databases through the app (the HTTP tables above run on SQLite).


@pytest.mark.parametrize(
    ("method", "path", "status", "allow"),
    [
        ("get", "/v1/check", 405, "POST"),
        ("put", "/v1/reviews", 405, "GET"),
        ("delete", "/1.1/comment-check", 405, "POST"),
        ("trace", "/healthz", 405, "GET"),
    ],
)
def test_405_names_the_allowed_methods(client: FlaskClient, method: str, path: str, status: int, allow: str) -> None:
    response = client.open(path, method=method.upper())
    assert response.status_code == status and allow in response.headers["Allow"]
    assert response.json["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("since=0001-01-01T00:00:00%2B05:00", 200),  # an offset past year 1 was an OverflowError: 500
        ("until=9999-12-31T23:00:00-05:00", 200),
        ("since=0001-01-01", 200),
        ("since=2026-02-30", 422),
    ],
)
def test_review_queue_bounds_far_off_times(client: FlaskClient, auth: dict[str, str], query: str, status: int) -> None:
    assert client.get(f"/v1/reviews?{query}", headers=auth).status_code == status


@pytest.mark.parametrize("label_id", [2**31 - 1, 2**31, 18_947_410_902, 2**63])
def test_undo_of_an_id_past_the_column_is_404_not_503(client: FlaskClient, auth: dict[str, str], label_id: int) -> None:
    # labels.id is a 32-bit INTEGER on PostgreSQL, which refused larger ids: the 404 came as a 503.
    response = client.post(f"/v1/labels/{label_id}/undo", headers=auth)
    assert response.status_code == 404 and response.json["error"]["code"] == "not_found"


def test_openapi_document_describes_the_review_routes(app: Flask) -> None:
    paths = app.test_client().get("/openapi.json").json["paths"]
    assert {"/v1/reviews", "/v1/reviews/{check_id}", "/v1/reviews/bulk", "/v1/labels/{label_id}/undo"} <= set(paths)
