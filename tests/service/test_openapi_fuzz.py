"""schemathesis against the real app's /openapi.json, in process: at least 10,000 requests, none a 5xx.

Every operation of the document (checks, batches, feedback, the review queue, undo, health) is
generated from its schema, valid and invalid, by each of schemathesis's phases (the schema's
examples, coverage of its boundaries, fuzzing), and every answer goes through all its checks:
no 5xx, documented status, content type and body, invalid data refused, valid data accepted,
405 with an `Allow` header for undeclared methods, 401 without the key. The Akismet routes are
not in the document (they speak forms, not JSON); test_akismet_properties.py fuzzes them.

The app runs on PostgreSQL, the stricter store, with a valid key and no rate limits. A WSGI
wrapper counts every request the app answers (the checks' own extra requests included); the
last test prints the total and the status histogram and fails below 10,000 or on any 5xx. The
run is seeded, so CI sends the same requests each time; SPAMFILTER_FUZZ_SCALE=N sends N times as
many, from a fresh seed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
import schemathesis
from flask import Flask
from schemathesis.config import SchemathesisConfig
from werkzeug.exceptions import HTTPException

from service import close_app
from service.db import upgrade
from service.openapi import build_spec
from tests.service.conftest import NO_RATE_LIMITS, _postgres_url, make_app, new_key
from tests.tally import SCALE, record

MIN_REQUESTS = 10_000
EXAMPLES = 900  # per operation and generation mode: about 5,500 cases, 11,000 requests in all
BATCH_LIMIT = 1000
REQUESTS: Counter[tuple[str, int]] = Counter()  # (route, status) → requests answered
CASES: Counter[str] = Counter()  # operation → generated cases sent


class CountingApp:
    """WSGI middleware that counts each answered request by its route and status."""

    def __init__(self, app: Flask, inner: Callable[..., Iterable[bytes]]):
        self.adapter = app.url_map.bind("localhost")
        self.inner = inner

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """Pass the request on; count it when its status is known."""
        method = environ["REQUEST_METHOD"]
        try:
            route = self.adapter.match(environ["PATH_INFO"], method, return_rule=True)[0].rule
        except HTTPException:
            route = "(no route)"

        def counted_start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            REQUESTS[f"{method} {route}", int(status.split()[0])] += 1
            return start_response(status, headers, exc_info)

        return self.inner(environ, counted_start)


def _config() -> SchemathesisConfig:
    settings: dict[str, Any] = {
        "generation": {
            "max-examples": EXAMPLES * SCALE,
            # NUL characters are refused (422) but not in the schema: a `pattern` saying so makes
            # generation many times slower. The property tests send NULs instead.
            "allow-x00": False,
            # Unknown query parameters and headers are ignored, as HTTP services do; schemathesis
            # would count an ignored `?=x` as invalid data accepted.
            "allow-extra-parameters": False,
        },
        # 413 is how this API refuses a batch over its limit.
        "checks": {"negative_data_rejection": {"expected-statuses": [400, 401, 404, 405, 413, 415, 422]}},
    }
    if SCALE == 1:  # the same requests on every run: no example database, no random seed
        settings["seed"] = 20261126
        settings["generation"].update(deterministic=True, database="none")
    return SchemathesisConfig.from_dict(settings)


# The document the app serves at /openapi.json (test_the_app_serves_this_document holds them equal).
schema = schemathesis.openapi.from_dict(build_spec(BATCH_LIMIT), config=_config())


@pytest.fixture(scope="module")
def fuzz_app() -> Iterator[Flask]:
    """The app on a throwaway PostgreSQL database (the stricter store), without rate limits, counting."""
    urls = _postgres_url()
    url = next(urls)
    upgrade(url)
    app = make_app(url, SPAMFILTER_BATCH_LIMIT=BATCH_LIMIT, SPAMFILTER_KEY_CACHE_SECONDS=30, **NO_RATE_LIMITS)
    app.wsgi_app = CountingApp(app, app.wsgi_app)  # type: ignore[method-assign]
    yield app
    close_app(app)
    next(urls, None)


@pytest.fixture(scope="module")
def fuzz_auth(fuzz_app: Flask) -> dict[str, str]:
    """A valid key for `fuzz_app`."""
    return {"Authorization": f"Bearer {new_key(fuzz_app)}"}


def test_the_app_serves_this_document(fuzz_app: Flask) -> None:
    assert fuzz_app.test_client().get("/openapi.json").get_json() == schema.raw_schema


@schema.parametrize()
def test_every_operation_holds_to_its_schema(case: Any, fuzz_app: Flask, fuzz_auth: dict[str, str]) -> None:
    # The document is loaded at import, the app made by a fixture: point the case at the app, so
    # it and the checks' own requests (without the key, with other methods) go to it in process.
    case.operation.app = case.operation.schema.app = fuzz_app
    CASES[case.operation.label] += 1
    # A negative case that drops the Authorization header must go without it (401 expected), so
    # the valid key replaces only a generated one.
    has_auth = any(name.lower() == "authorization" for name in (case.headers or {}))
    case.call_and_validate(headers=fuzz_auth if has_auth else None)


def test_fuzzing_sent_10000_requests_and_got_no_5xx() -> None:
    operations = {result.ok().label for result in schema.get_all_operations()}
    if operations != set(CASES):
        pytest.skip(f"not every operation was fuzzed: {sorted(operations - set(CASES))} missing")
    total = sum(REQUESTS.values())
    statuses: Counter[int] = Counter()
    for (_, status), count in REQUESTS.items():
        statuses[status] += count
    histogram = ", ".join(f"{status}: {count}" for status, count in sorted(statuses.items()))
    record("service.test_openapi_fuzz: schemathesis requests", total, note=histogram)
    cases = ", ".join(f"{label}: {count}" for label, count in sorted(CASES.items()))
    record("service.test_openapi_fuzz: schemathesis cases generated", sum(CASES.values()), note=cases)
    for (route, status), count in sorted(REQUESTS.items()):
        record(f"service.test_openapi_fuzz:   {route} → {status}", count)
    server_errors = {key: count for key, count in REQUESTS.items() if key[1] >= 500}
    assert not server_errors, server_errors
    assert total >= MIN_REQUESTS, f"only {total} requests ({histogram})"
