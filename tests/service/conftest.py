"""Service fixtures: apps on real SQLite and PostgreSQL, a real Redis, and a live gunicorn server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from service import close_app, create_app
from service.apikeys import create_key
from service.db import upgrade

PG_ADMIN = os.environ.get("SPAMFILTER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_TEST_URL = os.environ.get("SPAMFILTER_TEST_REDIS", "redis://127.0.0.1:6379/15")
SPAM_TEXT = "Check out my channel and subscribe!! Free money at http://bit.ly/x1 http://bit.ly/x2"
METRICS_TOKEN = "test-metrics-token"
HAM_TEXT = "I disagree with the article, the council should have answered the question directly."


def _sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'spamfilter.db'}"


def _postgres_url() -> Iterator[str]:
    name = f"spamfilter_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh, migrated database on each backend: embedded SQLite and the real PostgreSQL here."""
    urls = _sqlite_url(tmp_path_factory) if request.param == "sqlite" else _postgres_url()
    url = next(urls)
    upgrade(url)
    yield url
    next(urls, None)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A throwaway, migrated PostgreSQL database, dropped afterwards."""
    urls = _postgres_url()
    url = next(urls)
    upgrade(url)
    yield url
    next(urls, None)


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of this test's own in the test Redis database, deleted afterwards."""
    prefix = f"sftest-{uuid.uuid4().hex[:10]}"
    yield prefix
    client = redis.Redis.from_url(REDIS_TEST_URL)
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)
    client.close()


def make_app(database_url: str, **config: Any) -> Flask:
    """An app on `database_url` with test settings on top."""
    settings = {
        "SPAMFILTER_KEY_CACHE_SECONDS": 0,
        "SPAMFILTER_LOG_LEVEL": "WARNING",
        "SPAMFILTER_METRICS_TOKEN": METRICS_TOKEN,
    }
    return create_app({"DATABASE_URL": database_url, **settings, **config})


@pytest.fixture(scope="module")
def app(database_url: str) -> Iterator[Flask]:
    """The app with the in-process cache (the embedded default)."""
    app = make_app(database_url)
    yield app
    close_app(app)


@pytest.fixture
def app_factory() -> Iterator[Any]:
    """Build apps with extra settings; their database connections are closed afterwards."""
    apps: list[Flask] = []

    def build(database_url: str, **config: Any) -> Flask:
        apps.append(make_app(database_url, **config))
        return apps[-1]

    yield build
    for app in apps:
        close_app(app)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client of the app."""
    return app.test_client()


def new_key(app: Flask, site: str = "https://news.example") -> str:
    """A fresh API key for `site` in the app's database."""
    with app.extensions["spamfilter.sessions"]() as session:
        return create_key(session, site)[1]


@pytest.fixture
def api_key(app: Flask) -> str:
    """A valid key."""
    return new_key(app)


@pytest.fixture
def auth(api_key: str) -> dict[str, str]:
    """The bearer header for `api_key`."""
    return {"Authorization": f"Bearer {api_key}"}


def free_port() -> int:
    """A port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _metrics_dir(tmp: Path) -> Path:
    path = tmp / "metrics"
    path.mkdir(exist_ok=True)
    return path


class LiveServer:
    """`spamfilter serve` in a subprocess, with its own database and Redis prefix."""

    def __init__(self, tmp: Path, redis_prefix: str, workers: int = 1, env: dict[str, str] | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{tmp / 'live.db'}",
            "REDIS_URL": REDIS_TEST_URL,
            "SPAMFILTER_REDIS_PREFIX": redis_prefix,
            "SPAMFILTER_LOG_LEVEL": "WARNING",
            # Its own directory: Prometheus reads every *.db file there, the SQLite database included.
            "PROMETHEUS_MULTIPROC_DIR": str(_metrics_dir(tmp)),
            **(env or {}),
        }
        self.log_path = tmp / "server.log"
        self.log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "spamfilter.cli",
                "serve",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(workers),
            ],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
            if self.process.poll() is not None:
                break
        self.stop()
        raise RuntimeError(f"server did not start: {(tmp / 'server.log').read_text()[-2000:]}")

    def cli(self, *args: str, stdin: str | None = None) -> str:
        """Run a `spamfilter` subcommand against the server's database; returns stdout."""
        done = subprocess.run(
            [sys.executable, "-m", "spamfilter.cli", *args],
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return done.stdout

    def stop(self) -> None:
        """Stop gunicorn and wait for it."""
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        self.log.close()


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A running service on a free local port."""
    prefix = f"sftest-{uuid.uuid4().hex[:10]}"
    server = LiveServer(tmp_path_factory.mktemp("live"), prefix)
    yield server
    server.stop()
    client = redis.Redis.from_url(REDIS_TEST_URL)
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)
    client.close()


# Fuzzing sends thousands of requests, many without a key: the rate limits would answer them.
NO_RATE_LIMITS = {"SPAMFILTER_RATE_LIMIT_PER_KEY": 0, "SPAMFILTER_RATE_LIMIT_PER_IP": 0}


@pytest.fixture(scope="module")
def unlimited_app(database_url: str) -> Iterator[Flask]:
    """The app without rate limits, for property tests and fuzzing (module-scoped, as hypothesis needs)."""
    app = make_app(database_url, **NO_RATE_LIMITS)
    yield app
    close_app(app)


@pytest.fixture(scope="module")
def unlimited_auth(unlimited_app: Flask) -> dict[str, str]:
    """A bearer header with a valid key for `unlimited_app`."""
    return {"Authorization": f"Bearer {new_key(unlimited_app)}"}
