"""One check, as data: comment → cache key → cached verdict or model → verdict, reasons, id."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import time
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app

from service.apikeys import KeyInfo
from service.cache import VerdictCache
from service.db import StoredCheck, utcnow
from service.labels import label_fingerprint
from service.localcache import ExpiringDict, nothing
from service.metrics import Metrics
from service.rediskeys import check_key, usage_key, verdict_key
from service.shadow import ShadowScorer
from service.writebehind import SqlWriter
from spamfilter.artifact import LoadedModel
from spamfilter.comment import Comment, Verdict

# Akismet's documented test values, honoured so existing integration tests keep passing.
TEST_SPAM_AUTHORS = frozenset({"viagra-test-123", "akismet-guaranteed-spam"})
TEST_SPAM_EMAIL = "akismet-guaranteed-spam@example.com"
# What a check remembers for feedback by id: the fields a label keeps (no IP, e-mail or agent).
REMEMBERED_FIELDS = ("text", "author", "author_url", "permalink", "type", "site", "lang")


@dataclass(frozen=True)
class CheckResult:
    """The answer to one check."""

    id: str
    verdict: Verdict
    spam_probability: float
    reasons: list[dict[str, Any]]
    model_version: str
    cached: bool
    comment_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The JSON API's shape."""
        body = {
            "id": self.id,
            "verdict": self.verdict.value,
            "spam_probability": round(self.spam_probability, 6),
            "reasons": self.reasons,
            "model_version": self.model_version,
            "cached": self.cached,
        }
        if self.comment_id is not None:
            body["comment_id"] = self.comment_id
        return body


def fingerprint(comment: Comment) -> str:
    """SHA-256 of the fields that affect the score, so the cache key carries no personal data."""
    fields = [comment.text, comment.author or "", bool(comment.author_url)]
    return hashlib.sha256(json.dumps(fields, ensure_ascii=False).encode("utf-8", "surrogatepass")).hexdigest()


_MONTH: list[Any] = ["", 0.0]
KEPT_MEMORY = 100_000
_KEPT: dict[str, Any] = {}


def this_month() -> str:
    """`YYYY-MM` in UTC, the period of the usage counters (recomputed once a minute)."""
    now = time.time()
    if now >= _MONTH[1]:
        _MONTH[:] = [dt.datetime.now(dt.UTC).strftime("%Y-%m"), now + 60]
    return str(_MONTH[0])


def _test_verdict(comment: Comment, user_role: str | None) -> Verdict | None:
    if (comment.author or "").strip().lower() in TEST_SPAM_AUTHORS:
        return Verdict.SPAM
    if (comment.author_email or "").strip().lower() == TEST_SPAM_EMAIL:
        return Verdict.SPAM
    if (user_role or "").strip().lower() == "administrator":
        return Verdict.HAM
    return None


class LookupPolicy:
    """Whether a front-cache miss should ask the shared cache (Redis) as well.

    A verdict is deterministic for a model version, so a shared-cache hit only saves scoring,
    and here a round trip costs about as much as scoring. Asking pays when it hits often enough
    (repeats across workers and replicas, such as spam floods); for a stream of distinct
    comments it is pure cost. So the recent hit rate is tracked, asking stops below
    MIN_HIT_RATE, and one miss in PROBE_EVERY still asks, to notice when hits come back.
    """

    MIN_HIT_RATE = 0.2
    PROBE_EVERY = 20
    ALPHA = 0.05

    def __init__(self) -> None:
        self.hit_rate = 1.0  # start by asking
        self._misses = 0

    def should_ask(self) -> bool:
        """True to send the lookup for this miss."""
        self._misses += 1
        return self.hit_rate >= self.MIN_HIT_RATE or self._misses % self.PROBE_EVERY == 0

    def record(self, hit: bool) -> None:
        """Fold one lookup's outcome into the hit rate."""
        self.hit_rate += self.ALPHA * ((1.0 if hit else 0.0) - self.hit_rate)


class Checker:
    """Runs checks for one app, reading its model, cache and metrics without Flask's proxies.

    Both the Flask routes and the WSGI fast path (fastpath.py) call it, so a check is the same
    whichever way it arrives.
    """

    def __init__(self, app: Flask):
        self.extensions = app.extensions
        self.prefix = app.config["SPAMFILTER_REDIS_PREFIX"]
        self.cache_ttl = app.config["SPAMFILTER_CACHE_TTL"]
        self.check_ttl = app.config["SPAMFILTER_CHECK_TTL"]
        self.ham_sample = app.config["SPAMFILTER_HAM_SAMPLE"]
        self.lookups = LookupPolicy()
        self.shadow: ShadowScorer = app.extensions["spamfilter.shadow"]
        self.keeper = SqlWriter(app.extensions["spamfilter.engine"], StoredCheck.__table__)  # type: ignore[arg-type]
        self._kept = ExpiringDict(KEPT_MEMORY, 86400)  # fingerprints this worker already kept

    def check(
        self,
        comment: Comment,
        api: str,
        key: KeyInfo,
        comment_id: str | None = None,
        user_role: str | None = None,
        keep: bool = True,
    ) -> CheckResult:
        """Score one comment (or serve it from the cache), remember it for feedback, count it."""
        started = time.perf_counter()
        model: LoadedModel = self.extensions["spamfilter.model"]
        cache: VerdictCache = self.extensions["spamfilter.cache"]
        metrics: Metrics = self.extensions["spamfilter.metrics"]
        # 128 random bits from the process's PRNG (reseeded after every fork): os.urandom costs
        # tens of microseconds here, and ids are only ever honoured for the key that made them.
        check_id = f"{random.getrandbits(128):032x}"  # nosec B311  # a name, not a secret: it opens nothing
        forced = _test_verdict(comment, user_role)
        cache_key = verdict_key(self.prefix, model.version, fingerprint(comment))
        cached = None if forced else cache.get_local(cache_key)
        entries: dict[str, dict[str, Any]] = {}
        if forced is not None:
            verdict, probability = forced, 1.0 if forced is Verdict.SPAM else 0.0
            reasons = [{"feature": "Akismet test value", "weight": 0.0}]
        elif cached is None:
            # Ask the shared cache, and score meanwhile, only while asking pays: see LookupPolicy.
            asked = self.lookups.should_ask()
            finish = cache.start_get(cache_key) if asked else nothing
            try:
                check = model.check(comment, reasons=5)
            finally:
                cached = finish()
            if asked:
                self.lookups.record(hit=cached is not None)
            if cached is None:
                verdict, probability = check.verdict, check.spam_probability
                reasons = [r.as_dict() for r in check.reasons]
                entries[cache_key] = {"verdict": verdict.value, "p": probability, "reasons": reasons}
                metrics.cache_miss.inc()
        if cached is not None:
            verdict, probability, reasons = Verdict(cached["verdict"]), cached["p"], cached["reasons"]
            metrics.cache_hit.inc()
        if forced is None:
            self.shadow.offer(comment, key.site, verdict, probability, model.version)
        record: dict[str, Any] = {name: getattr(comment, name) for name in REMEMBERED_FIELDS}
        record.update(site=key.site, verdict=verdict.value, model_version=model.version, key_id=key.id)
        stored = check_key(self.prefix, check_id)
        entries[stored] = record
        ttls = dict.fromkeys(entries, self.cache_ttl)
        ttls[stored] = self.check_ttl
        spam = verdict in (Verdict.SPAM, Verdict.DISCARD)
        cache.put(entries, ttls, {usage_key(self.prefix, key.id, this_month()): "spam" if spam else "ham"})
        if keep and (verdict is not Verdict.HAM or random.random() < self.ham_sample):  # nosec B311  # sampling
            self._keep(check_id, comment, key, verdict, probability, reasons, model.version)
        metrics.count_check(verdict.value, key.site)
        metrics.observe_latency(api, time.perf_counter() - started)
        return CheckResult(check_id, verdict, probability, reasons, model.version, cached is not None, comment_id)

    def close(self) -> None:
        """Flush kept checks and stop their writer."""
        self.keeper.close()

    def _keep(
        self,
        check_id: str,
        comment: Comment,
        key: KeyInfo,
        verdict: Verdict,
        probability: float,
        reasons: list[dict[str, Any]],
        version: str,
    ) -> None:
        """Queue the check for the review queue (no IP, e-mail or user agent is kept), once per comment."""
        fingerprint = label_fingerprint(key.site, comment.text, comment.author)
        if self._kept.get(fingerprint) is not None:
            return
        self._kept[fingerprint] = _KEPT
        row = {name: getattr(comment, name) for name in ("author", "author_url", "permalink", "type", "lang")}
        row.update(
            id=check_id,
            key_id=key.id,
            site=key.site,
            text=comment.text,
            fingerprint=fingerprint,
            verdict=verdict.value,
            spam_probability=probability,
            uncertainty=abs(probability - 0.5),
            reasons=json.dumps(reasons, separators=(",", ":")),
            model_version=version,
            created_at=utcnow(),
        )
        self.keeper.add(row)

    def find(self, check_id: str, key: KeyInfo) -> dict[str, Any] | None:
        """The remembered comment of a check made with this key, or None (unknown, expired, other key)."""
        if not check_id or len(check_id) > 64 or not check_id.isalnum():
            return None
        cache: VerdictCache = self.extensions["spamfilter.cache"]
        record = cache.get_check(check_key(self.prefix, check_id))
        if record is None or record.get("key_id") != key.id:
            return None
        return record


def get_checker() -> Checker:
    """The current app's checker."""
    checker: Checker = current_app.extensions["spamfilter.checker"]
    return checker


def init_app(app: Flask) -> None:
    """Attach the checker (after the model, cache and metrics exist)."""
    app.extensions["spamfilter.checker"] = Checker(app)
