"""Rows written to the SQL store in batches by a background thread, so requests never wait on it."""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

log = logging.getLogger("spamfilter.store")
FLUSH_SECONDS = 0.1
MAX_PENDING = 50_000


class SqlWriter:
    """Queues rows for one table; a per-process thread inserts them every FLUSH_SECONDS.

    While the database is down rows wait (the newest MAX_PENDING of them); a batch that breaks
    a unique constraint is written row by row so one duplicate cannot sink the rest.
    """

    def __init__(self, engine: Engine, table: Table, every: Callable[[], None] | None = None):
        self.engine = engine
        self.table = table
        self.every = every
        self._pending: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self._pid = 0
        self._stop = threading.Event()

    def add(self, row: dict[str, Any]) -> None:
        """Queue one row."""
        with self._lock:
            self._pending.append(row)
            if len(self._pending) > MAX_PENDING:
                del self._pending[0]
        if self._pid != os.getpid():  # threads do not survive gunicorn's fork
            self._pid = os.getpid()
            threading.Thread(target=self._run, name=f"spamfilter-{self.table.name}", daemon=True).start()
            atexit.register(self.flush)

    def _run(self) -> None:
        while not self._stop.wait(FLUSH_SECONDS):
            self.flush()
            if self.every is not None:
                self.every()

    def close(self) -> None:
        """Stop the writer thread after one last flush (for an app being shut down)."""
        self._stop.set()
        atexit.unregister(self.flush)
        self.flush()

    def flush(self) -> int:
        """Insert what is queued now; returns the rows written (0 when the database is down)."""
        with self._flushing:
            with self._lock:
                batch, self._pending = self._pending, []
            if not batch:
                return 0
            try:
                with self.engine.begin() as connection:
                    connection.execute(insert(self.table), batch)
            except IntegrityError:
                return self._one_by_one(batch)
            except SQLAlchemyError as exc:
                log.warning(
                    "database unavailable, %d %s rows wait: %s", len(batch), self.table.name, exc.__class__.__name__
                )
                with self._lock:
                    self._pending = (batch + self._pending)[-MAX_PENDING:]
                return 0
            return len(batch)

    def _one_by_one(self, batch: list[dict[str, Any]]) -> int:
        written = 0
        for row in batch:
            try:
                with self.engine.begin() as connection:
                    connection.execute(insert(self.table), [row])
                written += 1
            except IntegrityError:
                continue  # already there (a retried batch): nothing is lost
            except SQLAlchemyError:
                with self._lock:
                    self._pending.append(row)
        return written
