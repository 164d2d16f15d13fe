"""No secret in any log: a live server taken through keys, checks, logins, webhooks and metrics."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote_plus

import httpx
import pytest

from tests.service.conftest import SPAM_TEXT, LiveServer, free_port

BLOG = "https://news.example"
PASSWORD = "correct horse battery staple"
WRONG_PASSWORD = "incorrect pony battery clip"
METRICS_TOKEN = f"metrics-{uuid.uuid4().hex}"


def cli(server: LiveServer, *args: str, stdin: str | None = None) -> tuple[str, str]:
    """A `spamfilter` command against the server's database: its standard output and error."""
    done = subprocess.run(
        [sys.executable, "-m", "spamfilter.cli", *args],
        env=server.env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.stdout, done.stderr


def all_but_last_line(text: str) -> str:
    """Standard output without its last line: the one place a key or secret is printed, once."""
    return "\n".join(text.strip().splitlines()[:-1])


def wait_for(path: Path, text: str, seconds: float = 15.0) -> bool:
    """Whether `text` shows up in the file within `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if text in path.read_text():
            return True
        time.sleep(0.2)
    return False


def _check(http: httpx.Client, key: str, **extra: str) -> httpx.Response:
    return http.post("/v1/check", json={"content": SPAM_TEXT}, headers={"Authorization": f"Bearer {key}"}, **extra)


def _akismet(http: httpx.Client, route: str, query: dict[str, str] | None = None, **form: str) -> httpx.Response:
    fields = {"blog": BLOG, "user_ip": "203.0.113.5", "comment_content": SPAM_TEXT, **form}
    return http.post(f"/1.1/{route}", params=query, data=fields)


def _moderate(http: httpx.Client, name: str, check_id: str) -> str:
    """Log in wrongly then rightly, overturn a check (a webhook notice follows), log out; the session cookie."""
    form = lambda page: re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]  # noqa: E731
    login = {"name": name, "csrf_token": form(http.get("/moderation/login").text)}
    assert http.post("/moderation/login", data={**login, "password": WRONG_PASSWORD}).status_code == 401
    assert http.post("/moderation/login", data={**login, "password": PASSWORD}).status_code == 302
    cookie = http.cookies["spamfilter_session"]
    token = re.search(r"const CSRF = \"([^\"]+)\"", http.get("/moderation").text).group(1)  # type: ignore[union-attr]
    assert http.get("/moderation/api/queue").status_code == 200
    decided = http.post(f"/moderation/api/decide/{check_id}", json={"label": "ham"}, headers={"X-CSRF-Token": token})
    assert decided.status_code == 200, decided.text
    assert http.post("/moderation/logout", data={"csrf_token": token}).status_code == 302
    return cookie


@pytest.fixture
def server(tmp_path: Path, redis_prefix: str) -> LiveServer:
    env = {
        "SPAMFILTER_LOG_LEVEL": "INFO",  # every request line, to be searched
        "SPAMFILTER_METRICS_TOKEN": METRICS_TOKEN,
        "SPAMFILTER_RATE_LIMIT_PER_IP": "8",
        "SPAMFILTER_KEY_CACHE_SECONDS": "0",  # a revoked key is refused at once
        # Apart from live.db: Prometheus reads every *.db file in its directory as its own.
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
    }
    (tmp_path / "metrics").mkdir()
    live = LiveServer(tmp_path, redis_prefix, env=env)
    yield live
    live.stop()


def test_no_key_password_cookie_secret_or_token_reaches_a_log(server: LiveServer) -> None:
    outputs: list[str] = []
    created, note = cli(server, "keys", "create", "--site", BLOG)
    key = created.strip().splitlines()[-1]
    outputs += [all_but_last_line(created), note]
    created, note = cli(server, "keys", "create", "--site", "https://other.example")
    revoked_key = created.strip().splitlines()[-1]
    outputs += [all_but_last_line(created), note]
    hooked, note = cli(server, "keys", "webhook", "1", "--url", f"http://127.0.0.1:{free_port()}/hook")
    webhook_secret = hooked.strip().splitlines()[-1]
    outputs += [all_but_last_line(hooked), note]
    name = f"mod-{uuid.uuid4().hex[:6]}"
    outputs += cli(server, "moderators", "create", "--name", name, "--password-stdin", stdin=PASSWORD + "\n")
    outputs += cli(server, "keys", "list")
    wrong = {place: "sf_" + uuid.uuid4().hex + uuid.uuid4().hex[:8] for place in ("header", "body", "query", "cli")}

    with httpx.Client(base_url=server.url, timeout=10) as http:
        checked = _check(http, key)  # the fast path
        assert checked.status_code == 200
        assert _check(http, key, params={"api_key": key}).status_code == 200  # a key in a query string too
        assert _check(http, revoked_key).status_code == 200
        auth = {"Authorization": f"Bearer {key}"}
        assert http.post("/v1/check/batch", json={"comments": [{"content": "hi"}]}, headers=auth).status_code == 200
        assert http.post("/v1/feedback", json={"id": checked.json()["id"], "label": "spam"}, headers=auth).is_success
        assert http.get("/v1/reviews", params={"key": key}, headers=auth).status_code == 200
        assert _akismet(http, "verify-key", key=key).text == "valid"
        assert _akismet(http, "comment-check", api_key=key).text in ("true", "false")  # Akismet: the key in the body
        assert _akismet(http, "comment-check", {"api_key": key}).text in ("true", "false")
        assert _akismet(http, "submit-spam", api_key=key).text.startswith("Thanks")
        assert _check(http, wrong["header"]).status_code == 401
        assert _akismet(http, "comment-check", api_key=wrong["body"]).text == "invalid"
        assert _akismet(http, "comment-check", {"api_key": wrong["query"]}).text == "invalid"
        assert http.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).status_code == 200
        wrong_token = f"metrics-{uuid.uuid4().hex}"
        assert http.get("/metrics", headers={"Authorization": f"Bearer {wrong_token}"}).status_code == 401
        time.sleep(0.5)  # the kept check reaches the database (written behind every 0.1 s)
        cookie = _moderate(http, name, checked.json()["id"])
        assert wait_for(server.log_path, "webhook delivery")  # the notice was signed and tried
        outputs += cli(server, "keys", "revoke", revoked_key)  # pasted whole, as after a leak
        outputs += cli(server, "keys", "revoke", wrong["cli"])
        assert _check(http, revoked_key).status_code == 401
        statuses = {_check(http, wrong["header"]).status_code for _ in range(8)}
        assert statuses == {401, 429}  # refusals are logged too
    server.stop()

    log = server.log_path.read_text()
    assert log.count('"message": "request"') >= 25 and '"status": 429' in log
    secrets = {
        "key": key,
        "revoked key": revoked_key,
        "password": PASSWORD,
        "wrong password": WRONG_PASSWORD,
        "session cookie": cookie,
        "webhook secret": webhook_secret,
        "metrics token": METRICS_TOKEN,
        "wrong metrics token": wrong_token,
        **{f"wrong key ({place})": value for place, value in wrong.items()},
    }
    written = {"server log": log, "command line": "\n".join(outputs)}
    for where, text in written.items():
        for what, secret in secrets.items():
            # The whole value, as form-encoded, and a key's random part alone (in case "sf_" were cut off).
            for form in {secret, quote_plus(secret), secret.removeprefix("sf_")}:
                assert form not in text, f"{what} found in the {where}"


def test_database_errors_never_quote_the_values(tmp_path: Path) -> None:
    from sqlalchemy.exc import IntegrityError
    from sqlalchemy.orm import Session

    from service.db import AppSecret, make_engine, upgrade

    url = f"sqlite:///{tmp_path / 'secrets.db'}"
    upgrade(url)
    engine = make_engine(url)
    secret = f"secret-{uuid.uuid4().hex}"
    with Session(engine) as session:
        session.add(AppSecret(name="twice", value="first"))
        session.commit()
        session.add(AppSecret(name="twice", value=secret))
        with pytest.raises(IntegrityError) as caught:
            session.commit()
    engine.dispose()
    assert secret not in str(caught.value) and "hidden" in str(caught.value)
