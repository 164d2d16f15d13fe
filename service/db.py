"""The persistent store: SQLAlchemy models, one engine per app, a session per request."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from flask import Flask, current_app, g
from sqlalchemy import DateTime, Float, ForeignKey, Index, String, Text, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def utcnow() -> dt.datetime:
    """Timezone-aware now, for every stored time."""
    return dt.datetime.now(dt.UTC)


def stored_time(value: dt.datetime) -> dt.datetime:
    """A time read back from the store, aware (SQLite returns naive ones; every stored time is UTC)."""
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


class Base(DeclarativeBase):
    """Declarative base of the service's tables."""


class ApiKey(Base):
    """A site's API key, stored as a SHA-256 hash; the key itself is shown once."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    site: Mapped[str] = mapped_column(String(500))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    webhook_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    webhook_secret: Mapped[str | None] = mapped_column(Text, nullable=True)


class CommentColumns:
    """The comment context a label and a kept check share: never IP, e-mail or user agent.

    Text, not bounded strings: the API and Akismet accept fields up to their own limits, and
    PostgreSQL would refuse a longer value than a column allows after the caller was answered.
    """

    author: Mapped[str | None] = mapped_column(Text, nullable=True)
    author_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    permalink: Mapped[str | None] = mapped_column(Text, nullable=True)
    type: Mapped[str | None] = mapped_column(Text, nullable=True)
    lang: Mapped[str | None] = mapped_column(Text, nullable=True)


class Label(CommentColumns, Base):
    """A spam/ham label for a comment, from feedback; one row per comment and site."""

    __tablename__ = "labels"
    __table_args__ = (Index("ix_labels_site_created", "site", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    check_id: Mapped[str | None] = mapped_column(String(64), index=True, nullable=True)
    key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"), nullable=True)
    site: Mapped[str | None] = mapped_column(Text, nullable=True)
    text: Mapped[str] = mapped_column(Text)
    label: Mapped[str | None] = mapped_column(String(8), nullable=True)  # None: withdrawn by undo
    previous_label: Mapped[str | None] = mapped_column(String(8), nullable=True)
    source: Mapped[str] = mapped_column(String(20))
    model_version: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class StoredCheck(CommentColumns, Base):
    """A check kept for review: every review, spam and discard verdict and a sample of ham."""

    __tablename__ = "checks"
    __table_args__ = (Index("ix_checks_site_created", "key_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"))
    site: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    # The label's fingerprint (site, text, author): one kept check per distinct comment, so a
    # flood of copies is one row to review, and labels join on it.
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    verdict: Mapped[str] = mapped_column(String(8))
    spam_probability: Mapped[float] = mapped_column(Float)
    # |p - 0.5|: the review queue works through the most uncertain first.
    uncertainty: Mapped[float] = mapped_column(Float, index=True)
    reasons: Mapped[str] = mapped_column(Text)
    model_version: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)


class LabelEvent(Base):
    """The audit trail of labels: who set what, when, from where, and what it replaced."""

    __tablename__ = "label_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    label_id: Mapped[int] = mapped_column(ForeignKey("labels.id"), index=True)
    old_label: Mapped[str | None] = mapped_column(String(8), nullable=True)
    new_label: Mapped[str | None] = mapped_column(String(8), nullable=True)
    source: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Moderator(Base):
    """A person who works through the review queue in the web page."""

    __tablename__ = "moderators"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AppSecret(Base):
    """Secrets every worker and replica must share, such as the session-signing key."""

    __tablename__ = "app_secrets"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class WebhookDelivery(Base):
    """A notification to a site that a moderator changed one of its comments' verdicts."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"), index=True)
    check_id: Mapped[str] = mapped_column(String(32), index=True)
    new_verdict: Mapped[str] = mapped_column(String(8))  # what the site was told: spam or ham
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10))  # pending, sending, delivered, failed
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class CheckRecord(Base):
    """A check remembered for feedback by id, when there is no Redis to keep it."""

    __tablename__ = "check_records"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)


class ShadowCount(Base):
    """How often a shadow model's verdict matched the served one: rows added per worker, summed when read."""

    __tablename__ = "shadow_counts"
    __table_args__ = (Index("ix_shadow_counts_version", "shadow_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shadow_version: Mapped[str] = mapped_column(Text)
    current_version: Mapped[str] = mapped_column(Text)
    current_verdict: Mapped[str] = mapped_column(String(8))
    shadow_verdict: Mapped[str] = mapped_column(String(8))
    n: Mapped[int] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ShadowDisagreement(Base):
    """A live comment on which the shadow model's verdict differed from the served one."""

    __tablename__ = "shadow_disagreements"
    __table_args__ = (Index("ix_shadow_disagreements_version", "shadow_version", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shadow_version: Mapped[str] = mapped_column(Text)
    current_version: Mapped[str] = mapped_column(Text)
    site: Mapped[str | None] = mapped_column(Text, nullable=True)
    text: Mapped[str] = mapped_column(Text)
    current_verdict: Mapped[str] = mapped_column(String(8))
    current_p: Mapped[float] = mapped_column(Float)
    shadow_verdict: Mapped[str] = mapped_column(String(8))
    shadow_p: Mapped[float] = mapped_column(Float)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def _sqlite_pragmas(dbapi_connection: Any, _: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers and one writer overlap across gunicorn workers; wait rather than fail on a lock.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _ensure_sqlite_dir(url: str) -> None:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets its directory created and concurrency pragmas."""
    # Errors never quote the statement's values: they may be a webhook secret, a password hash or
    # a comment's text, and error messages end up in logs and on terminals.
    if url.startswith("sqlite:///"):
        _ensure_sqlite_dir(url)
        engine = create_engine(url, hide_parameters=True)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, hide_parameters=True, pool_pre_ping=True, pool_size=5, max_overflow=5, pool_timeout=2)


def upgrade(url: str) -> None:
    """Bring the schema at `url` to the newest migration."""
    _ensure_sqlite_dir(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, "head")


def get_engine() -> Engine:
    """The current app's engine."""
    engine: Engine = current_app.extensions["spamfilter.engine"]
    return engine


def get_session() -> Session:
    """A session for this request, closed at teardown."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["spamfilter.sessions"]()
    session: Session = g.db_session
    return session


def _close_session(_: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


def init_app(app: Flask) -> None:
    """Create the engine and session factory, and close sessions after each request."""
    engine = make_engine(app.config["DATABASE_URL"])
    app.extensions["spamfilter.engine"] = engine
    app.extensions["spamfilter.sessions"] = sessionmaker(engine, expire_on_commit=False)
    app.teardown_appcontext(_close_session)
