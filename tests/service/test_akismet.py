"""The Akismet API against a live gunicorn server, driven by the real `akismet` client from PyPI."""

from __future__ import annotations

from collections.abc import Iterator

import akismet
import httpx
import pytest
import redis

from tests.service.conftest import REDIS_TEST_URL, LiveServer

BLOG = "https://news.example"
DISCARD_TEXT = "Check out my channel and subscribe!! http://bit.ly/abc please subscribe to my channel"
SPAM_TEXT = "Earn money online, visit my page"  # in the spam tier, below discard
HAM_TEXT = "I disagree with the article; the council should have answered the question directly."


class RewriteHost(httpx.HTTPTransport):
    """Send whatever the client addresses (rest.akismet.com) to the local server."""

    def __init__(self, base: str):
        super().__init__()
        self.base = httpx.URL(base)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(scheme=self.base.scheme, host=self.base.host, port=self.base.port)
        request.headers["Host"] = f"{self.base.host}:{self.base.port}"
        return super().handle_request(request)


class AsyncRewriteHost(httpx.AsyncHTTPTransport):
    """The async twin of RewriteHost."""

    def __init__(self, base: str):
        super().__init__()
        self.base = httpx.URL(base)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(scheme=self.base.scheme, host=self.base.host, port=self.base.port)
        request.headers["Host"] = f"{self.base.host}:{self.base.port}"
        return await super().handle_async_request(request)


@pytest.fixture(scope="module")
def key(live_server: LiveServer) -> str:
    return live_server.cli("keys", "create", "--site", BLOG).strip().splitlines()[-1]


@pytest.fixture
def sync_client(live_server: LiveServer, key: str) -> Iterator[akismet.SyncClient]:
    http = httpx.Client(transport=RewriteHost(live_server.url), headers={"User-Agent": akismet.USER_AGENT}, timeout=10)
    client = akismet.SyncClient.validated_client(config=akismet.Config(key=key, url=BLOG), http_client=http)
    yield client
    http.close()


def _labels(live_server: LiveServer) -> str:
    import sqlite3

    path = live_server.env["DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        return repr(db.execute("select text, label, source, site from labels order by id").fetchall())


def test_sync_client_end_to_end(sync_client: akismet.SyncClient, live_server: LiveServer) -> None:
    assert sync_client.verify_key() is True
    assert sync_client.verify_key("sf_wrong", BLOG) is False
    assert (
        sync_client.comment_check("203.0.113.5", comment_content=HAM_TEXT, comment_type="comment")
        == akismet.CheckResponse.HAM
    )
    assert (
        sync_client.comment_check("203.0.113.5", comment_content=SPAM_TEXT, comment_author="x")
        == akismet.CheckResponse.SPAM
    )
    assert sync_client.comment_check("203.0.113.5", comment_content=DISCARD_TEXT) == akismet.CheckResponse.DISCARD
    assert (
        sync_client.comment_check("203.0.113.5", comment_content=HAM_TEXT, comment_author="viagra-test-123")
        == akismet.CheckResponse.SPAM
    )
    assert (
        sync_client.comment_check("203.0.113.5", comment_content=SPAM_TEXT, user_role="administrator")
        == akismet.CheckResponse.HAM
    )
    assert (
        sync_client.submit_spam("203.0.113.5", comment_content="A spam the filter missed", comment_author="m") is True
    )
    assert (
        sync_client.submit_ham("203.0.113.5", comment_content="A good comment it blocked", comment_author="g") is True
    )
    assert sync_client.submit_ham("203.0.113.5", comment_content="a test submission", is_test=True) is True
    usage = sync_client.usage_limit()
    assert usage["usage"] >= 5 and usage["limit"] == "none" and usage["throttled"] is False
    labels = _labels(live_server)
    assert "('A spam the filter missed', 'spam', 'akismet', 'https://news.example')" in labels
    assert "('A good comment it blocked', 'ham', 'akismet', 'https://news.example')" in labels
    assert "a test submission" not in labels


async def test_async_client_end_to_end(live_server: LiveServer, key: str) -> None:
    async with httpx.AsyncClient(
        transport=AsyncRewriteHost(live_server.url), headers={"User-Agent": akismet.USER_AGENT}, timeout=10
    ) as http:
        client = await akismet.AsyncClient.validated_client(config=akismet.Config(key=key, url=BLOG), http_client=http)
        assert await client.comment_check("203.0.113.9", comment_content=HAM_TEXT) == akismet.CheckResponse.HAM
        assert await client.comment_check("203.0.113.9", comment_content=SPAM_TEXT) == akismet.CheckResponse.SPAM
        assert await client.comment_check("203.0.113.9", comment_content=DISCARD_TEXT) == akismet.CheckResponse.DISCARD
        assert await client.submit_spam("203.0.113.9", comment_content="async missed spam") is True
        assert await client.submit_ham("203.0.113.9", comment_content="async false positive") is True
        assert (await client.usage_limit())["usage"] >= 3


def test_invalid_key_makes_the_client_refuse(live_server: LiveServer) -> None:
    http = httpx.Client(transport=RewriteHost(live_server.url), timeout=10)
    with pytest.raises(akismet.APIKeyError):
        akismet.SyncClient.validated_client(config=akismet.Config(key="sf_nope", url=BLOG), http_client=http)
    http.close()


def _post(live_server: LiveServer, path: str, data: object) -> httpx.Response:
    return httpx.post(f"{live_server.url}{path}", data=data, timeout=10)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("drop", "body", "help_text"),
    [
        ("user_ip", "Missing required field: user_ip.", 'Empty "user_ip" value'),
        ("blog", "Missing required field: blog.", 'Empty "blog" value'),
        ("api_key", "Missing required field: api_key.", 'Empty "api_key" value'),
    ],
)
def test_missing_fields_answer_like_akismet(
    live_server: LiveServer, key: str, drop: str, body: str, help_text: str
) -> None:
    data = {"api_key": key, "blog": BLOG, "user_ip": "203.0.113.1", "comment_content": "hi"}
    del data[drop]
    response = _post(live_server, "/1.1/comment-check", data)
    assert (response.status_code, response.text, response.headers["X-akismet-debug-help"]) == (200, body, help_text)
    assert response.headers["Content-Type"].startswith("text/plain")


def test_comment_check_bytes_and_headers(live_server: LiveServer, key: str) -> None:
    data = {
        "api_key": key,
        "blog": BLOG,
        "user_ip": "203.0.113.1",
        "comment_content": HAM_TEXT,
        "comment_context[]": ["politics", "council"],
        "some_unknown_field": "accepted",
        "is_test": "1",
    }
    response = _post(live_server, "/1.1/comment-check", data)
    assert response.status_code == 200 and response.content == b"false"
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert len(response.headers["X-akismet-guid"]) == 32 and "X-akismet-pro-tip" not in response.headers
    bad = _post(live_server, "/1.1/comment-check", {"api_key": "sf_nope", "blog": BLOG, "user_ip": "1.2.3.4"})
    assert bad.text == "invalid" and bad.headers["X-akismet-debug-help"]
    unparsable = _post(live_server, "/1.1/verify-key", {"key": key, "blog": "not a url"})
    assert (
        unparsable.text == "invalid"
        and unparsable.headers["X-akismet-debug-help"] == "We were unable to parse your blog URI"
    )


def test_submit_matches_the_check_by_guid(live_server: LiveServer, key: str) -> None:
    text = "Lovely pictures, see more on my profile page"
    check = _post(
        live_server,
        "/1.1/comment-check",
        {"api_key": key, "blog": BLOG, "user_ip": "203.0.113.2", "comment_content": text, "comment_author": "pat"},
    )
    guid = check.headers["X-akismet-guid"]
    submit = _post(
        live_server, "/1.1/submit-spam", {"api_key": key, "blog": BLOG, "user_ip": "203.0.113.2", "guid": guid}
    )
    assert submit.text == "Thanks for making the web a better place."
    assert f"('{text}', 'spam', 'akismet', 'https://news.example')" in _labels(live_server)


def test_key_sites_and_usage(live_server: LiveServer, key: str) -> None:
    sites = httpx.get(f"{live_server.url}/1.2/key-sites", params={"api_key": key}, timeout=10).json()
    month = next(k for k in sites if k not in ("limit", "offset", "total"))
    assert sites["total"] == 1 and sites[month][0]["site"] == BLOG and int(sites[month][0]["api_calls"]) >= 1
    csv_text = httpx.get(f"{live_server.url}/1.2/key-sites", params={"api_key": key, "format": "csv"}, timeout=10).text
    assert csv_text.splitlines()[0].startswith("Site,Total API Calls") and BLOG in csv_text
    counters = redis.Redis.from_url(REDIS_TEST_URL, decode_responses=True)
    prefix = live_server.env["SPAMFILTER_REDIS_PREFIX"]
    assert any(k.startswith(f"{prefix}:usage:") for k in counters.scan_iter(f"{prefix}:*"))
    counters.close()
