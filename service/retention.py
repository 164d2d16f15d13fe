"""Retention: kept checks and check records older than an age are deleted."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete

from service.db import CheckRecord, StoredCheck, utcnow


def purge_older_than(sessions: Any, age: dt.timedelta) -> dict[str, int]:
    """Delete kept checks made before now - age, and expired check records; returns the counts."""
    cutoff = utcnow() - age
    with sessions() as session:
        checks = session.execute(delete(StoredCheck).where(StoredCheck.created_at < cutoff)).rowcount
        records = session.execute(delete(CheckRecord).where(CheckRecord.expires_at <= utcnow())).rowcount
        session.commit()
    return {"checks": int(checks or 0), "check_records": int(records or 0)}
