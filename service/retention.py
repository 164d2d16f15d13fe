"""Retention: kept checks and check records older than an age are deleted."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete

from service.db import CheckRecord, ShadowDisagreement, StoredCheck, utcnow


def purge_older_than(sessions: Any, age: dt.timedelta) -> dict[str, int]:
    """Delete kept checks and shadow disagreements made before now - age, and expired check records."""
    cutoff = utcnow() - age
    with sessions() as session:
        checks = session.execute(delete(StoredCheck).where(StoredCheck.created_at < cutoff)).rowcount
        session.execute(delete(ShadowDisagreement).where(ShadowDisagreement.created_at < cutoff))
        records = session.execute(delete(CheckRecord).where(CheckRecord.expires_at <= utcnow())).rowcount
        session.commit()
    return {"checks": int(checks or 0), "check_records": int(records or 0)}
