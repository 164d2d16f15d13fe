"""API keys per site: created once and shown once, stored hashed, checked in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Flask, current_app
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from service.db import ApiKey, utcnow
from service.errors import UnauthorizedError, UnavailableError
from service.ratelimit import authenticate_limited

KEY_PREFIX = "sf_"
PREFIX_CHARS = 10  # what `keys list` shows of a key, and all a message ever repeats


@dataclass(frozen=True)
class KeyInfo:
    """What a request knows about the key it came with (never the key itself)."""

    id: int
    site: str
    prefix: str


def hash_key(key: str) -> str:
    """SHA-256 hex of a key: keys are long random tokens, so a fast hash is the right one."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def validate_site(site: str) -> str:
    """A site must be an http(s) URL with a host."""
    try:
        parts = urlsplit(site.strip())
    except ValueError:
        parts = urlsplit("")
    if parts.scheme not in ("http", "https") or not parts.netloc or len(site) > 500:
        raise ValueError(f"site must be a URL such as https://news.example, not {site!r}")
    return site.strip().rstrip("/")


def create_key(session: Session, site: str) -> tuple[ApiKey, str]:
    """Store a new key for `site`; returns the row and the key, which is never stored."""
    key = KEY_PREFIX + secrets.token_urlsafe(30)
    row = ApiKey(site=validate_site(site), key_hash=hash_key(key), key_prefix=key[:PREFIX_CHARS])
    session.add(row)
    session.commit()
    return row, key


def list_keys(session: Session) -> list[ApiKey]:
    """Every key, oldest first."""
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id)))


def find_key(session: Session, ident: str) -> ApiKey:
    """A key named by its id, its prefix or itself; LookupError when there is none."""
    if ident.isascii() and ident.isdigit() and len(ident) < 19:  # an id that fits a BIGINT
        query = select(ApiKey).where(ApiKey.id == int(ident))
    elif ident.startswith(KEY_PREFIX) and len(ident) > PREFIX_CHARS:  # the whole key, pasted to revoke it
        query = select(ApiKey).where(ApiKey.key_hash == hash_key(ident))
    else:
        query = select(ApiKey).where(ApiKey.key_prefix == ident)
    row = session.scalars(query).first()
    if row is None:
        # Never echo more than a prefix: the argument may be a whole key, and errors end up in logs.
        shown = ident if len(ident) <= PREFIX_CHARS else ident[:PREFIX_CHARS] + "…"
        raise LookupError(f"no key with id or prefix {shown!r}")
    return row


def revoke_key(session: Session, ident: str) -> ApiKey:
    """Revoke a key named by its id or its prefix."""
    row = find_key(session, ident)
    row.revoked_at = row.revoked_at or utcnow()
    session.commit()
    return row


class KeyAuthenticator:
    """Looks keys up by hash, caching answers briefly so a check costs no database round trip.

    When the database is down, keys seen recently keep working (checks must stay up); an
    unknown key then gets a 503 rather than a misleading 401.
    """

    def __init__(self, sessions: object, ttl: float):
        self._sessions = sessions
        self._ttl = ttl
        # Only valid keys are remembered: there are few of them, so random keys sent by anyone
        # can neither grow this nor push real keys out of it.
        self._valid: dict[str, tuple[KeyInfo, float]] = {}
        self._lock = threading.Lock()

    def seen(self, key: str | None) -> bool:
        """Whether this worker has found the key valid before (it may have been revoked since)."""
        return key is not None and hash_key(key) in self._valid

    def authenticate(self, key: str | None) -> KeyInfo:
        """The key's info, or UnauthorizedError."""
        if not key:
            raise UnauthorizedError("an API key is required")
        digest = hash_key(key)
        known = self._valid.get(digest)
        if known is not None and known[1] > time.monotonic():
            return known[0]
        try:
            info = self._lookup(digest)
        except SQLAlchemyError as exc:
            if known is not None:  # seen recently: keep checks working while the database is down
                return known[0]
            raise UnavailableError("the key store is unavailable; try again shortly") from exc
        with self._lock:
            if info is None:
                self._valid.pop(digest, None)
            else:
                self._valid[digest] = (info, time.monotonic() + self._ttl)
        if info is None:
            raise UnauthorizedError("unknown or revoked API key")
        return info

    def _lookup(self, digest: str) -> KeyInfo | None:
        with self._sessions() as session:  # type: ignore[operator]
            row = session.scalars(select(ApiKey).where(ApiKey.key_hash == digest)).first()
        # The database found the row by its hash; comparing again in constant time keeps the
        # final decision free of timing differences whatever the index did.
        if row is None or row.revoked_at is not None or not hmac.compare_digest(row.key_hash, digest):
            return None
        return KeyInfo(row.id, row.site, row.key_prefix)


def authenticate_bearer(header: str) -> KeyInfo:
    """The key of an `Authorization: Bearer KEY` header, or UnauthorizedError (RateLimitedError past a limit)."""
    scheme, _, key = header.partition(" ")
    return authenticate_limited(key.strip() if scheme.lower() == "bearer" else None)


def get_authenticator() -> KeyAuthenticator:
    """The current app's key authenticator."""
    authenticator: KeyAuthenticator = current_app.extensions["spamfilter.keys"]
    return authenticator


def init_app(app: Flask) -> None:
    """Attach a key authenticator using the app's session factory."""
    app.extensions["spamfilter.keys"] = KeyAuthenticator(
        app.extensions["spamfilter.sessions"], app.config["SPAMFILTER_KEY_CACHE_SECONDS"]
    )
