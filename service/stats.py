"""Moderation statistics: kept checks per day by verdict and site, overturns, model versions."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.db import Label, LabelEvent, StoredCheck, utcnow


def collect_stats(session: Session, days: int, ham_sample: float) -> dict[str, Any]:
    """Counts since `days` days ago, grouped for the charts."""
    since = utcnow() - dt.timedelta(days=days)
    day = func.date(StoredCheck.created_at)
    rows = session.execute(
        select(day, StoredCheck.verdict, StoredCheck.site, func.count())
        .where(StoredCheck.created_at >= since)
        .group_by(day, StoredCheck.verdict, StoredCheck.site)
    ).all()
    dates = sorted({str(d) for d, *_ in rows})
    by_verdict: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(dates, 0))
    by_site: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(dates, 0))
    spamish: dict[str, dict[str, float]] = defaultdict(lambda: dict.fromkeys(dates, 0.0))
    estimated: dict[str, dict[str, float]] = defaultdict(lambda: dict.fromkeys(dates, 0.0))
    for d, verdict, site, count in rows:
        by_verdict[verdict][str(d)] += count
        by_site[site][str(d)] += count
        # Ham is kept only at a sample rate: scaled back up, it estimates the site's real volume.
        estimated[site][str(d)] += count / ham_sample if verdict == "ham" and ham_sample > 0 else count
        if verdict in ("spam", "discard"):
            spamish[site][str(d)] += count
    models = session.execute(
        select(
            StoredCheck.model_version, func.count(), func.min(StoredCheck.created_at), func.max(StoredCheck.created_at)
        )
        .where(StoredCheck.created_at >= since)
        .group_by(StoredCheck.model_version)
    ).all()
    decided = session.execute(
        select(StoredCheck.verdict, Label.label, Label.id)
        .join(Label, Label.fingerprint == StoredCheck.fingerprint)
        .join(LabelEvent, LabelEvent.label_id == Label.id)
        .where(LabelEvent.source == "moderator", LabelEvent.created_at >= since, Label.label.is_not(None))
        .distinct()
    ).all()
    # The model made a call on ham, spam and discard; a review verdict was no call to overturn.
    calls = [(verdict, label) for verdict, label, _ in decided if verdict != "review"]
    overturned = sum(1 for verdict, label in calls if (verdict in ("spam", "discard")) != (label == "spam"))
    return {
        "days": dates,
        "by_verdict": {k: list(v.values()) for k, v in sorted(by_verdict.items())},
        "by_site": {k: list(v.values()) for k, v in sorted(by_site.items())},
        "spam_share": {
            site: [spamish[site][d] / estimated[site][d] if estimated[site][d] else 0.0 for d in dates]
            for site in sorted(by_site)
        },
        "reviewed": len(decided) - len(calls),
        "decisions": len(calls),
        "overturned": overturned,
        "models": [{"version": v, "checks": n, "first": str(first), "last": str(last)} for v, n, first, last in models],
    }
