"""Check records in the SQL store, for the embedded setup without Redis.

Without Redis each gunicorn worker has only its own memory, so a check made in one worker
could not be named by id in feedback that lands on another. Records are written in batches by
a background thread (a check never waits for the database) and read back on a miss.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from service.db import CheckRecord, utcnow
from service.errors import UnavailableError
from service.writebehind import SqlWriter

log = logging.getLogger("spamfilter.cache")
PURGE_SECONDS = 600


class SqlCheckStore:
    """Check records keyed like the cache keys, with an expiry, written behind."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.writer = SqlWriter(engine, CheckRecord.__table__, every=self._purge_now_and_then)  # type: ignore[arg-type]
        self._purged = time.monotonic()

    def add(self, key: str, value: dict[str, Any], ttl: int) -> None:
        """Queue a record; it reaches the database within a tenth of a second."""
        expires = utcnow() + dt.timedelta(seconds=ttl)
        self.writer.add({"key": key, "value": json.dumps(value, separators=(",", ":")), "expires_at": expires})

    def flush(self) -> int:
        """Write queued records now."""
        return self.writer.flush()

    def close(self) -> None:
        """Flush and stop the writer."""
        self.writer.close()

    def get(self, key: str) -> dict[str, Any] | None:
        """A stored, unexpired record; UnavailableError when the database cannot be read."""
        self.flush()  # this worker's own recent records first
        try:
            with self.engine.connect() as connection:
                row = connection.execute(
                    select(CheckRecord.value).where(CheckRecord.key == key, CheckRecord.expires_at > utcnow())
                ).first()
        except SQLAlchemyError as exc:
            message = "the check store (database) is unavailable; send the comment's fields instead"
            raise UnavailableError(message) from exc
        return json.loads(row[0]) if row else None

    def _purge_now_and_then(self) -> None:
        if time.monotonic() - self._purged < PURGE_SECONDS:
            return
        self._purged = time.monotonic()
        try:
            with self.engine.begin() as connection:
                connection.execute(delete(CheckRecord).where(CheckRecord.expires_at <= utcnow()))
        except SQLAlchemyError as exc:
            log.warning("could not purge expired check records: %s", exc.__class__.__name__)
