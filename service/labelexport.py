"""Labels and kept checks read out for retraining: in chunks, so no read holds them all at once."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from service.db import Label, StoredCheck, stored_time

CHUNK_ROWS = 5000
LABEL_FIELDS = ("id", "site", "text", "author", "author_url", "permalink", "type", "lang", "label", "source")


def iter_labels(
    engine: Engine, since: dt.datetime | None = None, chunk: int = CHUNK_ROWS
) -> Iterator[list[dict[str, Any]]]:
    """Standing labels (not withdrawn) changed since `since`, `chunk` rows at a time, by id."""
    last = 0
    columns = [getattr(Label, name) for name in LABEL_FIELDS]
    while True:
        query = select(*columns, Label.updated_at).where(Label.id > last, Label.label.is_not(None))
        if since is not None:
            query = query.where(Label.updated_at >= since)
        with Session(engine) as session:
            rows = session.execute(query.order_by(Label.id).limit(chunk)).all()
        if not rows:
            return
        yield [{**dict(zip(LABEL_FIELDS, row[:-1], strict=True)), "updated_at": stored_time(row[-1])} for row in rows]
        last = rows[-1][0]


def holdout_cutoffs(
    engine: Engine, since: dt.datetime | None, fraction: float, cap: int = 50_000
) -> dict[str | None, tuple[dt.datetime, int]]:
    """Per site, the (time, id) from which its most recent `fraction` of labels (at most `cap`) are held back."""
    if fraction <= 0:
        return {}
    standing = Label.label.is_not(None)
    window = [standing] if since is None else [standing, Label.updated_at >= since]
    cutoffs: dict[str | None, tuple[dt.datetime, int]] = {}
    with Session(engine) as session:
        counts = session.execute(select(Label.site, func.count()).where(*window).group_by(Label.site)).all()
        for site, count in counts:
            held = min(cap, math.ceil(count * fraction)) if count >= 2 else 0
            if held == 0:
                continue
            query = select(Label.updated_at, Label.id).where(
                *window, Label.site.is_(None) if site is None else Label.site == site
            )
            newest_first = query.order_by(Label.updated_at.desc(), Label.id.desc()).offset(held - 1).limit(1)
            when, label_id = session.execute(newest_first).one()
            cutoffs[site] = (stored_time(when), int(label_id))
    return cutoffs


def recent_checks(engine: Engine, limit: int = 2000) -> list[dict[str, Any]]:
    """The most recently kept checks (live comments the filter flagged, and a sample of ham)."""
    fields = ("id", "site", "text", "author", "author_url", "verdict", "spam_probability", "model_version")
    query = select(*[getattr(StoredCheck, f) for f in fields]).order_by(StoredCheck.created_at.desc()).limit(limit)
    with Session(engine) as session:
        return [dict(zip(fields, row, strict=True)) for row in session.execute(query).all()]
