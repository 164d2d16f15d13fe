"""Moderator accounts (passwords hashed with scrypt) and the shared session-signing secret."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from service.db import AppSecret, Moderator

MIN_PASSWORD = 10
# Compared against when the name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not a real password, only for timing")


def create_moderator(session: Session, name: str, password: str) -> Moderator:
    """Add a moderator; ValueError for a taken name or a short password."""
    name = name.strip()
    if not name or len(name) > 100:
        raise ValueError("a moderator name has 1 to 100 characters")
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"a password needs at least {MIN_PASSWORD} characters")
    row = Moderator(name=name, password_hash=generate_password_hash(password, method="scrypt"))
    session.add(row)
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise ValueError(f"there is already a moderator called {name!r}") from exc
    return row


def verify_moderator(session: Session, name: str, password: str) -> Moderator | None:
    """The moderator if name and password match, else None (in the same time either way)."""
    if "\x00" in name or len(name) > 100:
        check_password_hash(_DUMMY_HASH, password)
        return None
    row = session.scalars(select(Moderator).where(Moderator.name == name.strip())).first()
    if row is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    return row if check_password_hash(row.password_hash, password) else None


def session_secret(engine: Engine) -> str:
    """The session-signing key: made once, stored in the database, shared by every worker."""
    with Session(engine) as session:
        row = session.get(AppSecret, "session")
        if row is not None:
            return row.value
        session.add(AppSecret(name="session", value=secrets.token_hex(32)))
        try:
            session.commit()
        except IntegrityError:  # another worker made it first
            session.rollback()
        stored = session.get(AppSecret, "session")
        assert stored is not None  # nosec B101  # for the type checker; under -O the next line fails alike
        return stored.value
