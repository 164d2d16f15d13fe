"""Shadow mode: a candidate scores a sample of live checks beside the served model, off the request path.

Answers never depend on it: a check only appends to a bounded queue, and a background thread
scores in batches and writes how often the two verdicts agreed (summed counts) and the
comments on which they did not.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter, deque
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from service.db import ShadowCount, ShadowDisagreement, utcnow
from service.metrics import Metrics
from service.writebehind import SqlWriter
from spamfilter.artifact import LoadedModel
from spamfilter.comment import Comment, Verdict

QUEUE_SIZE = 10_000  # checks waiting for the shadow model; older ones are dropped past it
BATCH = 256
COUNT_FLUSH_SECONDS = 2.0
MAX_EXAMPLES = 5_000  # disagreeing comments kept per worker and shadow version
Item = tuple[LoadedModel, Comment, str | None, str, float, str]


class ShadowScorer:
    """A worker's shadow model, its queue of sampled checks, and the thread that scores them."""

    def __init__(self, engine: Engine, sample: float, metrics: Metrics):
        self.model: LoadedModel | None = None
        self.sample = sample
        self.metrics = metrics
        self._queue: deque[Item] = deque()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._pid = 0
        self._thread: threading.Thread | None = None
        self._counts: Counter[tuple[str, str, str, str]] = Counter()
        self._examples: Counter[str] = Counter()
        self.count_writer = SqlWriter(engine, ShadowCount.__table__)  # type: ignore[arg-type]
        self.example_writer = SqlWriter(engine, ShadowDisagreement.__table__)  # type: ignore[arg-type]

    def offer(self, comment: Comment, site: str | None, verdict: Verdict, probability: float, version: str) -> None:
        """Queue a served check for the shadow model (when one is set and the sample picks it)."""
        model = self.model
        if model is None or random.random() >= self.sample:  # nosec B311  # sampling, not security
            return
        if self._pid != os.getpid():
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._run, name="spamfilter-shadow", daemon=True)
            self._thread.start()
        if len(self._queue) >= QUEUE_SIZE:
            self.metrics.shadow.labels("dropped").inc()
            return
        self._queue.append((model, comment, site, verdict.value, probability, version))
        self._wake.set()

    def _run(self) -> None:
        flushed = time.monotonic()
        while not self._stop.is_set():
            self._wake.wait(COUNT_FLUSH_SECONDS)
            self._wake.clear()
            while self._queue:
                self.score_queued()
            if time.monotonic() - flushed >= COUNT_FLUSH_SECONDS:
                self.flush_counts()
                flushed = time.monotonic()

    def score_queued(self) -> int:
        """Score up to one batch of queued checks; returns how many."""
        batch: list[Item] = []
        while self._queue and len(batch) < BATCH:
            batch.append(self._queue.popleft())
        by_model: dict[int, list[Item]] = {}
        for item in batch:
            by_model.setdefault(id(item[0]), []).append(item)
        for items in by_model.values():
            model = items[0][0]
            for item, check in zip(items, model.check_many([i[1] for i in items]), strict=True):
                self._record(item, check.verdict.value, check.spam_probability)
        return len(batch)

    def _record(self, item: Item, verdict: str, probability: float) -> None:
        model, comment, site, served, served_p, served_version = item
        self._counts[(model.version, served_version, served, verdict)] += 1
        agreed = served == verdict
        self.metrics.shadow.labels("agreed" if agreed else "disagreed").inc()
        if agreed or self._examples[model.version] >= MAX_EXAMPLES:
            return
        self._examples[model.version] += 1
        self.example_writer.add(
            {
                "shadow_version": model.version,
                "current_version": served_version,
                "site": site,
                "text": comment.text,
                "current_verdict": served,
                "current_p": served_p,
                "shadow_verdict": verdict,
                "shadow_p": probability,
                "created_at": utcnow(),
            }
        )

    def flush_counts(self) -> None:
        """Queue this worker's agreement counts for the database and start counting afresh."""
        counts, self._counts = self._counts, Counter()
        for (shadow, current, served, verdict), n in counts.items():
            self.count_writer.add(
                {
                    "shadow_version": shadow,
                    "current_version": current,
                    "current_verdict": served,
                    "shadow_verdict": verdict,
                    "n": n,
                    "created_at": utcnow(),
                }
            )

    def close(self) -> None:
        """Score what is queued, write the counts and stop."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None and self._thread.is_alive() and self._pid == os.getpid():
            self._thread.join(timeout=10)  # a batch it is scoring must be counted before the flush
        while self._queue:
            self.score_queued()
        self.flush_counts()
        self.count_writer.close()
        self.example_writer.close()


def read_shadow(engine: Engine, version: str, examples: int = 200) -> dict[str, Any]:
    """What a shadow version did on live traffic: the verdict matrix, totals and the latest disagreements."""
    with Session(engine) as session:
        pairs = session.execute(
            select(ShadowCount.current_verdict, ShadowCount.shadow_verdict, func.sum(ShadowCount.n))
            .where(ShadowCount.shadow_version == version)
            .group_by(ShadowCount.current_verdict, ShadowCount.shadow_verdict)
        ).all()
        since = session.execute(
            select(func.min(ShadowCount.created_at)).where(ShadowCount.shadow_version == version)
        ).scalar_one()
        latest = session.scalars(
            select(ShadowDisagreement)
            .where(ShadowDisagreement.shadow_version == version)
            .order_by(ShadowDisagreement.id.desc())
            .limit(examples)
        ).all()
    matrix = {f"{a}→{b}": int(n) for a, b, n in sorted(pairs)}
    fields = ("site", "text", "current_verdict", "current_p", "shadow_verdict", "shadow_p", "current_version")
    return {
        "total": sum(matrix.values()),
        "disagreements": sum(int(n) for a, b, n in pairs if a != b),
        "matrix": matrix,
        "since": since.isoformat() if since else None,
        "examples": [{f: getattr(row, f) for f in fields} for row in latest],
    }
