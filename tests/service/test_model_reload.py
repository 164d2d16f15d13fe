"""Hot reload: workers pick up a promoted model (Redis notice or polling), verify it, and never mix versions."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from flask import Flask

from service.db import upgrade
from service.model import ModelWatcher, registry_of
from spamfilter.artifact import LoadedModel, load_model, set_current
from spamfilter.comment import Comment
from spamfilter.registry import promote
from tests.conftest import add_version
from tests.service.conftest import HAM_TEXT, REDIS_TEST_URL, SPAM_TEXT, LiveServer, new_key

# Every comment scores below 1.0, so "review from 0" gives the new model other verdicts than the old.
OTHER_THRESHOLDS = {"review": 0.0, "spam": 0.999999, "discard": 0.9999999}


def tamper(directory: Path) -> None:
    """Change bytes in a model artifact so its SHA-256 no longer matches its card."""
    with (directory / "model.joblib").open("r+b") as handle:
        handle.seek(2000)
        handle.write(b"tampered")


def wait_for(condition: Any, seconds: float) -> float:
    """Seconds until `condition()` held (fails the test after `seconds`)."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < seconds, "condition not reached in time"
        time.sleep(0.05)
    return time.monotonic() - started


@pytest.fixture
def watched_app(app_factory: Any, registry: Path, tmp_path: Path) -> Flask:
    """An app without Redis serving the registry, polling it every 0.1 s."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    upgrade(url)
    app: Flask = app_factory(url, SPAMFILTER_MODEL_DIR=str(registry), SPAMFILTER_MODEL_POLL_SECONDS=0.1)
    return app


def test_polling_picks_up_a_promotion_without_redis(
    watched_app: Flask, registry: Path, bundled_model: LoadedModel
) -> None:
    add_version(registry, registry / bundled_model.version, "polled", thresholds=OTHER_THRESHOLDS)
    watcher: ModelWatcher = watched_app.extensions["spamfilter.modelwatch"]
    watcher.ensure_running()
    client = watched_app.test_client()
    auth = {"Authorization": f"Bearer {new_key(watched_app)}"}
    assert (
        client.post("/v1/check", json={"content": HAM_TEXT}, headers=auth).json["model_version"]
        == bundled_model.version
    )
    promote(registry, "polled", force=True)
    wait_for(lambda: watched_app.extensions["spamfilter.model"].version == "polled", 5)
    body = client.post("/v1/check", json={"content": HAM_TEXT}, headers=auth).json
    assert (body["model_version"], body["verdict"], body["cached"]) == ("polled", "review", False)


def test_a_model_that_fails_to_load_leaves_the_old_one_serving(
    watched_app: Flask, registry: Path, bundled_model: LoadedModel, caplog: pytest.LogCaptureFixture
) -> None:
    tamper(add_version(registry, registry / bundled_model.version, "broken"))
    set_current(registry, "broken")  # as if shared storage were corrupted after a promotion
    watched_app.extensions["spamfilter.modelwatch"].sync()
    assert watched_app.extensions["spamfilter.model"].version == bundled_model.version
    assert "model broken (current) not loaded" in caplog.text and "SHA-256" in caplog.text
    metrics = watched_app.extensions["spamfilter.metrics"].render().decode()
    assert 'spamfilter_model_reloads_total{outcome="failed",role="current"} 1.0' in metrics


def test_a_pinned_version_directory_is_not_watched(registry: Path, bundled_model: LoadedModel) -> None:
    assert registry_of(str(registry)) == registry
    assert registry_of(str(registry / bundled_model.version)) is None


class Load:
    """Client threads checking a fixed set of comments against several servers, recording every answer."""

    def __init__(self, urls: list[str], key: str, texts: list[str], threads: int = 4):
        self.urls, self.key, self.texts = urls, key, texts
        self.answers: list[tuple[float, str, int, dict[str, Any]]] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(n,)) for n in range(threads)]
        self._lock = threading.Lock()

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def _run(self, number: int) -> None:
        headers = {"Authorization": f"Bearer {self.key}"}
        with httpx.Client(timeout=10) as client:
            i = number
            while not self._stop.is_set():
                url, text = self.urls[i % len(self.urls)], self.texts[i % len(self.texts)]
                i += 1
                try:
                    response = client.post(f"{url}/v1/check", json={"content": text}, headers=headers)
                except httpx.HTTPError as exc:
                    self.failures.append(f"{url}: {exc!r}")
                    continue
                if response.status_code != 200:
                    self.failures.append(f"{url}: {response.status_code} {response.text[:200]}")
                    continue
                with self._lock:
                    self.answers.append((time.monotonic(), url, i, {**response.json(), "text": text}))

    def latest_versions(self, since: float) -> dict[str, set[str]]:
        """The model versions each server answered with after `since`."""
        with self._lock:
            seen: dict[str, set[str]] = {url: set() for url in self.urls}
            for at, url, _, body in self.answers:
                if at >= since:
                    seen[url].add(body["model_version"])
        return seen


@pytest.fixture
def replicas(tmp_path: Path, registry: Path, postgres_url: str) -> Iterator[list[LiveServer]]:
    """Two service instances (two workers each) on one Redis, one PostgreSQL database and one registry."""
    prefix = f"sftest-{uuid.uuid4().hex[:10]}"
    env = {
        "DATABASE_URL": postgres_url,
        "SPAMFILTER_MODEL_DIR": str(registry),
        "SPAMFILTER_MODEL_POLL_SECONDS": "30",  # so switching within seconds proves the Redis notice
    }
    servers: list[LiveServer] = []
    try:
        for n in range(2):
            (tmp_path / f"replica{n}").mkdir()
            servers.append(LiveServer(tmp_path / f"replica{n}", prefix, workers=2, env=env))
        yield servers
    finally:
        for server in servers:
            server.stop()
        client = redis.Redis.from_url(REDIS_TEST_URL)
        for key in client.scan_iter(f"{prefix}:*"):
            client.delete(key)
        client.close()


def test_promotion_under_load_reaches_every_replica_without_failures_or_stale_verdicts(
    replicas: list[LiveServer], registry: Path, bundled_model: LoadedModel
) -> None:
    old = bundled_model.version
    add_version(registry, registry / old, "reload-b", thresholds=OTHER_THRESHOLDS)
    new = load_model(registry / "reload-b")
    key = replicas[0].cli("keys", "create", "--site", "https://news.example").strip().splitlines()[-1]
    texts = [f"{HAM_TEXT} Point {n}." for n in range(30)] + [f"{SPAM_TEXT} {n}" for n in range(10)]
    urls = [server.url for server in replicas]
    with Load(urls, key, texts) as load:
        time.sleep(2.0)  # every comment answered, and cached, under the old model
        refused = _cli_error(replicas[0], "models", "promote", "reload-b")
        assert "no evaluation against the current model" in refused
        started = time.monotonic()
        replicas[0].cli("models", "promote", "reload-b", "--force")
        promoted = time.monotonic()
        wait_for(lambda: all(v == {"reload-b"} for v in load.latest_versions(time.monotonic() - 0.3).values()), 10)
        time.sleep(2.0)
        rolling_back = time.monotonic()
        replicas[1].cli("models", "rollback")
        wait_for(lambda: all(v == {old} for v in load.latest_versions(time.monotonic() - 0.3).values()), 10)
        tamper(add_version(registry, registry / old, "broken"))
        set_current(registry, "broken")
        redis.Redis.from_url(REDIS_TEST_URL).publish(
            f"{replicas[0].env['SPAMFILTER_REDIS_PREFIX']}:models:changed", "x"
        )
        broken = time.monotonic()
        time.sleep(2.0)
    last_old = max(at for at, _, _, b in load.answers if at < rolling_back and b["model_version"] == old)
    switch = last_old - promoted
    print(
        f"{len(load.answers)} answers, {len(load.failures)} failures; the promote command took "
        f"{promoted - started:.2f}s and the last old-model answer came {switch:+.2f}s after it returned"
    )
    assert load.failures == []
    assert len(load.answers) > 500
    assert switch < 5, f"replicas took {switch:.1f}s after the promotion to switch"
    after_new = [b for at, _, _, b in load.answers if promoted < at < rolling_back and b["model_version"] == "reload-b"]
    assert any(b["cached"] for b in after_new), "the new model's verdicts should be cached and served again"
    for body in after_new:  # never an old verdict under the new version: every one is the new model's own
        expected = new.check(Comment(text=body["text"]), reasons=0)
        assert (body["verdict"], round(body["spam_probability"], 6)) == (
            expected.verdict.value,
            round(expected.spam_probability, 6),
        )
    assert {b["model_version"] for at, _, _, b in load.answers if at > broken + 0.5} == {old}
    answers: dict[tuple[str, str], set[tuple[str, float]]] = {}
    for _, _, _, body in load.answers:  # both replicas give one comment one answer per model version
        answers.setdefault((body["text"], body["model_version"]), set()).add(
            (body["verdict"], round(body["spam_probability"], 6))
        )
    assert all(len(seen) == 1 for seen in answers.values())
    assert {url for _, url, _, _ in load.answers} == set(urls)
    assert all("model broken (current) not loaded" in s.log_path.read_text() for s in replicas)


def _cli_error(server: LiveServer, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "spamfilter.cli", *args], env=server.env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    return done.stderr
