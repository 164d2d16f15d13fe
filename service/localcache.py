"""The in-process cache: the embedded default, and each worker's front cache before Redis."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol


class ExpiringDict:
    """Insertion-ordered dict with a size bound and a TTL, O(1) per operation.

    cachetools.TTLCache took about 9 us per insert here, a tenth of a cached check; entries
    all share one TTL, so the oldest insertion is always the first to expire or be evicted.
    """

    def __init__(self, size: int, ttl: float):
        self._items: dict[str, tuple[float, dict[str, Any]]] = {}
        self._size = size
        self._ttl = ttl

    def get(self, key: str) -> dict[str, Any] | None:
        """The value, unless absent or expired."""
        item = self._items.get(key)
        if item is None or item[0] < time.monotonic():
            return None
        return item[1]

    def __setitem__(self, key: str, value: dict[str, Any]) -> None:
        items = self._items
        items.pop(key, None)
        items[key] = (time.monotonic() + self._ttl, value)
        if len(items) > self._size:
            del items[next(iter(items))]

    def __len__(self) -> int:
        return len(self._items)


class RecordStore(Protocol):
    """Where check records go beyond this process (the SQL store, without Redis)."""

    def add(self, key: str, value: dict[str, Any], ttl: int) -> None:
        """Keep a record for `ttl` seconds."""

    def get(self, key: str) -> dict[str, Any] | None:
        """A kept record, or None."""

    def close(self) -> None:
        """Flush what is queued and stop."""


class LocalCache:
    """A bounded in-process TTL cache: the embedded default, and each worker's front cache."""

    def __init__(self, size: int, ttl: int, check_ttl: int, records: RecordStore | None = None):
        self._verdicts = ExpiringDict(size, ttl)
        self._checks = ExpiringDict(size, check_ttl)
        self._check_ttl = check_ttl
        self._counters: dict[str, dict[str, int]] = {}
        self._lock = threading.Lock()
        self._records = records

    def _table(self, key: str) -> ExpiringDict:
        return self._checks if ":check:" in key else self._verdicts

    def get(self, key: str) -> dict[str, Any] | None:
        """A cached value or None."""
        with self._lock:
            return self._table(key).get(key)

    def put(
        self, entries: dict[str, dict[str, Any]], ttls: dict[str, int], counters: dict[str, str] | None = None
    ) -> None:
        """Store values (each table has its own TTL) and bump counters."""
        with self._lock:
            for key, value in entries.items():
                self._table(key)[key] = value
            for key, name in (counters or {}).items():
                fields = self._counters.setdefault(key, {})
                fields[name] = fields.get(name, 0) + 1
        if self._records is not None:
            for key, value in entries.items():
                if ":check:" in key:
                    self._records.add(key, value, ttls.get(key, self._check_ttl))

    def counts(self, key: str) -> dict[str, int]:
        """A counter hash (this worker's share only: use Redis for totals across workers)."""
        with self._lock:
            return dict(self._counters.get(key, {}))

    def get_local(self, key: str) -> dict[str, Any] | None:
        """Same as get: everything here is local."""
        return self.get(key)

    def start_get(self, key: str) -> Callable[[], dict[str, Any] | None]:
        """Nothing is shared beyond this process, so nothing more to ask."""
        return nothing

    def get_check(self, key: str) -> dict[str, Any] | None:
        """A stored check: this worker's copy, else the record store's, else None."""
        local = self.get(key)
        if local is None and self._records is not None:
            return self._records.get(key)
        return local

    def healthy(self) -> bool:
        """Always: it lives in this process."""
        return True

    def close(self) -> None:
        """Flush and stop the record store's writer, if any."""
        if self._records is not None:
            self._records.close()


def nothing() -> None:
    """The answer of a lookup that asks nobody."""
    return None
