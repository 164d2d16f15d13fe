"""Akismet forms: whatever is posted, every answer is Akismet's (status 200, a known body, debug help).

The oracle restates service/akismet.py's contract as the README gives it: `api_key`, `blog` and
`user_ip` are required (`Missing required field: NAME.`, in that order); an unknown key, an
unparsable blog URL, or a read field holding NUL or more than 100,000 characters is `invalid`;
otherwise `true` or `false` with an `X-akismet-guid`. Unknown fields are ignored, whatever they hold.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask
from hypothesis import event, given
from hypothesis import strategies as st

from service.akismet import THANKS
from tests.tally import bounded, counted

BLOG = "https://news.example"
REQUIRED = ("api_key", "blog", "user_ip")
CONTEXT = ("comment_content", "comment_author", "comment_author_email", "comment_author_url", "user_agent")
clean = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=30)
dirty = st.one_of(clean.map(lambda t: t + "\x00"), st.just("x" * 100_001))


@pytest.fixture(scope="module")
def akismet_key(unlimited_app: Flask, unlimited_auth: dict[str, str]) -> str:
    """The key behind `unlimited_auth`, as Akismet clients send it."""
    return unlimited_auth["Authorization"].removeprefix("Bearer ")


@st.composite
def forms(draw: st.DrawFn) -> tuple[dict[str, str], str]:
    """A comment-check form and the answer the README promises for it."""
    form: dict[str, str] = {}
    for name in REQUIRED:
        given_as = draw(st.sampled_from(["VALID"] * 10 + ["", None]))  # mostly there, sometimes empty or absent
        if given_as is not None:
            form[name] = given_as
    if form.get("api_key") == "VALID":
        form["api_key"] = draw(st.sampled_from(["KEY"] * 6 + ["sf_unknown", "KEY "]))
    if form.get("blog") == "VALID":
        form["blog"] = draw(
            st.sampled_from([BLOG] * 4 + ["http://x.example/p?q=1", "not a url", "http://[::1", "ftp://x"])
        )
    if form.get("user_ip") == "VALID":
        form["user_ip"] = draw(st.sampled_from(["203.0.113.5", "::1", "not an ip", "é"]))
    is_dirty = False
    for name in draw(st.lists(st.sampled_from(CONTEXT), unique=True, max_size=4)):
        dirt = draw(st.integers(0, 7)) == 0
        form[name] = draw(dirty if dirt else clean)
        is_dirty |= dirt
    form.update(draw(st.dictionaries(st.sampled_from(["x", "comment_context[]", "é", "blog_charset"]), clean | dirty)))
    form["is_test"] = draw(st.sampled_from(["1", "0", "true", ""]))
    missing = next((name for name in REQUIRED if not form.get(name)), None)
    if missing:
        return form, f"Missing required field: {missing}."
    bad = form["api_key"] != "KEY" or form["blog"] in ("not a url", "http://[::1", "ftp://x") or is_dirty
    return form, "invalid" if bad else "true|false"


@bounded(200)
@given(forms())
@counted
def test_comment_check_answers_every_form_like_akismet(
    unlimited_app: Flask, akismet_key: str, case: tuple[dict[str, str], str]
) -> None:
    form, expected = case
    event(f"expected {expected.split(':')[0]}")
    sent = {k: (akismet_key if v == "KEY" else v) for k, v in form.items()}
    response = unlimited_app.test_client().post("/1.1/comment-check", data=sent)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and response.mimetype == "text/plain"
    if expected == "true|false":
        assert body in ("true", "false") and len(response.headers["X-akismet-guid"]) == 32
    else:
        assert body == expected and response.headers["X-akismet-debug-help"]


ANSWERS = {
    "/1.1/verify-key": {"valid", "invalid"},
    "/1.1/comment-check": {"true", "false", "invalid"},
    "/1.1/submit-spam": {THANKS, "invalid"},
    "/1.1/submit-ham": {THANKS, "invalid"},
    "/1.2/usage-limit": {"invalid"},
    "/1.2/key-sites": {"invalid"},
}
names = st.sampled_from(["api_key", "key", "blog", "user_ip", "comment_content", "guid", "format", "month", "x", "é"])
raw_bodies = st.one_of(
    st.binary(max_size=60),
    st.lists(st.tuples(names, clean | dirty), max_size=6).map(lambda pairs: urlencode(pairs).encode()),
    st.sampled_from([b"api_key=%ff&blog=%fe", b"%", b"a=%zz&&=", b"api_key=KEY&blog=" + BLOG.encode() + b"&user_ip=1"]),
)
content_types = st.sampled_from(
    ["application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=latin-1", "text/plain", None]
)


@bounded(200)
@given(st.sampled_from(sorted(ANSWERS)), raw_bodies, content_types, st.sampled_from(["POST", "GET"]))
@counted
def test_akismet_routes_answer_any_body_with_status_200(
    unlimited_app: Flask, akismet_key: str, path: str, raw: bytes, content_type: str | None, method: str
) -> None:
    if method == "GET" and path.startswith("/1.1/"):
        method = "POST"  # the 1.1 routes are POST only (a 405 is tested elsewhere)
    raw = raw.replace(b"KEY", akismet_key.encode())
    kwargs: dict[str, Any] = {"data": raw} if method == "POST" else {"query_string": raw.decode("latin-1")}
    if content_type:
        kwargs["content_type"] = content_type
    response = unlimited_app.test_client().open(path, method=method, **kwargs)
    body = response.get_data(as_text=True)
    assert response.status_code == 200, body[:300]
    if response.mimetype == "application/json":
        assert path.startswith("/1.2/")
        return
    if body.startswith("Site,Total API Calls,"):  # key-sites as CSV
        assert path == "/1.2/key-sites"
        return
    assert body in ANSWERS[path] or body.startswith("Missing required field: "), body[:300]
    if body not in ("true", "false", "valid", THANKS):
        assert response.headers["X-akismet-debug-help"]
