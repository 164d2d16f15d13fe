"""Check records in the SQL store, for the embedded setup without Redis.

Without Redis each gunicorn worker has only its own memory, so a check made in one worker
could not be named by id in feedback that lands on another. Records are written in batches by
a background thread (a check never waits for the database) and read back on a miss.
"""

from __future__ import annotations

import atexit
import datetime as dt
import json
import logging
import os
import threading
import time
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from service.db import CheckRecord, utcnow
from service.errors import UnavailableError

log = logging.getLogger("spamfilter.cache")
FLUSH_SECONDS = 0.1
MAX_PENDING = 50_000
PURGE_SECONDS = 600


class SqlCheckStore:
    """Check records keyed like the cache keys, with an expiry, written behind."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._pending: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self._flusher_pid = 0
        self._purged = 0.0

    def add(self, key: str, value: dict[str, Any], ttl: int) -> None:
        """Queue a record; it reaches the database within FLUSH_SECONDS."""
        expires = utcnow() + dt.timedelta(seconds=ttl)
        with self._lock:
            self._pending.append({"key": key, "value": json.dumps(value, separators=(",", ":")), "expires_at": expires})
            if len(self._pending) > MAX_PENDING:
                del self._pending[0]
        if self._flusher_pid != os.getpid():  # threads do not survive gunicorn's fork
            self._flusher_pid = os.getpid()
            threading.Thread(target=self._flush_forever, name="spamfilter-check-flush", daemon=True).start()
            atexit.register(self.flush)

    def get(self, key: str) -> dict[str, Any] | None:
        """A stored, unexpired record; UnavailableError when the database cannot be read."""
        self.flush()  # this worker's own recent records first
        try:
            with self.engine.connect() as connection:
                row = connection.execute(
                    select(CheckRecord.value).where(CheckRecord.key == key, CheckRecord.expires_at > utcnow())
                ).first()
        except SQLAlchemyError as exc:
            raise UnavailableError(
                "the check store (database) is unavailable; send the comment's fields instead"
            ) from exc
        return json.loads(row[0]) if row else None

    def _flush_forever(self) -> None:
        while True:
            time.sleep(FLUSH_SECONDS)
            self.flush()
            if time.monotonic() - self._purged > PURGE_SECONDS:
                self._purged = time.monotonic()
                self._purge()

    def flush(self) -> int:
        """Insert queued records; on a database error they wait for the next flush."""
        with self._flushing:
            with self._lock:
                batch, self._pending = self._pending, []
            if not batch:
                return 0
            try:
                with self.engine.begin() as connection:
                    connection.execute(insert(CheckRecord), batch)
            except IntegrityError:
                return 0  # ids are 128 random bits: a collision means this batch was already written
            except SQLAlchemyError as exc:
                log.warning("database unavailable, check records wait: %s", exc.__class__.__name__)
                with self._lock:
                    self._pending = (batch + self._pending)[-MAX_PENDING:]
                return 0
            return len(batch)

    def _purge(self) -> None:
        try:
            with self.engine.begin() as connection:
                connection.execute(delete(CheckRecord).where(CheckRecord.expires_at <= utcnow()))
        except SQLAlchemyError as exc:
            log.warning("could not purge expired check records: %s", exc.__class__.__name__)
